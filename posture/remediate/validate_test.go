package remediate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tfPluginDir is a local provider mirror (registry.terraform.io/hashicorp/
// aws/...). With it, terraform init needs no network.
const tfPluginDir = "/opt/tf-plugins"

// TestTerraformGoldensValidate runs terraform validate on every Terraform
// golden against the real AWS provider schema, which catches what hclparse
// cannot: an unknown attribute in ignore_changes, an import block the
// provider does not support. It skips where terraform or the provider
// mirror is missing.
func TestTerraformGoldensValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	if _, err := os.Stat(tfPluginDir); err != nil {
		t.Skip("no local provider mirror at " + tfPluginDir)
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.terraform.golden"))
	if len(goldens) == 0 {
		t.Fatal("no Terraform goldens")
	}
	// Every golden needs the same provider, so one init serves them all:
	// each golden in turn becomes main.tf of the same directory.
	dir := t.TempDir()
	run := func(t *testing.T, args ...string) string {
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for i, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			body, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), body, 0o644); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				run(t, "init", "-backend=false", "-input=false", "-no-color", "-plugin-dir="+tfPluginDir)
			}
			if out := run(t, "validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
				t.Errorf("validate:\n%s", out)
			}
		})
	}
}
