package llm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/integrations/llm"
)

// answer is one canned HTTP reply.
type answer struct {
	status int
	ctype  string
	body   string
}

// cannedServer answers every request with whatever *a holds at the time.
func cannedServer(t testing.TB) (*httptest.Server, func(answer)) {
	var mu sync.Mutex
	var cur answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := cur
		mu.Unlock()
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	return srv, func(a answer) { mu.Lock(); cur = a; mu.Unlock() }
}

const js = "application/json"

func TestHostileAnswers(t *testing.T) {
	tests := []struct {
		name     string
		a        answer
		wantKind llm.Kind
		wantText string
	}{
		{"plain answer", answer{200, js, `{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`}, "", "hi"},
		{"content parts", answer{200, js, `{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}`}, "", "ab"},
		{"JSON labelled text/plain", answer{200, "text/plain", `{"choices":[{"message":{"content":"hi"}}]}`}, "", "hi"},
		{"choices null", answer{200, js, `{"choices":null}`}, llm.KindEmpty, ""},
		{"empty object", answer{200, js, `{}`}, llm.KindEmpty, ""},
		{"choice without message", answer{200, js, `{"choices":[{}]}`}, llm.KindEmpty, ""},
		{"content null", answer{200, js, `{"choices":[{"message":{"role":"assistant","content":null}}]}`}, llm.KindEmpty, ""},
		{"content filter", answer{200, js, `{"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}`}, llm.KindRefused, ""},
		{"refusal with content", answer{200, js, `{"choices":[{"message":{"content":"x","refusal":"no"}}]}`}, llm.KindRefused, ""},
		{"choices is a string", answer{200, js, `{"choices":"x"}`}, llm.KindEndpoint, ""},
		{"JSON null", answer{200, js, `null`}, llm.KindEmpty, ""},
		{"JSON array", answer{200, js, `[]`}, llm.KindEndpoint, ""},
		{"truncated JSON", answer{200, js, `{"choices":[{"mess`}, llm.KindEndpoint, ""},
		{"empty 200", answer{200, "", ``}, llm.KindEndpoint, ""},
		{"HTML 200", answer{200, "text/html", `<html><body>Welcome to nginx!</body></html>`}, llm.KindEndpoint, ""},
		{"HTML 404", answer{404, "text/html", `<html>Not Found</html>`}, llm.KindEndpoint, ""},
		{"JSON 404 not about a model", answer{404, js, `{"error":{"message":"Unknown request URL: POST /v2/chat/completions","type":"invalid_request_error"}}`}, llm.KindEndpoint, ""},
		{"ollama model missing", answer{404, js, `{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`}, llm.KindModel, ""},
		{"string error field", answer{404, js, `{"error":"model 'x' not found"}`}, llm.KindModel, ""},
		{"azure deployment", answer{404, js, `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`}, llm.KindModel, ""},
		{"numeric code", answer{400, js, `{"error":{"message":"bad","type":"x","code":400}}`}, llm.KindBadRequest, ""},
		{"context by message", answer{400, js, `{"error":{"message":"This model's maximum context length is 8192 tokens."}}`}, llm.KindContextLength, ""},
		{"413", answer{413, "text/html", `<html>too large</html>`}, llm.KindEndpoint, ""},
		{"413 JSON", answer{413, js, `{"error":{"message":"request too large"}}`}, llm.KindContextLength, ""},
		{"azure content filter", answer{400, js, `{"error":{"message":"filtered","code":"content_filter","innererror":{"code":"ResponsibleAIPolicyViolation"}}}`}, llm.KindRefused, ""},
		{"403 HTML", answer{403, "text/html", `<html>Forbidden</html>`}, llm.KindAuth, ""},
		{"429 quota in type only", answer{429, js, `{"error":{"message":"quota","type":"insufficient_quota","code":null}}`}, llm.KindQuota, ""},
		{"502 HTML", answer{502, "text/html", `<html>Bad Gateway</html>`}, llm.KindServer, ""},
		{"error message is an array", answer{400, js, `{"error":{"message":["a","b"],"type":"x"}}`}, llm.KindBadRequest, ""},
		{"error message is a number", answer{400, js, `{"error":{"message":5}}`}, llm.KindBadRequest, ""},
		{"body over 4 MiB", answer{200, js, `{"choices":[{"message":{"content":"` + strings.Repeat("a", 4<<20) + `"}}]}`}, llm.KindEndpoint, ""},
	}
	srv, set := cannedServer(t)
	c := newClient(t, llm.Config{BaseURL: srv.URL + "/v1", MaxAttempts: 1})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set(tt.a)
			got, err := c.Complete(context.Background(), ask("x"))
			if k := llm.KindOf(err); k != tt.wantKind {
				t.Fatalf("kind = %q (err %v), want %q", k, err, tt.wantKind)
			}
			if err == nil && got.Text != tt.wantText {
				t.Errorf("text = %q, want %q", got.Text, tt.wantText)
			}
			if err != nil {
				if msg := err.Error(); len(msg) > 400 || strings.ContainsAny(msg, "\n\r") {
					t.Errorf("error text is not one short line: %q", msg)
				}
			}
		})
	}
}

