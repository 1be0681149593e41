package sophos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// Errors a pull can be classified by with errors.Is.
var (
	// ErrEndlessPaging: a list kept saying more pages follow (a repeated
	// page, a repeated key, or the page cap was reached). The pull is
	// abandoned rather than presented as complete.
	ErrEndlessPaging = errors.New("the list never ends")
	// ErrMalformedReply: a reply was not the JSON the API documents.
	ErrMalformedReply = errors.New("malformed reply")
	// ErrReplyTooLarge: a reply exceeded Config.MaxBodyBytes.
	ErrReplyTooLarge = errors.New("reply too large")
)

// APIError is an error reply from Sophos Central, the Sophos identity service
// or Cloud Optix. Error() is one sentence fit for a chat user; Message is
// the service's text, treated as untrusted and kept short.
type APIError struct {
	Service string // "Sophos Central", "Sophos identity service", "Cloud Optix"
	Status  int    // HTTP status
	// Code is the service's machine code: Central's "error", the identity
	// service's "errorCode".
	Code    string
	Message string
	// RequestID is the id to quote to Sophos support: requestId, else
	// correlationId, else the identity service's trackingId.
	RequestID     string
	CorrelationID string
	TrackingID    string
}

// Error implements error: one sentence naming the service, status, code,
// message and request id.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	switch {
	case e.Status == http.StatusTooManyRequests:
		b.WriteString(" is limiting requests")
	case e.Status >= 500:
		b.WriteString(" could not answer")
	default:
		b.WriteString(" refused the request")
	}
	code := e.Code
	if code == "" {
		code = strings.ToLower(http.StatusText(e.Status))
	}
	fmt.Fprintf(&b, " (HTTP %d, %s)", e.Status, code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimRight(e.Message, ". "))
	}
	b.WriteString(".")
	if e.RequestID != "" {
		b.WriteString(" Request id ")
		b.WriteString(e.RequestID)
		b.WriteString(".")
	}
	return b.String()
}

// Temporary reports whether retrying later may help.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// errorBody is the union of the error shapes: Central ({error, message,
// requestId, correlationId}), identity ({errorCode, message, trackingId})
// and Optix (assumed to be Central-like).
type errorBody struct {
	Error         json.RawMessage `json:"error"`
	ErrorCode     string          `json:"errorCode"`
	Message       string          `json:"message"`
	RequestID     string          `json:"requestId"`
	CorrelationID string          `json:"correlationId"`
	TrackingID    string          `json:"trackingId"`
}

// parseAPIError builds an APIError from a reply; a body that is not JSON
// still gives a readable error.
func parseAPIError(service string, status int, hdr http.Header, body []byte) *APIError {
	e := &APIError{Service: service, Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code = cleanText(scalarText(eb.Error), 60)
		if e.Code == "" {
			e.Code = cleanText(eb.ErrorCode, 60)
		}
		e.Message = cleanText(eb.Message, 200)
		e.RequestID = cleanText(eb.RequestID, 80)
		e.CorrelationID = cleanText(eb.CorrelationID, 80)
		e.TrackingID = cleanText(eb.TrackingID, 80)
	}
	if e.RequestID == "" {
		e.RequestID = cleanText(hdr.Get("X-Request-Id"), 80)
	}
	if e.RequestID == "" {
		e.RequestID = e.CorrelationID
	}
	if e.RequestID == "" {
		e.RequestID = e.TrackingID
	}
	return e
}

// cleanText makes service text safe to put in one line: control characters
// and runs of space become one space, and it is cut to max runes.
func cleanText(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// UserMessage is a one-sentence, chat-safe description of a pull error:
// the APIError sentence when there is one, else a sentence for the kind of
// failure. Details stay in the log.
func UserMessage(err error) string {
	var ae *APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "Sophos did not answer in time, so the pull was stopped."
	case errors.Is(err, context.Canceled):
		return "The Sophos pull was cancelled."
	case errors.Is(err, ErrEndlessPaging):
		return "Sophos kept sending more pages than any estate has, so the pull was stopped as incomplete."
	case errors.Is(err, ErrMalformedReply):
		return "Sophos sent a reply that could not be read, so the pull was stopped as incomplete."
	case errors.Is(err, ErrReplyTooLarge):
		return "Sophos sent a reply larger than allowed, so the pull was stopped as incomplete."
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A network failure: say where and what, without the request's
		// query string (it may carry paging keys).
		host := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		var dns *net.DNSError
		var op *net.OpError
		switch {
		case errors.As(err, &dns):
			return fmt.Sprintf("Sophos could not be reached: the name %s does not resolve.", cleanText(dns.Name, 100))
		case errors.As(err, &op) && op.Op == "dial":
			return fmt.Sprintf("Sophos could not be reached at %s (%s).", cleanText(host, 100), cleanText(op.Err.Error(), 100))
		case ue.Timeout():
			return fmt.Sprintf("Sophos at %s did not answer in time, so the pull was stopped.", cleanText(host, 100))
		}
		return fmt.Sprintf("Sophos could not be reached at %s.", cleanText(host, 100))
	}
	return "The Sophos pull failed; the bot log has the details."
}
