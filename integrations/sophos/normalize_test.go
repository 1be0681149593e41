package sophos_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/posture"

	"github.com/optix-bot/optix-bot/internal/golden"
)

func readPage[T any](t testing.TB, name string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Data []T `json:"data"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p.Data
}

// TestNormalizeGolden pins every field Normalize fills, for alerts covering
// the cases: inline and bare resource ids, several resources per alert,
// open/suppressed/resolved states, a missing provider, a missing
// severity, scores as strings, no affected resources, two unknown rules on
// one resource, a fallback-resolved rule, and enrichment from a host or
// its security group.
func TestNormalizeGolden(t *testing.T) {
	alerts := readPage[sophos.Alert](t, "alerts.json")
	hosts := readPage[sophos.Host](t, "hosts.json")
	got := sophos.Normalize(alerts, hosts, posture.DefaultCatalogue())
	for i := range got {
		got[i].Raw = nil // Raw is the input verbatim; checked below
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "normalize.golden.json", append(b, '\n'))

	again := sophos.Normalize(alerts, hosts, nil)
	if len(again) != 8 || string(again[0].Raw) != string(alerts[0].Raw) {
		t.Errorf("want 8 findings with Raw = the alert JSON")
	}
	// Two unknown rules on one resource must stay two findings.
	if again[3].ID == again[4].ID {
		t.Errorf("unknown rules GCP-990 and GCP-991 on one resource share id %s", again[3].ID)
	}
}

func TestNormalizeStatus(t *testing.T) {
	tests := []struct {
		state string
		want  posture.Status
	}{
		{"OPEN", posture.StatusOpen}, {"open", posture.StatusOpen}, {"", posture.StatusOpen},
		{"RESOLVED", posture.StatusResolved}, {"CLOSED", posture.StatusResolved},
		{"SUPPRESSED", posture.StatusMuted}, {"Snoozed", posture.StatusMuted},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			a := sophos.Alert{AlertID: "A-1", AccountID: "1", RuleNumber: "AR-251",
				AffectedResources: []sophos.AffectedResource{{ResourceInfo: sophos.ResourceInfo{ID: "r"}, State: tt.state}}}
			f := sophos.Normalize([]sophos.Alert{a}, nil, nil)
			if f[0].Status != tt.want {
				t.Errorf("state %q -> %s, want %s", tt.state, f[0].Status, tt.want)
			}
		})
	}
}
