package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/posture/remediate"
	"github.com/optix-bot/optix-bot/store"
)

// requestStore is what the approval verbs need of the store.
type requestStore interface {
	CreateRequest(ctx context.Context, cr *store.ChangeRequest, actor string) error
	Request(ctx context.Context, idOrPrefix string) (*store.ChangeRequest, error)
	UpdateRequest(ctx context.Context, id string, fn func(cr *store.ChangeRequest) (store.AuditRecord, error)) (*store.ChangeRequest, error)
	Requests(ctx context.Context, f store.RequestFilter) ([]*store.ChangeRequest, error)
	Append(ctx context.Context, r store.AuditRecord) (store.AuditEntry, error)
}

// scopePolicy answers scoped role questions (rbac.Policy).
type scopePolicy interface {
	Check(u bot.User, r bot.Role, account, env string) error
	RequiredApprovals(env string) int
}

// Fix answers /optix fix <finding-id> [format]: a vetted, linted script as a
// pending change request with Approve and Reject buttons, or manual steps
// when there is no template or the script failed the linter.
type Fix struct {
	Estate   *Estate
	Requests requestStore
	Policy   scopePolicy
	// Advisor may tailor the vetted script's slots to the team's
	// conventions; nil means the vetted script as it is.
	Advisor     tailorer
	Conventions map[string]string // from the context file
	TTL         time.Duration     // how long a request stays open
	Now         func() time.Time
	Log         *slog.Logger
}

// tailorer is the LLM advisor (advisor.Advisor).
type tailorer interface {
	Tailor(ctx context.Context, actor string, in remediate.Input, vetted *remediate.Script, conventions map[string]string) advisor.TailorResult
}

// Run implements the verb.
func (h Fix) Run(ctx context.Context, req bot.Request) bot.Reply {
	if len(req.Args) < 1 || len(req.Args) > 2 {
		return bot.Fail("Give a finding id and optionally a format, e.g. /optix fix F-1a2b3c4d terraform.")
	}
	var format remediate.Format
	if len(req.Args) == 2 {
		f, err := remediate.ParseFormat(req.Args[1])
		if err != nil {
			return bot.Fail("Format must be terraform, awscli, cloudformation, azcli or gcloud.")
		}
		format = f
	}
	cur, err := h.Estate.Current(ctx)
	if err != nil {
		return sourceFailure(h.Log, err)
	}
	id := posture.NormalizeID(req.Args[0])
	if strings.HasPrefix(id, "C-") {
		return bot.Fail(fmt.Sprintf("%s is a group of findings; a fix is for one finding, so pick a member from /optix finding %s.", short(id), short(id)))
	}
	s, ok := cur.Finding(id)
	if !ok {
		return bot.Fail(fmt.Sprintf("There is no finding %s in the latest pull; /optix top-risks lists the open ones.", short(id)))
	}
	f := s.Finding
	env := string(s.Attr.Environment)
	if err := h.Policy.Check(req.User, bot.RoleRequester, f.Account, env); err != nil {
		h.refuse(ctx, req, f.ID, err.Error())
		return bot.Fail(upper(err.Error()) + ".")
	}
	in := remediate.Input{Finding: f, Check: s.Check, Attr: s.Attr}
	res, err := remediate.Generate(in, format)
	if err != nil {
		if errors.Is(err, remediate.ErrUnsupportedFormat) {
			var offered []string
			for _, f := range remediate.FormatsFor(s.Check.ID) {
				offered = append(offered, string(f))
			}
			return bot.Fail(fmt.Sprintf("%s has no %s template; try %s.", s.Check.ID, format, orList(offered)))
		}
		h.Log.Error("generate remediation", "err", err, "finding", f.ID)
		return bot.Fail("The script could not be drafted; the error is logged.")
	}
	if res.Script == nil {
		return h.manual(ctx, req, s, res)
	}
	pending, rep, done := h.pending(ctx, s, in, res.Script)
	if done {
		return rep
	}
	script, note := res.Script, ""
	if h.Advisor != nil {
		tr := h.Advisor.Tailor(ctx, req.User.ID, in, res.Script, h.Conventions)
		script, note = tr.Script, tailorNote(tr)
	}
	if pending != nil {
		return h.replace(ctx, req, s, pending, script, note)
	}
	now := h.Now()
	cr := &store.ChangeRequest{
		Findings: []string{f.ID}, Check: s.Check.ID, Provider: f.Provider, Account: f.Account,
		Environment: env, Region: f.Region, Resource: f.Resource.ID,
		Format: string(script.Format), Script: script.Body, ScriptSHA256: script.SHA256,
		TemplateVersion: script.TemplateVersion, Tailored: script.Tailored, Requester: req.User.ID,
		Created: now, Expires: now.Add(h.ttl()), State: store.StatePending,
		RequiredApprovals: h.Policy.RequiredApprovals(env), Channel: req.Channel,
	}
	if err := h.Requests.CreateRequest(ctx, cr, req.User.ID); err != nil {
		h.Log.Error("create change request", "err", err, "finding", f.ID)
		return bot.Fail("The change request could not be stored, so no script is shown; the error is logged.")
	}
	return h.requestReply(cr, s, script, note)
}

