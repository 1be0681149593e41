// Package llm is optix-bot's chat-completion client for any OpenAI-compatible
// server (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio...), built on
// github.com/sashabaranov/go-openai. It adds what the library leaves to its
// callers: a per-attempt HTTP timeout, retries with backoff on rate limits
// and server errors only, a cap on reply bodies, and typed errors (Kind)
// so that callers never match error text.
//
// Prompt text and the API key are never logged and never put in an error.
package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAPIVersion  = "2024-10-21"
	DefaultHTTPTimeout = 60 * time.Second
	DefaultMaxAttempts = 3
)

const (
	// maxRetryAfter caps a server's Retry-After: a command has seconds, not
	// minutes, and a hostile or confused server must not park us.
	maxRetryAfter = 20 * time.Second
	// maxBody caps a reply body; a chat completion for our prompts is a few
	// KiB, so 4 MiB is generous and still bounds memory.
	maxBody = 4 << 20
)

// Config says where the LLM is and how patiently to call it. main maps the
// OPTIX_BOT_LLM_* environment to it.
type Config struct {
	// BaseURL is the API root: https://api.openai.com/v1,
	// http://127.0.0.1:11434/v1 (Ollama), or for Azure
	// https://RES.openai.azure.com.
	BaseURL string
	// Model is the model name; for Azure the deployment name.
	Model string
	// APIKey may be empty for local servers. It is never logged and never
	// appears in error text.
	APIKey string
	// Azure selects Azure OpenAI: the api-key header and
	// /openai/deployments/{Model}/chat/completions?api-version=APIVersion.
	Azure bool
	// APIVersion is Azure's api-version; DefaultAPIVersion if empty.
	APIVersion string
	// HTTPTimeout bounds one HTTP attempt, reading the body included;
	// DefaultHTTPTimeout if zero. go-openai sets no timeout of its own.
	HTTPTimeout time.Duration
	// MaxAttempts is the number of tries for retryable failures;
	// DefaultMaxAttempts if zero, 1 means no retry.
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1-based) when the server
	// gave no Retry-After; nil means capped, jittered exponential.
	Backoff func(attempt int) time.Duration
	// HTTPClient is optional (tests); it is copied and HTTPTimeout is
	// applied to the copy.
	HTTPClient *http.Client
	// Logger receives one record per call; nil discards.
	Logger *slog.Logger
}

// Client calls one model on one server. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string // BaseURL without trailing slash
	host     string
	provider string
	hc       *http.Client
	log      *slog.Logger
}

