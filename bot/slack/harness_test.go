package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// harness wires the real bot.Router, the adapter and the emulator over
// loopback HTTP.
type harness struct {
	t           *testing.T
	emu         *slackemu.Server
	a           *Adapter
	srv         *httptest.Server
	release     chan struct{} // closing it lets "slow" commands finish
	releaseOnce sync.Once
	calls       sync.Map // verb -> *atomic.Int32
	mu          sync.Mutex
	reqs        []bot.Request
	now         func() time.Time
}

func (h *harness) count(verb string) int {
	v, _ := h.calls.LoadOrStore(verb, new(atomic.Int32))
	return int(v.(*atomic.Int32).Load())
}

func (h *harness) record(req bot.Request) {
	v, _ := h.calls.LoadOrStore(req.Verb, new(atomic.Int32))
	v.(*atomic.Int32).Add(1)
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	h.mu.Unlock()
}

func (h *harness) requests() []bot.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bot.Request(nil), h.reqs...)
}

type harnessOpt func(*Config, *slackemu.Options)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, release: make(chan struct{})}
	eo := slackemu.Options{PingInterval: 50 * time.Millisecond}
	cfg := Config{SigningSecret: testSecret, Workers: 4, QueueSize: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg, &eo)
	}
	h.emu = slackemu.New(eo)
	t.Cleanup(h.emu.Close)
	cfg.BotToken = h.emu.BotToken()
	cfg.APIURL = h.emu.APIURL
	if cfg.AppToken == "socket" {
		cfg.AppToken = h.emu.AppToken()
	}
	h.now = time.Now
	if cfg.Now != nil {
		h.now = cfg.Now
	}
	run := func(rep func(req bot.Request) bot.Reply) bot.HandlerFunc {
		return func(ctx context.Context, req bot.Request) bot.Reply {
			h.record(req)
			return rep(req)
		}
	}
	cmds := []bot.Command{
		{Verb: "top-risks", Role: bot.RoleViewer, Summary: "ranked risks", Run: run(func(req bot.Request) bot.Reply {
			n := 3
			if len(req.Args) > 0 && req.Args[0] == "120" {
				n = 120
			}
			return topRisks(n)
		})},
		{Verb: "slow", Role: bot.RoleViewer, Summary: "waits for the test", Run: run(func(req bot.Request) bot.Reply {
			<-h.release
			return bot.Reply{OK: true, Summary: "slow done"}
		})},
		{Verb: "fix", Role: bot.RoleViewer, Summary: "a script", Run: run(func(req bot.Request) bot.Reply {
			return withScript(80)
		})},
		{Verb: "approve", Role: bot.RoleViewer, Summary: "approve", Run: run(func(req bot.Request) bot.Reply {
			return bot.Reply{OK: true, Summary: "Approved " + strings.Join(req.Args, " ") + " by " + req.User.ID, Replace: true}
		})},
		{Verb: "reject", Role: bot.RoleViewer, Summary: "reject", Run: run(func(req bot.Request) bot.Reply {
			return bot.Reply{OK: true, Summary: "Rejected " + strings.Join(req.Args, " | "), Replace: true}
		})},
	}
	router, err := bot.NewRouter(cmds, bot.WithAction("approve", "approve"), bot.WithAction("reject", "reject"),
		bot.WithLogger(cfg.Logger))
	if err != nil {
		t.Fatal(err)
	}
	h.a, err = New(cfg, router)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.a.HTTPHandler())
	t.Cleanup(func() {
		h.srv.Close()
		h.unblock()
		h.a.Close()
	})
	return h
}

func (h *harness) unblock() { h.releaseOnce.Do(func() { close(h.release) }) }

// post sends a signed form to one of the adapter's routes.
func (h *harness) post(path string, form url.Values, hdr map[string]string) *http.Response {
	h.t.Helper()
	body := []byte(form.Encode())
	req, err := slackemu.SignedRequest(context.Background(), h.srv.URL+path, testSecret, h.now(), slackemu.FormContentType, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *harness) command(text, responseURL string) (slackemu.Command, *http.Response) {
	c := slackemu.Command{Text: text, UserID: "U100", UserName: "alice", ChannelID: "C100", ResponseURL: responseURL, TriggerID: slackemu.NewTriggerID()}
	return c, h.post("/slack/commands", c.Form(), nil)
}

func (h *harness) interact(payload any) *http.Response {
	h.t.Helper()
	form, err := slackemu.InteractionForm(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.post("/slack/interactions", form, nil)
}

// waitFor polls cond until it holds; the deadline only bounds a broken
// test, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// blocksText is blocks as compact JSON without \u0026-style escapes, so
// tests can look for the entities Slack receives.
func blocksText(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(buf.String())
}
