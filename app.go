package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/rbac"
	"github.com/optix-bot/optix-bot/handlers"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/store"
)

// app is one wired optix-bot: store, finding source, policy, handlers and
// the router every front end shares.
type app struct {
	store      *store.Store
	router     *bot.Router
	policy     *rbac.Policy
	openPolicy bool
	closers    []func()
	log        *slog.Logger
}

func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

const openPolicyNote = "No roles file is loaded: every user here may request and approve changes (never their own); serve requires --rbac."

// newApp wires everything from the configuration. requireRoles is set by
// serve: a shared chat must never run with the everyone-may-approve policy.
func newApp(ctx context.Context, c config, log *slog.Logger, requireRoles bool) (_ *app, err error) {
	a := &app{log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	switch {
	case c.RBAC != "":
		b, rerr := os.ReadFile(c.RBAC)
		if rerr != nil {
			return nil, fmt.Errorf("read roles file: %w", rerr)
		}
		if a.policy, err = rbac.Parse(b); err != nil {
			return nil, fmt.Errorf("%s: %w", c.RBAC, err)
		}
	case requireRoles:
		return nil, errors.New("serve needs a roles file: pass --rbac PATH or set OPTIX_BOT_RBAC (see README, Roles)")
	default:
		a.policy, a.openPolicy = rbac.Open(), true
	}

	st, err := store.Open(c.DB, store.Options{AuditKey: c.AuditKey, Logger: log})
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, func() { _ = st.Close() })

	src, err := newSource(ctx, c, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, src.close)

	ctxMap, err := loadContext(c.Context, src.defaultContext)
	if err != nil {
		return nil, err
	}

	adv, closeLLM, err := newAdvisor(c.LLM, st, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeLLM)

	estate := handlers.NewEstate(handlers.EstateConfig{
		Puller: src.puller, Saver: snapshotSaver{st}, Context: ctxMap, TTL: c.PullTTL, Logger: log,
	})
	cmds := handlers.Commands(handlers.Deps{
		Estate: estate, Store: st, Policy: a.policy, RequestTTL: c.RequestTTL, Log: log,
		Advisor: adv, Conventions: ctxMap.Conventions(),
	})
	opts := []bot.RouterOption{
		bot.WithAuthorizer(a.policy),
		bot.WithAuditor(st),
		bot.WithLogger(log),
		bot.WithAction("approve", "approve"),
		bot.WithAction("reject", "reject"),
	}
	if a.openPolicy {
		opts = append(opts, bot.WithHelpNote(openPolicyNote))
	}
	a.router, err = bot.NewRouter(cmds, opts...)
	if err != nil {
		return nil, fmt.Errorf("command table: %w", err)
	}
	return a, nil
}

// loadContext reads the context file, or falls back to the source's own
// (the demo estate ships one).
func loadContext(path string, fallback []byte) (*posture.ContextMap, error) {
	if path == "" {
		if fallback == nil {
			return nil, nil
		}
		m, err := posture.ParseContext(fallback, "demo-context.yaml")
		if err != nil {
			return nil, fmt.Errorf("embedded demo context: %w", err)
		}
		return m, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read context file: %w", err)
	}
	m, err := posture.ParseContext(b, path)
	if err != nil {
		return nil, fmt.Errorf("context file %s: %w", path, err)
	}
	return m, nil
}

// snapshotSaver stores each complete pull as a snapshot.
type snapshotSaver struct{ st *store.Store }

func (s snapshotSaver) SaveSnapshot(ctx context.Context, p *handlers.Pull) error {
	source := p.Source
	if i := strings.IndexByte(source, ':'); i > 0 {
		source = source[:i]
	}
	_, err := s.st.SaveSnapshot(ctx, store.Snapshot{
		Time: p.Finished, Source: source, Tenant: p.Tenant, Complete: true, Findings: p.Findings,
	})
	return err
}
