package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/store"
)

// Decide answers /optix approve <request-id> and /optix reject <request-id>
// <reason>, and the Approve and Reject buttons. Every rule is checked inside
// the store's transaction, so two approvers clicking at once cannot both
// "complete" a request, and the user is told the outcome only after it is
// committed.
type Decide struct {
	Requests requestStore
	Policy   scopePolicy
	Now      func() time.Time
	Log      *slog.Logger
	Reject   bool
}

// refusal is a rule that stopped a decision, told to the user as is.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refusef(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// Run implements the verb.
func (h Decide) Run(ctx context.Context, req bot.Request) bot.Reply {
	verb := "approve"
	if h.Reject {
		verb = "reject"
	}
	if len(req.Args) < 1 {
		if h.Reject {
			return bot.Fail("Give a request id and a reason, e.g. /optix reject 3f2a9c1e the change window is closed.")
		}
		return bot.Fail("Give a request id, e.g. /optix approve 3f2a9c1e.")
	}
	reason := strings.TrimSpace(strings.Join(req.Args[1:], " "))
	if h.Reject && reason == "" {
		return bot.Fail("Reject needs a reason: /optix reject " + short(req.Args[0]) + " <reason>.")
	}
	if !h.Reject && reason != "" {
		return bot.Fail("Approve takes only the request id.")
	}
	if len([]rune(reason)) > 500 {
		return bot.Fail("Keep the reason under 500 characters.")
	}
	cr, err := h.Requests.Request(ctx, req.Args[0])
	if err != nil {
		return bot.Fail(lookupSentence(req.Args[0], err))
	}
	now := h.Now()
	var outcome string
	updated, err := h.Requests.UpdateRequest(ctx, cr.ID, func(cr *store.ChangeRequest) (store.AuditRecord, error) {
		if err := decidable(cr, now); err != nil {
			if errors.Is(err, errExpiredNow) {
				cr.State = store.StateExpired
				outcome = "expired"
				return store.AuditRecord{Actor: "optix-bot", Action: "request.expired", Subject: cr.ID,
					Details: map[string]string{"expires": cr.Expires.UTC().Format(time.RFC3339)}}, nil
			}
			return store.AuditRecord{}, err
		}
		if err := h.Policy.Check(req.User, bot.RoleApprover, cr.Account, cr.Environment); err != nil {
			return store.AuditRecord{}, &refusal{upper(err.Error()) + "."}
		}
		if cr.Requester == req.User.ID {
			return store.AuditRecord{}, refusef("You requested this change, so someone else must %s it.", verb)
		}
		details := map[string]string{"script_sha256": cr.ScriptSHA256, "account": cr.Account, "environment": cr.Environment}
		if h.Reject {
			cr.State = store.StateRejected
			cr.Rejection = &store.Decision{By: req.User.ID, At: now, ScriptSHA256: cr.ScriptSHA256, Reason: reason}
			details["reason"] = reason
			outcome = "rejected"
			return store.AuditRecord{Actor: req.User.ID, Action: "request.rejected", Subject: cr.ID, Details: details}, nil
		}
		for _, a := range cr.Approvals {
			if a.By == req.User.ID && a.ScriptSHA256 == cr.ScriptSHA256 {
				return store.AuditRecord{}, refusef("You already approved this request at %s; it needs another approver.", stamp(a.At))
			}
		}
		cr.Approvals = append(cr.Approvals, store.Decision{By: req.User.ID, At: now, ScriptSHA256: cr.ScriptSHA256})
		got := validApprovals(cr)
		details["approvals"] = fmt.Sprintf("%d/%d", got, cr.RequiredApprovals)
		if got >= cr.RequiredApprovals {
			cr.State = store.StateApproved
			outcome = "approved"
			return store.AuditRecord{Actor: req.User.ID, Action: "request.approved", Subject: cr.ID, Details: details}, nil
		}
		outcome = "partly"
		return store.AuditRecord{Actor: req.User.ID, Action: "request.approval", Subject: cr.ID, Details: details}, nil
	})
	if err != nil {
		var r *refusal
		if errors.As(err, &r) {
			h.audit(ctx, req, cr.ID, r.msg)
			return bot.Fail(r.msg)
		}
		h.Log.Error("decide change request", "err", err, "request", cr.ID)
		return bot.Fail("The decision could not be recorded, so nothing changed; the error is logged.")
	}
	return h.decisionReply(req, updated, outcome)
}

