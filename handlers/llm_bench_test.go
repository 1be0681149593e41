package handlers

import (
	"context"
	"slices"
	"testing"

	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/prompts"
)

// BenchmarkTopRisksTokens measures, with the emulator's token counts, what
// one /optix top-risks costs over the demo estate (685 alerts, 664 open
// findings in 92 groups) when the model sees the top 20 groups in one
// request, against a naive design that asks the model about each open
// finding alone. It also checks that seeing only the top 20 loses nothing:
// same_top10 is 1 when the top-10 set equals the one from a model that saw
// every group.
func BenchmarkTopRisksTokens(b *testing.B) {
	srv := llmtest.NewServer()
	defer srv.Close()
	h := newHarness(b, harnessOpts{})
	a, err := h.estate.Current(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	lib, err := prompts.Load()
	if err != nil {
		b.Fatal(err)
	}
	newAdv := func(topK, budget int) *advisor.Advisor {
		cl, err := llm.New(llm.Config{BaseURL: srv.URL, Model: "bench", Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		adv, err := advisor.New(advisor.Config{LLM: cl, Prompts: lib, TopK: topK, TokenBudget: budget, Log: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return adv
	}
	top := a.Top(len(a.Groups), posture.Filter{})
	groups := make([]*posture.Group, len(top.Groups))
	for i := range top.Groups {
		groups[i] = &top.Groups[i]
	}
	top10 := func(r advisor.Ranking) []string {
		var ids []string
		for _, i := range r.Order[:10] {
			ids = append(ids, groups[i].ID)
		}
		slices.Sort(ids)
		return ids
	}
	tokens := func(fn func()) int {
		p0, c0 := srv.Usage()
		fn()
		p1, c1 := srv.Usage()
		return p1 - p0 + c1 - c0
	}

	// Naive: one request per open finding, each on its own.
	naive := newAdv(1, 0)
	var open int
	naiveTokens := tokens(func() {
		for i := range a.Scored {
			s := &a.Scored[i]
			if s.Finding.Status != posture.StatusOpen {
				continue
			}
			open++
			g := &posture.Group{ID: s.Finding.ID, Kind: posture.KindFinding, Members: []*posture.Scored{s}, Score: s.Score, Band: s.Band,
				Provider: s.Finding.Provider, Account: s.Finding.Account, Environment: string(s.Attr.Environment),
				Owner: s.Attr.Owner, Resource: s.Finding.Resource.ID, Why: s.Why(3)}
			if r := naive.Rank(context.Background(), "bench", "the demo source", []*posture.Group{g}); r.Outcome != advisor.OutcomeUsed {
				b.Fatalf("naive call for %s: %s %s", s.Finding.ID, r.Outcome, r.Reason)
			}
		}
	})

	// A model that sees every group, for the top-10 comparison.
	everything := newAdv(len(groups), 1<<20).Rank(context.Background(), "bench", "the demo source", groups)
	if everything.Outcome != advisor.OutcomeUsed || everything.Sent != len(groups) {
		b.Fatalf("all-groups ranking: %s %s (sent %d)", everything.Outcome, everything.Reason, everything.Sent)
	}

	ours := newAdv(20, 0)
	var last advisor.Ranking
	b.ResetTimer()
	oursTokens := tokens(func() {
		for b.Loop() {
			last = ours.Rank(context.Background(), "bench", "the demo source", groups)
		}
	})
	b.StopTimer()
	if last.Outcome != advisor.OutcomeUsed {
		b.Fatalf("top-risks ranking: %s %s", last.Outcome, last.Reason)
	}
	per := float64(oursTokens) / float64(b.N)
	same := 0.0
	if slices.Equal(top10(last), top10(everything)) {
		same = 1
	}
	b.ReportMetric(per, "tokens/top-risks")
	b.ReportMetric(float64(naiveTokens), "naive-tokens")
	b.ReportMetric(float64(open), "naive-calls")
	b.ReportMetric(100*per/float64(naiveTokens), "%-of-naive")
	b.ReportMetric(same, "same_top10")
}