// azureName is what Azure allows in a deployment name; the library puts it
// into the URL path unescaped, so anything else is refused up front.
var azureName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// New validates cfg and applies its defaults.
func New(cfg Config) (*Client, error) {
	cfg.Model = strings.TrimSpace(cfg.Model)
	if cfg.Model == "" {
		return nil, errors.New("llm config: model is empty")
	}
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil {
		return nil, errors.New("llm config: base URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("llm config: base URL scheme %q, want http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("llm config: base URL has no host")
	}
	if u.User != nil {
		return nil, errors.New("llm config: base URL must not carry credentials; use the API key")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("llm config: base URL must not have a query or fragment (Azure's api-version has its own setting)")
	}
	if cfg.Azure && !azureName.MatchString(cfg.Model) {
		return nil, fmt.Errorf("llm config: Azure deployment name %q has characters Azure does not allow", cfg.Model)
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.Timeout = cfg.HTTPTimeout
	// Never follow a redirect: net/http drops Authorization on a redirect to
	// another host, but not Azure's api-key header, and the prompt would go
	// along too. A chat-completions API has no reason to redirect a POST.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(u.String(), "/")
	host := strings.ToLower(u.Host)
	// The path is part of the label: two servers behind one host (a
	// gateway's /v1 and /ollama/v1) are different models to the cache.
	provider := "openai-compatible:" + host + strings.TrimRight(u.EscapedPath(), "/")
	if cfg.Azure {
		// The library adds /openai itself; accept the portal's form with it.
		base = strings.TrimSuffix(base, "/openai")
		provider = "azure:" + host
	}
	return &Client{cfg: cfg, base: base, host: host, provider: provider, hc: hc, log: log}, nil
}

// Provider is a stable label of the server for cache keys and audit
// entries, e.g. "openai-compatible:api.openai.com/v1" or
// "azure:res.openai.azure.com".
func (c *Client) Provider() string { return c.provider }

// Model is the configured model (Azure: deployment) name.
func (c *Client) Model() string { return c.cfg.Model }

// Message is one chat message; Role is "system", "user" or "assistant".
type Message struct{ Role, Content string }

// Request is one chat completion.
type Request struct {
	// Messages: system first, then user (and, for a repair, assistant and
	// user again).
	Messages []Message
	// MaxTokens caps the answer; 0 is the server's default.
	MaxTokens int
	// JSON asks for response_format json_object. A server that rejects the
	// parameter is asked once more without it.
	JSON bool
	// Temperature; optix-bot uses 0.
	Temperature float32
}

// Response is a successful completion.
type Response struct {
	Text                           string // the first choice's content
	Model                          string // as the server reported it
	PromptTokens, CompletionTokens int    // from usage
	FinishReason                   string
	Attempts                       int           // HTTP attempts made
	Latency                        time.Duration // the whole call, retries included
}

// Complete sends req and returns the first choice. Failures are *Error:
// rate limits, 5xx, network errors and attempt timeouts are retried up to
// MaxAttempts with backoff (a Retry-After is honoured up to 20 s, and never
// waited for past ctx's deadline); everything else returns at once.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	if len(req.Messages) == 0 {
		return Response{}, &Error{Kind: KindBadRequest, Msg: "no messages"}
	}
	creq := c.chatRequest(req)
	rec := &recorder{hc: c.hc}
	occ := openai.DefaultConfig(c.cfg.APIKey)
	if c.cfg.Azure {
		occ = openai.DefaultAzureConfig(c.cfg.APIKey, c.base)
		occ.APIVersion = c.cfg.APIVersion
		// Model is the deployment name already; the library's default
		// mapper would strip dots and colons from it.
		occ.AzureModelMapperFunc = func(m string) string { return m }
	}
	occ.BaseURL = c.base
	occ.HTTPClient = rec
	oc := openai.NewClientWithConfig(occ)

	attempts, tries := 0, 0
	fellBack := false
	for {
		attempts++
		tries++
		resp, err := oc.CreateChatCompletion(ctx, creq)
		var e *Error
		if err == nil {
			var out Response
			out, e = c.answer(resp, rec.last)
			if e == nil {
				out.Attempts = attempts
				out.Latency = time.Since(start)
				c.log.LogAttrs(ctx, slog.LevelInfo, "llm call",
					slog.String("host", c.host), slog.String("model", c.cfg.Model),
					slog.Int("status", rec.last.status), slog.Int("attempts", attempts),
					slog.Duration("latency", out.Latency),
					slog.Int("prompt_tokens", out.PromptTokens), slog.Int("completion_tokens", out.CompletionTokens))
				return out, nil
			}
			return Response{}, c.fail(ctx, e, attempts, start)
		}
		e, rfRejected := c.classify(ctx, err, rec.last)
		if rfRejected && creq.ResponseFormat != nil && !fellBack {
			// Local servers (older Ollama, llama.cpp builds) refuse
			// response_format; the caller validates the JSON anyway.
			fellBack = true
			tries--
			creq.ResponseFormat = nil
			c.log.LogAttrs(ctx, slog.LevelWarn, "llm server rejects response_format, retrying without",
				slog.String("host", c.host), slog.String("model", c.cfg.Model))
			continue
		}
		if !e.retryable() || tries >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return Response{}, c.fail(ctx, e, attempts, start)
		}
		wait, ok := retryAfter(rec.last.header)
		if !ok {
			wait = c.cfg.Backoff(tries)
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) <= wait {
			// Waiting would outlive the command; the real cause is more
			// useful to the caller than a timeout.
			return Response{}, c.fail(ctx, e, attempts, start)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "llm attempt failed, retrying",
			slog.String("host", c.host), slog.String("model", c.cfg.Model),
			slog.Int("status", e.Status), slog.String("kind", string(e.Kind)),
			slog.Int("attempt", attempts), slog.Duration("wait", wait))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return Response{}, c.fail(ctx, ctxError(ctx), attempts, start)
			case <-t.C:
			}
		}
	}
}

