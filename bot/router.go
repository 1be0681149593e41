package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Role is what a caller may do. Roles are ordered: each includes the ones
// before it, except that requester and approver are independent grants
// (an approver need not be able to request, and vice versa).
type Role string

// The roles, from the least privileged.
const (
	RoleViewer    Role = "viewer"
	RoleRequester Role = "requester"
	RoleApprover  Role = "approver"
	RoleAdmin     Role = "admin"
)

// HandlerFunc runs one command and returns its reply. It must honour ctx:
// the router gives it a deadline.
type HandlerFunc func(ctx context.Context, req Request) Reply

// Command is one row of the command table. Help and the role check both
// read the table, so they can never disagree.
type Command struct {
	Verb     string
	Args     string // synopsis, e.g. "[N] [provider=...]"
	Summary  string // one line
	Role     Role
	Run      HandlerFunc
	Examples []string
}

// Authorizer says whether a user holds a role anywhere (the gate the router
// applies before running a command). Scoped checks, such as approving for
// one account, are the handlers' business.
type Authorizer interface {
	HasRole(u User, r Role) bool
}

// Auditor records every command, refusal and error. The router calls it
// before and after each command; a failing auditor fails the command,
// because an unrecorded action must not happen.
type Auditor interface {
	Record(ctx context.Context, e AuditEvent) error
}

// AuditEvent is what the router asks the audit chain to record.
type AuditEvent struct {
	Actor   string
	Action  string // command, refused, error
	Subject string // the verb
	Details map[string]string
}

// Router dispatches requests to the command table.
type Router struct {
	cmds    map[string]*Command
	order   []*Command
	actions map[string]string // button action id -> verb
	authz   Authorizer
	audit   Auditor
	timeout time.Duration
	log     *slog.Logger
	note    string
}

// RouterOption configures a Router.
type RouterOption func(*Router)

// WithAuthorizer gates commands by role. Without one every caller holds
// every role.
func WithAuthorizer(a Authorizer) RouterOption { return func(r *Router) { r.authz = a } }

// WithAuditor records commands in an audit chain.
func WithAuditor(a Auditor) RouterOption { return func(r *Router) { r.audit = a } }

// WithTimeout bounds how long one handler may run.
func WithTimeout(d time.Duration) RouterOption { return func(r *Router) { r.timeout = d } }

// WithLogger sets the structured logger.
func WithLogger(l *slog.Logger) RouterOption { return func(r *Router) { r.log = l } }

// WithHelpNote adds a line to every help reply (e.g. that no roles file is
// loaded and everyone may approve).
func WithHelpNote(note string) RouterOption { return func(r *Router) { r.note = note } }

// WithAction routes a button's action id to a verb; the click's value and
// reason become the verb's arguments.
func WithAction(actionID, verb string) RouterOption {
	return func(r *Router) { r.actions[actionID] = verb }
}

// NewRouter builds a router over the command table. It returns an error for
// a table that cannot work (duplicate verbs, a command with no handler or
// role) so that a broken build fails at start-up, not at the first call.
func NewRouter(cmds []Command, opts ...RouterOption) (*Router, error) {
	r := &Router{
		cmds:    map[string]*Command{},
		actions: map[string]string{},
		timeout: 2 * time.Minute,
		log:     slog.Default(),
	}
	for i := range cmds {
		c := &cmds[i]
		switch {
		case c.Verb == "":
			return nil, errors.New("command with no verb")
		case c.Run == nil:
			return nil, fmt.Errorf("command %q has no handler", c.Verb)
		case c.Role == "":
			return nil, fmt.Errorf("command %q names no role", c.Verb)
		}
		if _, dup := r.cmds[c.Verb]; dup {
			return nil, fmt.Errorf("command %q registered twice", c.Verb)
		}
		r.cmds[c.Verb] = c
		r.order = append(r.order, c)
	}
	if _, ok := r.cmds["help"]; !ok {
		help := &Command{Verb: "help", Args: "[verb]", Summary: "What you can do here.", Role: RoleViewer,
			Run: func(_ context.Context, req Request) Reply {
				verb := ""
				if len(req.Args) > 0 {
					verb = strings.ToLower(req.Args[0])
				}
				return r.Help(req.User, verb)
			}}
		r.cmds["help"] = help
		r.order = append(r.order, help)
	}
	for _, o := range opts {
		o(r)
	}
	for a, v := range r.actions {
		if _, ok := r.cmds[v]; !ok {
			return nil, fmt.Errorf("action %q routes to unknown verb %q", a, v)
		}
	}
	return r, nil
}

// Commands returns the table in registration order.
func (r *Router) Commands() []*Command { return r.order }

// Allowed reports whether u may run the command.
func (r *Router) Allowed(u User, c *Command) bool {
	return r.authz == nil || r.authz.HasRole(u, c.Role)
}

