package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		verb    string
		args    []string
		wantErr string
	}{
		{in: "/optix top-risks 5 env=prod", verb: "top-risks", args: []string{"5", "env=prod"}},
		{in: "top-risks", verb: "top-risks", args: []string{}},
		{in: "/OPTIX Help", verb: "help", args: []string{}},
		{in: `/optix reject 3f2a9c1e "window closed, retry monday"`, verb: "reject", args: []string{"3f2a9c1e", "window closed, retry monday"}},
		{in: "/optix reject 3f2a9c1e “smart quotes”", verb: "reject", args: []string{"3f2a9c1e", "smart quotes"}},
		{in: "   ", wantErr: "empty command"},
		{in: "/optix", wantErr: "empty command"},
		{in: `/optix reject "open`, wantErr: "a quote is not closed"},
		{in: "/optix " + strings.Repeat("x", MaxCommandLen), wantErr: "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 30)], func(t *testing.T) {
			verb, args, err := ParseCommand(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if verb != tt.verb {
				t.Errorf("verb = %q, want %q", verb, tt.verb)
			}
			if args == nil {
				args = []string{}
			}
			if d := cmp.Diff(tt.args, args); d != "" {
				t.Errorf("args (-want +got):\n%s", d)
			}
		})
	}
}

type roleSet map[string][]Role

func (r roleSet) HasRole(u User, want Role) bool {
	if want == RoleViewer {
		return true
	}
	for _, have := range r[u.ID] {
		if have == want {
			return true
		}
	}
	return false
}

type memAudit struct {
	mu     sync.Mutex
	events []AuditEvent
	fail   bool
}

func (m *memAudit) Record(_ context.Context, e AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	m.events = append(m.events, e)
	return nil
}

func (m *memAudit) actions() []string {
	var out []string
	for _, e := range m.events {
		out = append(out, e.Action+":"+e.Subject)
	}
	return out
}

func newTestRouter(t *testing.T, audit *memAudit) (*Router, *int) {
	t.Helper()
	ran := 0
	cmds := []Command{
		{Verb: "top-risks", Args: "[N]", Summary: "risks", Role: RoleViewer, Run: func(ctx context.Context, req Request) Reply {
			ran++
			return Reply{OK: true, Title: "ok " + strings.Join(req.Args, ",")}
		}},
		{Verb: "approve", Args: "<id>", Summary: "approve", Role: RoleApprover, Run: func(ctx context.Context, req Request) Reply {
			ran++
			return Reply{OK: true, Title: "approved " + strings.Join(req.Args, ",")}
		}},
		{Verb: "boom", Summary: "panics", Role: RoleViewer, Run: func(ctx context.Context, req Request) Reply { panic("kaboom") }},
		{Verb: "bad", Summary: "fails", Role: RoleViewer, Run: func(ctx context.Context, req Request) Reply { return Fail("Nope.") }},
	}
	r, err := NewRouter(cmds,
		WithAuthorizer(roleSet{"bob": {RoleApprover}}),
		WithAuditor(audit),
		WithAction("approve", "approve"))
	if err != nil {
		t.Fatal(err)
	}
	return r, &ran
}

func TestRouterDispatch(t *testing.T) {
	audit := &memAudit{}
	r, ran := newTestRouter(t, audit)
	ctx := context.Background()
	alice, bob := User{ID: "alice"}, User{ID: "bob"}

	if rep := r.Handle(ctx, Request{User: alice, Text: "/optix top-risks 3"}); !rep.OK || rep.Title != "ok 3" {
		t.Errorf("top-risks reply = %+v", rep)
	}
	rep := r.Handle(ctx, Request{User: alice, Text: "/optix approve abc"})
	if rep.OK || rep.Error != "You need the approver role to run approve." {
		t.Errorf("refused reply = %+v", rep)
	}
	if rep := r.Handle(ctx, Request{User: bob, Action: &Action{ID: "approve", Value: "abc"}}); !rep.OK || rep.Title != "approved abc" {
		t.Errorf("button reply = %+v", rep)
	}
	rep = r.Handle(ctx, Request{User: alice, Text: "/optix frobnicate"})
	if rep.OK || !strings.Contains(rep.Error, `no command "frobnicate"`) || len(rep.Sections) == 0 {
		t.Errorf("unknown verb should fail with help: %+v", rep)
	}
	if rep := r.Handle(ctx, Request{User: alice, Text: "/optix boom"}); rep.OK || !strings.Contains(rep.Error, "went wrong") {
		t.Errorf("panic reply = %+v", rep)
	}
	if rep := r.Handle(ctx, Request{User: alice, Action: &Action{ID: "launch", Value: "x"}}); rep.OK {
		t.Errorf("unknown button should fail: %+v", rep)
	}
	r.Handle(ctx, Request{User: alice, Text: "/optix bad"})
	if *ran != 2 {
		t.Errorf("handlers ran %d times, want 2", *ran)
	}
	want := []string{"command:top-risks", "refused:approve", "command:approve", "command:boom", "error:boom", "command:bad", "error:bad"}
	if d := cmp.Diff(want, audit.actions()); d != "" {
		t.Errorf("audit (-want +got):\n%s", d)
	}
}

func TestRouterAuditFailureStopsCommand(t *testing.T) {
	audit := &memAudit{fail: true}
	r, ran := newTestRouter(t, audit)
	rep := r.Handle(context.Background(), Request{User: User{ID: "alice"}, Text: "top-risks"})
	if rep.OK || *ran != 0 {
		t.Fatalf("a command must not run unaudited: ok=%v ran=%d", rep.OK, *ran)
	}
}

func TestHelpShowsOnlyAllowed(t *testing.T) {
	r, _ := newTestRouter(t, &memAudit{})
	verbs := func(rep Reply) string {
		var v []string
		for _, s := range rep.Sections {
			v = append(v, strings.Fields(s.Heading)[1])
		}
		return strings.Join(v, " ")
	}
	if got := verbs(r.Help(User{ID: "alice"}, "")); got != "top-risks boom bad help" {
		t.Errorf("alice sees %q", got)
	}
	if got := verbs(r.Help(User{ID: "bob"}, "")); got != "top-risks approve boom bad help" {
		t.Errorf("bob sees %q", got)
	}
	if rep := r.Help(User{ID: "alice"}, "approve"); rep.Summary != "/optix approve needs the approver role, which you do not hold." {
		t.Errorf("help for a command alice may not run = %+v", rep)
	}
	if rep := r.Handle(context.Background(), Request{User: User{ID: "alice"}, Text: "/optix help"}); !strings.Contains(rep.Footer, "1 more command") {
		t.Errorf("help footer = %q", rep.Footer)
	}
}

func TestNewRouterRejectsBrokenTables(t *testing.T) {
	run := func(context.Context, Request) Reply { return Reply{} }
	tests := []struct {
		name string
		cmds []Command
		opts []RouterOption
	}{
		{"no role", []Command{{Verb: "x", Run: run}}, nil},
		{"no handler", []Command{{Verb: "x", Role: RoleViewer}}, nil},
		{"duplicate", []Command{{Verb: "x", Role: RoleViewer, Run: run}, {Verb: "x", Role: RoleViewer, Run: run}}, nil},
		{"action to nowhere", []Command{{Verb: "x", Role: RoleViewer, Run: run}}, []RouterOption{WithAction("approve", "approve")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tt.cmds, tt.opts...); err == nil {
				t.Error("want an error")
			}
		})
	}
}
