package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/posture/remediate"
)

// Finding answers /optix finding <id>: one finding with every factor, its
// context, related findings and remediation guidance. A cluster id shows
// the cluster and its members.
type Finding struct {
	Estate *Estate
	Log    *slog.Logger
}

// Run implements the verb.
func (h Finding) Run(ctx context.Context, req bot.Request) bot.Reply {
	if len(req.Args) != 1 {
		return bot.Fail("Give one finding id, e.g. /optix finding F-1a2b3c4d.")
	}
	id := posture.NormalizeID(req.Args[0])
	cur, err := h.Estate.Current(ctx)
	if err != nil {
		return sourceFailure(h.Log, err)
	}
	if strings.HasPrefix(id, "C-") {
		g, ok := cur.Group(id)
		if !ok {
			return bot.Fail(fmt.Sprintf("There is no cluster %s in the latest pull; /optix clusters lists them.", short(id)))
		}
		return groupReply(g)
	}
	s, ok := cur.Finding(id)
	if !ok {
		return bot.Fail(fmt.Sprintf("There is no finding %s in the latest pull; /optix top-risks lists the open ones.", short(id)))
	}
	return findingReply(cur, s)
}

func findingReply(cur *Assessed, s *posture.Scored) bot.Reply {
	f := s.Finding
	rep := bot.Reply{OK: true, Title: fmt.Sprintf("%s · %s %d · %s", f.ID, s.Band, s.Score, f.Title)}
	rep.Summary = "Why: " + s.Why(4)
	facts := []bot.Field{
		{Label: "Check", Value: checkLabel(s)},
		{Label: "Status", Value: string(f.Status)},
		{Label: "Provider", Value: f.Provider},
		{Label: "Account", Value: f.Account},
	}
	if f.Region != "" {
		facts = append(facts, bot.Field{Label: "Region", Value: f.Region})
	}
	facts = append(facts, bot.Field{Label: "Resource", Value: resourceLabel(f.Resource)})
	if f.Resource.Type != "" {
		facts = append(facts, bot.Field{Label: "Resource type", Value: f.Resource.Type})
	}
	facts = append(facts, bot.Field{Label: "Severity", Value: f.Severity.String()})
	if f.SourceScore > 0 {
		facts = append(facts, bot.Field{Label: "Source score", Value: fmt.Sprintf("%d/100", f.SourceScore)})
	}
	if !f.FirstSeen.IsZero() {
		facts = append(facts, bot.Field{Label: "First seen", Value: f.FirstSeen.UTC().Format("2006-01-02")})
	}
	if len(f.SourceIDs) > 0 {
		facts = append(facts, bot.Field{Label: "Source ids", Value: f.Source + " " + strings.Join(f.SourceIDs, ", ")})
	}
	rep.Sections = append(rep.Sections, bot.Section{Heading: "Finding", Fields: facts})

	var factors []bot.Field
	for _, fc := range s.Factors {
		factors = append(factors, bot.Field{Label: fc.Label, Value: fmt.Sprintf("%+.1f (%s)", fc.Points, fc.Name)})
	}
	// The points add up to Raw; the score maps Raw onto 0-100 on a curve
	// that flattens near the top, so the heading says both.
	rep.Sections = append(rep.Sections, bot.Section{Heading: fmt.Sprintf("Risk factors (%.1f points, shown as %d/100, %s)", s.Raw, s.Score, s.Band), Fields: factors})

	rep.Sections = append(rep.Sections, contextSection(s.Attr, f.Resource.Tags))

	if rel := cur.Related(f.ID); len(rel) > 0 {
		var lines []string
		for i, r := range rel {
			if i == 8 {
				lines = append(lines, fmt.Sprintf("… and %d more", len(rel)-8))
				break
			}
			lines = append(lines, fmt.Sprintf("%s %s %d %s (%s)", r.Finding.ID, r.Band, r.Score, flat(r.Finding.Title), flat(resourceLabel(r.Finding.Resource))))
		}
		rep.Sections = append(rep.Sections, bot.Section{Heading: "Related findings", Text: strings.Join(lines, "\n")})
	}
	if g, ok := cur.GroupOf(f.ID); ok && g.Kind != posture.KindFinding {
		rep.Sections = append(rep.Sections, bot.Section{Heading: "Group", Text: fmt.Sprintf("%s: %s", g.ID, flat(g.Title))})
	}

	guide := bot.Section{Heading: "How to fix", Text: numbered(remediate.Guidance(s.Check))}
	rep.Sections = append(rep.Sections, guide)
	// Available renders and lints the script, so the footer never promises
	// one that /optix fix would then withhold.
	switch {
	case remediate.Available(remediate.Input{Finding: f, Check: s.Check, Attr: s.Attr}, ""):
		rep.Footer = fmt.Sprintf("A vetted script is available: /optix fix %s", f.ID)
	case slices.Contains(remediate.Kinds(), s.Check.ID):
		rep.Footer = "A template exists for this check, but not a safe script for this resource (its identifiers did not pass validation); follow the steps above."
	default:
		rep.Footer = "No script template for this check yet; follow the steps above."
	}
	return rep
}

