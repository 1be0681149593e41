package importer

import (
	"bufio"
	"bytes"
	_ "embed"
	"regexp"
	"strings"
	"sync"

	"github.com/optix-bot/optix-bot/posture"
)

//go:generate go run ./internal/gencontrols -src ../../../shared/data/prowler/compliance/aws -out controls.tsv

// controlsTSV maps Security Hub control ids to Prowler checks; see NOTICE
// and internal/gencontrols.
//
//go:embed controls.tsv
var controlsTSV []byte

var (
	controlsOnce sync.Once
	controls     map[string][]string
)

// controlTable parses the embedded table once. A malformed line is skipped:
// the file is generated and covered by tests, and a missing mapping only
// means a finding stays generic.
func controlTable() map[string][]string {
	controlsOnce.Do(func() {
		controls = map[string][]string{}
		sc := bufio.NewScanner(bytes.NewReader(controlsTSV))
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			key, checks, ok := strings.Cut(line, "\t")
			if ok && checks != "" {
				controls[key] = strings.Split(checks, ",")
			}
		}
	})
	return controls
}

// cisGenerator matches the CIS generator ids Security Hub writes, old
// ("arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.1")
// and new ("cis-aws-foundations-benchmark/v/3.0.0/1.1"). CIS renumbers its
// recommendations between versions, so the version is part of the key and a
// version Prowler does not map (1.2.0) stays generic.
var cisGenerator = regexp.MustCompile(`cis-aws-foundations-benchmark/v/(\d+\.\d+)(?:\.\d+)?/(?:rule/)?([0-9.]+)$`)

// controlKeys lists the table keys a finding may be filed under.
func (f *asffFinding) controlKeys() []string {
	var keys []string
	g := strings.TrimSpace(f.GeneratorID)
	if m := cisGenerator.FindStringSubmatch(g); m != nil {
		keys = append(keys, "cis/"+m[1]+"/"+m[2])
	}
	// FSBP ("aws-foundational-security-best-practices/v/1.0.0/S3.8") and
	// consolidated control findings ("security-control/S3.8") share the
	// control ids.
	if strings.HasPrefix(g, "aws-foundational-security-best-practices/") || strings.HasPrefix(g, "security-control/") {
		keys = append(keys, "fsbp/"+g[strings.LastIndexByte(g, '/')+1:])
	}
	if c := f.productField("ControlId"); c != "" {
		keys = append(keys, "fsbp/"+c)
	}
	return keys
}

// controlCheck finds the check a Security Hub control stands for. Where
// Prowler maps a control to several checks, the one whose id shares most
// words with the finding's title wins, the first listed on a tie.
func (f *asffFinding) controlCheck(cat *posture.Catalogue) *posture.Check {
	table := controlTable()
	for _, k := range f.controlKeys() {
		ids := table[k]
		if len(ids) == 0 {
			continue
		}
		best, bestScore := ids[0], -1
		title := titleWords(f.Title)
		for _, id := range ids {
			s := 0
			for _, w := range strings.Split(id, "_") {
				if len(w) > 2 && title[w] {
					s++
				}
			}
			if s > bestScore {
				best, bestScore = id, s
			}
		}
		if ch := cat.Resolve("aws", best, "", ""); ch.ID != posture.GenericCheck {
			return ch
		}
	}
	return nil
}

func titleWords(s string) map[string]bool {
	w := map[string]bool{}
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		w[f] = true
		w[strings.TrimSuffix(f, "s")] = true
	}
	return w
}
