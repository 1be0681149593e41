package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/posture"
)

// TopRisks answers /optix top-risks [N] [provider=] [account=] [env=] [min=],
// and with Clusters set /optix clusters with the same arguments: the
// biggest groups of related findings (one check repeated in an account and
// environment, and toxic combinations on one resource), ranked by risk.
type TopRisks struct {
	Estate *Estate
	// Advisor refines the order and explains each entry (top-risks only);
	// nil or without an LLM, the rules' order stands and the footer says so.
	Advisor  ranker
	Log      *slog.Logger
	Clusters bool
}

// ranker is the LLM advisor (advisor.Advisor).
type ranker interface {
	Rank(ctx context.Context, actor, scope string, groups []*posture.Group) advisor.Ranking
	TopK() int
}

// Run implements the verb.
func (h TopRisks) Run(ctx context.Context, req bot.Request) bot.Reply {
	la, err := parseListArgs(req.Args, 10, true)
	if err != nil {
		return bot.Fail(err.Error())
	}
	cur, err := h.Estate.Current(ctx)
	if err != nil {
		return sourceFailure(h.Log, err)
	}
	if h.Clusters {
		top := cur.Clusters(la.N, la.Filter)
		rep := h.reply(top, la, cur.Pull)
		rep.Footer += " Open one with /optix finding <C-id>."
		return rep
	}
	// The advisor sees the top K groups and may promote one from below N
	// into view, so fetch enough of them.
	k := 0
	if h.Advisor != nil {
		k = h.Advisor.TopK()
	}
	top := cur.Top(max(la.N, k), la.Filter)
	if h.Advisor == nil || len(top.Groups) == 0 {
		top.Groups = top.Groups[:min(la.N, len(top.Groups))]
		return h.reply(top, la, cur.Pull)
	}
	groups := make([]*posture.Group, len(top.Groups))
	for i := range top.Groups {
		groups[i] = &top.Groups[i]
	}
	rk := h.Advisor.Rank(ctx, req.User.ID, scopeOf(cur.Pull, la.Filter), groups)
	n := min(la.N, len(rk.Order))
	ordered := make([]posture.Group, 0, n)
	shown := make(map[int]bool, n)
	for _, i := range rk.Order[:n] {
		ordered = append(ordered, *groups[i])
		shown[i] = true
	}
	// Groups the rules put in the top N that the model's order pushed out
	// are named, so reordering never hides a risk without saying so.
	var out []string
	for i := 0; i < n; i++ {
		if !shown[i] {
			out = append(out, fmt.Sprintf("%s (%s %d)", groups[i].ID, groups[i].Band, groups[i].Score))
		}
	}
	top.Groups = ordered
	rep := h.reply(top, la, cur.Pull)
	for i := range rep.Items {
		if n, ok := rk.Notes[rep.Items[i].ID]; ok {
			rep.Items[i].Impact, rep.Items[i].Next, rep.Items[i].Label = n.Impact, n.Next, n.Label
		}
	}
	if rk.Summary != "" {
		rep.Summary = rk.Summary
	}
	rep.Footer += " " + rk.Footer()
	if len(out) > 0 {
		more := ""
		if len(out) > 10 {
			more = fmt.Sprintf(" and %d more", len(out)-10)
			out = out[:10]
		}
		rep.Footer += fmt.Sprintf(" Moved out of the top %d by the LLM's order: %s%s.", n, strings.Join(out, ", "), more)
	}
	return rep
}

func (h TopRisks) reply(top posture.Top, la listArgs, p *Pull) bot.Reply {
	rep := bot.Reply{OK: true, Title: topTitle(h.noun(), len(top.Groups), la, p)}
	if len(top.Groups) == 0 {
		rep.Summary = h.emptySummary(la.Filter)
	}
	for i := range top.Groups {
		rep.Items = append(rep.Items, groupItem(i+1, &top.Groups[i]))
	}
	rep.Footer = topFooter(top)
	return rep
}

// scopeOf names what was ranked, for the prompt: the source and filters,
// our own words.
func scopeOf(p *Pull, f posture.Filter) string {
	s := "the " + p.Source + " source"
	if strings.HasPrefix(p.Source, "file:") {
		s = "an imported scan"
	}
	if d := describeFilter(f); d != "" {
		s += " (" + d + ")"
	}
	return s
}

