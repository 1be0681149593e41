package handlers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/console"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
)

func TestTopRisksDemoEstate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rep := h.ask(t, "alice", "/optix top-risks")
	if !rep.OK {
		t.Fatalf("top-risks failed: %s", rep.Error)
	}
	if len(rep.Items) != 10 {
		t.Fatalf("got %d items, want 10", len(rep.Items))
	}
	first := rep.Items[0]
	if !strings.Contains(first.Resource, "acme-finance-customer-exports") || first.Environment != "production" || first.Owner != "finance" {
		t.Errorf("the finance PII bucket must rank first, got %+v", first)
	}
	for i, it := range rep.Items {
		if it.ID == "" || it.Band == "" || it.Score == 0 || it.Why == "" {
			t.Errorf("item %d lacks id, band, score or why: %+v", i, it)
		}
		if i > 0 && it.Score > rep.Items[i-1].Score {
			t.Errorf("item %d (%d) outranks item %d (%d)", i, it.Score, i-1, rep.Items[i-1].Score)
		}
	}
	if !strings.Contains(rep.Footer, "Considered") || !strings.Contains(rep.Footer, "Deprioritized") {
		t.Errorf("footer = %q", rep.Footer)
	}
	checkGolden(t, "top-risks.golden.json", rep)
	checkGolden(t, "top-risks.golden.txt", console.Render(rep))
}

func TestTopRisksFilters(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct {
		args  string
		check func(bot.Item) bool
	}{
		{"provider=azure", func(it bot.Item) bool { return it.Provider == "azure" }},
		{"env=prod", func(it bot.Item) bool { return it.Environment == "production" }},
		{"env=sandbox 50", func(it bot.Item) bool { return it.Environment == "sandbox" }},
		{"account=111122223333", func(it bot.Item) bool { return it.Account == "111122223333" }},
		{"min=critical", func(it bot.Item) bool { return it.Band == "CRITICAL" }},
		{"3 provider=gcp min=high", func(it bot.Item) bool {
			return it.Provider == "gcp" && (it.Band == "HIGH" || it.Band == "CRITICAL")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			rep := h.ask(t, "alice", "/optix top-risks "+tt.args)
			if !rep.OK || len(rep.Items) == 0 {
				t.Fatalf("reply ok=%v items=%d err=%q", rep.OK, len(rep.Items), rep.Error)
			}
			for _, it := range rep.Items {
				if !tt.check(it) {
					t.Errorf("item does not match %s: %+v", tt.args, it)
				}
			}
		})
	}
}

func TestTopRisksBadArguments(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct{ args, want string }{
		{"0", "N must be a whole number from 1 to 50."},
		{"51", "N must be a whole number from 1 to 50."},
		{"ten", "N must be a whole number from 1 to 50."},
		{"-3", "N must be a whole number from 1 to 50."},
		{"5 6", `Give one number at most; "6" is extra.`},
		{"provider=oracle", `provider must be aws, azure or gcp, not "oracle".`},
		{"env=moon", `env must be production, staging, dev or sandbox, not "moon".`},
		{"min=urgent", `min must be critical, high, medium or low, not "urgent".`},
		{"colour=red", `Unknown option "colour"; use provider=, account=, env= or min=.`},
		{"account=", "account= needs a value."},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			rep := h.ask(t, "alice", "/optix top-risks "+tt.args)
			if rep.OK || rep.Error != tt.want {
				t.Errorf("error = %q, want %q", rep.Error, tt.want)
			}
		})
	}
	// Nothing about the estate is lost: the next good command still works.
	if rep := h.ask(t, "alice", "/optix top-risks 1"); !rep.OK || len(rep.Items) != 1 {
		t.Errorf("after bad input, top-risks 1 = %+v", rep)
	}
}

func TestTopRisksSourceFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault sophostest.Fault
		want  string
	}{
		{"server error every time", sophostest.Fault{Kind: sophostest.FaultStatus, Status: 500, Path: "/api/v1/alerts"}, "Request id"},
		{"fails on page 2", sophostest.Fault{Kind: sophostest.FaultStatus, Status: 503, Path: "/api/v1/alerts", Page: 2}, "Could not pull findings"},
		{"malformed page", sophostest.Fault{Kind: sophostest.FaultMalformed, Path: "/api/v1/alerts", Page: 2}, "could not be read"},
		{"endless paging", sophostest.Fault{Kind: sophostest.FaultEndless, Path: "/api/v1/alerts"}, "incomplete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{faults: []sophostest.Fault{tt.fault}})
			rep := h.ask(t, "alice", "/optix top-risks")
			if rep.OK || len(rep.Items) != 0 {
				t.Fatalf("a failed pull must not be ranked: %+v", rep)
			}
			if !strings.Contains(rep.Error, tt.want) || strings.Count(rep.Error, ". ") > 3 {
				t.Errorf("error = %q, want one short sentence containing %q", rep.Error, tt.want)
			}
			snaps, err := h.store.Snapshots(context.Background(), 10)
			if err != nil || len(snaps) != 0 {
				t.Errorf("an incomplete pull was stored: %v %v", snaps, err)
			}
		})
	}
}

