// Package advisor is where optix-bot asks an LLM to sharpen its answers: a
// business-aware order and an impact sentence for /optix top-risks, and a
// script tailored to the team's conventions for /optix fix. The rules stay
// in charge. The model sees only redacted identifiers and optix-bot's own
// vocabulary, its order is applied within the rules' bounds, its scripts
// must match the vetted template outside the slots and pass the linter, and
// any failure (no LLM, slow, down, wrong) falls back to the rules' answer
// with one phrase saying so. Every call is an audit entry.
package advisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/redact"
	"github.com/optix-bot/optix-bot/prompts"
	"github.com/optix-bot/optix-bot/store"
)

// completer is the LLM client (llm.Client).
type completer interface {
	Complete(ctx context.Context, req llm.Request) (llm.Response, error)
	Provider() string
	Model() string
}

// answerCache keeps answers so the same question twice costs one call
// (store.Store).
type answerCache interface {
	LLMCache(ctx context.Context, key string, maxAge time.Duration, now time.Time) ([]byte, bool, error)
	PutLLMCache(ctx context.Context, key string, value []byte, now time.Time, keep time.Duration) error
}

// auditor records each call (store.Store).
type auditor interface {
	Append(ctx context.Context, r store.AuditRecord) (store.AuditEntry, error)
}

// Config configures an Advisor. Only Prompts is required; without LLM the
// Advisor answers "rules only" at once.
type Config struct {
	LLM     completer
	Prompts *prompts.Library
	Cache   answerCache // nil: no cache
	Audit   auditor     // nil: calls are logged only
	// TopK is how many top groups the model sees (default 20).
	TopK int
	// TokenBudget caps the estimated prompt tokens of one request (default
	// 8000); groups are dropped from the bottom until the prompt fits.
	TokenBudget int
	// MaxAnswerTokens caps the answer; 0 sizes it to the request (about 100
	// tokens per group sent, which a one-sentence impact, a next action and
	// a label need, and 2000 for a script).
	MaxAnswerTokens int
	// Timeout is the deadline for all of one command's LLM work, retries
	// and the repair attempt included (default 25 s). Slack has already had
	// its acknowledgement by then; the reply follows through response_url.
	Timeout time.Duration
	// SendRaw sends identifiers unredacted (OPTIX_BOT_LLM_SEND_RAW=1).
	SendRaw bool
	// CacheTTL is how long a cached answer is reused (default 24 h).
	CacheTTL time.Duration
	Now      func() time.Time
	Log      *slog.Logger
}

// Advisor asks the LLM and keeps it within bounds.
type Advisor struct {
	cfg Config
}

