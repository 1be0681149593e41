package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// MaxBodyBytes caps an HTTP-mode request body. Slack's payloads are a few
// kilobytes; anything larger is not from Slack.
const MaxBodyBytes = 64 << 10

// maxClockSkew is how far a request timestamp may be from our clock;
// Slack recommends five minutes to defeat replays.
const maxClockSkew = 5 * time.Minute

// HTTPHandler serves HTTP mode: /slack/commands, /slack/interactions and
// /slack/events. Every request must carry a valid v0 signature.
func (a *Adapter) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", a.verified(a.serveCommand))
	mux.Handle("POST /slack/interactions", a.verified(a.serveInteraction))
	mux.Handle("POST /slack/events", a.verified(a.serveEvent))
	return mux
}

type verifiedHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// verified reads the capped raw body and checks Slack's signature over
// exactly those bytes before anything parses them.
func (a *Adapter) verified(next verifiedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		if err := a.verify(r.Header, body); err != nil {
			a.log.Warn("rejected an unsigned or forged request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		next(w, r, body)
	})
}

// verify checks the v0 signature: "v0=" + hex(HMAC-SHA256(secret,
// "v0:{timestamp}:{body}")), and that the timestamp is recent.
func (a *Adapter) verify(h http.Header, body []byte) error {
	if a.cfg.SigningSecret == "" {
		return errors.New("no signing secret configured")
	}
	tsText := h.Get("X-Slack-Request-Timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errors.New("missing or malformed timestamp")
	}
	if d := a.cfg.Now().Sub(time.Unix(ts, 0)); d > maxClockSkew || d < -maxClockSkew {
		return errors.New("stale timestamp")
	}
	sig, ok := strings.CutPrefix(h.Get("X-Slack-Signature"), "v0=")
	if !ok {
		return errors.New("missing signature")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("malformed signature")
	}
	m := hmac.New(sha256.New, []byte(a.cfg.SigningSecret))
	m.Write([]byte("v0:" + tsText + ":"))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errors.New("signature mismatch")
	}
	return nil
}

// ack answers Slack at once: an empty 200, or the JSON payload.
func ack(w http.ResponseWriter, payload any) {
	if payload == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(payload)
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request, body []byte) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	cmd := slack.SlashCommand{
		TeamID: v.Get("team_id"), ChannelID: v.Get("channel_id"), ChannelName: v.Get("channel_name"),
		UserID: v.Get("user_id"), UserName: v.Get("user_name"), Command: v.Get("command"), Text: v.Get("text"),
		ResponseURL: v.Get("response_url"), TriggerID: v.Get("trigger_id"), APIAppID: v.Get("api_app_id"),
	}
	if cmd.UserID == "" {
		http.Error(w, "no user_id", http.StatusBadRequest)
		return
	}
	ack(w, a.onCommand(cmd, ""))
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request, body []byte) {
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("payload") == "" {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(v.Get("payload")), &cb); err != nil {
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	ack(w, a.onInteraction(cb, ""))
}

func (a *Adapter) serveEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	switch ev.Type {
	case slackevents.URLVerification:
		var ch slackevents.ChallengeResponse
		if err := json.Unmarshal(body, &ch); err != nil {
			http.Error(w, "malformed challenge", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, ch.Challenge)
	default:
		// No event subscriptions drive work yet; Slack only needs a fast
		// 200 so that it does not retry.
		var env struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(body, &env)
		if !a.seen.firstTime(deliveryTTL, prefixed("event:", env.EventID)) {
			a.log.Debug("duplicate event delivery", "event_id", env.EventID, "retry", r.Header.Get("X-Slack-Retry-Num"))
		}
		w.WriteHeader(http.StatusOK)
	}
}
