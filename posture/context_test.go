package posture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseContextAttribute(t *testing.T) {
	type want = Attribution
	cases := []struct {
		name string
		f    Finding
		want want
	}{
		{
			name: "account rule only",
			f:    Finding{Account: "111122223333", Resource: Resource{ID: "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"}},
			want: want{Owner: "platform", Application: "ledger", Environment: EnvProduction, Criticality: "high",
				Sources: []string{"context: account 111122223333"}},
		},
		{
			name: "leading zero account id kept",
			f:    Finding{Account: "012345678901"},
			want: want{Environment: EnvSandbox, Sources: []string{"context: account 012345678901"}},
		},
		{
			name: "longest prefix first, then shorter, then account fills the rest",
			f:    Finding{Account: "111122223333", Resource: Resource{ID: "arn:aws:s3:::finance-reports-2025"}},
			want: want{Owner: "finance", Application: "reporting", Environment: EnvProduction, Criticality: "high", DataClass: DataRestricted,
				Sources: []string{"context: resource arn:aws:s3:::finance-reports-", "context: resource arn:aws:s3:::finance-", "context: account 111122223333"}},
		},
		{
			name: "resource tags beat tag rules and account rules",
			f: Finding{Account: "444455556666", Resource: Resource{ID: "arn:aws:s3:::x", Tags: map[string]string{
				"Owner": "web", "cost-center": "cc-042", "Data_Classification": "sensitive"}}},
			want: want{Owner: "web", Environment: EnvDev, Criticality: "critical", DataClass: DataConfidential,
				Sources: []string{"tag owner", "tag data-classification", "context: tag cost-center=CC-042", "context: account 444455556666"}},
		},
		{
			name: "prefix beats resource tag",
			f: Finding{Account: "999", Resource: Resource{ID: "arn:aws:s3:::finance-x", Tags: map[string]string{
				"owner": "someone-else", "env": "stg"}}},
			want: want{Owner: "finance", Environment: EnvStaging, Sources: []string{"context: resource arn:aws:s3:::finance-", "tag env"}},
		},
		{
			name: "environment tag beats env tag whatever the map order",
			f: Finding{Account: "999", Resource: Resource{ID: "r", Tags: map[string]string{
				"env": "dev", "Environment": "live", "stage": "uat"}}},
			want: want{Environment: EnvProduction, Sources: []string{"tag environment"}},
		},
		{
			name: "unknown tag words are ignored, not guessed",
			f: Finding{Account: "999", Resource: Resource{ID: "r", Tags: map[string]string{
				"environment": "blue", "env": "sandbox", "classification": "whatever", "criticality": "tier9"}}},
			want: want{Environment: EnvSandbox, Sources: []string{"tag env"}},
		},
		{
			name: "nothing known",
			f:    Finding{Account: "999", Resource: Resource{ID: "r"}},
			want: want{},
		},
	}
	for _, file := range []string{"context.yaml", "context.csv"} {
		m, err := ParseContext(readTestdata(t, file), file)
		if err != nil {
			t.Fatalf("ParseContext(%s): %v", file, err)
		}
		if m.Rules() != 6 {
			t.Errorf("%s: Rules() = %d, want 6", file, m.Rules())
		}
		for _, tc := range cases {
			t.Run(file+"/"+tc.name, func(t *testing.T) {
				got := m.Attribute(&tc.f)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Attribute (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestParseContextSniffsFormat(t *testing.T) {
	for _, file := range []string{"context.yaml", "context.csv"} {
		m, err := ParseContext(readTestdata(t, file), "stdin")
		if err != nil {
			t.Fatalf("%s without extension: %v", file, err)
		}
		if m.Rules() != 6 {
			t.Errorf("%s without extension: %d rules, want 6", file, m.Rules())
		}
	}
}

func TestNilContextUsesTags(t *testing.T) {
	var m *ContextMap
	f := Finding{Resource: Resource{Tags: map[string]string{"team": "payments", "app": "checkout", "data-classification": "PCI"}}}
	got := m.Attribute(&f)
	want := Attribution{Owner: "payments", Application: "checkout", DataClass: DataRestricted,
		Sources: []string{"tag team", "tag app", "tag data-classification"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if m.Rules() != 0 {
		t.Errorf("nil map has %d rules", m.Rules())
	}
}

func TestParseContextErrors(t *testing.T) {
	cases := []struct {
		name, file, data, want string
	}{
		{"yaml unknown field", "c.yaml", "accounts:\n  - id: \"1\"\n    ownr: x\n",
			`c.yaml:3: unknown field "ownr" in account entry (want id, owner, application, environment, criticality, data_classification, note)`},
		{"yaml unknown section", "c.yaml", "acounts:\n  - id: 1\n", `c.yaml:1: unknown section "acounts" (want accounts, resources, tags, conventions)`},
		{"yaml bad environment", "c.yaml", "accounts:\n  - id: \"1\"\n    environment: prodd\n",
			`c.yaml:3: environment "prodd" is not one of production, staging, dev, sandbox (or prod, prd, live, stage, stg, uat, development, test, sbx, playground)`},
		{"yaml bad criticality", "c.yml", "resources:\n  - prefix: arn:x\n    criticality: extreme\n",
			`c.yml:3: criticality "extreme" is not one of critical, high, medium, low`},
		{"yaml bad data class", "c.yaml", "tags:\n  - key: a\n    value: b\n    data_classification: top\n",
			`c.yaml:4: data_classification "top" is not one of restricted, pii, confidential, internal, public (or phi, pci, sensitive)`},
		{"yaml missing id", "c.yaml", "accounts:\n  - owner: x\n", `c.yaml:2: account entry has no id`},
		{"yaml tag without value", "c.yaml", "tags:\n  - key: a\n    owner: x\n", `c.yaml:2: tag entry "a" has no value`},
		{"yaml rule sets nothing", "c.yaml", "accounts:\n  - id: \"1\"\n    note: hi\n",
			`c.yaml:2: account rule "1" sets no owner, application, environment, criticality or data_classification`},
		{"yaml duplicate rule", "c.yaml", "accounts:\n  - id: \"1\"\n    owner: a\n  - id: \"1\"\n    owner: b\n",
			`c.yaml:4: account rule "1" repeats the rule on line 2`},
		{"yaml duplicate field", "c.yaml", "accounts:\n  - id: \"1\"\n    owner: a\n    owner: b\n", `c.yaml:4: field "owner" repeats line 3`},
		{"yaml not a list", "c.yaml", "accounts: 12\n", `c.yaml:1: accounts must be a list`},
		{"yaml nested value", "c.yaml", "accounts:\n  - id: [1, 2]\n", `c.yaml:2: field "id" must be a single value`},
		{"yaml syntax", "c.yaml", "accounts:\n  - id: \"1\n", `c.yaml: yaml: line 2: found unexpected end of stream`},
		{"csv unknown column", "c.csv", "match,value,ownr\n", `c.csv:1: unknown column "ownr" (want match, value, owner, application, environment, criticality, data_classification, note)`},
		{"csv missing value column", "c.csv", "match,owner\n", `c.csv:1: header must name the match and value columns`},
		{"csv bad match", "c.csv", "match,value,owner\naccount,1,a\nregion,eu,b\n", `c.csv:3: match "region" is not one of account, resource, tag`},
		{"csv bad tag", "c.csv", "match,value,owner\ntag,costcenter,a\n", `c.csv:2: tag value "costcenter" must be key=value`},
		{"csv bad environment", "c.csv", "match,value,environment\naccount,1,qa-ish\n",
			`c.csv:2: environment "qa-ish" is not one of production, staging, dev, sandbox (or prod, prd, live, stage, stg, uat, development, test, sbx, playground)`},
		{"csv wrong field count", "c.csv", "match,value,owner\naccount,1\n", `c.csv: record on line 2: wrong number of fields`},
		{"csv empty value", "c.csv", "match,value,owner\naccount,,a\n", `c.csv:2: account rule has an empty value`},
		{"conventions not a mapping", "c.yaml", "conventions: [a]\naccounts:\n  - id: \"1\"\n    owner: a\n",
			`c.yaml:1: conventions must be a mapping of name: text`},
		{"convention bad name", "c.yaml", "conventions:\n  Terraform Names: x\n", `c.yaml:2: convention name "Terraform Names" must be lower case letters, digits and _`},
		{"convention not text", "c.yaml", "conventions:\n  names: [a, b]\n", `c.yaml:2: convention "names" must be a line of text`},
		{"convention twice", "c.yaml", "conventions:\n  names: a\n  names: b\n", `c.yaml:3: convention "names" appears twice`},
		{"conventions twice", "c.yaml", "conventions:\n  names: a\nconventions:\n  tags: b\n", `c.yaml:3: section "conventions" appears twice`},
		{"conventions but no rules", "c.yaml", "conventions:\n  names: a\n", `c.yaml holds no rules: a context file maps at least one account, resource prefix or tag`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseContext([]byte(tc.data), tc.file)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// Regression: an empty context file replaced the demo's and changed the
// ranking without a word.
func TestParseContextEmpty(t *testing.T) {
	for _, tt := range []struct{ name, data string }{{"c.yaml", ""}, {"c.csv", "match,value,owner\n"}, {"c", "  \n# only a comment\n"}} {
		_, err := ParseContext([]byte(tt.data), tt.name)
		if want := tt.name + " holds no rules"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, want)
		}
	}
}

func TestEnvironmentWords(t *testing.T) {
	cases := map[string]Environment{
		"prod": EnvProduction, "PRD": EnvProduction, "Live": EnvProduction, "production": EnvProduction,
		"stage": EnvStaging, "stg": EnvStaging, "UAT": EnvStaging, "pre_prod": EnvStaging,
		"development": EnvDev, "test": EnvDev, "dev": EnvDev,
		"sbx": EnvSandbox, "playground": EnvSandbox, "sandbox": EnvSandbox,
		"": EnvUnknown, "blue": EnvUnknown,
	}
	for in, want := range cases {
		if got := NormalizeEnvironment(in); got != want {
			t.Errorf("NormalizeEnvironment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContextConventions(t *testing.T) {
	data := "conventions:\n  terraform_names: \"<application>_<purpose>,\n    snake case\"\n  tag_values: prod, stg, dev\naccounts:\n  - id: \"1\"\n    owner: a\n"
	m, err := ParseContext([]byte(data), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"terraform_names": "<application>_<purpose>, snake case", "tag_values": "prod, stg, dev"}
	got := m.Conventions()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got["tag_values"] = "changed"
	if m.Conventions()["tag_values"] != "prod, stg, dev" {
		t.Error("Conventions returned the map itself")
	}
	var none *ContextMap
	if none.Conventions() != nil {
		t.Error("nil map has conventions")
	}
}
