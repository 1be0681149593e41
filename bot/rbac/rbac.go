// Package rbac decides who may do what: roles from a YAML file, granted to
// Slack user ids, user-group ids or console names, with the requester and
// approver roles scoped to cloud accounts and environments by glob.
package rbac

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/optix-bot/optix-bot/bot"
)

// File is the roles file's shape.
//
//	grants:
//	  - role: approver
//	    members: [U0456EFGH, S0SECOPS]   # Slack user or user-group ids, console names
//	    accounts: ["111122223333"]       # globs; empty = every account
//	    environments: [production]        # globs; empty = every environment
//	approvals:                             # approvals a change needs, per environment glob
//	  production: 2
//	  "*": 1
type File struct {
	Grants    []Grant              `yaml:"grants"`
	Approvals map[string]yaml.Node `yaml:"approvals"`
}

// Grant gives a role to members, within a scope.
type Grant struct {
	Role         bot.Role `yaml:"role"`
	Members      []string `yaml:"members"`
	Accounts     []string `yaml:"accounts"`
	Environments []string `yaml:"environments"`
}

// Policy answers role questions. The zero value grants nothing; use Open
// for the console's everyone-may-try policy.
type Policy struct {
	grants    []Grant
	approvals []approvalRule
	open      bool
}

type approvalRule struct {
	env string
	n   int
}

// Parse reads a roles file. Unknown fields, unknown roles, empty member
// lists and bad globs are errors: a typo in a roles file must not silently
// grant or withhold approval rights.
func Parse(b []byte) (*Policy, error) {
	var f File
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("roles file is empty: it needs at least one grant")
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("roles file has no grants: nobody could do anything")
		}
		return nil, fmt.Errorf("roles file: %s", yamlMessage(err))
	}
	// A second document after "---" would be ignored by a single Decode;
	// refuse it rather than let grants be overlooked.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("roles file holds more than one YAML document; put every grant in one")
	}
	if len(f.Grants) == 0 {
		return nil, errors.New("roles file has no grants: nobody could do anything")
	}
	p := &Policy{}
	for i, g := range f.Grants {
		switch g.Role {
		case bot.RoleViewer, bot.RoleRequester, bot.RoleApprover, bot.RoleAdmin:
		default:
			return nil, fmt.Errorf("roles file: grant %d: unknown role %q (want viewer, requester, approver or admin)", i+1, g.Role)
		}
		if len(g.Members) == 0 {
			return nil, fmt.Errorf("roles file: grant %d (%s) has no members", i+1, g.Role)
		}
		for _, pat := range append(append([]string{}, g.Accounts...), g.Environments...) {
			if _, err := path.Match(pat, ""); err != nil {
				return nil, fmt.Errorf("roles file: grant %d: bad glob %q", i+1, pat)
			}
		}
		for _, env := range g.Environments {
			if !matchesAnEnvironment(env) {
				return nil, fmt.Errorf("roles file: grant %d: environment %q matches none of %s", i+1, env, strings.Join(environments, ", "))
			}
		}
		p.grants = append(p.grants, g)
	}
	for env, node := range f.Approvals {
		// Decoded by hand: yaml would turn 2.5 into 2 without a word.
		n, err := strconv.Atoi(node.Value)
		if err != nil || node.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("roles file: approvals for %q must be a whole number, not %q", env, node.Value)
		}
		if n < 1 || n > 10 {
			return nil, fmt.Errorf("roles file: approvals for %q must be 1 to 10, got %d", env, n)
		}
		if _, err := path.Match(env, ""); err != nil {
			return nil, fmt.Errorf("roles file: bad environment glob %q", env)
		}
		// A misspelt "prodution: 2" would otherwise leave production at
		// one approval without a word.
		if !matchesAnEnvironment(env) {
			return nil, fmt.Errorf("roles file: approvals for %q: that matches none of %s", env, strings.Join(environments, ", "))
		}
		p.approvals = append(p.approvals, approvalRule{env: env, n: n})
	}
	// Exact names before globs, then longer patterns first, so that
	// "production" beats "*" whatever order the map gave.
	sort.Slice(p.approvals, func(i, j int) bool {
		gi, gj := hasGlob(p.approvals[i].env), hasGlob(p.approvals[j].env)
		if gi != gj {
			return !gi
		}
		return len(p.approvals[i].env) > len(p.approvals[j].env)
	})
	return p, nil
}

