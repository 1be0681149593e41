package importer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

func TestControlTable(t *testing.T) {
	table := controlTable()
	if len(table) < 500 {
		t.Fatalf("%d control mappings, want the ~700 derived from Prowler", len(table))
	}
	cat := posture.DefaultCatalogue()
	for k, ids := range table {
		for _, id := range ids {
			if ch := cat.Resolve("aws", id, "", ""); ch.ID != id {
				t.Errorf("%s maps to %s, which the catalogue does not know", k, id)
			}
		}
	}
}

func TestControlResolution(t *testing.T) {
	cat := posture.DefaultCatalogue()
	tests := []struct {
		name, generator, controlID, title, want string
	}{
		{"FSBP generator", "aws-foundational-security-best-practices/v/1.0.0/Config.1", "", "", "config_recorder_all_regions_enabled"},
		{"consolidated control", "security-control/S3.8", "", "", "s3_bucket_level_public_access_block"},
		{"ControlId only", "some-generator", "S3.8", "", "s3_bucket_level_public_access_block"},
		{"CIS 3.0 new generator", "cis-aws-foundations-benchmark/v/3.0.0/1.1", "", "", "account_maintain_current_contact_details"},
		// CIS 1.2.0 numbers differ from the versions Prowler maps: 1.1 there
		// is root account use, not contact details.
		{"CIS 1.2.0 is not guessed", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.1", "", "Avoid the use of the root account", posture.GenericCheck},
		{"CIS several checks, title decides", "cis-aws-foundations-benchmark/v/1.4.0/1.12", "", "Ensure credentials unused for 45 days or greater are disabled: console access", "iam_user_console_access_unused"},
		{"CIS several checks, no title", "cis-aws-foundations-benchmark/v/1.4.0/1.12", "", "", "iam_user_accesskey_unused"},
		{"unknown control", "security-control/Nope.1", "", "", posture.GenericCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := asffFinding{GeneratorID: tt.generator, Title: tt.title}
			if tt.controlID != "" {
				f.ProductFields = map[string]json.RawMessage{"ControlId": json.RawMessage(`"` + tt.controlID + `"`)}
			}
			if got := f.resolve(cat, "AwsAccount").ID; got != tt.want {
				t.Errorf("resolve = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestControlTableFresh regenerates the table from ../shared/data when it
// is there and checks the embedded copy matches.
func TestControlTableFresh(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "data", "prowler", "compliance", "aws")
	if _, err := os.Stat(src); err != nil {
		t.Skip("no ../shared/data here")
	}
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "controls.tsv")
	cmd := exec.Command("go", "run", "./internal/gencontrols", "-src", src, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gencontrols: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, controlsTSV) {
		t.Error("controls.tsv is stale: run go generate ./integrations/importer")
	}
}
