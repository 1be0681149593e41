// Package llmtest is an OpenAI-compatible chat-completions emulator on
// 127.0.0.1 for tests and the offline demo. It speaks the wire format of
// POST /v1/chat/completions (and Azure's
// /openai/deployments/{d}/chat/completions?api-version=), reports usage
// token counts, and can be told to misbehave: slow, rate limited, out of
// quota, failing, malformed or fenced JSON, empty, refusing, rejecting
// response_format, at the wrong URL, or obeying instructions found in its
// input (Echo), which is what optix-bot's injection defences are tested
// against.
//
// Its default "model" is Analyst, a deterministic brain that understands
// optix-bot's prompt contract.
package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Message is one chat message as received.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Call is what a Brain sees of one request.
type Call struct {
	Model    string
	Messages []Message
	// System and User are the last system and user messages.
	System, User string
	// Data is the JSON between <data> and </data> in the last user
	// message that has such a block, nil if none has or it is not valid
	// JSON. (A repair turn's last user message has no data of its own; the
	// task is still the one above it.)
	Data json.RawMessage
	// JSON reports that response_format json_object was asked for.
	JSON bool
	// Echo and TailorExtra are the server's controls in force for this
	// call (see Server.Echo and Server.TailorExtra).
	Echo        bool
	TailorExtra string
}

// Brain produces the assistant's content for a call. An error becomes an
// HTTP 500.
type Brain func(Call) (string, error)

// Option configures NewServer.
type Option func(*Server)

// WithAPIKey makes the server require k: "Authorization: Bearer k" on the
// OpenAI path, "api-key: k" on the Azure path; otherwise 401
// invalid_api_key.
func WithAPIKey(k string) Option { return func(s *Server) { s.apiKey = k } }

// WithBrain replaces Analyst.
func WithBrain(b Brain) Option { return func(s *Server) { s.brain = b } }

// WithContextLimit makes prompts estimated over n tokens fail with 400
// context_length_exceeded.
func WithContextLimit(n int) Option { return func(s *Server) { s.contextLimit = n } }

// WithModels limits the models (Azure: deployments) that exist; others get
// 404 model_not_found (Azure: DeploymentNotFound). By default every name
// exists.
func WithModels(names ...string) Option {
	return func(s *Server) {
		s.models = map[string]bool{}
		for _, n := range names {
			s.models[n] = true
		}
	}
}

// Server is the emulator. Its controls are safe for concurrent use and
// apply to the requests that arrive after them.
type Server struct {
	// URL is the OpenAI-style base URL, http://127.0.0.1:PORT/v1.
	URL string

	srv          *httptest.Server
	apiKey       string
	brain        Brain
	contextLimit int
	models       map[string]bool

	mu       sync.Mutex
	f        faults
	requests [][]byte
	calls    int
	prompt   int
	complete int
	seq      int
}

// faults are the runtime controls; counts apply to the next n calls.
type faults struct {
	slow                                          time.Duration
	rateLimit, serverError, malformed, empty, ref int
	quota, fenced, rejectRF, wrongURL, echo       bool
	tailorExtra                                   string
}

// NewServer starts an emulator on 127.0.0.1.
func NewServer(opts ...Option) *Server {
	s := &Server{brain: Analyst}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// AzureURL is the base URL for an Azure configuration: the server answers
// /openai/deployments/{d}/chat/completions?api-version= under it.
func (s *Server) AzureURL() string { return s.srv.URL }

// Slow makes every answer wait d first (0 turns it off). The wait ends
// early when the client gives up.
func (s *Server) Slow(d time.Duration) { s.set(func(f *faults) { f.slow = d }) }

// RateLimit answers the next n calls with 429 rate_limit_exceeded and
// Retry-After: 0.
func (s *Server) RateLimit(n int) { s.set(func(f *faults) { f.rateLimit = n }) }

// Quota answers every call from now on with 429 insufficient_quota.
func (s *Server) Quota() { s.set(func(f *faults) { f.quota = true }) }

// ServerError answers the next n calls with 500.
func (s *Server) ServerError(n int) { s.set(func(f *faults) { f.serverError = n }) }

// Malformed makes the next n answers prose with broken JSON.
func (s *Server) Malformed(n int) { s.set(func(f *faults) { f.malformed = n }) }

// Fenced wraps answers in ```json fences while on.
func (s *Server) Fenced(on bool) { s.set(func(f *faults) { f.fenced = on }) }

// Empty answers the next n calls with an empty choices list.
func (s *Server) Empty(n int) { s.set(func(f *faults) { f.empty = n }) }

// Refuse answers the next n calls with a refusal and no content.
func (s *Server) Refuse(n int) { s.set(func(f *faults) { f.ref = n }) }

// RejectResponseFormat makes requests carrying response_format fail with
// 400, as some local servers do, while on.
func (s *Server) RejectResponseFormat(on bool) { s.set(func(f *faults) { f.rejectRF = on }) }

// WrongURL answers every path with 404 text/html while on, as a web server
// does when the base URL is not an API.
func (s *Server) WrongURL(on bool) { s.set(func(f *faults) { f.wrongURL = on }) }

// Echo makes Analyst obey instructions found in its data while on.
func (s *Server) Echo(on bool) { s.set(func(f *faults) { f.echo = on }) }

// TailorExtra makes Analyst's tailor answers append line to the script
// ("" stops it).
func (s *Server) TailorExtra(line string) { s.set(func(f *faults) { f.tailorExtra = line }) }

// Reset turns every control off.
func (s *Server) Reset() { s.set(func(f *faults) { *f = faults{} }) }

func (s *Server) set(fn func(*faults)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.f)
}

