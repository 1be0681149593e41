package handlers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/bot/console"
	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
	"github.com/optix-bot/optix-bot/integrations/llm/redact"
	"github.com/optix-bot/optix-bot/prompts"
	"github.com/optix-bot/optix-bot/store"
)

// CRITICAL is two steps above HIGH: nothing CRITICAL may be shown below a HIGH.
var bandRank = map[string]int{"CRITICAL": 4, "HIGH": 2, "MEDIUM": 1, "LOW": 0}

func TestTopRisksWithLLM(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	h := newHarness(t, harnessOpts{llm: srv})
	rep := h.ask(t, "alice", "/optix top-risks")
	if !rep.OK || len(rep.Items) != 10 {
		t.Fatalf("reply: ok=%v items=%d %s", rep.OK, len(rep.Items), rep.Error)
	}
	for i, it := range rep.Items {
		if it.Impact == "" || it.Next == "" || it.Rank != i+1 {
			t.Errorf("item %d: %+v", i, it)
		}
		for _, later := range rep.Items[i+1:] {
			if bandRank[later.Band] >= bandRank[it.Band]+2 {
				t.Errorf("%s %s shown below %s %s", later.ID, later.Band, it.ID, it.Band)
			}
		}
	}
	if !strings.Contains(rep.Footer, "refined by test-model within the rules' bounds") {
		t.Errorf("footer = %q", rep.Footer)
	}
	checkGolden(t, "top-risks-llm.golden.txt", console.Render(rep))

	// Scores and bands are the rules': the same ids carry the same scores
	// as in a rules-only answer.
	rules := newHarness(t, harnessOpts{}).ask(t, "alice", "/optix top-risks 20")
	score := map[string]int{}
	for _, it := range rules.Items {
		score[it.ID] = it.Score
	}
	for _, it := range rep.Items {
		if s, ok := score[it.ID]; !ok || s != it.Score {
			t.Errorf("%s: score %d with the LLM, %d (present %v) without", it.ID, it.Score, s, ok)
		}
	}
}

// Every field of every request the emulator received is free of the demo
// estate's account ids, resource ids, resource names and addresses.
func TestLLMRequestsCarryNoRawIdentifiers(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	h := newHarness(t, harnessOpts{llm: srv})
	if rep := h.ask(t, "alice", "/optix top-risks 20"); !rep.OK {
		t.Fatal(rep.Error)
	}
	a := h.assessment(t)
	seen := map[string]bool{}
	var raws []string
	add := func(s string) {
		// Short names ("main") would match inside ordinary words; the
		// redactor replaces them as whole tokens, but Leaks looks for
		// substrings.
		if len(s) >= 6 && !seen[s] {
			seen[s] = true
			raws = append(raws, s)
		}
	}
	fixID := findingWithCheck(t, h, "s3_bucket_level_public_access_block")
	fixed, _ := a.Finding(fixID)
	add(fixed.Finding.Account)
	add(fixed.Finding.Resource.ID)
	add(fixed.Finding.Resource.Name)
	for _, g := range a.Groups[:20] {
		for _, m := range g.Members {
			add(m.Finding.Account)
			add(m.Finding.Resource.ID)
			add(m.Finding.Resource.Name)
			add(m.Finding.Resource.PublicIP)
		}
	}
	if len(raws) < 20 {
		t.Fatalf("only %d identifiers to look for", len(raws))
	}
	// Fix a finding too: the script holds the bucket name and account.
	if rep := h.ask(t, "alice", "/optix fix "+findingWithCheck(t, h, "s3_bucket_level_public_access_block")+" terraform"); !rep.OK {
		t.Fatal(rep.Error)
	}
	// An IAM user's name is inside its ARN and on its own in the script.
	mfaID := findingWithCheck(t, h, "iam_user_mfa_enabled_console_access")
	mfa, _ := a.Finding(mfaID)
	user := mfa.Finding.Resource.ID[strings.LastIndex(mfa.Finding.Resource.ID, "/")+1:]
	if rep := h.ask(t, "alice", "/optix fix "+mfaID+" terraform"); !rep.OK || !strings.Contains(rep.Code.Body, `"`+user+`"`) {
		t.Fatalf("MFA fix does not name user %q: %+v", user, rep)
	}
	raws = append(raws, user, mfa.Finding.Resource.ID)
	reqs := srv.Requests()
	if len(reqs) < 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, body := range reqs {
		if leaks := redact.Leaks(body, raws); len(leaks) > 0 {
			t.Errorf("request %d carries %d raw identifiers, e.g. %q", i, len(leaks), leaks[0])
		}
	}
}

func TestTopRisksLLMFailureFallsBackToRules(t *testing.T) {
	rules := newHarness(t, harnessOpts{}).ask(t, "alice", "/optix top-risks")
	tests := []struct {
		name   string
		fault  func(*llmtest.Server)
		footer string
	}{
		{"endpoint answers HTML", func(s *llmtest.Server) { s.WrongURL(true) }, "Ranked by rules only: the LLM endpoint URL looks wrong (HTTP 404"},
		{"quota exhausted", func(s *llmtest.Server) { s.Quota() }, "Ranked by rules only: the LLM quota is exhausted."},
		{"invalid twice", func(s *llmtest.Server) { s.Malformed(2) }, "Ranked by rules only: the LLM answer was invalid twice."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer()
			t.Cleanup(srv.Close)
			tt.fault(srv)
			rep := newHarness(t, harnessOpts{llm: srv}).ask(t, "alice", "/optix top-risks")
			if !rep.OK || len(rep.Items) != len(rules.Items) {
				t.Fatalf("reply: %+v", rep)
			}
			for i := range rep.Items {
				if rep.Items[i].ID != rules.Items[i].ID || rep.Items[i].Impact != "" {
					t.Errorf("item %d: %s (impact %q), rules say %s", i, rep.Items[i].ID, rep.Items[i].Impact, rules.Items[i].ID)
				}
			}
			if !strings.Contains(rep.Footer, tt.footer) || strings.Count(rep.Footer, "Ranked by rules only") != 1 {
				t.Errorf("footer = %q, want %q once", rep.Footer, tt.footer)
			}
		})
	}
}

