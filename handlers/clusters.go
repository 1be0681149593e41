package handlers

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/optix-bot/optix-bot/bot"
)

// Clusters answers /optix clusters [N]: the biggest groups of related
// findings (the same check in one account and environment, and toxic
// combinations on one resource), ranked by risk.
type Clusters struct {
	Estate *Estate
	Log    *slog.Logger
}

// Run implements the verb.
func (h Clusters) Run(ctx context.Context, req bot.Request) bot.Reply {
	la, err := parseListArgs(req.Args, 10, true)
	if err != nil {
		return bot.Fail(err.Error())
	}
	cur, err := h.Estate.Current(ctx)
	if err != nil {
		return sourceFailure(h.Log, err)
	}
	top := cur.Clusters(la.N, la.Filter)
	rep := bot.Reply{OK: true, Title: fmt.Sprintf("Top %d clusters — %s", len(top.Groups), sourceLabel(cur.Pull))}
	if len(top.Groups) == 0 {
		rep.Summary = "No clusters: no check repeats within an account and environment."
	}
	for i := range top.Groups {
		rep.Items = append(rep.Items, groupItem(i+1, &top.Groups[i]))
	}
	rep.Footer = fmt.Sprintf("%d clusters and combinations hold %d of the open findings. Open one with /optix finding <C-id>.",
		top.GroupsConsidered, top.Findings)
	return rep
}