func (h TopRisks) noun() string {
	if h.Clusters {
		return "clusters"
	}
	return "risks"
}

func (h TopRisks) emptySummary(f posture.Filter) string {
	switch {
	case describeFilter(f) != "":
		return "Nothing matches these filters."
	case h.Clusters:
		return "No clusters: no check repeats within an account and environment, and no resource holds a toxic combination."
	}
	return "No open findings: the source reported a clean estate."
}

func topTitle(noun string, n int, la listArgs, p *Pull) string {
	var b strings.Builder
	switch n {
	case 0:
		fmt.Fprintf(&b, "No %s to show", noun)
	case 1:
		fmt.Fprintf(&b, "Top %s", strings.TrimSuffix(noun, "s"))
	default:
		fmt.Fprintf(&b, "Top %d %s", n, noun)
	}
	if f := describeFilter(la.Filter); f != "" {
		b.WriteString(" (" + f + ")")
	}
	fmt.Fprintf(&b, " — %s", sourceLabel(p))
	return b.String()
}

func sourceLabel(p *Pull) string {
	s := p.Source
	if p.Tenant != "" {
		s += ", tenant " + p.Tenant
	}
	return s + ", pulled " + p.Finished.UTC().Format("2006-01-02 15:04 UTC")
}

func describeFilter(f posture.Filter) string {
	var parts []string
	if f.Provider != "" {
		parts = append(parts, "provider="+f.Provider)
	}
	if f.Account != "" {
		parts = append(parts, "account="+f.Account)
	}
	if f.Environment != "" {
		parts = append(parts, "env="+string(f.Environment))
	}
	if f.MinBand != "" {
		parts = append(parts, "min="+strings.ToLower(string(f.MinBand)))
	}
	return strings.Join(parts, " ")
}

func topFooter(top posture.Top) string {
	s := fmt.Sprintf("Considered %s in %s.", plural(top.Findings, "open finding"), plural(top.GroupsConsidered, "group"))
	if top.Deprioritized > 0 {
		reasons := make([]string, 0, len(top.DeprioritizedBy))
		for _, k := range []string{"sandbox", "dev", "low"} {
			if n := top.DeprioritizedBy[k]; n > 0 {
				reasons = append(reasons, fmt.Sprintf("%s %d", reasonLabel(k), n))
			}
		}
		// Reasons other than the three known ones, in a stable order.
		var extra []string
		for k := range top.DeprioritizedBy {
			if k != "sandbox" && k != "dev" && k != "low" {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			reasons = append(reasons, fmt.Sprintf("%s %d", k, top.DeprioritizedBy[k]))
		}
		s += fmt.Sprintf(" Deprioritized %d: %s.", top.Deprioritized, strings.Join(reasons, ", "))
	}
	return s
}

func reasonLabel(k string) string {
	switch k {
	case "sandbox":
		return "in sandbox"
	case "dev":
		return "in dev"
	case "low":
		return "low risk"
	}
	return k
}

func groupItem(rank int, g *posture.Group) bot.Item {
	it := bot.Item{
		Rank: rank, Kind: string(g.Kind), ID: g.ID, Band: string(g.Band), Score: g.Score,
		Title: g.Title, Resource: g.Resource, Provider: g.Provider, Account: g.Account,
		Environment: string(g.Environment), Owner: g.Owner, Why: g.Why,
	}
	if g.Kind != posture.KindFinding {
		it.Count = len(g.Members)
	}
	return it
}

// sourceFailure tells the user in one sentence that the pull failed. The
// source's own error is already a readable sentence (with the Sophos
// request id when there is one); the full chain is logged.
func sourceFailure(log *slog.Logger, err error) bot.Reply {
	if log == nil {
		log = slog.Default()
	}
	log.Error("pull failed", "err", err)
	var se *SourceError
	if errors.As(err, &se) && se.User != "" {
		return bot.Fail("Could not pull findings: " + strings.TrimSuffix(se.User, ".") + ".")
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return bot.Fail("The finding source did not answer in time; try again in a minute.")
	}
	msg := err.Error()
	if r := []rune(msg); len(r) > 400 {
		msg = string(r[:400]) + "…"
	}
	return bot.Fail("Could not pull findings: " + strings.TrimSuffix(msg, ".") + ".")
}

// plural writes "1 group" or "3 groups".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
