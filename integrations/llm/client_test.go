package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
)

// noWait makes retries immediate; the wait itself is tested separately.
func noWait(int) time.Duration { return 0 }

func newClient(t *testing.T, cfg llm.Config) *llm.Client {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "gpt-test"
	}
	if cfg.Backoff == nil {
		cfg.Backoff = noWait
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func ask(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{
		{Role: "system", Content: "You are a test."},
		{Role: "user", Content: text},
	}}
}

func TestCompleteReportsAnswerAndUsage(t *testing.T) {
	s := llmtest.NewServer(llmtest.WithBrain(func(llmtest.Call) (string, error) { return `{"summary":"ok"}`, nil }))
	defer s.Close()
	c := newClient(t, llm.Config{BaseURL: s.URL})
	req := ask("hello there")
	got, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantPrompt := llmtest.PromptTokens([]llmtest.Message{{Content: "You are a test."}, {Content: "hello there"}})
	want := llm.Response{Text: `{"summary":"ok"}`, Model: "gpt-test", PromptTokens: wantPrompt,
		CompletionTokens: llmtest.Tokens(`{"summary":"ok"}`), FinishReason: "stop", Attempts: 1}
	got.Latency = 0
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	p, comp := s.Usage()
	if p != got.PromptTokens || comp != got.CompletionTokens {
		t.Errorf("server usage %d/%d, client saw %d/%d", p, comp, got.PromptTokens, got.CompletionTokens)
	}
	// temperature 0 must reach the server (the library omits a zero).
	var body map[string]any
	if err := json.Unmarshal(s.Requests()[0], &body); err != nil {
		t.Fatal(err)
	}
	if tmp, ok := body["temperature"].(float64); !ok || tmp > 1e-6 {
		t.Errorf("temperature sent = %v, want a value that is effectively 0", body["temperature"])
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name        string
		opts        []llmtest.Option
		setup       func(*llmtest.Server)
		cfg         func(*llm.Config, *llmtest.Server)
		req         llm.Request
		wantKind    llm.Kind // "" means success
		wantCalls   int
		wantPhrase  string
		wantAttempt int
	}{
		{name: "rate limited twice then answers", setup: func(s *llmtest.Server) { s.RateLimit(2) }, wantCalls: 3, wantAttempt: 3},
		{name: "rate limited past max attempts", setup: func(s *llmtest.Server) { s.RateLimit(5) }, wantKind: llm.KindRateLimited, wantCalls: 3,
			wantPhrase: "the LLM is rate limiting requests"},
		{name: "no retry when max attempts is 1", setup: func(s *llmtest.Server) { s.RateLimit(1) },
			cfg: func(c *llm.Config, _ *llmtest.Server) { c.MaxAttempts = 1 }, wantKind: llm.KindRateLimited, wantCalls: 1},
		{name: "quota is not retried", setup: func(s *llmtest.Server) { s.Quota() }, wantKind: llm.KindQuota, wantCalls: 1,
			wantPhrase: "the LLM quota is exhausted"},
		{name: "wrong key is not retried", opts: []llmtest.Option{llmtest.WithAPIKey("right")},
			cfg: func(c *llm.Config, _ *llmtest.Server) { c.APIKey = "wrong" }, wantKind: llm.KindAuth, wantCalls: 1},
		{name: "missing key", opts: []llmtest.Option{llmtest.WithAPIKey("right")}, wantKind: llm.KindAuth, wantCalls: 1},
		{name: "right key", opts: []llmtest.Option{llmtest.WithAPIKey("right")},
			cfg: func(c *llm.Config, _ *llmtest.Server) { c.APIKey = "right" }, wantCalls: 1, wantAttempt: 1},
		{name: "server error once then answers", setup: func(s *llmtest.Server) { s.ServerError(1) }, wantCalls: 2, wantAttempt: 2},
		{name: "server errors past max attempts", setup: func(s *llmtest.Server) { s.ServerError(9) }, wantKind: llm.KindServer, wantCalls: 3,
			wantPhrase: "the LLM server failed (HTTP 500)"},
		{name: "empty choices", setup: func(s *llmtest.Server) { s.Empty(1) }, wantKind: llm.KindEmpty, wantCalls: 1,
			wantPhrase: "the LLM returned no answer"},
		{name: "refusal", setup: func(s *llmtest.Server) { s.Refuse(1) }, wantKind: llm.KindRefused, wantCalls: 1,
			wantPhrase: "the LLM refused the request"},
		{name: "context length", opts: []llmtest.Option{llmtest.WithContextLimit(5)}, wantKind: llm.KindContextLength, wantCalls: 1},
		{name: "model not found", opts: []llmtest.Option{llmtest.WithModels("other")}, wantKind: llm.KindModel, wantCalls: 1},
		{name: "azure deployment not found", opts: []llmtest.Option{llmtest.WithModels("other")},
			cfg: func(c *llm.Config, s *llmtest.Server) { c.Azure, c.BaseURL = true, s.AzureURL() }, wantKind: llm.KindModel, wantCalls: 1},
		{name: "wrong URL answers HTML", setup: func(s *llmtest.Server) { s.WrongURL(true) }, wantKind: llm.KindEndpoint, wantCalls: 1,
			wantPhrase: "the LLM endpoint URL looks wrong (HTTP 404 text/html from HOST/v1/chat/completions)"},
		{name: "base URL without /v1", cfg: func(c *llm.Config, s *llmtest.Server) { c.BaseURL = s.AzureURL() }, wantKind: llm.KindEndpoint,
			wantCalls: 1, wantPhrase: "the LLM endpoint URL looks wrong (HTTP 404 text/plain from HOST/chat/completions)"},
		{name: "response_format rejected, retried without", setup: func(s *llmtest.Server) { s.RejectResponseFormat(true) },
			req: llm.Request{JSON: true, Messages: []llm.Message{{Role: "user", Content: "x"}}}, wantCalls: 2, wantAttempt: 2},
		{name: "response_format rejected even with one attempt", setup: func(s *llmtest.Server) { s.RejectResponseFormat(true) },
			cfg: func(c *llm.Config, _ *llmtest.Server) { c.MaxAttempts = 1 },
			req: llm.Request{JSON: true, Messages: []llm.Message{{Role: "user", Content: "x"}}}, wantCalls: 2, wantAttempt: 2},
		{name: "malformed content is still an answer", setup: func(s *llmtest.Server) { s.Malformed(1) }, wantCalls: 1, wantAttempt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := llmtest.NewServer(tt.opts...)
			defer s.Close()
			if tt.setup != nil {
				tt.setup(s)
			}
			cfg := llm.Config{BaseURL: s.URL}
			if tt.cfg != nil {
				tt.cfg(&cfg, s)
			}
			c := newClient(t, cfg)
			req := tt.req
			if req.Messages == nil {
				req = ask("rank these")
			}
			got, err := c.Complete(context.Background(), req)
			if k := llm.KindOf(err); k != tt.wantKind {
				t.Fatalf("kind = %q (err %v), want %q", k, err, tt.wantKind)
			}
			if n := s.Calls(); n != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", n, tt.wantCalls)
			}
			if err == nil && got.Attempts != tt.wantAttempt {
				t.Errorf("Attempts = %d, want %d", got.Attempts, tt.wantAttempt)
			}
			if tt.wantPhrase != "" {
				host := strings.TrimPrefix(s.AzureURL(), "http://")
				want := strings.ReplaceAll(tt.wantPhrase, "HOST", host)
				if got := llm.UserMessage(err); got != want {
					t.Errorf("UserMessage = %q, want %q", got, want)
				}
			}
			var e *llm.Error
			if err != nil && !errors.As(err, &e) {
				t.Errorf("error %T is not *llm.Error", err)
			}
		})
	}
}