func TestTopRisksEdgeEstates(t *testing.T) {
	hostile := posture.Finding{
		Source: "optix", Rule: "AR-251", Check: "s3_bucket_public_access", Provider: "aws", Account: "111122223333",
		Resource: posture.Resource{ID: "arn:aws:s3:::evil", Name: "<!channel> <@U123> \x1b[31mred\nfake line", Tags: map[string]string{"owner": "<https://evil.example|click>", "environment": "production"}},
		Severity: posture.SeverityCritical, Status: posture.StatusOpen, Title: "*bold* & <b>",
	}
	hostile.ID = posture.FindingID("aws", hostile.Account, hostile.Check, hostile.Resource.ID)
	tests := []struct {
		name     string
		findings []posture.Finding
		err      error
		check    func(t *testing.T, h *harness, rep bot.Reply)
	}{
		{"empty estate", nil, nil, func(t *testing.T, _ *harness, rep bot.Reply) {
			if !rep.OK || len(rep.Items) != 0 || !strings.Contains(rep.Summary, "clean estate") {
				t.Errorf("empty estate reply = %+v", rep)
			}
		}},
		{"source down", nil, errors.New("dial tcp 127.0.0.1:1: connection refused"), func(t *testing.T, _ *harness, rep bot.Reply) {
			if rep.OK || !strings.HasPrefix(rep.Error, "Could not pull findings: ") {
				t.Errorf("reply = %+v", rep)
			}
		}},
		{"hostile names stay data", []posture.Finding{hostile}, nil, func(t *testing.T, h *harness, rep bot.Reply) {
			if len(rep.Items) != 1 || rep.Items[0].Owner != "<https://evil.example|click>" {
				t.Fatalf("the handler must pass untrusted text through unchanged for the renderer to escape: %+v", rep.Items)
			}
			text := console.Render(rep)
			if strings.ContainsRune(text, '\x1b') {
				t.Errorf("console output carries an escape sequence: %q", text)
			}
			view := console.Render(h.ask(t, "alice", "/optix finding "+rep.Items[0].ID))
			if strings.ContainsRune(view, '\x1b') || strings.Contains(view, "\nfake line") {
				t.Errorf("finding view lets untrusted text drive the terminal or fake a line:\n%s", view)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{puller: PullFunc(func(context.Context) (*Pull, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &Pull{Source: "test", Started: fixedNow, Finished: fixedNow, Findings: tt.findings}, nil
			})})
			tt.check(t, h, h.ask(t, "alice", "/optix top-risks"))
		})
	}
}

func TestEstateSharesOnePull(t *testing.T) {
	calls := 0
	release := make(chan struct{})
	e := NewEstate(EstateConfig{TTL: time.Minute, Puller: PullFunc(func(ctx context.Context) (*Pull, error) {
		calls++
		<-release
		return &Pull{Source: "test", Finished: time.Now()}, nil
	})})
	done := make(chan error, 5)
	for range 5 {
		go func() { _, err := e.Current(context.Background()); done <- err }()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range 5 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Current(context.Background()); err != nil || calls != 1 {
		t.Fatalf("calls = %d, err = %v; want one shared pull reused within the TTL", calls, err)
	}
}

func TestClustersListsOnlyGroups(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	rep := h.ask(t, "alice", "/optix clusters 50")
	if !rep.OK || len(rep.Items) == 0 {
		t.Fatalf("clusters: %+v", rep)
	}
	for _, it := range rep.Items {
		if it.Kind == string(posture.KindFinding) || it.Count < 2 || !strings.HasPrefix(it.ID, "C-") {
			t.Errorf("clusters lists a single finding: %+v", it)
		}
	}
	if rep := h.ask(t, "alice", "/optix clusters 0"); rep.OK {
		t.Error("clusters 0 accepted")
	}
	g := h.ask(t, "alice", "/optix finding "+rep.Items[0].ID)
	if !g.OK || len(g.Items) != rep.Items[0].Count && len(g.Items) != 15 {
		t.Errorf("finding %s shows %d members, want %d", rep.Items[0].ID, len(g.Items), rep.Items[0].Count)
	}
}