// tailorNote tells the requester what the LLM did to the script, or why
// the vetted script is shown.
func tailorNote(tr advisor.TailorResult) string {
	var n string
	switch {
	case tr.Tailored:
		n = "Tailored by the LLM (" + strings.Join(tr.Script.Tailored, ", ") + " changed); the rest is the vetted template, and it passed the linter."
	case tr.Outcome == advisor.OutcomeOff:
		return ""
	case tr.Reason != "":
		n = "The vetted template is shown: " + strings.TrimSuffix(tr.Reason, ".") + "."
	}
	if tr.Raw {
		n += " Identifiers were sent to the LLM unredacted (OPTIX_BOT_LLM_SEND_RAW=1)."
	}
	return strings.TrimSpace(n)
}

// pending finds the open request for the same finding and format. The
// request is shown again, rather than filed twice, when its script is still
// current: the vetted script, or a tailoring of the current template (so a
// second /optix fix neither calls the LLM again nor voids approvals).
// Otherwise the request is returned for replace; done is set when a reply
// is ready.
func (h Fix) pending(ctx context.Context, s *posture.Scored, in remediate.Input, vetted *remediate.Script) (*store.ChangeRequest, bot.Reply, bool) {
	pending, err := h.Requests.Requests(ctx, store.RequestFilter{State: store.StatePending})
	if err != nil {
		h.Log.Error("list pending requests", "err", err)
		return nil, bot.Reply{}, false
	}
	now := h.Now()
	for _, cr := range pending {
		if len(cr.Findings) != 1 || cr.Findings[0] != s.Finding.ID || cr.Format != string(vetted.Format) || !now.Before(cr.Expires) {
			continue
		}
		if cr.ScriptSHA256 == vetted.SHA256 {
			return nil, h.requestReply(cr, s, vetted, "This finding already has a pending change request with the same script; here it is again."), true
		}
		if len(cr.Tailored) > 0 {
			if t, err := remediate.Tailor(in, vetted.Format, cr.Script); err == nil && t.SHA256 == cr.ScriptSHA256 {
				return nil, h.requestReply(cr, s, t, "This finding already has a pending change request with this tailored script; here it is again."), true
			}
		}
		return cr, bot.Reply{}, false
	}
	return nil, bot.Reply{}, false
}

// replace puts a new script into a pending request in place. Approvals are
// bound to the script hash, so approvals given to the old script no longer
// count.
func (h Fix) replace(ctx context.Context, req bot.Request, s *posture.Scored, cr *store.ChangeRequest, sc *remediate.Script, note string) bot.Reply {
	if cr.ScriptSHA256 == sc.SHA256 {
		return h.requestReply(cr, s, sc, joinNotes(note, "This finding already has a pending change request with the same script; here it is again."))
	}
	old := cr.ScriptSHA256
	updated, err := h.Requests.UpdateRequest(ctx, cr.ID, func(c *store.ChangeRequest) (store.AuditRecord, error) {
		c.Script, c.ScriptSHA256, c.TemplateVersion, c.Tailored = sc.Body, sc.SHA256, sc.TemplateVersion, sc.Tailored
		return store.AuditRecord{Actor: req.User.ID, Action: "request.regenerated", Subject: c.ID,
			Details: map[string]string{"old_sha256": old, "script_sha256": sc.SHA256, "voided_approvals": fmt.Sprint(len(c.Approvals)),
				"tailored": strings.Join(sc.Tailored, ",")}}, nil
	})
	if err != nil {
		h.Log.Error("regenerate change request", "err", err, "request", cr.ID)
		return bot.Fail("The change request could not be updated, so no script is shown; the error is logged.")
	}
	return h.requestReply(updated, s, sc, joinNotes("The script changed since this request was filed, so earlier approvals no longer count.", note))
}

func joinNotes(a, b string) string { return strings.TrimSpace(a + " " + b) }

