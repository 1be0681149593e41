// Package handlers holds one handler per chat verb. Handlers parse their
// arguments, call the posture engine, the integrations and the store, and
// return a platform-neutral bot.Reply; they know nothing of Slack or the
// terminal.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/optix-bot/optix-bot/posture"
)

// Pull is one complete read of a finding source. Sources return an error
// rather than a partial Pull: a list cut short by a failure must never be
// ranked as if it were the whole estate.
type Pull struct {
	Source   string // demo, sophos, file:PATH
	Tenant   string
	Started  time.Time
	Finished time.Time
	Findings []posture.Finding
}

// Puller reads findings from wherever they live.
type Puller interface {
	Pull(ctx context.Context) (*Pull, error)
}

// PullFunc adapts a function to Puller.
type PullFunc func(ctx context.Context) (*Pull, error)

// Pull calls f.
func (f PullFunc) Pull(ctx context.Context) (*Pull, error) { return f(ctx) }

// snapshotSaver persists each complete pull so later commands can compare
// scans.
type snapshotSaver interface {
	SaveSnapshot(ctx context.Context, p *Pull) error
}

// Estate caches the assessment of the latest pull. Concurrent commands that
// find the cache stale share one pull instead of each starting their own.
type Estate struct {
	puller  Puller
	saver   snapshotSaver
	context *posture.ContextMap
	cat     *posture.Catalogue
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex
	inflight *pullCall
	cur      *Assessed
}

// Assessed is a pull together with its assessment.
type Assessed struct {
	Pull *Pull
	*posture.Assessment
}

type pullCall struct {
	done chan struct{}
	res  *Assessed
	err  error
}

// EstateConfig configures an Estate.
type EstateConfig struct {
	Puller  Puller
	Saver   snapshotSaver // may be nil
	Context *posture.ContextMap
	TTL     time.Duration // how long a pull is reused; 0 = every command pulls
	Now     func() time.Time
	Logger  *slog.Logger
}

// NewEstate builds an Estate.
func NewEstate(cfg EstateConfig) *Estate {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Estate{
		puller: cfg.Puller, saver: cfg.Saver, context: cfg.Context, cat: posture.DefaultCatalogue(),
		ttl: cfg.TTL, now: cfg.Now, log: cfg.Logger,
	}
}

// Current returns the latest assessment, pulling when the cached one is
// older than the TTL.
func (e *Estate) Current(ctx context.Context) (*Assessed, error) {
	e.mu.Lock()
	if e.cur != nil && e.ttl > 0 && e.now().Sub(e.cur.Pull.Finished) < e.ttl {
		cur := e.cur
		e.mu.Unlock()
		return cur, nil
	}
	if c := e.inflight; c != nil {
		e.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &pullCall{done: make(chan struct{})}
	e.inflight = c
	e.mu.Unlock()

	// The pull runs detached from this caller's context so that one impatient
	// caller cannot fail the pull that others are waiting on; it has its own
	// deadline inside the source client.
	go func() {
		c.res, c.err = e.pull(context.WithoutCancel(ctx))
		e.mu.Lock()
		if c.err == nil {
			e.cur = c.res
		}
		e.inflight = nil
		e.mu.Unlock()
		close(c.done)
	}()
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Estate) pull(ctx context.Context) (*Assessed, error) {
	p, err := e.puller.Pull(ctx)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("source returned no pull")
	}
	a := posture.Assess(p.Findings, posture.AssessOptions{Catalogue: e.cat, Context: e.context, Now: p.Finished})
	if e.saver != nil {
		if err := e.saver.SaveSnapshot(ctx, p); err != nil {
			return nil, fmt.Errorf("store snapshot: %w", err)
		}
	}
	attrs := []any{"source", p.Source, "tenant", p.Tenant, "findings", len(p.Findings), "groups", len(a.Groups)}
	if !p.Started.IsZero() && !p.Finished.Before(p.Started) {
		attrs = append(attrs, "took", p.Finished.Sub(p.Started).String())
	}
	e.log.Info("pulled findings", attrs...)
	return &Assessed{Pull: p, Assessment: a}, nil
}

// SourceError is a pull failure with the sentence to show the user (for
// Sophos, the API's message and request id); Err keeps the detail for logs.
type SourceError struct {
	User string
	Err  error
}

func (e *SourceError) Error() string { return e.Err.Error() }

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *SourceError) Unwrap() error { return e.Err }