// Requests returns every raw request body received, in order.
func (s *Server) Requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.requests))
	for i, r := range s.requests {
		out[i] = bytes.Clone(r)
	}
	return out
}

// Calls is the number of requests received, failed ones included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Usage is the total of the usage reported in successful answers.
func (s *Server) Usage() (prompt, completion int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prompt, s.complete
}

// Tokens is the emulator's token estimate for a text: ceil(runes/4).
// A prompt costs Tokens(content)+4 per message, an answer Tokens(content).
func Tokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// PromptTokens is the usage.prompt_tokens the emulator reports for msgs.
func PromptTokens(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += Tokens(m.Content) + 4
	}
	return n
}

// wireRequest is the part of a chat-completion request the emulator reads.
type wireRequest struct {
	Model               string                 `json:"model"`
	Messages            []Message              `json:"messages"`
	MaxTokens           int                    `json:"max_tokens"`
	MaxCompletionTokens int                    `json:"max_completion_tokens"`
	ResponseFormat      *struct{ Type string } `json:"response_format"`
	Stream              bool                   `json:"stream"`
}

type wireMessage struct {
	Role    string  `json:"role"`
	Content *string `json:"content"`
	Refusal *string `json:"refusal,omitempty"`
}

type wireChoice struct {
	Index        int         `json:"index"`
	Message      wireMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type wireResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []wireChoice `json:"choices"`
	Usage   wireUsage    `json:"usage"`
}