func (h Fix) requestReply(cr *store.ChangeRequest, s *posture.Scored, sc *remediate.Script, note string) bot.Reply {
	f := s.Finding
	summary := fmt.Sprintf("Change request %s is pending: it needs %d approval(s) from an approver for %s / %s other than %s. Nothing runs until it is approved, and optix-bot never runs it itself.",
		cr.ID, cr.RequiredApprovals, cr.Account, orUnknown(cr.Environment), cr.Requester)
	if note != "" {
		summary = note + " " + summary
	}
	rep := bot.Reply{
		OK:       true,
		Title:    fmt.Sprintf("Fix for %s: %s", f.ID, s.Check.Title),
		Summary:  summary,
		Sections: []bot.Section{{Heading: "Request", Fields: requestFields(cr)}},
		Code:     &bot.Code{Language: sc.Language, Filename: sc.Filename, Body: cr.Script, SHA256: cr.ScriptSHA256},
		Buttons: []bot.Button{
			{ActionID: "approve", Label: "Approve", Value: cr.ID, Style: "primary"},
			{ActionID: "reject", Label: "Reject", Value: cr.ID, Style: "danger"},
		},
		Footer: fmt.Sprintf("Expires %s. Approve: /optix approve %s · Reject: /optix reject %s <reason>",
			cr.Expires.UTC().Format("2006-01-02 15:04 UTC"), cr.ID[:8], cr.ID[:8]),
	}
	return rep
}

func (h Fix) manual(ctx context.Context, req bot.Request, s *posture.Scored, res remediate.Result) bot.Reply {
	if len(res.Refused) > 0 {
		var rules []string
		for _, v := range res.Refused {
			rules = append(rules, v.Rule)
		}
		h.Log.Warn("script withheld by linter", "finding", s.Finding.ID, "check", s.Check.ID, "violations", fmt.Sprint(res.Refused))
		if _, err := h.Requests.Append(ctx, store.AuditRecord{
			Actor: req.User.ID, Action: "script.withheld", Subject: s.Finding.ID,
			Details: map[string]string{"check": s.Check.ID, "rules": strings.Join(rules, ",")},
		}); err != nil {
			h.Log.Error("audit withheld script", "err", err)
		}
	}
	note := res.Note
	if note == "" {
		note = "No script for this check; follow the steps."
	}
	return bot.Reply{
		OK:       true,
		Title:    fmt.Sprintf("Manual fix for %s: %s", s.Finding.ID, s.Check.Title),
		Summary:  note,
		Sections: []bot.Section{{Heading: "Steps", Text: numbered(res.Manual)}},
	}
}

func (h Fix) refuse(ctx context.Context, req bot.Request, subject, reason string) {
	if _, err := h.Requests.Append(ctx, store.AuditRecord{Actor: req.User.ID, Action: "refused", Subject: subject,
		Details: map[string]string{"verb": req.Verb, "reason": reason}}); err != nil {
		h.Log.Error("audit refusal", "err", err)
	}
}

func (h Fix) ttl() time.Duration {
	if h.TTL > 0 {
		return h.TTL
	}
	return 72 * time.Hour
}

func requestFields(cr *store.ChangeRequest) []bot.Field {
	fs := []bot.Field{
		{Label: "Request", Value: cr.ID},
		{Label: "State", Value: stateLabel(cr)},
		{Label: "Findings", Value: strings.Join(cr.Findings, ", ")},
		{Label: "Check", Value: cr.Check},
		{Label: "Account", Value: cr.Account + " / " + orUnknown(cr.Environment)},
		{Label: "Resource", Value: cr.Resource},
		{Label: "Format", Value: formatLabel(cr)},
		{Label: "Script SHA-256", Value: cr.ScriptSHA256},
		{Label: "Requested by", Value: cr.Requester + " at " + cr.Created.UTC().Format("2006-01-02 15:04 UTC")},
	}
	for _, a := range cr.Approvals {
		fs = append(fs, bot.Field{Label: "Approved by", Value: a.By + " at " + a.At.UTC().Format("2006-01-02 15:04 UTC")})
	}
	if r := cr.Rejection; r != nil {
		fs = append(fs, bot.Field{Label: "Rejected by", Value: r.By + " at " + r.At.UTC().Format("2006-01-02 15:04 UTC") + ": " + r.Reason})
	}
	return fs
}

func formatLabel(cr *store.ChangeRequest) string {
	s := cr.Format + " (template " + cr.TemplateVersion
	if len(cr.Tailored) > 0 {
		s += ", tailored: " + strings.Join(cr.Tailored, ", ")
	}
	return s + ")"
}

func stateLabel(cr *store.ChangeRequest) string {
	switch cr.State {
	case store.StatePending:
		return fmt.Sprintf("pending (%d of %d approvals)", validApprovals(cr), cr.RequiredApprovals)
	case store.StateApproved:
		return "approved: ready for a ticket or pipeline"
	}
	return string(cr.State)
}

// validApprovals counts approvals given to the script as it is now: an
// approval of another version of the script does not count.
func validApprovals(cr *store.ChangeRequest) int {
	n := 0
	for _, a := range cr.Approvals {
		if a.ScriptSHA256 == cr.ScriptSHA256 {
			n++
		}
	}
	return n
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// orList writes "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
