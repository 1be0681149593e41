package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// errReplyTooLarge: a reply body exceeded maxBody.
var errReplyTooLarge = errors.New("reply body over 4 MiB")

// replyMeta is what the last HTTP attempt saw. go-openai hides the status
// line, headers and raw body of an error reply, and we need them to honour
// Retry-After and to tell a wrong URL (HTML) from an API error.
type replyMeta struct {
	target      string // host and path that was called, no query
	status      int
	contentType string
	header      http.Header
	body        []byte
}

// recorder is the go-openai HTTPDoer: it reads each reply body (capped)
// before the library sees it and remembers the attempt's metadata. One
// recorder serves one Complete call, whose attempts are sequential.
type recorder struct {
	hc   *http.Client
	last replyMeta
}

// Do implements openai.HTTPDoer.
func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.last = replyMeta{target: req.URL.Host + req.URL.Path}
	res, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read reply body: %w", err)
	}
	r.last.status = res.StatusCode
	r.last.contentType = res.Header.Get("Content-Type")
	r.last.header = res.Header
	if len(body) > maxBody {
		return nil, errReplyTooLarge
	}
	r.last.body = body
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	return res, nil
}

// retryAfter reads the server's wait: retry-after-ms (Azure, OpenAI) or
// Retry-After in seconds or as an HTTP date, capped at maxRetryAfter.
func retryAfter(h http.Header) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || ms < 0 || ms != ms {
			return 0, false
		}
		d = time.Duration(min(ms, float64(maxRetryAfter/time.Millisecond))) * time.Millisecond
	} else if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			if s < 0 || s != s {
				return 0, false
			}
			d = time.Duration(min(s, maxRetryAfter.Seconds()) * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = max(time.Until(t), 0)
		} else {
			return 0, false
		}
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// ctxError is the error for a call whose context ended.
func ctxError(ctx context.Context) *Error {
	msg := "the deadline passed"
	if errors.Is(ctx.Err(), context.Canceled) {
		msg = "the call was cancelled"
	}
	return &Error{Kind: KindTimeout, Msg: msg, Err: ctx.Err()}
}

// apiFields is the error a server described, from the OpenAI error shape or
// a looser one.
type apiFields struct {
	code, typ, param, msg string
}

// classify turns a failed CreateChatCompletion into an *Error. The second
// result reports that the server rejected response_format.
func (c *Client) classify(ctx context.Context, err error, meta replyMeta) (*Error, bool) {
	if ctx.Err() != nil {
		return ctxError(ctx), false
	}
	if errors.Is(err, errReplyTooLarge) {
		return &Error{Kind: KindEndpoint, Status: meta.status, Msg: "reply over 4 MiB from " + meta.target, Err: errReplyTooLarge}, false
	}
	if meta.status == 0 {
		if meta.target == "" {
			// The library refused before sending (an unsupported model
			// or parameter combination).
			return &Error{Kind: KindBadRequest, Msg: oneLine(err.Error(), c.cfg.APIKey), Err: err}, false
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return &Error{Kind: KindTimeout, Msg: fmt.Sprintf("no answer from %s within %s", meta.target, c.cfg.HTTPTimeout), Err: err}, false
		}
		return &Error{Kind: KindNetwork, Msg: "cannot reach " + meta.target, Err: err}, false
	}

	st := meta.status
	isJSON := looksJSON(meta.contentType, meta.body)
	f, cause := c.fields(err, meta.body)
	e := &Error{Status: st, Code: f.code, Err: cause}
	if e.Code == "" {
		e.Code = f.typ
	}
	e.Msg = oneLine(f.msg, c.cfg.APIKey)
	low := strings.ToLower(f.code + " " + f.typ + " " + f.msg)
	notAPI := func() *Error {
		e.Kind = KindEndpoint
		e.Code = ""
		e.Msg = fmt.Sprintf("HTTP %d %s from %s", st, mediaType(meta.contentType), meta.target)
		return e
	}
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		e.Kind = KindAuth
	case st == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		if strings.Contains(low, "insufficient_quota") || strings.Contains(low, "exceeded your current quota") {
			e.Kind = KindQuota
		}
	case st >= 500:
		// A proxy's HTML 502/503 is still a server that may recover.
		e.Kind = KindServer
		if !isJSON {
			e.Msg = fmt.Sprintf("HTTP %d %s from %s", st, mediaType(meta.contentType), meta.target)
		}
	case !isJSON:
		return notAPI(), false
	case st >= 200 && st < 300:
		// JSON that the library could not decode as a chat completion:
		// something else lives at this URL.
		return notAPI(), false
	case st == http.StatusNotFound:
		if strings.Contains(low, "model_not_found") || strings.Contains(low, "deploymentnotfound") ||
			((strings.Contains(low, "model") || strings.Contains(low, "deployment")) &&
				(strings.Contains(low, "not found") || strings.Contains(low, "does not exist") || strings.Contains(low, "not exist"))) {
			e.Kind = KindModel
		} else {
			return notAPI(), false
		}
	case st == http.StatusRequestEntityTooLarge ||
		strings.Contains(low, "context_length_exceeded") || strings.Contains(low, "maximum context length") ||
		strings.Contains(low, "context window") || strings.Contains(low, "context length"):
		e.Kind = KindContextLength
	case strings.Contains(low, "content_filter") || strings.Contains(low, "responsibleaipolicyviolation"):
		e.Kind = KindRefused
	case st == http.StatusRequestTimeout:
		e.Kind = KindTimeout
	default:
		e.Kind = KindBadRequest
	}
	rf := e.Kind == KindBadRequest &&
		(strings.Contains(low, "response_format") || f.param == "response_format")
	return e, rf
}

// fields extracts the server's error description: go-openai's *APIError
// for the OpenAI shape, else a loose reading of {"error": "..."},
// {"message": "..."} or {"detail": "..."}. The returned cause has the key
// removed from its text.
func (c *Client) fields(err error, body []byte) (apiFields, error) {
	var f apiFields
	var ae *openai.APIError
	// A body whose "error" is not an object still yields an empty
	// *APIError from the library; read those loosely below.
	if errors.As(err, &ae) && (ae.Message != "" || ae.Type != "" || ae.Code != nil || ae.InnerError != nil) {
		f.msg = ae.Message
		f.typ = ae.Type
		switch v := ae.Code.(type) {
		case string:
			f.code = v
		case int:
			f.code = strconv.Itoa(v)
		case float64:
			f.code = strconv.FormatFloat(v, 'f', -1, 64)
		}
		if ae.Param != nil {
			f.param = *ae.Param
		}
		if f.code == "" && ae.InnerError != nil {
			f.code = ae.InnerError.Code
		}
		redacted := *ae
		redacted.Message = oneLine(ae.Message, c.cfg.APIKey)
		return f, &redacted
	}
	var loose map[string]any
	if json.Unmarshal(body, &loose) == nil {
		for _, k := range []string{"error", "message", "detail"} {
			if s, ok := loose[k].(string); ok {
				f.msg = s
				break
			}
		}
	}
	return f, nil
}

// looksJSON reports whether a reply is JSON: by its content type, or (for
// servers that label JSON as text/plain) by its first byte.
func looksJSON(contentType string, body []byte) bool {
	mt := mediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

// mediaType is the content type without parameters, for messages.
func mediaType(ct string) string {
	if ct == "" {
		return "without content type"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "with an unreadable content type"
	}
	return mt
}