// Open is the policy of the console and the embedded default when no roles
// file is given: every user is a requester and an approver everywhere, so
// the two-person flow can be tried with --as alice and --as bob. The
// requester still cannot approve their own request.
func Open() *Policy { return &Policy{open: true} }

// IsOpen reports whether this is the everyone-may-try policy.
func (p *Policy) IsOpen() bool { return p.open }

// environments are the names attribution gives (posture.Environment), plus
// "" for findings whose environment is unknown, which only "*" matches.
var environments = []string{"production", "staging", "dev", "sandbox"}

func matchesAnEnvironment(glob string) bool {
	for _, e := range environments {
		if ok, _ := path.Match(glob, e); ok {
			return true
		}
	}
	return false
}

// yamlMessage turns the YAML decoder's errors into the user's terms: the
// Go type names it mentions mean nothing to someone editing the file.
func yamlMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, " in type rbac.File", "")
	msg = strings.ReplaceAll(msg, " in type rbac.Grant", " (a grant has role, members, accounts, environments)")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	return msg
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

func (p *Policy) member(g Grant, u bot.User) bool {
	for _, m := range g.Members {
		if m == "*" || m == u.ID || slices.Contains(u.Groups, m) {
			return true
		}
	}
	return false
}

// implies reports whether holding have gives want: admin gives everything,
// and any role gives viewer.
func implies(have, want bot.Role) bool {
	return have == want || have == bot.RoleAdmin || want == bot.RoleViewer
}

// HasRole reports whether u holds r in any scope. The router uses it to gate
// commands and to show each user only the commands they may run.
func (p *Policy) HasRole(u bot.User, r bot.Role) bool {
	if p.open {
		return r != bot.RoleAdmin
	}
	for _, g := range p.grants {
		if implies(g.Role, r) && p.member(g, u) {
			return true
		}
	}
	return false
}

// Can reports whether u holds r for this account and environment.
func (p *Policy) Can(u bot.User, r bot.Role, account, env string) bool {
	if p.open {
		return r != bot.RoleAdmin
	}
	for _, g := range p.grants {
		if !implies(g.Role, r) || !p.member(g, u) {
			continue
		}
		if g.Role == bot.RoleAdmin || (matchAny(g.Accounts, account) && matchAny(g.Environments, env)) {
			return true
		}
	}
	return false
}

// ErrNotInScope is wrapped by Check's refusals.
var ErrNotInScope = errors.New("not in scope")

// Check is Can with a sentence for the user when the answer is no, e.g.
// "you are not an approver for account 1111 / production".
func (p *Policy) Check(u bot.User, r bot.Role, account, env string) error {
	if p.Can(u, r, account, env) {
		return nil
	}
	scope := account
	if env != "" {
		scope += " / " + env
	}
	return &ScopeError{msg: fmt.Sprintf("you are not %s %s for account %s", article(r), r, scope)}
}

// ScopeError is a refusal for want of a role in a scope; its message is
// the sentence to show the user.
type ScopeError struct{ msg string }

func (e *ScopeError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrNotInScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrNotInScope }

// RequiredApprovals is how many distinct approvers a change in env needs.
func (p *Policy) RequiredApprovals(env string) int {
	for _, a := range p.approvals {
		if ok, _ := path.Match(a.env, env); ok {
			return a.n
		}
	}
	return 1
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func article(r bot.Role) string {
	if strings.IndexAny(string(r)[:1], "aeiou") == 0 {
		return "an"
	}
	return "a"
}
