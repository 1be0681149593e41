// Command gencatalogue derives the compact check catalogue that optix-bot
// embeds (posture/catalogue/checks.tsv) from the Prowler check metadata in
// ../shared/data/prowler/checks. Only facts are carried over: check id,
// provider, service, severity, resource type and categories. Titles are
// derived mechanically from the check id; Prowler's prose is not copied.
//
//	go run ./internal/gencatalogue -src ../shared/data/prowler/checks -out posture/catalogue/checks.tsv
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
)

type metadata struct {
	Provider     string   `json:"Provider"`
	CheckID      string   `json:"CheckID"`
	ServiceName  string   `json:"ServiceName"`
	Severity     string   `json:"Severity"`
	ResourceType string   `json:"ResourceType"`
	Categories   []string `json:"Categories"`
}

func main() {
	src := flag.String("src", "../shared/data/prowler/checks", "folder with <provider>/<check>.metadata.json")
	out := flag.String("out", "posture/catalogue/checks.tsv", "catalogue to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		slog.Error("gencatalogue failed", "err", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	paths, err := filepath.Glob(filepath.Join(src, "*", "*.metadata.json"))
	if err != nil {
		return fmt.Errorf("list checks: %w", err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("no check metadata under %s", src)
	}
	var rows []metadata
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		var m metadata
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("decode %s: %w", p, err)
		}
		rows = append(rows, m)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Provider != rows[j].Provider {
			return rows[i].Provider < rows[j].Provider
		}
		return rows[i].CheckID < rows[j].CheckID
	})
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# provider\tcheck\tservice\tseverity\tresource_type\tcategories")
	for _, m := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", clean(m.Provider), clean(m.CheckID), clean(m.ServiceName),
			clean(strings.ToLower(m.Severity)), clean(m.ResourceType), clean(strings.Join(m.Categories, ",")))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}

func clean(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
}
