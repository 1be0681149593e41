package slack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// groupsTTL is how long one usergroups.list answer is reused. Roles granted
// to a group therefore take up to this long to follow a membership change;
// a direct user grant is immediate.
const groupsTTL = 5 * time.Minute

// userGroups resolves a user's Slack user-group ids from usergroups.list
// (include_users), which needs the usergroups:read scope. One call serves
// every user until the cache expires.
type userGroups struct {
	api *slack.Client
	now func() time.Time

	mu     sync.Mutex
	at     time.Time
	byUser map[string][]string
}

var _ GroupResolver = (*userGroups)(nil)

// UserGroups returns the ids of the groups userID belongs to.
func (g *userGroups) UserGroups(ctx context.Context, userID string) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byUser == nil || g.now().Sub(g.at) > groupsTTL {
		groups, err := g.api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true))
		if err != nil {
			// Keep serving the last answer rather than dropping everyone's
			// group roles on one failed call; with none, the user holds
			// only their direct grants, never more.
			if g.byUser != nil {
				return g.byUser[userID], fmt.Errorf("usergroups.list (using the previous answer): %w", err)
			}
			return nil, fmt.Errorf("usergroups.list: %w", err)
		}
		by := map[string][]string{}
		for _, grp := range groups {
			for _, u := range grp.Users {
				by[u] = append(by[u], grp.ID)
			}
		}
		g.byUser, g.at = by, g.now()
	}
	return g.byUser[userID], nil
}
