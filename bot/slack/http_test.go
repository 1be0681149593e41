package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

func TestHTTPVerification(t *testing.T) {
	fixed := time.Unix(1_760_000_000, 0)
	h := newHarness(t, func(c *Config, _ *slackemu.Options) { c.Now = func() time.Time { return fixed } })
	form := slackemu.Command{Text: "top-risks", UserID: "U1", ChannelID: "C1", ResponseURL: h.emu.NewResponseURL()}.Form()
	body := []byte(form.Encode())

	cases := []struct {
		name   string
		secret string
		ts     time.Time
		body   []byte
		edit   func(*http.Request)
		want   int
	}{
		{"signed", testSecret, fixed, body, nil, http.StatusOK},
		{"forged", "not-the-secret", fixed, body, nil, http.StatusUnauthorized},
		{"unsigned", testSecret, fixed, body, func(r *http.Request) {
			r.Header.Del("X-Slack-Signature")
			r.Header.Del("X-Slack-Request-Timestamp")
		}, http.StatusUnauthorized},
		{"body changed after signing", testSecret, fixed, body, func(r *http.Request) {
			r.Body = http.NoBody
		}, http.StatusUnauthorized},
		{"garbage signature", testSecret, fixed, body, func(r *http.Request) { r.Header.Set("X-Slack-Signature", "v0=zz") }, http.StatusUnauthorized},
		{"stale", testSecret, fixed.Add(-6 * time.Minute), body, nil, http.StatusUnauthorized},
		{"from the future", testSecret, fixed.Add(6 * time.Minute), body, nil, http.StatusUnauthorized},
		{"within skew", testSecret, fixed.Add(-4 * time.Minute), []byte(slackemu.Command{Text: "top-risks", UserID: "U1", ChannelID: "C1"}.Form().Encode()), nil, http.StatusOK},
		{"oversized", testSecret, fixed, []byte("text=" + strings.Repeat("a", MaxBodyBytes)), nil, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := slackemu.SignedRequest(context.Background(), h.srv.URL+"/slack/commands", tc.secret, tc.ts, slackemu.FormContentType, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	h.a.Close()
	// Only the two accepted commands ran.
	if n := h.count("top-risks"); n != 2 {
		t.Errorf("top-risks ran %d times, want 2", n)
	}
}

func TestURLVerification(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	req, _ := slackemu.SignedRequest(context.Background(), h.srv.URL+"/slack/events", testSecret, time.Now(), "application/json", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := readBody(t, resp); resp.StatusCode != 200 || got != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("got %d %q", resp.StatusCode, got)
	}
	// The same challenge, unsigned, is refused.
	resp2, err := http.Post(h.srv.URL+"/slack/events", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned challenge got %d", resp2.StatusCode)
	}
}

func TestAckBeforeSlowWorkFinishes(t *testing.T) {
	h := newHarness(t)
	ru := h.emu.NewResponseURL()
	_, resp := h.command("slow", ru)
	// The ack is back while the handler is still parked on h.release.
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ack status %d", resp.StatusCode)
	}
	if body := readBody(t, resp); body != "" {
		t.Errorf("ack body %q, want empty", body)
	}
	waitFor(t, "the handler to start", func() bool { return h.count("slow") == 1 })
	if n := len(h.emu.ResponsePosts(ru)); n != 0 {
		t.Fatalf("%d replies before the handler finished", n)
	}
	h.unblock()
	waitFor(t, "the reply", func() bool { return len(h.emu.ResponsePosts(ru)) == 1 })
	p := h.emu.ResponsePosts(ru)[0]
	if p.ResponseType != "in_channel" || !strings.Contains(blocksText(p.Blocks), "slow done") {
		t.Errorf("reply %+v", p)
	}
}

func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	h := newHarness(t)
	ru := h.emu.NewResponseURL()
	c := slackemu.Command{Text: "top-risks", UserID: "U1", ChannelID: "C1", ResponseURL: ru, TriggerID: "trig-dup"}
	for i, hdr := range []map[string]string{nil, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}, {"X-Slack-Retry-Num": "2"}} {
		if resp := h.post("/slack/commands", c.Form(), hdr); resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, resp.StatusCode)
		}
	}
	h.a.Close()
	if n := h.count("top-risks"); n != 1 {
		t.Errorf("ran %d times, want 1", n)
	}
	if n := len(h.emu.ResponsePosts(ru)); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