func (h Decide) decisionReply(req bot.Request, cr *store.ChangeRequest, outcome string) bot.Reply {
	rep := bot.Reply{OK: true, Replace: req.Action != nil, Sections: []bot.Section{{Heading: "Request", Fields: requestFields(cr)}}}
	switch outcome {
	case "approved":
		rep.Title = fmt.Sprintf("Approved by %s: change request %s", req.User.ID, cr.ID[:8])
		rep.Summary = "The change is approved and ready for a ticket or pipeline; optix-bot does not run it."
	case "partly":
		rep.Title = fmt.Sprintf("Approval recorded from %s: change request %s", req.User.ID, cr.ID[:8])
		rep.Summary = fmt.Sprintf("%d of %d approvals; it stays pending until another approver agrees.", validApprovals(cr), cr.RequiredApprovals)
		// The request is still open, so the original message keeps its
		// buttons for the next approver.
		rep.Replace = false
	case "rejected":
		rep.Title = fmt.Sprintf("Rejected by %s: change request %s", req.User.ID, cr.ID[:8])
		rep.Summary = "Reason: " + cr.Rejection.Reason
	case "expired":
		rep.OK = false
		rep.Error = fmt.Sprintf("Change request %s expired at %s; run /optix fix again for a fresh one.", cr.ID[:8], stamp(cr.Expires))
	}
	return rep
}

var errExpiredNow = errors.New("expired")

// decidable says why a request can no longer be decided, in the words a
// user needs ("already approved by X at T").
func decidable(cr *store.ChangeRequest, now time.Time) error {
	switch cr.State {
	case store.StateApproved:
		by := ""
		for _, a := range cr.Approvals {
			if a.ScriptSHA256 == cr.ScriptSHA256 {
				by = a.By
			}
		}
		at := cr.Approvals[len(cr.Approvals)-1].At
		return refusef("Change request %s was already approved by %s at %s.", cr.ID[:8], by, stamp(at))
	case store.StateRejected:
		return refusef("Change request %s was already rejected by %s at %s: %s", cr.ID[:8], cr.Rejection.By, stamp(cr.Rejection.At), cr.Rejection.Reason)
	case store.StateExpired:
		return refusef("Change request %s expired at %s; run /optix fix again for a fresh one.", cr.ID[:8], stamp(cr.Expires))
	case store.StatePending:
		if !now.Before(cr.Expires) {
			return errExpiredNow
		}
		return nil
	}
	return refusef("Change request %s is %s and cannot be decided.", cr.ID[:8], cr.State)
}

func (h Decide) audit(ctx context.Context, req bot.Request, subject, reason string) {
	if _, err := h.Requests.Append(ctx, store.AuditRecord{Actor: req.User.ID, Action: "refused", Subject: subject,
		Details: map[string]string{"verb": req.Verb, "reason": reason}}); err != nil {
		h.Log.Error("audit refusal", "err", err)
	}
}

func lookupSentence(id string, err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Sprintf("There is no change request %s; /optix requests lists them.", short(id))
	case errors.Is(err, store.ErrPrefixTooShort):
		return "Give at least 8 characters of the request id."
	case errors.Is(err, store.ErrAmbiguous):
		return fmt.Sprintf("%s matches more than one request; give more characters.", short(id))
	}
	return "The change request could not be read; the error is logged."
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
