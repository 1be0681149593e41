package remediate

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
)

// demoFindings pulls the demo estate from the emulator over real HTTP with
// the real client, as the bot does at start-up.
func demoFindings(t *testing.T) []posture.Finding {
	t.Helper()
	srv := sophostest.NewServer(sophostest.Demo()...)
	t.Cleanup(srv.Close)
	id, secret, key := srv.Credentials()
	c, err := sophos.New(sophos.Config{AuthURL: srv.URL, APIURL: srv.URL, OptixURL: srv.URL,
		ClientID: id, ClientSecret: secret, OptixAPIKey: key, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pull(context.Background())
	if err != nil {
		t.Fatalf("pull demo estate: %v", err)
	}
	if len(p.Findings) == 0 {
		t.Fatal("demo estate has no findings")
	}
	return p.Findings
}

// demoExceptions are the templated checks whose demo findings may go
// without a script, and why. Each is a finding the template cannot fix
// safely from what the source tells us.
var demoExceptions = map[string]string{}

// TestDemoEstateGetsScripts: every demo finding whose check has a template
// gets a script in the kind's default format, unless its check is listed
// in demoExceptions.
func TestDemoEstateGetsScripts(t *testing.T) {
	findings := demoFindings(t)
	templated, scripted := 0, 0
	failures := map[string]int{}
	for i := range findings {
		f := &findings[i]
		if FormatsFor(f.Check) == nil {
			continue
		}
		templated++
		res, err := Generate(Input{Finding: f}, "")
		if err != nil {
			t.Fatalf("%s (%s): %v", f.ID, f.Check, err)
		}
		if res.Script != nil {
			scripted++
			continue
		}
		if _, ok := demoExceptions[f.Check]; ok {
			continue
		}
		if failures[f.Check] == 0 {
			t.Errorf("%s (%s, resource %q, region %q): no script: %v", f.ID, f.Check, f.Resource.ID, f.Region, res.Refused)
		}
		failures[f.Check]++
	}
	var kinds []string
	for k := range failures {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Errorf("%s: %d demo findings without a script", k, failures[k])
	}
	if templated == 0 {
		t.Fatal("no demo finding has a templated check")
	}
	t.Logf("%d of %d demo findings of templated checks get a script (%.1f%%); %d findings in all",
		scripted, templated, 100*float64(scripted)/float64(templated), len(findings))
}