func TestDoubleClickRunsOnceAndReplaces(t *testing.T) {
	h := newHarness(t)
	rendered := Render(withScript(3)).Messages[0]
	ts := h.emu.SeedMessage("C100", rendered.Text, mustJSON(t, rendered.Blocks))
	for range 2 { // two clicks, two trigger ids
		click := slackemu.Click{UserID: "U200", UserName: "bob", ChannelID: "C100", MessageTS: ts, ActionID: "approve", Value: "CR-9", ResponseURL: h.emu.NewResponseURL()}
		if resp := h.interact(click.Payload()); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	h.a.Close()
	if n := h.count("approve"); n != 1 {
		t.Errorf("approve ran %d times, want 1", n)
	}
	reqs := h.requests()
	if len(reqs) != 1 || reqs[0].Action == nil || reqs[0].Action.Value != "CR-9" || reqs[0].User.ID != "U200" {
		t.Fatalf("requests %+v", reqs)
	}
	msgs := h.emu.Messages("C100")
	if len(msgs) != 1 || msgs[0].Updates != 1 {
		t.Fatalf("messages %+v", msgs)
	}
	got := blocksText(msgs[0].Blocks)
	if !strings.Contains(got, "Approved CR-9 by U200") || strings.Contains(got, `"actions"`) {
		t.Errorf("updated message should show the decision without buttons: %s", got)
	}
}

func TestQueueFullAnswersBusy(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *slackemu.Options) { c.Workers, c.QueueSize = 1, 1 })
	_, first := h.command("slow", h.emu.NewResponseURL())
	waitFor(t, "the worker to be busy", func() bool { return h.count("slow") == 1 })
	_, second := h.command("slow", h.emu.NewResponseURL()) // waits in the queue
	_, third := h.command("slow", h.emu.NewResponseURL())  // finds it full
	for i, r := range []*http.Response{first, second} {
		if body := readBody(t, r); r.StatusCode != 200 || body != "" {
			t.Errorf("command %d: %d %q, want an empty ack", i+1, r.StatusCode, body)
		}
	}
	body := readBody(t, third)
	if third.StatusCode != 200 || !strings.Contains(body, busyText) || !strings.Contains(body, `"ephemeral"`) {
		t.Errorf("third command: %d %q, want the busy ephemeral", third.StatusCode, body)
	}
	h.unblock()
	h.a.Close()
	if n := h.count("slow"); n != 2 {
		t.Errorf("slow ran %d times, want 2", n)
	}
}

func TestRateLimitHonouredInOrder(t *testing.T) {
	h := newHarness(t)
	h.emu.RateLimit("chat.postMessage", 1, 1)
	// No response_url: the three parts of a 120-item reply go through
	// chat.postMessage, the first of which is told to wait.
	h.command("top-risks 120", "")
	waitFor(t, "three messages", func() bool { return len(h.emu.Messages("C100")) == 3 })
	msgs := h.emu.Messages("C100")
	for i, want := range []string{"*1. HIGH", "(continued)", "(continued)"} {
		if !strings.Contains(blocksText(msgs[i].Blocks)+msgs[i].Text, want) {
			t.Errorf("message %d does not hold %q", i, want)
		}
	}
	if !strings.Contains(blocksText(msgs[2].Blocks), "*120. HIGH") {
		t.Error("the last item is not in the last message")
	}
	calls := h.emu.Calls("chat.postMessage")
	if len(calls) != 4 || calls[0].Status != http.StatusTooManyRequests {
		t.Fatalf("calls: %d, first status %d", len(calls), calls[0].Status)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < 900*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After's second", gap)
	}
}

func TestResponseURLRetriedOn5xxAnd429(t *testing.T) {
	h := newHarness(t)
	ru := h.emu.NewResponseURL()
	h.emu.FailNext("response_url", 2, http.StatusServiceUnavailable)
	h.emu.RateLimit("response_url", 1, 1)
	h.command("top-risks", ru)
	waitFor(t, "the reply", func() bool { return len(h.emu.ResponsePosts(ru)) == 1 })
	if n := len(h.emu.Calls("response_url")); n != 4 {
		t.Errorf("%d response_url calls, want 4 (3 failures, 1 success)", n)
	}
}

func TestRejectOpensDialogThenRejects(t *testing.T) {
	h := newHarness(t)
	rendered := Render(withScript(3)).Messages[0]
	ts := h.emu.SeedMessage("C100", rendered.Text, mustJSON(t, rendered.Blocks))
	click := slackemu.Click{UserID: "U300", UserName: "carol", ChannelID: "C100", MessageTS: ts, ActionID: "reject", Value: "CR-9",
		ResponseURL: h.emu.NewResponseURL(), TriggerID: "trig-reject"}
	h.interact(click.Payload())
	waitFor(t, "views.open", func() bool { return len(h.emu.Views()) == 1 })
	v := h.emu.Views()[0]
	if v.TriggerID != "trig-reject" || v.CallbackID != rejectCallbackID {
		t.Fatalf("view %+v", v)
	}
	if h.count("reject") != 0 {
		t.Fatal("reject ran before the reason was given")
	}
	sub := slackemu.Submission{UserID: "U300", UserName: "carol", View: v, Values: map[string]map[string]string{reasonBlockID: {reasonActionID: "too broad <!channel>"}}}
	if resp := h.interact(sub.Payload()); resp.StatusCode != 200 || readBody(t, resp) != "" {
		t.Fatalf("submission ack not empty")
	}
	h.a.Close()
	reqs := h.requests()
	if len(reqs) != 1 || reqs[0].Action == nil || reqs[0].Action.ID != "reject" || reqs[0].Action.Value != "CR-9" || reqs[0].Action.Reason != "too broad <!channel>" {
		t.Fatalf("requests %+v", reqs)
	}
	msgs := h.emu.Messages("C100")
	got := blocksText(msgs[0].Blocks)
	if msgs[0].Updates != 1 || !strings.Contains(got, "Rejected CR-9 | too broad &lt;!channel&gt;") {
		t.Errorf("message not replaced with the rejection: %s", got)
	}
}

func TestLongScriptIsUploaded(t *testing.T) {
	h := newHarness(t)
	ru := h.emu.NewResponseURL()
	h.command("fix", ru)
	waitFor(t, "the file", func() bool { return len(h.emu.Files()) == 1 })
	f := h.emu.Files()[0]
	if f.Filename != "fix.sh" || f.Channel != "C100" || string(f.Content) != withScript(80).Code.Body {
		t.Errorf("file %q in %q, %d bytes", f.Filename, f.Channel, len(f.Content))
	}
	posts := h.emu.ResponsePosts(ru)
	if len(posts) != 1 || !strings.Contains(blocksText(posts[0].Blocks), "attached as a file") {
		t.Errorf("no pointer to the file: %+v", posts)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
