package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/store"
)

const requestsUsage = "Use /optix requests (pending ones), /optix requests mine or /optix requests all."

// Requests answers /optix requests [pending|mine|all].
type Requests struct {
	Requests requestStore
	Log      *slog.Logger
}

// Run implements the verb.
func (h Requests) Run(ctx context.Context, req bot.Request) bot.Reply {
	var f store.RequestFilter
	which := "pending"
	if len(req.Args) > 1 {
		return bot.Fail(requestsUsage)
	}
	if len(req.Args) == 1 {
		which = strings.ToLower(req.Args[0])
	}
	switch which {
	case "pending":
		f.State = store.StatePending
	case "mine":
		f.Requester = req.User.ID
	case "all":
	default:
		return bot.Fail(requestsUsage)
	}
	list, err := h.Requests.Requests(ctx, f)
	if err != nil {
		h.Log.Error("list change requests", "err", err)
		return bot.Fail("The change requests could not be read; the error is logged.")
	}
	titles := map[string]string{"pending": "pending change request", "mine": "change request filed by you", "all": "change request"}
	noun := titles[which]
	if len(list) != 1 {
		noun = strings.Replace(noun, "request", "requests", 1)
	}
	rep := bot.Reply{OK: true, Title: fmt.Sprintf("%d %s", len(list), noun)}
	const show = 25
	for i, cr := range list {
		if i == show {
			rep.Footer = fmt.Sprintf("… and %d more.", len(list)-show)
			break
		}
		rep.Sections = append(rep.Sections, bot.Section{
			Heading: cr.ID[:8] + " · " + stateLabel(cr),
			Text: fmt.Sprintf("%s on %s (%s / %s), %s, requested by %s at %s, expires %s",
				cr.Check, flat(cr.Resource), flat(cr.Account), orUnknown(cr.Environment), cr.Format, flat(cr.Requester), stamp(cr.Created), stamp(cr.Expires)),
		})
	}
	if len(list) == 0 {
		rep.Summary = "Nothing here. /optix fix <finding-id> drafts a change."
	}
	return rep
}

// Audit answers /optix audit [request-id | last N].
type Audit struct {
	Store auditReader
	Log   *slog.Logger
}

type auditReader interface {
	AuditTail(ctx context.Context, n int) ([]store.AuditEntry, error)
	AuditFor(ctx context.Context, subject string) ([]store.AuditEntry, error)
	Request(ctx context.Context, idOrPrefix string) (*store.ChangeRequest, error)
}

// Run implements the verb.
func (h Audit) Run(ctx context.Context, req bot.Request) bot.Reply {
	var (
		entries []store.AuditEntry
		err     error
		title   string
	)
	switch {
	case len(req.Args) == 0:
		entries, err = h.Store.AuditTail(ctx, 10)
		title = "Last audit entries"
	case len(req.Args) == 2 && strings.EqualFold(req.Args[0], "last"):
		n, convErr := strconv.Atoi(req.Args[1])
		if convErr != nil || n < 1 || n > 50 {
			return bot.Fail("N must be a whole number from 1 to 50.")
		}
		entries, err = h.Store.AuditTail(ctx, n)
		title = fmt.Sprintf("Last %d audit entries", n)
	case len(req.Args) == 1:
		cr, lerr := h.Store.Request(ctx, req.Args[0])
		if lerr != nil {
			return bot.Fail(lookupSentence(req.Args[0], lerr))
		}
		entries, err = h.Store.AuditFor(ctx, cr.ID)
		title = "Audit trail of change request " + cr.ID
	default:
		return bot.Fail("Use /optix audit, /optix audit last N or /optix audit <request-id>.")
	}
	if err != nil {
		h.Log.Error("read audit", "err", err)
		return bot.Fail("The audit log could not be read; the error is logged.")
	}
	rep := bot.Reply{OK: true, Title: title}
	var lines []string
	for _, e := range entries {
		line := fmt.Sprintf("#%d %s %s %s %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"), flat(e.Actor), e.Action, flat(e.Subject))
		if d := detailText(e.Details); d != "" {
			line += " — " + d
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		rep.Summary = "No entries."
	} else {
		rep.Sections = []bot.Section{{Text: strings.Join(lines, "\n")}}
		last := entries[len(entries)-1]
		rep.Footer = fmt.Sprintf("Entry %d hash %s. Run optix-bot audit verify to check the whole chain.", last.Seq, last.Hash)
	}
	return rep
}

func detailText(d map[string]string) string {
	keys := sortedKeys(d)
	var parts []string
	for _, k := range keys {
		v := d[k]
		if v == "" {
			continue
		}
		v = flat(v)
		if len([]rune(v)) > 80 {
			v = string([]rune(v)[:80]) + "…"
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
