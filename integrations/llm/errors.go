package llm

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind classifies a failed LLM call so callers can decide with errors.As or
// KindOf, never by matching error text.
type Kind string

// The kinds of failure. Only KindRateLimited, KindServer, KindTimeout (of
// one attempt) and KindNetwork are retried by Complete.
const (
	// KindRateLimited: HTTP 429 that is not quota; retry later.
	KindRateLimited Kind = "rate_limited"
	// KindQuota: HTTP 429 insufficient_quota; retrying cannot help.
	KindQuota Kind = "quota"
	// KindAuth: HTTP 401/403, a missing or wrong API key.
	KindAuth Kind = "auth"
	// KindContextLength: the prompt is over the model's context window; the
	// caller sends less and tries once more.
	KindContextLength Kind = "context_length"
	// KindEndpoint: the base URL does not lead to a chat-completions API
	// (a non-JSON answer, an unknown path).
	KindEndpoint Kind = "endpoint"
	// KindModel: the model (or Azure deployment) does not exist there.
	KindModel Kind = "model"
	// KindServer: HTTP 5xx.
	KindServer Kind = "server"
	// KindTimeout: the caller's deadline passed or an attempt took longer
	// than Config.HTTPTimeout.
	KindTimeout Kind = "timeout"
	// KindNetwork: the server could not be reached.
	KindNetwork Kind = "network"
	// KindEmpty: the answer held no choice or an empty message.
	KindEmpty Kind = "empty"
	// KindRefused: the model refused or a content filter withheld the answer.
	KindRefused Kind = "refused"
	// KindBadRequest: any other 4xx; a bug on our side or an unsupported
	// parameter.
	KindBadRequest Kind = "bad_request"
)

// maxMsg caps Error.Msg: server text is untrusted and can be long.
const maxMsg = 200

// Error is a failed LLM call. Msg is one line of at most about 200
// characters and never holds the API key; Err is the underlying cause
// (context.DeadlineExceeded, a transport error, or a redacted
// *openai.APIError).
type Error struct {
	Kind   Kind
	Status int    // HTTP status, 0 if no answer arrived
	Code   string // the server's error code or type, e.g. "insufficient_quota"
	Msg    string
	Err    error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("llm ")
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// retryable reports whether another attempt may succeed.
func (e *Error) retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindTimeout, KindNetwork:
		return true
	}
	return false
}

// KindOf returns the Kind of the *Error in err's chain, or "" if there is
// none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// UserMessage is a short phrase for a reply footer, safe to show in chat:
// it names what went wrong without the key, the prompt or server prose
// (except the endpoint detail, which is built from our own URL).
func UserMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "the LLM call failed"
	}
	switch e.Kind {
	case KindRateLimited:
		return "the LLM is rate limiting requests"
	case KindQuota:
		return "the LLM quota is exhausted"
	case KindAuth:
		return "the LLM rejected the API key"
	case KindContextLength:
		return "the request was too long for the LLM"
	case KindEndpoint:
		// A success status with an unreadable body is a server speaking
		// something else (or too much), not a wrong path.
		if e.Status >= 200 && e.Status < 300 || errors.Is(e.Err, errReplyTooLarge) {
			if e.Msg == "" {
				return "the LLM answer was not a chat completion"
			}
			return "the LLM answer was not a chat completion (" + e.Msg + ")"
		}
		if e.Msg == "" {
			return "the LLM endpoint URL looks wrong"
		}
		return "the LLM endpoint URL looks wrong (" + e.Msg + ")"
	case KindModel:
		return "the LLM model or deployment was not found"
	case KindServer:
		if e.Status != 0 {
			return fmt.Sprintf("the LLM server failed (HTTP %d)", e.Status)
		}
		return "the LLM server failed"
	case KindTimeout:
		return "the LLM did not answer in time"
	case KindNetwork:
		return "the LLM could not be reached"
	case KindEmpty:
		return "the LLM returned no answer"
	case KindRefused:
		return "the LLM refused the request"
	case KindBadRequest:
		if e.Status != 0 {
			return fmt.Sprintf("the LLM rejected the request (HTTP %d)", e.Status)
		}
		return "the LLM rejected the request"
	}
	return "the LLM call failed"
}

// oneLine makes untrusted server text fit for Error.Msg and logs: the key
// removed, control characters and newlines folded into spaces, capped.
func oneLine(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= maxMsg {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
