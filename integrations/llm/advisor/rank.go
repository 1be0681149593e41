package advisor

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/redact"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/prompts"
	"github.com/optix-bot/optix-bot/store"
)

// Ranking is the advisor's word on a ranked list of groups.
type Ranking struct {
	// Order is a permutation of the indexes of the groups passed to Rank:
	// the rules' order when the LLM was not used.
	Order []int
	// Notes holds the model's impact, next action and label by group id,
	// with identifiers restored.
	Notes   map[string]Note
	Summary string
	Outcome Outcome // off, used, repaired or fallback
	Reason  string  // why the rules' order stands, for fallback
	Cached  bool
	// Overrides lists what the model tried that the rules did not allow:
	// moves past the bounds, unknown or missing ids, scores it set, a next
	// action naming another optix-bot command.
	Overrides []string
	// Dropped counts notes not shown because they failed the text check
	// (a link, markup, a steering word): the text check is a filter and
	// catches honest text too, so these are not counted as attempts.
	Dropped int
	Sent    int  // groups the model saw
	Raw     bool // identifiers were sent unredacted
	Model   string
}

// Note is the model's word on one group.
type Note struct {
	Impact, Next, Label string
}

// Footer is the one line a reply carries about how it was ranked.
func (r Ranking) Footer() string {
	var s string
	switch r.Outcome {
	case OutcomeOff:
		return "Ranked by rules only (no LLM configured)."
	case OutcomeFallback:
		s = "Ranked by rules only: " + strings.TrimSuffix(r.Reason, ".") + "."
	default:
		s = fmt.Sprintf("Order and notes for the top %d refined by %s within the rules' bounds", r.Sent, r.Model)
		if r.Outcome == OutcomeRepaired {
			s += " (after one repair)"
		}
		if r.Cached {
			s += ", from cache"
		}
		if n := len(r.Overrides); n > 0 {
			s += fmt.Sprintf("; %d override attempt(s) ignored", n)
		}
		if r.Dropped > 0 {
			s += fmt.Sprintf("; %d note(s) not shown (text check)", r.Dropped)
		}
		s += "."
	}
	if r.Raw {
		s += " Identifiers were sent to the LLM unredacted (OPTIX_BOT_LLM_SEND_RAW=1)."
	}
	return s
}