func TestResponseFormatFallbackDropsIt(t *testing.T) {
	s := llmtest.NewServer()
	defer s.Close()
	s.RejectResponseFormat(true)
	c := newClient(t, llm.Config{BaseURL: s.URL})
	if _, err := c.Complete(context.Background(), llm.Request{JSON: true, Messages: []llm.Message{{Role: "user", Content: "x"}}}); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	has := func(b []byte) bool {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		_, ok := m["response_format"]
		return ok
	}
	if len(reqs) != 2 || !has(reqs[0]) || has(reqs[1]) {
		t.Errorf("want a first request with response_format and a second without; got %d requests", len(reqs))
	}
}

// headerServer answers with a fixed status, headers and body, counting
// calls; after `failures` calls it answers a valid completion.
func headerServer(t *testing.T, status int, header map[string]string, body string, failures int) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n > failures {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`))
			return
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

const rateLimitBody = `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`

func TestRetryAfterTakesPrecedenceOverBackoff(t *testing.T) {
	srv, calls := headerServer(t, 429, map[string]string{"Retry-After": "0", "Content-Type": "application/json"}, rateLimitBody, 1)
	backoffs := 0
	c := newClient(t, llm.Config{BaseURL: srv.URL + "/v1", Backoff: func(int) time.Duration { backoffs++; return time.Hour }})
	got, err := c.Complete(context.Background(), ask("x"))
	if err != nil {
		t.Fatal(err)
	}
	if *calls != 2 || got.Attempts != 2 || backoffs != 0 {
		t.Errorf("calls %d attempts %d backoff calls %d; want 2, 2, 0", *calls, got.Attempts, backoffs)
	}
}

func TestRetryAfterBeyondDeadlineReturnsCauseNow(t *testing.T) {
	srv, calls := headerServer(t, 429, map[string]string{"Retry-After": "15", "Content-Type": "application/json"}, rateLimitBody, 9)
	c := newClient(t, llm.Config{BaseURL: srv.URL + "/v1"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Complete(ctx, ask("x"))
	if llm.KindOf(err) != llm.KindRateLimited {
		t.Fatalf("err = %v, want rate limited", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Complete waited for the deadline instead of returning the 429 at once")
	}
	if *calls != 1 {
		t.Errorf("calls = %d, want 1", *calls)
	}
}

func TestBackoffUsedWithoutRetryAfter(t *testing.T) {
	srv, _ := headerServer(t, 503, map[string]string{"Content-Type": "text/html"}, "<html>bad gateway</html>", 2)
	var got []int
	c := newClient(t, llm.Config{BaseURL: srv.URL + "/v1", Backoff: func(n int) time.Duration { got = append(got, n); return 0 }})
	if _, err := c.Complete(context.Background(), ask("x")); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{1, 2}, got); d != "" {
		t.Errorf("backoff attempts (-want +got):\n%s", d)
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("HTTPTimeout ends a slow attempt", func(t *testing.T) {
		s := llmtest.NewServer()
		defer s.Close()
		s.Slow(time.Minute)
		c := newClient(t, llm.Config{BaseURL: s.URL, HTTPTimeout: 50 * time.Millisecond, MaxAttempts: 2})
		ctx := context.Background()
		_, err := c.Complete(ctx, ask("x"))
		if llm.KindOf(err) != llm.KindTimeout {
			t.Fatalf("err = %v, want timeout", err)
		}
		if s.Calls() != 2 {
			t.Errorf("calls = %d, want 2 (an attempt timeout is retried)", s.Calls())
		}
		if got := llm.UserMessage(err); got != "the LLM did not answer in time" {
			t.Errorf("UserMessage = %q", got)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		s := llmtest.NewServer()
		defer s.Close()
		s.Slow(time.Minute)
		c := newClient(t, llm.Config{BaseURL: s.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Complete(ctx, ask("x"))
		if llm.KindOf(err) != llm.KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want timeout wrapping context.DeadlineExceeded", err)
		}
		if s.Calls() != 1 {
			t.Errorf("calls = %d, want 1 (no retry past the caller's deadline)", s.Calls())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s := llmtest.NewServer()
		defer s.Close()
		c := newClient(t, llm.Config{BaseURL: s.URL})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Complete(ctx, ask("x"))
		if llm.KindOf(err) != llm.KindTimeout || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want timeout wrapping context.Canceled", err)
		}
	})
}

func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newClient(t, llm.Config{BaseURL: url + "/v1", MaxAttempts: 2})
	_, err := c.Complete(context.Background(), ask("x"))
	if llm.KindOf(err) != llm.KindNetwork {
		t.Fatalf("err = %v, want network", err)
	}
}

// recordingTransport notes each request's URL and headers before sending
// it over real HTTP.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, r.Clone(context.Background()))
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestAzure(t *testing.T) {
	s := llmtest.NewServer(llmtest.WithAPIKey("azure-secret"), llmtest.WithModels("optix-gpt4o.mini"))
	defer s.Close()
	rt := &recordingTransport{}
	c := newClient(t, llm.Config{BaseURL: s.AzureURL() + "/openai/", Azure: true, Model: "optix-gpt4o.mini", APIKey: "azure-secret",
		HTTPClient: &http.Client{Transport: rt}})
	got, err := c.Complete(context.Background(), ask("x"))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got.Model != "optix-gpt4o.mini" {
		t.Errorf("model = %q", got.Model)
	}
	r := rt.reqs[0]
	if r.URL.Path != "/openai/deployments/optix-gpt4o.mini/chat/completions" {
		t.Errorf("path = %q", r.URL.Path)
	}
	if v := r.URL.Query().Get("api-version"); v != llm.DefaultAPIVersion {
		t.Errorf("api-version = %q, want %q", v, llm.DefaultAPIVersion)
	}
	if r.Header.Get("api-key") != "azure-secret" || r.Header.Get("Authorization") != "" {
		t.Errorf("headers: api-key %q, Authorization %q", r.Header.Get("api-key"), r.Header.Get("Authorization"))
	}
	host := strings.ToLower(strings.TrimPrefix(s.AzureURL(), "http://"))
	if c.Provider() != "azure:"+host {
		t.Errorf("Provider = %q", c.Provider())
	}
}

func TestSecretsStayOut(t *testing.T) {
	const key = "sk-test-SECRET-0123456789"
	const prompt = "PROMPT-TEXT-that-must-not-be-logged"
	// A server that echoes the key, as some proxies do.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "Incorrect API key provided: " + tok, "type": "invalid_request_error", "code": "invalid_api_key"}})
	}))
	defer echo.Close()
	s := llmtest.NewServer(llmtest.WithAPIKey(key))
	defer s.Close()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var texts []string
	for _, base := range []string{s.URL, echo.URL + "/v1"} {
		c := newClient(t, llm.Config{BaseURL: base, APIKey: key, Logger: logger})
		_, err := c.Complete(context.Background(), ask(prompt))
		if err != nil {
			texts = append(texts, err.Error(), llm.UserMessage(err))
			var e *llm.Error
			if errors.As(err, &e) && e.Err != nil {
				texts = append(texts, e.Err.Error())
			}
		}
	}
	if len(texts) == 0 {
		t.Fatal("the echoing server's 401 produced no error")
	}
	for _, s := range append(texts, logs.String()) {
		if strings.Contains(s, key) {
			t.Errorf("key leaked into %q", s)
		}
		if strings.Contains(s, prompt) {
			t.Errorf("prompt leaked into %q", s)
		}
	}
	if !strings.Contains(logs.String(), `"prompt_tokens"`) {
		t.Errorf("success log lacks token counts: %s", logs.String())
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name         string
		cfg          llm.Config
		wantErr      bool
		wantProvider string
	}{
		{name: "openai", cfg: llm.Config{BaseURL: "https://api.openai.com/v1", Model: "gpt-4o-mini"}, wantProvider: "openai-compatible:api.openai.com/v1"},
		{name: "ollama", cfg: llm.Config{BaseURL: "http://127.0.0.1:11434/v1/", Model: "llama3.1"}, wantProvider: "openai-compatible:127.0.0.1:11434/v1"},
		{name: "azure", cfg: llm.Config{BaseURL: "https://RES.openai.azure.com", Model: "dep", Azure: true}, wantProvider: "azure:res.openai.azure.com"},
		{name: "no model", cfg: llm.Config{BaseURL: "https://api.openai.com/v1"}, wantErr: true},
		{name: "no scheme", cfg: llm.Config{BaseURL: "api.openai.com/v1", Model: "m"}, wantErr: true},
		{name: "ftp", cfg: llm.Config{BaseURL: "ftp://x/v1", Model: "m"}, wantErr: true},
		{name: "no host", cfg: llm.Config{BaseURL: "http:///v1", Model: "m"}, wantErr: true},
		{name: "bad URL", cfg: llm.Config{BaseURL: "http://[::1", Model: "m"}, wantErr: true},
		{name: "credentials in URL", cfg: llm.Config{BaseURL: "https://u:p@x/v1", Model: "m"}, wantErr: true},
		{name: "query", cfg: llm.Config{BaseURL: "https://x/v1?api-version=1", Model: "m"}, wantErr: true},
		{name: "azure deployment with slash", cfg: llm.Config{BaseURL: "https://x", Model: "a/b", Azure: true}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := llm.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && c.Provider() != tt.wantProvider {
				t.Errorf("Provider = %q, want %q", c.Provider(), tt.wantProvider)
			}
		})
	}
}

func TestReasoningModelsGetMaxCompletionTokens(t *testing.T) {
	tests := []struct {
		model       string
		wantField   string
		wantTempSet bool
	}{
		{"gpt-4o-mini", "max_tokens", true},
		{"llama3.1:8b", "max_tokens", true},
		{"o3-mini", "max_completion_tokens", false},
		{"gpt-5-mini", "max_completion_tokens", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			s := llmtest.NewServer()
			defer s.Close()
			c := newClient(t, llm.Config{BaseURL: s.URL, Model: tt.model})
			req := ask("x")
			req.MaxTokens = 300
			if _, err := c.Complete(context.Background(), req); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			var body map[string]any
			if err := json.Unmarshal(s.Requests()[0], &body); err != nil {
				t.Fatal(err)
			}
			if body[tt.wantField] != float64(300) {
				t.Errorf("%s = %v in %s", tt.wantField, body[tt.wantField], s.Requests()[0])
			}
			if _, ok := body["temperature"]; ok != tt.wantTempSet {
				t.Errorf("temperature sent = %v, want %v", ok, tt.wantTempSet)
			}
		})
	}
}