// New builds an Advisor.
func New(cfg Config) (*Advisor, error) {
	if cfg.Prompts == nil {
		return nil, errors.New("advisor: no prompt library")
	}
	for _, name := range []string{"top-risks", "tailor-script", "repair"} {
		if cfg.Prompts.Version(name) == "" {
			return nil, fmt.Errorf("advisor: prompt %q is missing", name)
		}
	}
	if cfg.TopK <= 0 {
		cfg.TopK = 20
	}
	if cfg.TokenBudget <= 0 {
		cfg.TokenBudget = 8000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 25 * time.Second
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Advisor{cfg: cfg}, nil
}

// Enabled reports whether an LLM is configured.
func (a *Advisor) Enabled() bool { return a != nil && a.cfg.LLM != nil }

// Outcome is what became of an LLM call or of a command's LLM work.
type Outcome string

// Outcomes, as recorded in audit entries.
const (
	OutcomeOff      Outcome = "off"      // no LLM configured, nothing sent
	OutcomeUsed     Outcome = "used"     // the answer was used as given (within bounds)
	OutcomeRepaired Outcome = "repaired" // the answer was used after one repair attempt
	OutcomeRejected Outcome = "rejected" // the answer was invalid or failed a check
	OutcomeFallback Outcome = "fallback" // the rules' answer stands
)

// call is one request and what came of it, for the audit entry.
type call struct {
	subject string
	prompt  string // name@version
	msgs    []llm.Message
	resp    llm.Response
	err     error
	outcome Outcome
	reason  string
	cached  bool
	extra   map[string]string
}

// sentHash is the SHA-256 of exactly what was sent (after redaction), so
// an auditor can match an entry to a request without the store keeping the
// request itself.
func sentHash(msgs []llm.Message) string {
	h := sha256.New()
	for _, m := range msgs {
		h.Write([]byte(m.Role))
		h.Write([]byte{0})
		h.Write([]byte(m.Content))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (a *Advisor) cacheKey(prompt string, msgs []llm.Message) string {
	h := sha256.New()
	for _, s := range []string{a.cfg.LLM.Provider(), a.cfg.LLM.Model(), prompt, sentHash(msgs)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "v1:" + hex.EncodeToString(h.Sum(nil))
}

// cachedAnswer is what the cache keeps: the accepted answer text, which is
// parsed again on a hit (parsing is deterministic, so a hit gives the same
// result as the call did).
type cachedAnswer struct {
	Text    string `json:"text"`
	Model   string `json:"model"`
	Outcome string `json:"outcome"`
}

func (a *Advisor) lookup(ctx context.Context, key string) (cachedAnswer, bool) {
	if a.cfg.Cache == nil {
		return cachedAnswer{}, false
	}
	b, ok, err := a.cfg.Cache.LLMCache(ctx, key, a.cfg.CacheTTL, a.cfg.Now())
	if err != nil {
		a.cfg.Log.Warn("read LLM cache", "err", err)
		return cachedAnswer{}, false
	}
	var c cachedAnswer
	if !ok || json.Unmarshal(b, &c) != nil || c.Text == "" {
		return cachedAnswer{}, false
	}
	return c, true
}

func (a *Advisor) remember(ctx context.Context, key string, c cachedAnswer) {
	if a.cfg.Cache == nil {
		return
	}
	b, err := json.Marshal(c)
	if err == nil {
		err = a.cfg.Cache.PutLLMCache(ctx, key, b, a.cfg.Now(), 7*a.cfg.CacheTTL)
	}
	if err != nil {
		a.cfg.Log.Warn("write LLM cache", "err", err)
	}
}

// audit records one call. Entries are written under a context of their
// own: a command whose deadline passed must still leave its trace.
func (a *Advisor) audit(ctx context.Context, actor string, c call, red *redact.Redactor) {
	d := map[string]string{
		"prompt":      c.prompt,
		"sent_sha256": sentHash(c.msgs),
		"provider":    a.cfg.LLM.Provider(),
		"model":       a.cfg.LLM.Model(),
		"tokens_in":   strconv.Itoa(c.resp.PromptTokens),
		"tokens_out":  strconv.Itoa(c.resp.CompletionTokens),
		"latency_ms":  strconv.FormatInt(c.resp.Latency.Milliseconds(), 10),
		"outcome":     string(c.outcome),
		"cache":       "miss",
		"raw":         strconv.FormatBool(red == nil),
	}
	if c.cached {
		d["cache"] = "hit"
	}
	if c.resp.Model != "" {
		d["model_reported"] = modelName(c.resp.Model)
	}
	if c.reason != "" {
		d["reason"] = clip(c.reason, 300)
	}
	if c.err != nil {
		d["error_kind"] = string(llm.KindOf(c.err))
	}
	if red != nil {
		d["redacted"] = redactedCounts(red)
	}
	for k, v := range c.extra {
		d[k] = v
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	a.cfg.Log.Info("llm call", "prompt", c.prompt, "outcome", c.outcome, "cache", d["cache"],
		"tokens_in", c.resp.PromptTokens, "tokens_out", c.resp.CompletionTokens, "latency", c.resp.Latency, "reason", c.reason)
	if a.cfg.Audit == nil {
		return
	}
	if _, err := a.cfg.Audit.Append(actx, store.AuditRecord{Actor: actor, Action: "llm.call", Subject: c.subject, Details: d}); err != nil {
		a.cfg.Log.Error("audit LLM call", "err", err)
	}
}

func redactedCounts(r *redact.Redactor) string {
	counts := r.Counts()
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[redact.Kind(k)]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// answer is an accepted answer of an exchange.
type answer struct {
	text    string
	outcome Outcome // used or repaired
	cached  bool
}

// exchange sends one prompt, with the cache in front and one repair
// attempt behind: parse is the answer's contract. It returns the accepted
// answer, or the error that ends the attempt. Each request made, and each
// cache hit, is audited.
func (a *Advisor) exchange(ctx context.Context, actor, subject string, p prompts.Prompt, red *redact.Redactor,
	parse func(string) error, maxTokens int, extra map[string]string) (answer, error) {
	if a.cfg.MaxAnswerTokens > 0 {
		maxTokens = a.cfg.MaxAnswerTokens
	}
	msgs := []llm.Message{{Role: "system", Content: p.System}, {Role: "user", Content: p.User}}
	key := a.cacheKey(p.ID(), msgs)
	if c, ok := a.lookup(ctx, key); ok && parse(c.Text) == nil {
		a.audit(ctx, actor, call{subject: subject, prompt: p.ID(), msgs: msgs, outcome: Outcome(c.Outcome), cached: true,
			resp: llm.Response{Model: c.Model}, extra: extra}, red)
		return answer{text: c.Text, outcome: Outcome(c.Outcome), cached: true}, nil
	}
	resp, err := a.cfg.LLM.Complete(ctx, llm.Request{Messages: msgs, MaxTokens: maxTokens, JSON: true})
	if err != nil {
		a.audit(ctx, actor, call{subject: subject, prompt: p.ID(), msgs: msgs, resp: resp, err: err, outcome: OutcomeFallback,
			reason: llm.UserMessage(err), extra: extra}, red)
		return answer{}, err
	}
	perr := parse(resp.Text)
	if perr == nil {
		a.audit(ctx, actor, call{subject: subject, prompt: p.ID(), msgs: msgs, resp: resp, outcome: OutcomeUsed, extra: extra}, red)
		a.remember(ctx, key, cachedAnswer{Text: resp.Text, Model: resp.Model, Outcome: string(OutcomeUsed)})
		return answer{text: resp.Text, outcome: OutcomeUsed}, nil
	}
	a.audit(ctx, actor, call{subject: subject, prompt: p.ID(), msgs: msgs, resp: resp, outcome: OutcomeRejected, reason: perr.Error(), extra: extra}, red)

	// One repair attempt: the model sees its own answer (which holds only
	// placeholders, as it never saw more) and what was wrong with it, in
	// our words.
	// The problem is our text, but it can quote a value the check saw
	// after identifiers were restored, so it is redacted like the rest.
	problem := perr.Error()
	if red != nil {
		problem = red.String(problem)
	}
	fix, err := a.cfg.Prompts.Render("repair", map[string]any{"Problem": clip(problem, 300)}, nil)
	if err != nil {
		return answer{}, fmt.Errorf("render repair prompt: %w", err)
	}
	prev := resp.Text
	if len(prev) > 32<<10 {
		prev = prev[:32<<10]
	}
	rmsgs := append(append([]llm.Message(nil), msgs...),
		llm.Message{Role: "assistant", Content: strings.ToValidUTF8(prev, "\uFFFD")}, llm.Message{Role: "user", Content: fix.User})
	resp2, err := a.cfg.LLM.Complete(ctx, llm.Request{Messages: rmsgs, MaxTokens: maxTokens, JSON: true})
	if err != nil {
		a.audit(ctx, actor, call{subject: subject, prompt: p.ID() + "+" + fix.ID(), msgs: rmsgs, resp: resp2, err: err,
			outcome: OutcomeFallback, reason: llm.UserMessage(err), extra: extra}, red)
		return answer{}, err
	}
	if perr := parse(resp2.Text); perr != nil {
		a.audit(ctx, actor, call{subject: subject, prompt: p.ID() + "+" + fix.ID(), msgs: rmsgs, resp: resp2,
			outcome: OutcomeFallback, reason: perr.Error(), extra: extra}, red)
		return answer{}, fmt.Errorf("%w: %w", errInvalidTwice, perr)
	}
	a.audit(ctx, actor, call{subject: subject, prompt: p.ID() + "+" + fix.ID(), msgs: rmsgs, resp: resp2, outcome: OutcomeRepaired, extra: extra}, red)
	a.remember(ctx, key, cachedAnswer{Text: resp2.Text, Model: resp2.Model, Outcome: string(OutcomeRepaired)})
	return answer{text: resp2.Text, outcome: OutcomeRepaired}, nil
}

// errInvalidTwice ends an exchange whose answer was still invalid after
// the repair attempt.
var errInvalidTwice = errors.New("the LLM answer was unusable twice")

// reasonOf is the phrase a footer or audit entry gives for a failed
// exchange.
func reasonOf(err error) string {
	if errors.Is(err, errInvalidTwice) {
		return "the LLM answer was invalid twice"
	}
	if llm.KindOf(err) != "" {
		return llm.UserMessage(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the LLM did not answer in time"
	}
	return "the LLM request failed"
}

// estimateTokens is a deliberately rough count (a token is about four
// characters of English or JSON); it only decides how many groups fit the
// budget, and the server's own count is what gets recorded.
func estimateTokens(msgs ...string) int {
	n := 0
	for _, m := range msgs {
		n += (utf8.RuneCountInString(m)+3)/4 + 4
	}
	return n
}

func clip(s string, n int) string { return prompts.Clean(s, n) }

// TopK is how many groups Rank sends to the model, 0 without an LLM.
func (a *Advisor) TopK() int {
	if !a.Enabled() {
		return 0
	}
	return a.cfg.TopK
}