// fail logs the final failure and returns it.
func (c *Client) fail(ctx context.Context, e *Error, attempts int, start time.Time) error {
	c.log.LogAttrs(ctx, slog.LevelWarn, "llm call failed",
		slog.String("host", c.host), slog.String("model", c.cfg.Model),
		slog.Int("status", e.Status), slog.String("kind", string(e.Kind)), slog.String("code", e.Code),
		slog.Int("attempts", attempts), slog.Duration("latency", time.Since(start)))
	return e
}

// chatRequest maps req onto the library's request.
func (c *Client) chatRequest(req Request) openai.ChatCompletionRequest {
	msgs := make([]openai.ChatCompletionMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	creq := openai.ChatCompletionRequest{
		Model:       c.cfg.Model,
		Messages:    msgs,
		MaxTokens:   req.MaxTokens,
		Temperature: req.Temperature,
	}
	if creq.Temperature == 0 {
		// The library drops a zero temperature (omitempty), leaving the
		// server's default of about 1; the smallest positive float is
		// sent instead and means "as deterministic as you can".
		creq.Temperature = math.SmallestNonzeroFloat32
	}
	if req.JSON {
		creq.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	if openai.NewReasoningValidator().Validate(creq) != nil {
		// Reasoning models refuse max_tokens and any temperature; the
		// library knows which models those are.
		creq.MaxCompletionTokens, creq.MaxTokens = creq.MaxTokens, 0
		creq.Temperature = 0
	}
	return creq
}

// answer checks a decoded 2xx reply.
func (c *Client) answer(resp openai.ChatCompletionResponse, meta replyMeta) (Response, *Error) {
	if len(resp.Choices) == 0 {
		return Response{}, &Error{Kind: KindEmpty, Status: meta.status, Msg: "the reply has no choices"}
	}
	ch := resp.Choices[0]
	if ch.Message.Refusal != "" {
		return Response{}, &Error{Kind: KindRefused, Status: meta.status, Code: "refusal", Msg: oneLine(ch.Message.Refusal, c.cfg.APIKey)}
	}
	if ch.FinishReason == openai.FinishReasonContentFilter {
		return Response{}, &Error{Kind: KindRefused, Status: meta.status, Code: "content_filter", Msg: "a content filter withheld the answer"}
	}
	text := ch.Message.Content
	if text == "" {
		var parts []string
		for _, p := range ch.Message.MultiContent {
			if p.Type == openai.ChatMessagePartTypeText || p.Type == "" {
				parts = append(parts, p.Text)
			}
		}
		text = strings.Join(parts, "")
	}
	if strings.TrimSpace(text) == "" {
		return Response{}, &Error{Kind: KindEmpty, Status: meta.status, Code: string(ch.FinishReason), Msg: "the first choice has no content"}
	}
	return Response{
		Text:             text,
		Model:            resp.Model,
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
		FinishReason:     string(ch.FinishReason),
	}, nil
}

// defaultBackoff waits 0.5 s, 1 s, 2 s... capped at 8 s, each with up to
// half of it as jitter so that many clients do not retry in step.
func defaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := 500 * time.Millisecond << min(attempt-1, 4)
	d = min(d, 8*time.Second)
	return d/2 + rand.N(d/2+1)
}
