package rbac

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/bot"
)

func load(t *testing.T) *Policy {
	t.Helper()
	b, err := os.ReadFile("testdata/roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCan(t *testing.T) {
	p := load(t)
	req := bot.User{ID: "U0REQ"}
	prodApprover := bot.User{ID: "U0PRODAPP"}
	secops := bot.User{ID: "U0SOMEONE", Groups: []string{"S0SECOPS"}}
	admin := bot.User{ID: "U0ADMIN"}
	stranger := bot.User{ID: "U0NOBODY"}
	tests := []struct {
		name         string
		u            bot.User
		r            bot.Role
		account, env string
		want         bool
	}{
		{"requester in scope", req, bot.RoleRequester, "111122223333", "production", true},
		{"requester out of scope", req, bot.RoleRequester, "111122223333", "sandbox", false},
		{"requester is no approver", req, bot.RoleApprover, "111122223333", "dev", false},
		{"prod approver by account id", prodApprover, bot.RoleApprover, "111122223333", "production", true},
		{"prod approver by account glob", prodApprover, bot.RoleApprover, "aws-prod-web", "production", true},
		{"prod approver not for dev", prodApprover, bot.RoleApprover, "111122223333", "dev", false},
		{"prod approver not for other account", prodApprover, bot.RoleApprover, "999988887777", "production", false},
		{"group approver", secops, bot.RoleApprover, "444455556666", "sandbox", true},
		{"group approver not prod", secops, bot.RoleApprover, "444455556666", "production", false},
		{"admin everywhere", admin, bot.RoleApprover, "x", "production", true},
		{"everyone views", stranger, bot.RoleViewer, "x", "y", true},
		{"stranger cannot request", stranger, bot.RoleRequester, "x", "dev", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Can(tt.u, tt.r, tt.account, tt.env); got != tt.want {
				t.Errorf("Can(%s, %s, %s, %s) = %v, want %v", tt.u.ID, tt.r, tt.account, tt.env, got, tt.want)
			}
		})
	}
}

func TestHasRoleAndMessage(t *testing.T) {
	p := load(t)
	if !p.HasRole(bot.User{ID: "U0PRODAPP"}, bot.RoleApprover) {
		t.Error("prod approver should hold approver somewhere")
	}
	if p.HasRole(bot.User{ID: "U0PRODAPP"}, bot.RoleAdmin) {
		t.Error("approver is not admin")
	}
	err := p.Check(bot.User{ID: "U0PRODAPP"}, bot.RoleApprover, "1111", "dev")
	if err == nil || !errors.Is(err, ErrNotInScope) || !strings.HasPrefix(err.Error(), "you are not an approver for account 1111 / dev") {
		t.Errorf("Check error = %v", err)
	}
}

func TestRequiredApprovals(t *testing.T) {
	p := load(t)
	if got := p.RequiredApprovals("production"); got != 2 {
		t.Errorf("production needs %d, want 2", got)
	}
	if got := p.RequiredApprovals("dev"); got != 1 {
		t.Errorf("dev needs %d, want 1", got)
	}
	if got := Open().RequiredApprovals("production"); got != 1 {
		t.Errorf("open policy production needs %d, want 1", got)
	}
}

func TestOpen(t *testing.T) {
	p := Open()
	u := bot.User{ID: "alice"}
	if !p.Can(u, bot.RoleApprover, "1", "production") || !p.Can(u, bot.RoleRequester, "1", "dev") {
		t.Error("open policy should let everyone request and approve")
	}
	if p.HasRole(u, bot.RoleAdmin) {
		t.Error("open policy must not make everyone admin")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown role", "grants:\n  - role: god\n    members: [U1]\n", `unknown role "god"`},
		{"no members", "grants:\n  - role: viewer\n", "has no members"},
		{"unknown field", "grants:\n  - role: viewer\n    member: [U1]\n", "line 3: field member not found (a grant has role, members, accounts, environments)"},
		{"bad glob", "grants:\n  - role: approver\n    members: [U1]\n    accounts: ['[']\n", "bad glob"},
		{"bad count", "grants:\n  - role: viewer\n    members: ['*']\napprovals:\n  production: 0\n", "must be 1 to 10"},
		{"misspelt approvals environment", "grants:\n  - role: viewer\n    members: ['*']\napprovals:\n  prodution: 2\n", `approvals for "prodution": that matches none of production, staging, dev, sandbox`},
		{"misspelt grant environment", "grants:\n  - role: approver\n    members: [U1]\n    environments: [prod]\n", `environment "prod" matches none of`},
		{"empty file", "\n", "roles file is empty"},
		{"only a comment", "# grants go here\n", "has no grants"},
		{"fractional approvals", "grants:\n  - role: viewer\n    members: ['*']\napprovals:\n  production: 2.5\n", `must be a whole number, not "2.5"`},
		{"second document", "grants:\n  - role: viewer\n    members: ['*']\n---\ngrants:\n  - role: admin\n    members: ['*']\n", "more than one YAML document"},
		{"no grants", "approvals:\n  production: 2\n", "has no grants"},
		{"not yaml", "grants: [", "roles file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