func rulesOrder(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// Rank asks the model to order the first TopK groups (the rules' order)
// and explain them. It never fails: anything that goes wrong leaves the
// rules' order and says why in the Ranking.
func (a *Advisor) Rank(ctx context.Context, actor, scope string, groups []*posture.Group) Ranking {
	r := Ranking{Order: rulesOrder(len(groups)), Outcome: OutcomeOff}
	if !a.Enabled() || len(groups) == 0 {
		return r
	}
	r.Raw, r.Model = a.cfg.SendRaw, a.cfg.LLM.Model()
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()

	k := min(a.cfg.TopK, len(groups))
	var ans answer
	var err error
	var red *redact.Redactor
	var ids []string
	for try := 0; ; try++ {
		var p prompts.Prompt
		p, red, ids, err = a.rankPrompt(groups, &k, scope)
		if err != nil {
			a.cfg.Log.Error("build top-risks prompt", "err", err)
			r.Outcome, r.Reason = OutcomeFallback, "the LLM prompt could not be built"
			return r
		}
		parse := func(s string) error { _, err := prompts.ParseRank(s, ids); return err }
		ans, err = a.exchange(ctx, actor, "top-risks", p, red, parse, 300+100*k, map[string]string{"groups": strconv.Itoa(k)})
		// A context window smaller than the budget assumed: send half as
		// many groups, once.
		if err != nil && llm.KindOf(err) == llm.KindContextLength && try == 0 && k > 1 {
			k = max(1, k/2)
			continue
		}
		break
	}
	if err != nil {
		r.Outcome, r.Reason = OutcomeFallback, reasonOf(err)
		return r
	}
	parsed, err := prompts.ParseRank(ans.text, ids)
	if err != nil { // exchange accepted only text that parses
		r.Outcome, r.Reason = OutcomeFallback, reasonOf(err)
		return r
	}
	r.Outcome, r.Sent, r.Cached = ans.outcome, k, ans.cached
	a.apply(&r, groups[:k], parsed, red)
	if len(r.Overrides) > 0 || r.Dropped > 0 {
		a.auditOverrides(ctx, actor, r.Overrides, r.Dropped)
	}
	return r
}

// auditOverrides records what the model tried that the rules refused, so
// a model that keeps pushing (or an injection that got through) shows up
// in the chain, not only in a footer.
func (a *Advisor) auditOverrides(ctx context.Context, actor string, overrides []string, dropped int) {
	list := strings.Join(overrides, "; ")
	a.cfg.Log.Warn("LLM override attempts ignored", "count", len(overrides), "attempts", clip(list, 500), "notes_dropped", dropped)
	if a.cfg.Audit == nil {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rec := store.AuditRecord{Actor: actor, Action: "llm.overrides", Subject: "top-risks",
		Details: map[string]string{"count": strconv.Itoa(len(overrides)), "attempts": clip(list, 1000), "notes_dropped": strconv.Itoa(dropped)}}
	if _, err := a.cfg.Audit.Append(actx, rec); err != nil {
		a.cfg.Log.Error("audit LLM overrides", "err", err)
	}
}

// apply turns a parsed answer into the bounded order and restored notes.
func (a *Advisor) apply(r *Ranking, sent []*posture.Group, ans prompts.RankAnswer, red *redact.Redactor) {
	index := make(map[string]int, len(sent))
	bands := make([]posture.Band, len(sent))
	for i, g := range sent {
		index[g.ID] = i
		bands[i] = g.Band
	}
	proposed := make([]int, 0, len(ans.Items))
	r.Notes = make(map[string]Note, len(ans.Items))
	for _, it := range ans.Items {
		i := index[it.ID]
		proposed = append(proposed, i)
		var n Note
		var ok bool
		if n.Impact, ok = prose(red, it.Impact, 240); !ok {
			r.Dropped++
		}
		if n.Label, ok = prose(red, it.Group, 40); !ok {
			r.Dropped++
		}
		next, verdict := nextAction(sent[i], it.NextAction)
		switch verdict {
		case nextOtherCommand:
			r.Overrides = append(r.Overrides, it.ID+": next action named another optix-bot command; replaced")
		case nextFailedCheck:
			r.Dropped++
		}
		if n.Next, ok = restoreNames(red, next, 160); !ok {
			r.Dropped++
			n.Next = ownCommand(sent[i])
		}
		r.Notes[it.ID] = n
	}
	var ok bool
	if r.Summary, ok = prose(red, ans.Summary, 600); !ok {
		r.Dropped++
	}
	r.Overrides = append(r.Overrides, ans.Attempts...)
	order, refused := posture.BoundOrder(bands, proposed)
	for _, i := range refused {
		r.Overrides = append(r.Overrides, fmt.Sprintf("%s (%s) was placed above a group it may not pass; kept below it", sent[i].ID, sent[i].Band))
	}
	copy(r.Order, order) // the groups past k keep their rules places
}

// nextAction keeps the model's next action unless it names an optix-bot
// command other than looking at or fixing this very group: a model (or an
// injection that reached it) must not steer anyone to /optix approve.
// The text s is the model's, before identifiers are restored.
func nextAction(g *posture.Group, s string) (string, nextVerdict) {
	if !strings.Contains(strings.ToLower(norm.NFKC.String(s)), "optix") {
		if _, ok := prose(nil, s, 160); ok {
			return s, nextKept
		}
		return ownCommand(g), nextFailedCheck
	}
	// Every optix-bot command named must be this group's own finding or
	// fix command ("Run /optix fix F-… to draft the change" is honest);
	// then optix-bot's own spelling of it is shown.
	t := norm.NFKC.String(s)
	cmds := reOptixCommand.FindAllStringSubmatch(t, -1)
	if len(cmds) == 0 || strings.Count(strings.ToLower(t), "optix") != len(cmds) {
		return ownCommand(g), nextOtherCommand
	}
	for _, c := range cmds {
		verb, id := strings.ToLower(c[1]), strings.TrimRight(c[2], ".,;:!?")
		if !strings.EqualFold(id, g.ID) || !(verb == "finding" || verb == "fix" && g.Kind == posture.KindFinding) {
			return ownCommand(g), nextOtherCommand
		}
	}
	return ownCommand(g), nextKept
}

var reOptixCommand = regexp.MustCompile(`(?i)/optix\s+(\S+)\s+(\S+)`)

// nextVerdict is what nextAction made of the model's next action.
type nextVerdict int

const (
	nextKept         nextVerdict = iota
	nextFailedCheck              // the text check dropped it
	nextOtherCommand             // it named an optix-bot command other than this group's own
)

// ownCommand is the next step optix-bot itself suggests for a group.
func ownCommand(g *posture.Group) string {
	if g.Kind == posture.KindFinding {
		return "/optix fix " + g.ID
	}
	return "/optix finding " + g.ID
}

// restore puts the real identifiers back into the model's text. Names are
// untrusted, so the result is cleaned again (no line breaks, no control
// characters) and the renderers escape it.
func restore(red *redact.Redactor, s string, max int) string {
	if red != nil {
		s = red.Restore(s)
	}
	// Anything that looks like a secret, whether the model saw it as a
	// placeholder or wrote it itself, is not shown: a fresh redactor finds
	// it and restores everything else exactly.
	fresh := redact.New()
	s = fresh.Restore(fresh.String(s))
	s = reSecretPlaceholder.ReplaceAllString(s, "(a secret, withheld)")
	return prompts.Clean(s, max)
}

var reSecretPlaceholder = regexp.MustCompile(`\[SECRET_[0-9]+\]`)

// rankPrompt renders the top-risks prompt for the first *k groups,
// lowering *k until the estimate fits the token budget.
func (a *Advisor) rankPrompt(groups []*posture.Group, k *int, scope string) (prompts.Prompt, *redact.Redactor, []string, error) {
	for {
		var red *redact.Redactor
		if !a.cfg.SendRaw {
			red = redact.New()
		}
		in := prompts.RankInput{Task: prompts.TaskRank}
		ids := make([]string, 0, *k)
		for _, g := range groups[:*k] {
			in.Items = append(in.Items, rankItem(g, red))
			ids = append(ids, g.ID)
		}
		var data any = in
		if red != nil {
			v, err := red.JSON(in)
			if err != nil {
				return prompts.Prompt{}, nil, nil, fmt.Errorf("redact top-risks data: %w", err)
			}
			data = v
		}
		p, err := a.cfg.Prompts.Render("top-risks", map[string]any{"MaxSentences": 2, "Scope": scopeLabel(scope, red), "Count": *k}, data)
		if err != nil {
			return prompts.Prompt{}, nil, nil, err
		}
		if *k <= 1 || estimateTokens(p.System, p.User) <= a.cfg.TokenBudget {
			return p, red, ids, nil
		}
		*k = max(1, *k*3/4)
	}
}

// scopeLabel is trusted text (our own words) but may name a tenant.
func scopeLabel(scope string, red *redact.Redactor) string {
	if scope == "" {
		scope = "this estate"
	}
	if red != nil {
		return red.String(scope)
	}
	return scope
}

// rankItem is what the model learns of a group: our vocabulary and
// identifiers only. Titles from the source, descriptions and tags are free
// text anyone who can create a resource can write, so they are not sent;
// the rules have already read the tags that matter (owner, environment,
// criticality, data class) into the attribution.
func rankItem(g *posture.Group, red *redact.Redactor) prompts.RankItem {
	// Provider, account, resource and an uncatalogued check id come from
	// the source as written (an imported file can say anything), so even
	// these pass only if they look like what they are.
	it := prompts.RankItem{ID: g.ID, Kind: string(g.Kind), Band: string(g.Band), Score: g.Score,
		Provider: provider(g.Provider), Account: ident(g.Account), Environment: label(g.Environment), Resource: ident(g.Resource),
		Findings: len(g.Members), Why: g.Why}
	if len(g.Members) > 0 {
		lead := g.Members[0]
		if c := lead.Check; c != nil {
			// The catalogue's words, not the source's.
			it.Check, it.Title, it.ResourceType = c.ID, c.Title, c.ResourceType
			if c.Provider != "" {
				it.Provider = c.Provider
			}
		} else {
			it.Check = ident(lead.Finding.Check)
		}
		// Owner is the group's, empty when members differ. An owner or
		// application read from a tag is text anyone who can tag a
		// resource wrote, so it is not sent; the context file's are.
		if !fromTag(lead.Attr, "tag owner", "tag team") {
			it.Owner = label(g.Owner)
		}
		if !fromTag(lead.Attr, "tag application", "tag app") {
			it.Application = label(lead.Attr.Application)
		}
		// Levels are parsed into known words even from tags.
		it.Criticality, it.DataClass = label(lead.Attr.Criticality), label(lead.Attr.DataClass)
	}
	if g.Kind == posture.KindCombination {
		var titles []string
		seen := map[string]bool{}
		for _, m := range g.Members {
			if m.Check != nil && !seen[m.Check.ID] && len(titles) < 4 {
				seen[m.Check.ID] = true
				titles = append(titles, m.Check.Title)
			}
		}
		it.Title = "Toxic combination: " + strings.Join(titles, "; ")
		it.Check = ""
	}
	if red != nil {
		for _, m := range g.Members {
			knowFinding(red, m.Finding)
		}
		red.Known(redact.KindAccount, g.Account)
		red.Known(redact.KindResource, g.Resource)
		red.Known(redact.KindResource, resourceNames(g.Resource)...)
	}
	return it
}

// fromTag reports whether the attribution took a field from one of the
// named tag sources (posture.Attribution.Sources).
func fromTag(a posture.Attribution, sources ...string) bool {
	for _, s := range a.Sources {
		for _, want := range sources {
			if s == want {
				return true
			}
		}
	}
	return false
}

// knowFinding registers a finding's identifiers with the redactor: the
// account, the resource id and name, and the names inside the id, which
// scripts and titles use on their own (the user in an IAM user ARN, the
// resource group in an Azure id).
//
// The account and the resource's own id and name are registered exactly,
// however short or common ("web", "bo", "default"): they are the finding's
// identifiers, and Restore puts any word they stood for back as it was.
func knowFinding(red *redact.Redactor, f *posture.Finding) {
	red.KnownExact(redact.KindAccount, f.Account)
	red.KnownExact(redact.KindResource, f.Resource.ID, f.Resource.Name)
	red.Known(redact.KindResource, resourceNames(f.Resource.ID)...)
	red.Known(redact.KindIP, f.Resource.PublicIP)
}

// resourceNames are the customer-chosen names inside a resource id:
//   - ARN arn:partition:service:region:account:type/path/name → path and name
//     segments (an S3 ARN's resource is the bucket name itself);
//   - Azure /subscriptions/S/resourceGroups/RG/providers/NS/type/name →
//     S, RG and each name after a type;
//   - GCP …/projects/P/…/name → P and the last segment.
//
// Type words (user, security-group, storageAccounts) are not names and are
// left alone, so they keep their meaning in the prompt.
func resourceNames(id string) []string {
	var out []string
	switch {
	case strings.HasPrefix(id, "arn:"):
		parts := strings.SplitN(id, ":", 6)
		if len(parts) < 6 {
			return nil
		}
		res := parts[5]
		if i := strings.IndexAny(res, "/:"); i >= 0 {
			for _, seg := range strings.FieldsFunc(res[i+1:], func(r rune) bool { return r == '/' || r == ':' }) {
				out = append(out, seg)
			}
		} else {
			out = append(out, res)
		}
	case strings.HasPrefix(strings.ToLower(id), "/subscriptions/"):
		segs := strings.Split(strings.Trim(id, "/"), "/")
		for i := 1; i < len(segs); i += 2 {
			if !strings.EqualFold(segs[i-1], "providers") {
				out = append(out, segs[i])
			}
		}
	case strings.Contains(id, "projects/"):
		segs := strings.Split(strings.Trim(id, "/"), "/")
		for i, seg := range segs {
			if seg == "projects" && i+1 < len(segs) {
				out = append(out, segs[i+1])
			}
		}
		if len(segs) > 0 {
			out = append(out, segs[len(segs)-1])
		}
	}
	return out
}