// maxRequest bounds a request body; our prompts are a few KiB.
const maxRequest = 8 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	s.mu.Lock()
	s.requests = append(s.requests, body)
	s.calls++
	s.seq++
	seq := s.seq
	f := s.f
	s.mu.Unlock()

	if f.wrongURL {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n")
		return
	}
	azure := false
	model := ""
	switch {
	case r.URL.Path == "/v1/chat/completions":
	case strings.HasPrefix(r.URL.Path, "/openai/deployments/") && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		azure = true
		model = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/openai/deployments/"), "/chat/completions")
		if model == "" || strings.Contains(model, "/") {
			notFoundText(w)
			return
		}
		if r.URL.Query().Get("api-version") == "" {
			// Azure answers a missing api-version with 404 JSON.
			apiError(w, http.StatusNotFound, "404", "", "Resource not found")
			return
		}
	default:
		notFoundText(w)
		return
	}
	if r.Method != http.MethodPost {
		apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "invalid_request_error", "Use POST for chat completions.")
		return
	}
	if s.apiKey != "" {
		ok := r.Header.Get("Authorization") == "Bearer "+s.apiKey
		if azure {
			ok = r.Header.Get("api-key") == s.apiKey
		}
		if !ok {
			apiError(w, http.StatusUnauthorized, "invalid_api_key", "invalid_request_error", "Incorrect API key provided.")
			return
		}
	}

	if f.slow > 0 {
		t := time.NewTimer(f.slow)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if f.quota {
		apiError(w, http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota",
			"You exceeded your current quota, please check your plan and billing details.")
		return
	}
	if s.take(func(f *faults) *int { return &f.rateLimit }) {
		w.Header().Set("Retry-After", "0")
		apiError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "requests",
			"Rate limit reached for requests. Please try again later.")
		return
	}
	if s.take(func(f *faults) *int { return &f.serverError }) {
		apiError(w, http.StatusInternalServerError, "", "server_error", "The server had an error while processing your request.")
		return
	}

	var req wireRequest
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "", "invalid_request_error", "We could not parse the JSON body of your request.")
		return
	}
	if !azure {
		model = req.Model
	}
	if model == "" {
		apiError(w, http.StatusBadRequest, "", "invalid_request_error", "you must provide a model parameter")
		return
	}
	if s.models != nil && !s.models[model] {
		if azure {
			apiError(w, http.StatusNotFound, "DeploymentNotFound", "",
				"The API deployment for this resource does not exist.")
		} else {
			apiError(w, http.StatusNotFound, "model_not_found", "invalid_request_error",
				fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
		}
		return
	}
	if req.Stream {
		apiError(w, http.StatusBadRequest, "", "invalid_request_error", "The emulator does not stream.")
		return
	}
	if len(req.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "", "invalid_request_error", "messages must not be empty")
		return
	}
	wantJSON := req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object"
	if f.rejectRF && req.ResponseFormat != nil {
		apiErrorParam(w, http.StatusBadRequest, "", "invalid_request_error", "response_format",
			"Invalid parameter: 'response_format' is not supported by this server.")
		return
	}
	prompt := PromptTokens(req.Messages)
	if s.contextLimit > 0 && prompt > s.contextLimit {
		apiErrorParam(w, http.StatusBadRequest, "context_length_exceeded", "invalid_request_error", "messages",
			fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", s.contextLimit, prompt))
		return
	}

	resp := wireResponse{
		ID:      fmt.Sprintf("chatcmpl-emu-%d", seq),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   model,
		Choices: []wireChoice{},
	}
	switch {
	case s.take(func(f *faults) *int { return &f.empty }):
		resp.Usage = wireUsage{PromptTokens: prompt, TotalTokens: prompt}
	case s.take(func(f *faults) *int { return &f.ref }):
		empty, refusal := "", "I'm sorry, but I can't help with that request."
		resp.Choices = append(resp.Choices, wireChoice{
			Message:      wireMessage{Role: "assistant", Content: &empty, Refusal: &refusal},
			FinishReason: "stop",
		})
		resp.Usage = wireUsage{PromptTokens: prompt, CompletionTokens: Tokens(refusal), TotalTokens: prompt + Tokens(refusal)}
	default:
		call := newCall(model, req.Messages, wantJSON, f)
		content, err := s.brain(call)
		if err != nil {
			apiError(w, http.StatusInternalServerError, "", "server_error", "The model failed: "+err.Error())
			return
		}
		if s.take(func(f *faults) *int { return &f.malformed }) {
			content = malform(content)
		}
		if f.fenced {
			content = "```json\n" + content + "\n```"
		}
		finish := "stop"
		limit := req.MaxTokens
		if req.MaxCompletionTokens > 0 {
			limit = req.MaxCompletionTokens
		}
		if limit > 0 && Tokens(content) > limit {
			// Cut as a real model does when it runs out of tokens.
			content = string([]rune(content)[:limit*4])
			finish = "length"
		}
		resp.Choices = append(resp.Choices, wireChoice{
			Message:      wireMessage{Role: "assistant", Content: &content},
			FinishReason: finish,
		})
		resp.Usage = wireUsage{PromptTokens: prompt, CompletionTokens: Tokens(content), TotalTokens: prompt + Tokens(content)}
	}
	s.mu.Lock()
	s.prompt += resp.Usage.PromptTokens
	s.complete += resp.Usage.CompletionTokens
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// take consumes one of a counted fault, reporting whether it applied.
func (s *Server) take(field func(*faults) *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := field(&s.f)
	if *p <= 0 {
		return false
	}
	*p--
	return true
}

// newCall builds what the brain sees.
func newCall(model string, msgs []Message, wantJSON bool, f faults) Call {
	c := Call{Model: model, Messages: msgs, JSON: wantJSON, Echo: f.echo, TailorExtra: f.tailorExtra}
	for _, m := range msgs {
		switch m.Role {
		case "system":
			c.System = m.Content
		case "user":
			c.User = m.Content
			if d := dataBlock(m.Content); d != nil {
				c.Data = d
			}
		}
	}
	return c
}

// dataBlock is the JSON between the last <data> and the </data> after it.
func dataBlock(user string) json.RawMessage {
	i := strings.LastIndex(user, "<data>")
	if i < 0 {
		return nil
	}
	rest := user[i+len("<data>"):]
	j := strings.Index(rest, "</data>")
	if j < 0 {
		return nil
	}
	raw := bytes.TrimSpace([]byte(rest[:j]))
	if !json.Valid(raw) {
		return nil
	}
	return json.RawMessage(raw)
}

// malform turns an answer into what a chatty model produces: prose and
// JSON cut in the middle.
func malform(content string) string {
	r := []rune(content)
	return "Sure! Here is the analysis you asked for:\n" + string(r[:len(r)/2])
}

func notFoundText(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "404 page not found\n")
}

func apiError(w http.ResponseWriter, status int, code, typ, msg string) {
	apiErrorParam(w, status, code, typ, "", msg)
}

// apiErrorParam writes OpenAI's error shape; code and param are null when
// empty, as OpenAI sends them.
func apiErrorParam(w http.ResponseWriter, status int, code, typ, param, msg string) {
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode reply", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