func groupReply(g *posture.Group) bot.Reply {
	rep := bot.Reply{OK: true, Title: fmt.Sprintf("%s · %s %d · %s", g.ID, g.Band, g.Score, g.Title), Summary: "Why: " + g.Why}
	rep.Sections = append(rep.Sections, bot.Section{Heading: "Group", Fields: []bot.Field{
		{Label: "Kind", Value: string(g.Kind)},
		{Label: "Findings", Value: fmt.Sprint(len(g.Members))},
		{Label: "Provider", Value: g.Provider},
		{Label: "Account", Value: g.Account},
		{Label: "Environment", Value: orUnknown(string(g.Environment))},
		{Label: "Owner", Value: orUnknown(g.Owner)},
	}})
	for i, m := range g.Members {
		if i == 15 {
			rep.Sections = append(rep.Sections, bot.Section{Text: fmt.Sprintf("… and %d more findings", len(g.Members)-15)})
			break
		}
		rep.Items = append(rep.Items, bot.Item{
			Rank: i + 1, Kind: string(posture.KindFinding), ID: m.Finding.ID, Band: string(m.Band), Score: m.Score,
			Title: m.Finding.Title, Resource: resourceLabel(m.Finding.Resource), Provider: m.Finding.Provider,
			Account: m.Finding.Account, Environment: string(m.Attr.Environment), Owner: m.Attr.Owner, Why: m.Why(3),
		})
	}
	rep.Footer = "Open a member with /optix finding <id>."
	return rep
}

func contextSection(a posture.Attribution, tags map[string]string) bot.Section {
	fields := []bot.Field{
		{Label: "Owner", Value: orUnknown(a.Owner)},
		{Label: "Application", Value: orUnknown(a.Application)},
		{Label: "Environment", Value: orUnknown(string(a.Environment))},
		{Label: "Criticality", Value: orUnknown(a.Criticality)},
		{Label: "Data classification", Value: orUnknown(a.DataClass)},
	}
	if len(a.Sources) > 0 {
		fields = append(fields, bot.Field{Label: "From", Value: strings.Join(a.Sources, "; ")})
	}
	if len(tags) > 0 {
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+tags[k])
		}
		fields = append(fields, bot.Field{Label: "Tags", Value: strings.Join(kv, ", ")})
	}
	return bot.Section{Heading: "Context", Fields: fields}
}

func checkLabel(s *posture.Scored) string {
	if s.Check == nil || s.Check.ID == posture.GenericCheck {
		rule := s.Finding.Rule
		if rule == "" {
			rule = "unknown rule"
		}
		return "generic (" + rule + " is not in the catalogue)"
	}
	l := s.Check.ID
	if s.Finding.Rule != "" && s.Finding.Rule != s.Check.ID {
		l += " (" + s.Finding.Rule + ")"
	}
	if len(s.Check.Categories) > 0 {
		l += " · " + strings.Join(s.Check.Categories, ", ")
	}
	return l
}

func resourceLabel(r posture.Resource) string {
	switch {
	case r.Name != "" && r.ID != "" && r.Name != r.ID:
		return r.Name + " (" + r.ID + ")"
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return "unknown resource"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func numbered(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%d. %s", i+1, s)
	}
	return b.String()
}

// flat keeps untrusted text on one line when it is embedded in a multi-line
// section: a newline in a resource name must not start a line that looks
// like one of ours.
func flat(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
