package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/optix-bot/optix-bot/bot"
)

// responseURLUses is how many times Slack accepts one response_url.
const responseURLUses = 5

// deliver renders a reply and posts it: a Replace reply updates the
// clicked message; the rest goes through the response_url while it has
// uses left, then chat.postMessage (or chat.postEphemeral); a long
// script follows as a file. Everything for one channel is serialized.
func (a *Adapter) deliver(ctx context.Context, t target, rep bot.Reply) {
	r := Render(rep)
	unlock := a.locks.lock(t.channel)
	defer unlock()

	uses := 0
	msgs := r.Messages
	if rep.Replace && t.messageTS != "" && len(msgs) > 0 {
		var err error
		if t.ephemeralSource && t.responseURL != "" {
			uses++
			err = a.postResponse(ctx, t.responseURL, responsePayload{ResponseType: "ephemeral", ReplaceOriginal: true, Text: msgs[0].Text, Blocks: msgs[0].Blocks})
		} else {
			err = a.retry(ctx, "chat.update", func(ctx context.Context) error {
				_, _, _, err := a.api.UpdateMessageContext(ctx, t.channel, t.messageTS, slack.MsgOptionText(msgs[0].Text, false), slack.MsgOptionBlocks(msgs[0].Blocks...))
				return err
			})
		}
		if err != nil {
			a.log.Error("update the clicked message; posting the reply instead", "channel", t.channel, "err", err)
		} else {
			msgs = msgs[1:]
		}
	}
	for i, m := range msgs {
		var err error
		switch {
		case t.responseURL != "" && uses < responseURLUses:
			uses++
			typ := "in_channel"
			if r.Ephemeral {
				typ = "ephemeral"
			}
			err = a.postResponse(ctx, t.responseURL, responsePayload{ResponseType: typ, Text: m.Text, Blocks: m.Blocks})
		case r.Ephemeral:
			err = a.retry(ctx, "chat.postEphemeral", func(ctx context.Context) error {
				_, err := a.api.PostEphemeralContext(ctx, t.channel, t.user, slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...))
				return err
			})
		default:
			err = a.retry(ctx, "chat.postMessage", func(ctx context.Context) error {
				_, _, err := a.api.PostMessageContext(ctx, t.channel, slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...))
				return err
			})
		}
		if err != nil {
			// Later parts would read as the whole answer without this one.
			a.log.Error("post reply", "channel", t.channel, "part", i+1, "of", len(msgs), "err", err)
			return
		}
	}
	if r.File != nil {
		if err := a.upload(ctx, t.channel, *r.File); err != nil {
			a.log.Error("upload script", "channel", t.channel, "file", r.File.Filename, "err", err)
		}
	}
}

// upload sends a file the way slack-go's UploadFile does:
// files.getUploadURLExternal, the upload itself, then
// files.completeUploadExternal to share it in the channel.
func (a *Adapter) upload(ctx context.Context, channel string, f File) error {
	return a.retry(ctx, "files upload "+f.Filename, func(ctx context.Context) error {
		_, err := a.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Filename: f.Filename,
			Title:    f.Title,
			Content:  f.Content,
			FileSize: len(f.Content),
			Channel:  channel,
		})
		return err
	})
}

// responsePayload is the JSON a response_url takes.
type responsePayload struct {
	ResponseType    string        `json:"response_type,omitempty"`
	ReplaceOriginal bool          `json:"replace_original"`
	Text            string        `json:"text"`
	Blocks          []slack.Block `json:"blocks,omitempty"`
}

// httpStatusError is a response_url answer that may be retried.
type httpStatusError struct {
	code       int
	retryAfter time.Duration
	body       string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("response_url answered %d: %s", e.code, e.body)
}

func (a *Adapter) postResponse(ctx context.Context, responseURL string, p responsePayload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode response_url payload: %w", err)
	}
	return a.retry(ctx, "post to response_url", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		resp, err := a.cfg.HTTPClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			e := &httpStatusError{code: resp.StatusCode, body: string(msg)}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				e.retryAfter = time.Duration(s) * time.Second
			}
			return e
		}
		var ok struct {
			OK    *bool  `json:"ok"`
			Error string `json:"error"`
		}
		if json.Unmarshal(msg, &ok) == nil && ok.OK != nil && !*ok.OK {
			return fmt.Errorf("response_url refused the message: %s", ok.Error)
		}
		return nil
	})
}

// retry runs f until it succeeds, fails for good, or has been retried
// MaxRetries times. A 429 waits its Retry-After (capped); a 5xx backs
// off exponentially. The caller holds the channel lock, so order holds.
func (a *Adapter) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		wait, ok := a.retryWait(err, backoff)
		if !ok || attempt >= a.cfg.MaxRetries {
			return fmt.Errorf("%s (attempt %d): %w", what, attempt+1, err)
		}
		a.log.Warn("slack call will be retried", "call", what, "wait", wait, "err", err)
		backoff *= 2
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-timer.C:
		}
	}
}

func (a *Adapter) retryWait(err error, backoff time.Duration) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return min(max(rl.RetryAfter, time.Second), a.cfg.MaxRetryWait), true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 500 {
		return backoff, true
	}
	var he *httpStatusError
	if errors.As(err, &he) {
		switch {
		case he.code == http.StatusTooManyRequests:
			return min(max(he.retryAfter, time.Second), a.cfg.MaxRetryWait), true
		case he.code >= 500:
			return backoff, true
		}
	}
	return 0, false
}
