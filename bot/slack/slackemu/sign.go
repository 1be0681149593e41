package slackemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Sign computes Slack's v0 request signature: "v0=" and the hex
// HMAC-SHA256, keyed by the signing secret, of "v0:{timestamp}:{body}".
func Sign(secret string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts.Unix())
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// SignedRequest builds a POST as Slack sends it to an HTTP-mode app:
// the body signed with secret at time ts.
func SignedRequest(ctx context.Context, target, secret string, ts time.Time, contentType string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build signed request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
	return req, nil
}

// FormContentType is how Slack posts slash commands and interactions.
const FormContentType = "application/x-www-form-urlencoded"

var triggerSeq atomic.Int64

// NewTriggerID returns a fresh trigger id, unique in this process.
func NewTriggerID() string { return "trig-" + strconv.FormatInt(triggerSeq.Add(1), 10) }

// Command is a slash command invocation.
type Command struct {
	Command     string // default "/optix"
	Text        string
	UserID      string
	UserName    string
	ChannelID   string
	TriggerID   string // default a fresh one
	ResponseURL string
}

func (c Command) fields() map[string]string {
	if c.Command == "" {
		c.Command = "/optix"
	}
	if c.TriggerID == "" {
		c.TriggerID = NewTriggerID()
	}
	return map[string]string{
		"token": "verification-token-unused", "team_id": TeamID, "team_domain": "emu",
		"channel_id": c.ChannelID, "channel_name": "emu-channel", "user_id": c.UserID, "user_name": c.UserName,
		"command": c.Command, "text": c.Text, "response_url": c.ResponseURL, "trigger_id": c.TriggerID,
		"api_app_id": AppID,
	}
}

// Form is the command as an HTTP-mode form body.
func (c Command) Form() url.Values {
	v := url.Values{}
	for k, x := range c.fields() {
		v.Set(k, x)
	}
	return v
}

// Payload is the command as a Socket Mode slash_commands payload.
func (c Command) Payload() map[string]string { return c.fields() }

// Click is a button press on a message.
type Click struct {
	UserID, UserName string
	ChannelID        string
	MessageTS        string
	Ephemeral        bool
	ActionID, Value  string
	TriggerID        string // default a fresh one
	ResponseURL      string
}

// Payload is the click as a block_actions interaction payload.
func (c Click) Payload() map[string]any {
	if c.TriggerID == "" {
		c.TriggerID = NewTriggerID()
	}
	return map[string]any{
		"type": "block_actions", "trigger_id": c.TriggerID, "response_url": c.ResponseURL, "api_app_id": AppID,
		"team":    map[string]any{"id": TeamID, "domain": "emu"},
		"user":    map[string]any{"id": c.UserID, "username": c.UserName, "name": c.UserName, "team_id": TeamID},
		"channel": map[string]any{"id": c.ChannelID, "name": "emu-channel"},
		"container": map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": c.ChannelID,
			"is_ephemeral": c.Ephemeral},
		"message": map[string]any{"type": "message", "ts": c.MessageTS, "text": "original"},
		"actions": []map[string]any{{"type": "button", "action_id": c.ActionID, "block_id": "optix_actions_0",
			"value": c.Value, "action_ts": "1700000000.000001", "text": map[string]any{"type": "plain_text", "text": c.ActionID}}},
	}
}

// Submission is a modal's submit: the values typed, by block id and
// action id.
type Submission struct {
	UserID, UserName string
	View             View
	Values           map[string]map[string]string
}

// Payload is the submission as a view_submission interaction payload,
// carrying the callback id and private metadata of the opened view.
func (s Submission) Payload() map[string]any {
	values := map[string]any{}
	for b, acts := range s.Values {
		m := map[string]any{}
		for a, v := range acts {
			m[a] = map[string]any{"type": "plain_text_input", "value": v}
		}
		values[b] = m
	}
	return map[string]any{
		"type": "view_submission", "trigger_id": NewTriggerID(), "api_app_id": AppID,
		"team": map[string]any{"id": TeamID, "domain": "emu"},
		"user": map[string]any{"id": s.UserID, "username": s.UserName, "name": s.UserName, "team_id": TeamID},
		"view": map[string]any{"id": s.View.ID, "type": "modal", "callback_id": s.View.CallbackID,
			"private_metadata": s.View.PrivateMetadata, "state": map[string]any{"values": values}},
	}
}

// InteractionForm wraps an interaction payload as Slack posts it in HTTP
// mode: a form with one "payload" field holding the JSON.
func InteractionForm(payload any) (url.Values, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode interaction payload: %w", err)
	}
	return url.Values{"payload": {string(b)}}, nil
}