// Parse fills req.Verb and req.Args from req.Text, or from req.Action for
// a button click.
func (r *Router) Parse(req *Request) error {
	if req.Action != nil {
		verb, ok := r.actions[req.Action.ID]
		if !ok {
			return fmt.Errorf("unknown button %q", req.Action.ID)
		}
		req.Verb = verb
		req.Args = []string{req.Action.Value}
		if req.Action.Reason != "" {
			req.Args = append(req.Args, req.Action.Reason)
		}
		return nil
	}
	verb, args, err := ParseCommand(req.Text)
	if err != nil {
		return err
	}
	req.Verb, req.Args = verb, args
	return nil
}

// Handle runs one request to completion and always returns a reply: a
// handler's panic or timeout becomes an error reply, never a crash.
func (r *Router) Handle(ctx context.Context, req Request) (reply Reply) {
	if req.Received.IsZero() {
		req.Received = time.Now()
	}
	if req.Verb == "" {
		if err := r.Parse(&req); err != nil {
			if errors.Is(err, ErrEmptyCommand) {
				return r.Help(req.User, "")
			}
			return Fail(upperFirst(err.Error()) + ".")
		}
	}
	actor := req.User.ID
	details := map[string]string{
		"args":     strings.Join(req.Args, " "),
		"channel":  req.Channel,
		"platform": req.Platform,
	}
	cmd, ok := r.cmds[req.Verb]
	if !ok {
		h := r.Help(req.User, "")
		h.OK = false
		h.Error = fmt.Sprintf("There is no command %q.", truncate(req.Verb, 40))
		return h
	}
	if !r.Allowed(req.User, cmd) {
		if err := r.record(ctx, AuditEvent{Actor: actor, Action: "refused", Subject: cmd.Verb, Details: withReason(details, "role "+string(cmd.Role)+" required")}); err != nil {
			return r.auditFailed(err)
		}
		return Fail(fmt.Sprintf("You need the %s role to run %s.", cmd.Role, cmd.Verb))
	}
	if err := r.record(ctx, AuditEvent{Actor: actor, Action: "command", Subject: cmd.Verb, Details: details}); err != nil {
		return r.auditFailed(err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("handler panicked", "verb", cmd.Verb, "panic", fmt.Sprint(p))
			reply = Fail("Something went wrong inside optix-bot; the error is logged.")
			_ = r.record(context.WithoutCancel(ctx), AuditEvent{Actor: actor, Action: "error", Subject: cmd.Verb, Details: withReason(details, "internal error")})
		}
	}()
	reply = cmd.Run(ctx, req)
	if !reply.OK {
		if err := r.record(context.WithoutCancel(ctx), AuditEvent{Actor: actor, Action: "error", Subject: cmd.Verb, Details: withReason(details, reply.Error)}); err != nil {
			r.log.Error("audit error reply", "err", err)
		}
	}
	return reply
}

func (r *Router) record(ctx context.Context, e AuditEvent) error {
	if r.audit == nil {
		return nil
	}
	return r.audit.Record(ctx, e)
}

func (r *Router) auditFailed(err error) Reply {
	r.log.Error("audit append failed", "err", err)
	return Fail("The audit log could not be written, so nothing was done.")
}

// Help lists the commands the user may run; with a verb, that one command.
func (r *Router) Help(u User, verb string) Reply {
	rep := Reply{OK: true, Title: "optix-bot commands", Ephemeral: true}
	if _, ok := r.cmds[verb]; verb != "" && !ok {
		verb = ""
	}
	var hidden int
	for _, c := range r.order {
		if verb != "" && c.Verb != verb {
			continue
		}
		if !r.Allowed(u, c) {
			hidden++
			continue
		}
		line := "/optix " + c.Verb
		if c.Args != "" {
			line += " " + c.Args
		}
		text := c.Summary
		if len(c.Examples) > 0 {
			text += "\nExample: " + strings.Join(c.Examples, "  ·  ")
		}
		rep.Sections = append(rep.Sections, Section{Heading: line, Text: text})
	}
	if verb != "" && len(rep.Sections) == 0 && hidden > 0 {
		c := r.cmds[verb]
		rep.Summary = fmt.Sprintf("/optix %s needs the %s role, which you do not hold.", c.Verb, c.Role)
		return rep
	}
	var foot []string
	if hidden > 0 {
		foot = append(foot, fmt.Sprintf("%d more command(s) need a role you do not hold.", hidden))
	}
	if r.note != "" {
		foot = append(foot, r.note)
	}
	rep.Footer = strings.Join(foot, " ")
	return rep
}

func withReason(d map[string]string, reason string) map[string]string {
	out := make(map[string]string, len(d)+1)
	for k, v := range d {
		out[k] = v
	}
	out["reason"] = reason
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
