package slack

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

// Roles granted to a Slack user group need the caller's groups, which
// slash-command payloads do not carry: the adapter looks them up with
// usergroups.list and caches the answer.
func TestUserGroupsReachTheHandler(t *testing.T) {
	h := newHarness(t, func(_ *Config, eo *slackemu.Options) {
		eo.UserGroups = map[string][]string{"S0SECOPS": {"U100", "U200"}, "S0DEVS": {"U300"}, "S0APPROVERS": {"U100"}}
	})
	for range 2 {
		_, resp := h.command("top-risks", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ack status %d", resp.StatusCode)
		}
	}
	waitFor(t, "two commands handled", func() bool { return h.count("top-risks") == 2 })
	for _, req := range h.requests() {
		got := slices.Clone(req.User.Groups)
		slices.Sort(got)
		if !slices.Equal(got, []string{"S0APPROVERS", "S0SECOPS"}) {
			t.Errorf("user %s groups = %v, want S0APPROVERS and S0SECOPS", req.User.ID, got)
		}
	}
	if n := len(h.emu.Calls("usergroups.list")); n != 1 {
		t.Errorf("usergroups.list called %d times, want 1 (cached)", n)
	}
}

func TestUserGroupsFailureGrantsNothingExtra(t *testing.T) {
	h := newHarness(t)
	g := &userGroups{api: h.a.api, now: h.now}
	h.emu.FailNext("usergroups.list", 10, http.StatusInternalServerError)
	groups, err := g.UserGroups(context.Background(), "U100")
	if err == nil || len(groups) != 0 {
		t.Fatalf("on failure: groups %v, err %v; want none and an error", groups, err)
	}
}