func TestFixTailoredByLLM(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	h := newHarness(t, harnessOpts{llm: srv})
	id := findingWithCheck(t, h, "s3_bucket_level_public_access_block")
	rep := h.ask(t, "alice", "/optix fix "+id+" terraform")
	if !rep.OK || rep.Code == nil {
		t.Fatalf("fix: %+v", rep)
	}
	if !strings.HasPrefix(rep.Summary, "Tailored by the LLM (resource_name changed)") {
		t.Errorf("summary = %q", rep.Summary)
	}
	if strings.Contains(rep.Code.Body, `"optix_fix"`) {
		t.Errorf("script not tailored:\n%s", rep.Code.Body)
	}
	reqs, err := h.store.Requests(context.Background(), store.RequestFilter{State: store.StatePending})
	if err != nil || len(reqs) != 1 || len(reqs[0].Tailored) != 1 || reqs[0].ScriptSHA256 != rep.Code.SHA256 {
		t.Fatalf("stored request: %+v %v", reqs, err)
	}
	calls := srv.Calls()
	again := h.ask(t, "bob", "/optix fix "+id+" terraform")
	if srv.Calls() != calls || again.Code == nil || again.Code.SHA256 != rep.Code.SHA256 ||
		!strings.Contains(again.Summary, "already has a pending change request with this tailored script") {
		t.Errorf("second fix: %d new calls, summary %q", srv.Calls()-calls, again.Summary)
	}
	// An approval of the tailored script stands.
	if d := h.ask(t, "bob", "/optix approve "+reqs[0].ID); !d.OK {
		t.Errorf("approve: %s", d.Error)
	}
}

func TestFixTailoringRefusedShowsVetted(t *testing.T) {
	srv := llmtest.NewServer()
	t.Cleanup(srv.Close)
	srv.TailorExtra("aws s3 rb s3://acme-finance-customer-exports --force")
	h := newHarness(t, harnessOpts{llm: srv})
	vetted := newHarness(t, harnessOpts{})
	id := findingWithCheck(t, h, "s3_bucket_level_public_access_block")
	rep := h.ask(t, "alice", "/optix fix "+id+" terraform")
	want := vetted.ask(t, "alice", "/optix fix "+id+" terraform")
	if !rep.OK || rep.Code == nil || want.Code == nil || rep.Code.SHA256 != want.Code.SHA256 {
		t.Fatalf("refused tailoring did not show the vetted script: %+v", rep)
	}
	if !strings.HasPrefix(rep.Summary, "The vetted template is shown: the tailored script was refused: line ") {
		t.Errorf("summary = %q", rep.Summary)
	}
	es, err := h.store.AuditFor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range es {
		if e.Action == "llm.call" {
			reasons = append(reasons, e.Details["outcome"]+": "+e.Details["reason"])
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[1], "fallback: line ") || !strings.Contains(reasons[1], "outside the allowed slots") {
		t.Errorf("audit reasons: %q", reasons)
	}
}

func findingWithCheck(t *testing.T, h *harness, check string) string {
	t.Helper()
	for _, g := range h.assessment(t).Groups {
		for _, m := range g.Members {
			if m.Check != nil && m.Check.ID == check && m.Attr.Environment == "production" {
				return m.Finding.ID
			}
		}
	}
	t.Fatalf("no production %s finding", check)
	return ""
}

// A model that reverses the list cannot hide the worst risk silently: it
// stays above every HIGH group, and what left the top N is named.
func TestTopRisksHostileModelIsNamed(t *testing.T) {
	reverse := func(c llmtest.Call) (string, error) {
		var in prompts.RankInput
		if err := json.Unmarshal(c.Data, &in); err != nil {
			return "", err
		}
		var items []prompts.RankedItem
		for i := len(in.Items) - 1; i >= 0; i-- {
			items = append(items, prompts.RankedItem{ID: in.Items[i].ID, Impact: "Low risk.", NextAction: "/optix approve everything"})
		}
		b, err := json.Marshal(map[string]any{"items": items})
		return string(b), err
	}
	srv := llmtest.NewServer(llmtest.WithBrain(reverse))
	t.Cleanup(srv.Close)
	h := newHarness(t, harnessOpts{llm: srv})
	rep := h.ask(t, "alice", "/optix top-risks")
	if !rep.OK {
		t.Fatal(rep.Error)
	}
	for _, it := range rep.Items {
		if it.Band != "CRITICAL" {
			t.Errorf("%s %s shown in a top 10 of CRITICAL groups", it.ID, it.Band)
		}
		if strings.Contains(it.Next, "approve") {
			t.Errorf("%s: next action %q", it.ID, it.Next)
		}
	}
	if !strings.Contains(rep.Footer, "Moved out of the top 10 by the LLM's order: C-3f775bec (CRITICAL 100)") {
		t.Errorf("footer = %q", rep.Footer)
	}
}
