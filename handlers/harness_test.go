package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/rbac"
	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/prompts"
	"github.com/optix-bot/optix-bot/store"

	"github.com/optix-bot/optix-bot/internal/golden"
)

// quiet keeps expected errors (failed pulls) out of the test output.
var quiet = slog.New(slog.DiscardHandler)

// fixedNow keeps request expiry and audit times out of the goldens' way.
var fixedNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

type harness struct {
	advisor *advisor.Advisor
	router  *bot.Router
	estate  *Estate
	store   *store.Store
	srv     *sophostest.Server
	now     time.Time
}

type harnessOpts struct {
	puller Puller // default: the demo estate through the real Sophos client
	policy *rbac.Policy
	faults []sophostest.Fault
	// llm, when set, is the LLM the advisor calls through the real client;
	// without it the advisor ranks by rules only.
	llm     *llmtest.Server
	sendRaw bool
}

// newHarness wires the handlers as main does, against the Sophos emulator
// on loopback and a bbolt file in a temp dir.
func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{now: fixedNow}
	st, err := store.Open(filepath.Join(t.TempDir(), "optix.db"), store.Options{Now: func() time.Time { return h.now }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	var ctxMap *posture.ContextMap
	if o.puller == nil {
		opts := sophostest.Demo()
		for _, f := range o.faults {
			opts = append(opts, sophostest.WithFault(f))
		}
		h.srv = sophostest.NewServer(opts...)
		t.Cleanup(h.srv.Close)
		id, secret, key := h.srv.Credentials()
		cl, err := sophos.New(sophos.Config{AuthURL: h.srv.URL, APIURL: h.srv.URL, OptixURL: h.srv.URL,
			ClientID: id, ClientSecret: secret, OptixAPIKey: key, MaxRetries: 1,
			Sleep: func(context.Context, time.Duration) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		o.puller = PullFunc(func(ctx context.Context) (*Pull, error) {
			p, err := cl.Pull(ctx)
			if err != nil {
				return nil, &SourceError{User: sophos.UserMessage(err), Err: err}
			}
			// The goldens need a fixed pull time.
			return &Pull{Source: "demo", Tenant: p.Tenant, Started: fixedNow, Finished: fixedNow, Findings: p.Findings}, nil
		})
		if ctxMap, err = posture.ParseContext(sophostest.DemoContext(), "demo-context.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	if o.policy == nil {
		o.policy = rbac.Open()
	}
	estate := NewEstate(EstateConfig{Logger: quiet, Puller: o.puller, Saver: saver{st}, Context: ctxMap, TTL: time.Hour, Now: func() time.Time { return h.now }})
	h.advisor = newTestAdvisor(t, o, st)
	r, err := bot.NewRouter(Commands(Deps{Estate: estate, Store: st, Policy: o.policy, RequestTTL: 72 * time.Hour, Now: func() time.Time { return h.now }, Log: quiet,
		Advisor: h.advisor, Conventions: ctxMap.Conventions()}),
		bot.WithAuthorizer(o.policy), bot.WithAuditor(st), bot.WithLogger(quiet), bot.WithAction("approve", "approve"), bot.WithAction("reject", "reject"))
	if err != nil {
		t.Fatal(err)
	}
	h.router, h.estate = r, estate
	return h
}

func newTestAdvisor(t testing.TB, o harnessOpts, st *store.Store) *advisor.Advisor {
	t.Helper()
	lib, err := prompts.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := advisor.Config{Prompts: lib, Cache: st, Audit: st, SendRaw: o.sendRaw, Timeout: 5 * time.Second, Log: quiet}
	if o.llm != nil {
		cl, err := llm.New(llm.Config{BaseURL: o.llm.URL, Model: "test-model", Backoff: func(int) time.Duration { return time.Millisecond }, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		cfg.LLM = cl
	}
	adv, err := advisor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return adv
}

func (h *harness) assessment(t *testing.T) *Assessed {
	t.Helper()
	a, err := h.estate.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (h *harness) ask(t *testing.T, user, text string) bot.Reply {
	t.Helper()
	return h.router.Handle(context.Background(), bot.Request{Platform: "console", User: bot.User{ID: user}, Channel: "C1", Text: text})
}

func (h *harness) click(t *testing.T, user, action, value, reason string) bot.Reply {
	t.Helper()
	return h.router.Handle(context.Background(), bot.Request{Platform: "slack", User: bot.User{ID: user}, Channel: "C1",
		Action: &bot.Action{ID: action, Value: value, Reason: reason}})
}

type saver struct{ st *store.Store }

func (s saver) SaveSnapshot(ctx context.Context, p *Pull) error {
	_, err := s.st.SaveSnapshot(ctx, store.Snapshot{Time: p.Finished, Source: p.Source, Tenant: p.Tenant, Complete: true, Findings: p.Findings})
	return err
}

// checkGolden compares v (a string as is, anything else as indented JSON)
// with testdata/name.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	var got []byte
	if s, ok := v.(string); ok {
		got = []byte(s)
	} else {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(b, '\n')
	}
	golden.Check(t, name, got)
}
