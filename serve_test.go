package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

const (
	testSigningSecret = "e2e-signing-secret-5f1c"
	aliceID           = "UALICE0001" // requester in testdata/roles.yaml
	bobID             = "UBOB00001"  // approver in testdata/roles.yaml
	testChannel       = "C0SECOPS1"
)

// TestServeNeedsSlackVariables checks that serve refuses to start without
// what its Slack mode needs, naming exactly the missing variables, and
// without a roles file.
func TestServeNeedsSlackVariables(t *testing.T) {
	roles := filepath.Join("testdata", "roles.yaml")
	tests := []struct {
		name    string
		env     env
		args    []string
		want    []string
		notWant []string
	}{
		{name: "socket mode, nothing set", args: []string{"--slack-mode", "socket", "--rbac", roles},
			want: []string{"Slack socket mode needs", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}, notWant: []string{"SLACK_SIGNING_SECRET"}},
		{name: "socket mode is the default", args: []string{"--rbac", roles},
			want: []string{"Slack socket mode needs", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}, notWant: []string{"SLACK_SIGNING_SECRET"}},
		{name: "socket mode, bot token set", env: env{"SLACK_BOT_TOKEN": "xoxb-1"}, args: []string{"--slack-mode", "socket", "--rbac", roles},
			want: []string{"SLACK_APP_TOKEN"}, notWant: []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}},
		{name: "http mode, nothing set", args: []string{"--slack-mode", "http", "--rbac", roles},
			want: []string{"Slack http mode needs", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}, notWant: []string{"SLACK_APP_TOKEN"}},
		{name: "http mode, secret set", env: env{"SLACK_SIGNING_SECRET": "s"}, args: []string{"--slack-mode", "http", "--rbac", roles},
			want: []string{"SLACK_BOT_TOKEN"}, notWant: []string{"SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"}},
		{name: "mode from the environment", env: env{"OPTIX_BOT_SLACK_MODE": "http"}, args: []string{"--rbac", roles},
			want: []string{"Slack http mode needs", "SLACK_SIGNING_SECRET"}, notWant: []string{"SLACK_APP_TOKEN"}},
		{name: "bad mode", args: []string{"--slack-mode", "carrier-pigeon", "--rbac", roles},
			want: []string{"--slack-mode must be socket or http"}},
		{name: "no roles file", env: env{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, args: []string{"--slack-mode", "http"},
			want: []string{"serve needs a roles file", "--rbac"}},
		{name: "unreadable roles file", env: env{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, args: []string{"--slack-mode", "http", "--rbac", "nope.yaml"},
			want: []string{"read roles file", "nope.yaml"}},
		{name: "stray argument", args: []string{"now", "--rbac", roles}, want: []string{`unexpected argument "now"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--db", tempDB(t), "--listen", "127.0.0.1:0"}, tc.args...)
			r := runCLI(t, tc.env, args...)
			if r.code == 0 {
				t.Fatalf("serve started; stderr:\n%s", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.stderr, w) {
					t.Errorf("stderr names %q, which is set or not needed:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// server is optix-bot serve running in-process against the emulator.
type server struct {
	emu    *slackemu.Server
	base   string // http://127.0.0.1:port
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startServe runs serve with a free port chosen by the kernel and learns it
// from the "optix-bot serving" log line.
func startServe(t *testing.T, mode string) *server {
	t.Helper()
	emu := slackemu.New(slackemu.Options{})
	t.Cleanup(emu.Close)
	e := env{
		"USER": "tester", "SLACK_BOT_TOKEN": emu.BotToken(), "SLACK_API_URL": emu.APIURL,
		"OPTIX_BOT_LOG_LEVEL": "info",
	}
	if mode == "http" {
		e["SLACK_SIGNING_SECRET"] = testSigningSecret
	} else {
		e["SLACK_APP_TOKEN"] = emu.AppToken()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{emu: emu, stderr: newSyncBuffer(), cancel: cancel, done: make(chan int, 1)}
	args := []string{"serve", "--slack-mode", mode, "--listen", "127.0.0.1:0", "--db", tempDB(t), "--rbac", filepath.Join("testdata", "roles.yaml")}
	go func() { s.done <- run(ctx, args, strings.NewReader(""), io.Discard, s.stderr, e.get) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-s.done:
			if code != 0 {
				t.Errorf("serve exited %d after cancel; log:\n%s", code, s.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop after cancel")
		}
	})
	line := s.stderr.waitFor(t, `"msg":"optix-bot serving"`, s.done)
	var l struct {
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Listen == "" {
		t.Fatalf("no listen address in %q: %v", line, err)
	}
	s.base = "http://" + l.Listen
	return s
}

// post sends a signed (or, with a wrong secret, forged) form to path.
func (s *server) post(t *testing.T, path, secret string, form url.Values) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := slackemu.SignedRequest(ctx, s.base+path, secret, time.Now(), slackemu.FormContentType, []byte(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// command sends a signed slash command, waits for the ack and returns the
// command's response_url.
func (s *server) command(t *testing.T, user, name, text string) string {
	t.Helper()
	ru := s.emu.NewResponseURL()
	code, body := s.post(t, "/slack/commands", testSigningSecret,
		slackemu.Command{Text: text, UserID: user, UserName: name, ChannelID: testChannel, ResponseURL: ru}.Form())
	if code != http.StatusOK {
		t.Fatalf("/optix %s: ack %d %s", text, code, body)
	}
	return ru
}

// click sends a signed button press and returns its response_url.
func (s *server) click(t *testing.T, user, name, action, value, ts string) string {
	t.Helper()
	ru := s.emu.NewResponseURL()
	form, err := slackemu.InteractionForm(slackemu.Click{UserID: user, UserName: name, ChannelID: testChannel, MessageTS: ts,
		ActionID: action, Value: value, ResponseURL: ru}.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.post(t, "/slack/interactions", testSigningSecret, form); code != http.StatusOK {
		t.Fatalf("click %s: %d %s", action, code, body)
	}
	return ru
}

// answer waits for the first post to a response_url.
func (s *server) answer(t *testing.T, ru string) slackemu.ResponsePost {
	t.Helper()
	var posts []slackemu.ResponsePost
	eventually(t, "an answer at the response_url", func() bool {
		posts = s.emu.ResponsePosts(ru)
		return len(posts) > 0
	})
	return posts[0]
}

// TestServeHTTP runs serve in HTTP mode against the Slack emulator: a
// signed slash command, a fix with buttons, a refused and an accepted
// Approve click, a forged request and /healthz.
func TestServeHTTP(t *testing.T) {
	s := startServe(t, "http")

	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(s.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h struct {
			OK   bool   `json:"ok"`
			Mode string `json:"slack_mode"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 || !h.OK || h.Mode != "http" {
			t.Fatalf("healthz: %d %+v %v", resp.StatusCode, h, err)
		}
	})

	t.Run("forged requests are refused", func(t *testing.T) {
		form := slackemu.Command{Text: "top-risks", UserID: aliceID, UserName: "alice", ChannelID: testChannel, ResponseURL: s.emu.NewResponseURL()}.Form()
		for _, path := range []string{"/slack/commands", "/slack/interactions"} {
			if code, _ := s.post(t, path, "not-the-secret", form); code != http.StatusUnauthorized {
				t.Errorf("%s signed with the wrong secret: %d, want 401", path, code)
			}
		}
		resp, err := http.Post(s.base+"/slack/commands", slackemu.FormContentType, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("top-risks", func(t *testing.T) {
		// The first post to the response_url is answered 429 with a
		// Retry-After of a second, so the answer cannot land until a
		// second after the work ran: an ack that waited for the work
		// would come back after the answer.
		s.emu.RateLimit("response_url", 1, 1)
		ru := s.command(t, aliceID, "alice", "top-risks")
		if posts := s.emu.ResponsePosts(ru); len(posts) != 0 {
			t.Errorf("the answer arrived before the ack returned")
		}
		p := s.answer(t, ru)
		if calls := s.emu.Calls("response_url"); len(calls) < 2 || calls[0].Status != http.StatusTooManyRequests {
			t.Errorf("want a 429 then the retried answer, got %+v", calls)
		}
		texts := blockTexts(t, p.Blocks)
		if len(texts) == 0 {
			t.Fatalf("answer has no Block Kit text: %+v", p)
		}
		first := firstWithID(texts)
		if !strings.Contains(first, "acme-finance-customer-exports") || !strings.Contains(first, "finance") {
			t.Errorf("first ranked block is not the finance bucket:\n%s\nall:\n%s", first, strings.Join(texts, "\n---\n"))
		}
		noMentions(t, append(texts, p.Text))
	})

	t.Run("untrusted text stays plain", func(t *testing.T) {
		// The finding handler echoes the id it could not find: the echo
		// must reach Slack escaped, never as a live mention.
		ru := s.command(t, aliceID, "alice", "finding <!channel>")
		p := s.answer(t, ru)
		texts := append(blockTexts(t, p.Blocks), p.Text)
		noMentions(t, texts)
		if !strings.Contains(strings.Join(texts, " "), "&lt;!channel&gt;") {
			t.Errorf("the echoed id is not shown escaped: %q", texts)
		}
	})

	var requestID, ts string
	t.Run("fix posts buttons", func(t *testing.T) {
		ru := s.command(t, aliceID, "alice", "fix "+seedFinding)
		p := s.answer(t, ru)
		buttons := blockButtons(t, p.Blocks)
		if len(buttons) != 2 || buttons["approve"] == "" || buttons["approve"] != buttons["reject"] {
			t.Fatalf("want Approve and Reject carrying one request id, got %v\n%s", buttons, p.Blocks)
		}
		requestID = buttons["approve"]
		noMentions(t, blockTexts(t, p.Blocks))
		// Slack shows the response as a message in the channel; the click
		// comes from that message.
		ts = s.emu.SeedMessage(testChannel, p.Text, p.Blocks)
	})
	if requestID == "" {
		t.Fatal("no change request to approve")
	}

	t.Run("approve by the requester is refused", func(t *testing.T) {
		ru := s.click(t, aliceID, "alice", "approve", requestID, ts)
		p := s.answer(t, ru)
		all := strings.Join(append(blockTexts(t, p.Blocks), p.Text), " ")
		if !strings.Contains(all, "approver") && !strings.Contains(all, "someone else") {
			t.Errorf("refusal does not say why: %q", all)
		}
		if m := message(t, s.emu, ts); m.Updates != 0 {
			t.Errorf("a refused click updated the message")
		}
	})

	t.Run("approve by bob updates the message", func(t *testing.T) {
		s.click(t, bobID, "bob", "approve", requestID, ts)
		var m slackemu.Message
		eventually(t, "the clicked message updated", func() bool {
			m = message(t, s.emu, ts)
			return m.Updates > 0
		})
		if b := blockButtons(t, m.Blocks); len(b) != 0 {
			t.Errorf("the approved message still has buttons: %v", b)
		}
		all := strings.Join(append(blockTexts(t, m.Blocks), m.Text), " ")
		if !strings.Contains(all, "Approved") {
			t.Errorf("updated message does not say approved: %q", all)
		}
	})

	t.Run("second approve is answered", func(t *testing.T) {
		ru := s.command(t, bobID, "bob", "approve "+requestID)
		p := s.answer(t, ru)
		all := strings.Join(append(blockTexts(t, p.Blocks), p.Text), " ")
		if !strings.Contains(all, "already approved by") {
			t.Errorf("second approve: %q", all)
		}
	})
}

// TestServeSocket runs serve in Socket Mode: a slash command envelope is
// acked and answered at its response_url.
func TestServeSocket(t *testing.T) {
	s := startServe(t, "socket")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.emu.WaitConnections(ctx, 1); err != nil {
		t.Fatalf("serve never opened a socket: %v\n%s", err, s.stderr.String())
	}
	ru := s.emu.NewResponseURL()
	id, err := s.emu.Push("slash_commands", slackemu.Command{Text: "top-risks 3", UserID: aliceID, UserName: "alice",
		ChannelID: testChannel, ResponseURL: ru}.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.emu.WaitAck(ctx, id); err != nil {
		t.Fatalf("envelope %s not acked: %v", id, err)
	}
	p := s.answer(t, ru)
	if first := firstWithID(blockTexts(t, p.Blocks)); !strings.Contains(first, "acme-finance-customer-exports") {
		t.Errorf("first ranked block: %q", first)
	}

	// The approval round trip over the socket: a fix, then bob's click
	// as an interactive envelope.
	ru = s.emu.NewResponseURL()
	id, err = s.emu.Push("slash_commands", slackemu.Command{Text: "fix " + seedFinding, UserID: aliceID, UserName: "alice",
		ChannelID: testChannel, ResponseURL: ru}.Payload())
	if err != nil {
		t.Fatal(err)
	}
	p = s.answer(t, ru)
	requestID := blockButtons(t, p.Blocks)["approve"]
	if requestID == "" {
		t.Fatalf("fix over the socket has no Approve button: %s", p.Blocks)
	}
	ts := s.emu.SeedMessage(testChannel, p.Text, p.Blocks)
	id, err = s.emu.Push("interactive", slackemu.Click{UserID: bobID, UserName: "bob", ChannelID: testChannel, MessageTS: ts,
		ActionID: "approve", Value: requestID, ResponseURL: s.emu.NewResponseURL()}.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.emu.WaitAck(ctx, id); err != nil {
		t.Fatalf("click envelope %s not acked: %v", id, err)
	}
	eventually(t, "the clicked message updated", func() bool { return message(t, s.emu, ts).Updates > 0 })
	if b := blockButtons(t, message(t, s.emu, ts).Blocks); len(b) != 0 {
		t.Errorf("approved message still has buttons: %v", b)
	}

	resp, err := http.Get(s.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		OK        bool `json:"ok"`
		Connected bool `json:"slack_connected"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 || !h.OK || !h.Connected {
		t.Errorf("healthz in socket mode: %d %+v %v", resp.StatusCode, h, err)
	}
}

// blockTexts returns every "text" string in Block Kit JSON, in order.
func blockTexts(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for k, y := range x {
				if k != "text" || !isString(y) {
					walk(y)
				}
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return out
}

func isString(v any) bool { _, ok := v.(string); return ok }

// blockButtons maps action_id to value for every button in the blocks.
func blockButtons(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &blocks); err != nil {
			t.Fatalf("blocks: %v", err)
		}
	}
	out := map[string]string{}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.Type == "button" {
				out[e.ActionID] = e.Value
			}
		}
	}
	return out
}

// firstWithID is the first text that names a finding or cluster id.
func firstWithID(texts []string) string {
	for _, s := range texts {
		if idInText.MatchString(s) {
			return s
		}
	}
	return ""
}

// noMentions fails if any text would ping a channel or a user.
func noMentions(t *testing.T, texts []string) {
	t.Helper()
	for _, s := range texts {
		for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U"} {
			if strings.Contains(s, bad) {
				t.Errorf("raw %q reached Slack: %q", bad, s)
			}
		}
	}
}

func message(t *testing.T, emu *slackemu.Server, ts string) slackemu.Message {
	t.Helper()
	for _, m := range emu.Messages(testChannel) {
		if m.TS == ts {
			return m
		}
	}
	t.Fatalf("no message %s in %s", ts, testChannel)
	return slackemu.Message{}
}

// eventually polls cond until it holds, with a generous guard so a lost
// answer fails the test instead of hanging it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a log sink that tests can wait on.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor returns the first log line containing want, failing if serve
// exits first.
func (s *syncBuffer) waitFor(t *testing.T, want string, exited chan int) string {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	for {
		s.mu.Lock()
		text, ch := s.b.String(), s.changed
		s.mu.Unlock()
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				return sc.Text()
			}
		}
		select {
		case <-ch:
		case code := <-exited:
			exited <- code // for the cleanup that waits on it
			t.Fatalf("serve exited %d before logging %q:\n%s", code, want, s.String())
		case <-guard.C:
			t.Fatalf("serve never logged %q:\n%s", want, s.String())
		}
	}
}

// idInText finds a finding or cluster id in rendered text.
var idInText = regexp.MustCompile(`\b[FC]-[0-9a-f]{8}\b`)

// TestServeStartupFailures checks that serve exits with a reason instead
// of running half-alive: Slack refuses the app token, or the listen
// address is taken.
func TestServeStartupFailures(t *testing.T) {
	emu := slackemu.New(slackemu.Options{})
	defer emu.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		env    env
		listen string
		want   string
	}{
		{"app token refused", env{"SLACK_APP_TOKEN": "xapp-not-the-token"}, "127.0.0.1:0", "invalid_auth"},
		{"listen address taken", env{"SLACK_SIGNING_SECRET": testSigningSecret, "OPTIX_BOT_SLACK_MODE": "http"}, busy.Addr().String(), "listen on " + busy.Addr().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := env{"SLACK_BOT_TOKEN": emu.BotToken(), "SLACK_API_URL": emu.APIURL}
			for k, v := range tc.env {
				e[k] = v
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			buf := newSyncBuffer()
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"serve", "--listen", tc.listen, "--db", tempDB(t), "--rbac", filepath.Join("testdata", "roles.yaml")},
					strings.NewReader(""), io.Discard, buf, e.get)
			}()
			select {
			case code := <-done:
				if code == 0 || !strings.Contains(buf.String(), tc.want) {
					t.Fatalf("exit %d, log lacks %q:\n%s", code, tc.want, buf.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("serve kept running; log:\n%s", buf.String()) // a guard, not a speed target
			}
		})
	}
}
