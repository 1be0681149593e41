package slack

import (
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestManifest(t *testing.T) {
	raw, err := os.ReadFile("manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command string `yaml:"command"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/optix" {
		t.Errorf("slash commands %+v, want just /optix", m.Features.SlashCommands)
	}
	if !m.Settings.Interactivity.Enabled || !m.Settings.SocketMode {
		t.Error("interactivity and socket mode must be enabled")
	}
	// Least privilege: exactly what the adapter calls.
	scopes := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if d := cmp.Diff([]string{"chat:write", "commands", "files:write", "usergroups:read"}, scopes); d != "" {
		t.Errorf("bot scopes (-want +got):\n%s", d)
	}
}
