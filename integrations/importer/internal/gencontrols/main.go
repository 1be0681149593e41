// Command gencontrols derives integrations/importer/controls.tsv, the map
// from Security Hub control ids to Prowler check ids, from Prowler's
// compliance files in ../shared/data/prowler/compliance/aws: AWS
// Foundational Security Best Practices (control ids such as "S3.2", which
// Security Hub's consolidated "security-control/..." findings share) and
// the CIS AWS Foundations versions Prowler maps. Only ids are carried over.
// Check ids the embedded catalogue does not know (retired checks) are left
// out.
//
//	go generate ./integrations/importer
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

type framework struct {
	Framework    string `json:"Framework"`
	Version      string `json:"Version"`
	Requirements []struct {
		ID     string   `json:"Id"`
		Checks []string `json:"Checks"`
	} `json:"Requirements"`
}

func main() {
	src := flag.String("src", "../../../shared/data/prowler/compliance/aws", "Prowler compliance folder for AWS")
	out := flag.String("out", "controls.tsv", "table to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		slog.Error("gencontrols failed", "err", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return fmt.Errorf("list %s: %w", src, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no compliance files in %s", src)
	}
	cat := posture.DefaultCatalogue()
	rows := map[string][]string{}
	for _, path := range files {
		base := filepath.Base(path)
		var prefix string
		switch {
		case base == "aws_foundational_security_best_practices_aws.json":
			prefix = "fsbp/"
		case strings.HasPrefix(base, "cis_"):
			prefix = "cis/"
		default:
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		var fw framework
		if err := json.Unmarshal(b, &fw); err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		if prefix == "cis/" {
			if fw.Version == "" {
				return fmt.Errorf("%s: CIS file without a version", path)
			}
			prefix += fw.Version + "/"
		}
		for _, r := range fw.Requirements {
			var checks []string
			for _, c := range r.Checks {
				if _, ok := cat.Lookup(c); ok {
					checks = append(checks, c)
				}
			}
			if len(checks) > 0 {
				rows[prefix+r.ID] = checks
			}
		}
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# Security Hub control -> Prowler checks, derived from Prowler compliance files (Apache-2.0); see NOTICE.")
	fmt.Fprintln(w, "# key\tchecks (most specific first, as Prowler lists them)")
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\n", k, strings.Join(rows[k], ","))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}