// The footer phrase tells a wrong URL from a server that answers something
// other than a chat completion.
func TestEndpointPhrases(t *testing.T) {
	tests := []struct {
		name   string
		a      answer
		prefix string
	}{
		{"HTML 404", answer{404, "text/html", `<html>Not Found</html>`}, "the LLM endpoint URL looks wrong (HTTP 404 text/html from "},
		{"empty 200", answer{200, js, ``}, "the LLM answer was not a chat completion ("},
		{"HTML 200", answer{200, "text/html", `<html>nginx</html>`}, "the LLM answer was not a chat completion ("},
		{"body over 4 MiB", answer{200, js, `{"choices":[{"message":{"content":"` + strings.Repeat("a", 4<<20) + `"}}]}`}, "the LLM answer was not a chat completion (reply over 4 MiB"},
	}
	srv, set := cannedServer(t)
	c := newClient(t, llm.Config{BaseURL: srv.URL + "/v1", MaxAttempts: 1})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set(tt.a)
			_, err := c.Complete(context.Background(), ask("x"))
			if got := llm.UserMessage(err); !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("UserMessage = %q, want prefix %q", got, tt.prefix)
			}
		})
	}
}

func FuzzComplete(f *testing.F) {
	f.Add(200, js, `{"choices":[{"message":{"content":"hi"}}]}`)
	f.Add(200, js, `{"choices":[{"message":{"content":[{"type":"image_url"}]}}]}`)
	f.Add(404, "text/html", `<html>`)
	f.Add(429, js, `{"error":{"code":{"nested":true}}}`)
	f.Add(400, js, `{"error":{"param":5}}`)
	f.Add(500, "", "\x00\xff")
	f.Add(101, js, ``)
	f.Add(302, js, `{}`)
	srv, set := cannedServer(f)
	c, err := llm.New(llm.Config{BaseURL: srv.URL + "/v1", Model: "m", MaxAttempts: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, ctype, body string) {
		if status < 200 || status > 599 {
			// 1xx and 3xx change the transport's behaviour, not the decoding
			// under test; net/http refuses to write other codes.
			status = 200 + (status%400+400)%400
		}
		if status >= 300 && status < 400 {
			status += 100
		}
		set(answer{status, ctype, body})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := c.Complete(ctx, ask("x"))
		if ctx.Err() != nil {
			t.Fatalf("no answer within 5 s for HTTP %d %q %q", status, ctype, body)
		}
		var e *llm.Error
		switch {
		case err == nil && strings.TrimSpace(got.Text) == "":
			t.Errorf("success with empty text")
		case err != nil && !errors.As(err, &e):
			t.Errorf("error %T is not *llm.Error: %v", err, err)
		case err != nil && e.Kind == "":
			t.Errorf("error without a kind: %v", err)
		}
	})
}

// A redirect is never followed: the key (Azure's api-key header survives
// net/http's cross-host redirect) and the prompt stay where they were sent.
func TestRedirectNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	for _, azure := range []bool{false, true} {
		base := redirector.URL + "/v1"
		if azure {
			base = redirector.URL
		}
		c := newClient(t, llm.Config{BaseURL: base, Azure: azure, APIKey: "sk-secret-0123456789", MaxAttempts: 1})
		_, err := c.Complete(context.Background(), ask("x"))
		if llm.KindOf(err) != llm.KindEndpoint || !strings.Contains(llm.UserMessage(err), "HTTP 307") {
			t.Errorf("azure=%v: err %v, message %q", azure, err, llm.UserMessage(err))
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("%d requests followed the redirect", n)
	}
}
