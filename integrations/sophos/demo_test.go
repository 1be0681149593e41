package sophos_test

import (
	"context"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
)

// TestDemoSeedOnTop runs the embedded default end to end: the real client
// against the emulator's demo estate, then the posture engine with the demo
// context. The finance bucket must rank first, above the 500 dev/sandbox
// S3 findings.
func TestDemoSeedOnTop(t *testing.T) {
	srv := sophostest.NewServer(sophostest.Demo()...)
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	p, err := c.Pull(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctxMap, err := posture.ParseContext(sophostest.DemoContext(), "demo-context.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := posture.Assess(p.Findings, posture.AssessOptions{Context: ctxMap, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	top := a.Top(10, posture.Filter{})
	if len(top.Groups) == 0 {
		t.Fatal("no groups")
	}
	first := top.Groups[0]
	onSeed := false
	for _, m := range first.Members {
		if m.Finding.Resource.ID == sophostest.DemoSeedBucket {
			onSeed = true
		}
	}
	if !onSeed {
		t.Errorf("top group is %q (%s), want the one on %s", first.Title, first.ID, sophostest.DemoSeedBucket)
	}
	for _, g := range top.Groups {
		if g.Environment == "dev" || g.Environment == "sandbox" {
			if g.Score > first.Score {
				t.Errorf("%s group %q outranks the seed", g.Environment, g.Title)
			}
		}
	}
}

// TestDemoStableIDs: two pulls of the demo give the same finding ids.
func TestDemoStableIDs(t *testing.T) {
	pull := func() []posture.Finding {
		srv := sophostest.NewServer(sophostest.Demo()...)
		defer srv.Close()
		c, _ := newClient(t, srv, func(c *sophos.Config) { c.PageSize = 37 })
		p, err := c.Pull(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p.Findings
	}
	a, b := pull(), pull()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d findings", len(a), len(b))
	}
	seen := map[string]bool{}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].SourceIDs[0] != b[i].SourceIDs[0] {
			t.Fatalf("finding %d: %s/%s vs %s/%s", i, a[i].ID, a[i].SourceIDs[0], b[i].ID, b[i].SourceIDs[0])
		}
		if seen[a[i].ID] {
			t.Errorf("finding id %s twice", a[i].ID)
		}
		seen[a[i].ID] = true
	}
}
