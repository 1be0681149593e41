package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocket serves Socket Mode until ctx ends: apps.connections.open,
// then the websocket. slack-go's client reconnects after a drop, after
// Slack's "disconnect" request, and when pings stop for PingTimeout (a
// stalled connection). Each envelope is acked before its work runs.
// RunSocket returns nil when ctx ends, and an error only when Slack
// refuses the app token.
func (a *Adapter) RunSocket(ctx context.Context) error {
	if a.cfg.AppToken == "" {
		return errors.New("socket mode needs an app token (xapp-…)")
	}
	a.socketStarted.Store(true)
	defer a.connected.Store(false)

	api := slack.New(a.cfg.BotToken,
		slack.OptionAPIURL(a.cfg.APIURL),
		slack.OptionHTTPClient(a.cfg.HTTPClient),
		slack.OptionAppLevelToken(a.cfg.AppToken),
	)
	sm := socketmode.New(api,
		socketmode.OptionPingInterval(a.cfg.PingTimeout),
		socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)),
		// Slack's envelopes are small; a huge frame is not Slack.
		socketmode.OptionReadLimit(1<<20),
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()

	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-sm.Events:
			a.onSocketEvent(ctx, sm, evt)
		}
	}
}

func (a *Adapter) onSocketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.connected.Store(false)
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError:
		a.connected.Store(false)
		a.log.Warn("socket mode connection trouble", "event", string(evt.Type))
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if !a.connected.Swap(true) {
			a.log.Info("socket mode connected")
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		a.ackEnvelope(ctx, sm, evt.Request, a.onCommand(cmd, evt.Request.EnvelopeID))
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		a.ackEnvelope(ctx, sm, evt.Request, a.onInteraction(cb, evt.Request.EnvelopeID))
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		if ev, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			a.log.Debug("events api envelope ignored", "type", ev.Type)
		}
		a.ackEnvelope(ctx, sm, evt.Request, nil)
	}
}

func (a *Adapter) ackEnvelope(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, payload any) {
	if err := sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		a.log.Error("ack envelope", "envelope_id", req.EnvelopeID, "err", err)
	}
}
