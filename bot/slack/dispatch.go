package slack

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/slack-go/slack"

	"github.com/optix-bot/optix-bot/bot"
)

// The reject dialog: its callback id, and the block and action ids of
// the reason input.
const (
	rejectCallbackID = "optix_reject"
	reasonBlockID    = "reason"
	reasonActionID   = "reason"
	rejectActionID   = "reject"
)

// target is where a reply goes.
type target struct {
	responseURL string
	channel     string
	user        string
	// messageTS is the message a click came from; a Replace reply
	// updates it.
	messageTS string
	// ephemeralSource: the clicked message was ephemeral, which
	// chat.update cannot edit; only its response_url can.
	ephemeralSource bool
}

// busyAck is what a slash command's ack carries when the queue is full.
func busyAck() map[string]string {
	return map[string]string{"response_type": "ephemeral", "text": busyText}
}

// onCommand takes a slash command off the wire. It never blocks: it
// queues the work and returns at once the payload for the ack (nil for
// an empty ack).
func (a *Adapter) onCommand(cmd slack.SlashCommand, envelopeID string) any {
	keys := []string{prefixed("trigger:", cmd.TriggerID), prefixed("envelope:", envelopeID)}
	if !a.seen.firstTime(deliveryTTL, keys...) {
		a.log.Info("duplicate slash command delivery ignored", "trigger_id", cmd.TriggerID, "envelope_id", envelopeID)
		return nil
	}
	req := bot.Request{
		Platform:   "slack",
		User:       bot.User{ID: cmd.UserID, Name: cmd.UserName},
		Channel:    cmd.ChannelID,
		Text:       "/optix " + cmd.Text,
		DeliveryID: "slack:" + firstNonEmpty(cmd.TriggerID, envelopeID),
		Received:   a.cfg.Now(),
	}
	t := target{responseURL: cmd.ResponseURL, channel: cmd.ChannelID, user: cmd.UserID}
	if !a.pool.submit(a.work(req, t)) {
		a.seen.forget(keys...)
		a.log.Warn("work queue full; answered busy", "user", cmd.UserID, "channel", cmd.ChannelID)
		return busyAck()
	}
	return nil
}

// onInteraction takes a click or a modal submission off the wire and
// returns the ack payload (nil for an empty ack).
func (a *Adapter) onInteraction(cb slack.InteractionCallback, envelopeID string) any {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if !a.seen.firstTime(deliveryTTL, prefixed("trigger:", cb.TriggerID), prefixed("envelope:", envelopeID)) {
			a.log.Info("duplicate interaction delivery ignored", "trigger_id", cb.TriggerID)
			return nil
		}
		for _, act := range cb.ActionCallback.BlockActions {
			a.onClick(cb, act)
		}
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != rejectCallbackID {
			return nil
		}
		return a.onRejectSubmit(cb, envelopeID)
	}
	return nil
}

func (a *Adapter) onClick(cb slack.InteractionCallback, act *slack.BlockAction) {
	id := ActionID(act.ActionID)
	msgTS := firstNonEmpty(cb.Container.MessageTs, cb.Message.Timestamp)
	channel := firstNonEmpty(cb.Channel.ID, cb.Container.ChannelID)
	// A double click is two deliveries with two trigger ids; what makes
	// them the same is who clicked what on which message.
	clickKey := "click:" + strings.Join([]string{cb.User.ID, id, act.Value, channel, msgTS}, "\x00")
	if !a.seen.firstTime(clickWindow, clickKey) {
		a.log.Info("double click ignored", "user", cb.User.ID, "action", id)
		return
	}
	t := target{responseURL: cb.ResponseURL, channel: channel, user: cb.User.ID, messageTS: msgTS, ephemeralSource: cb.Container.IsEphemeral}
	if id == rejectActionID {
		// trigger_id expires three seconds after the click, so the dialog
		// opens now, beside the pool rather than behind it.
		a.goSide(func(ctx context.Context) { a.openRejectDialog(ctx, cb.TriggerID, act.Value, t) })
		return
	}
	req := bot.Request{
		Platform:   "slack",
		User:       bot.User{ID: cb.User.ID, Name: firstNonEmpty(cb.User.Name, cb.User.Profile.DisplayName)},
		Channel:    channel,
		Action:     &bot.Action{ID: id, Value: act.Value},
		DeliveryID: "slack:" + cb.TriggerID,
		Received:   a.cfg.Now(),
	}
	if !a.pool.submit(a.work(req, t)) {
		a.seen.forget(clickKey)
		a.log.Warn("work queue full; answered busy", "user", cb.User.ID, "action", id)
		a.goSide(func(ctx context.Context) { a.sayBusy(ctx, t) })
	}
}

// rejectMeta travels in the dialog's private_metadata so that the
// submission knows what it rejects and where the answer goes.
type rejectMeta struct {
	Value       string `json:"v"`
	Channel     string `json:"c,omitempty"`
	MessageTS   string `json:"ts,omitempty"`
	ResponseURL string `json:"u,omitempty"`
	Ephemeral   bool   `json:"e,omitempty"`
}

func (a *Adapter) openRejectDialog(ctx context.Context, triggerID, value string, t target) {
	meta, _ := json.Marshal(rejectMeta{Value: value, Channel: t.channel, MessageTS: t.messageTS, ResponseURL: t.responseURL, Ephemeral: t.ephemeralSource})
	input := slack.NewPlainTextInputBlockElement(plain("Why is this change rejected?"), reasonActionID)
	input.Multiline = true
	input.MaxLength = 500
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Reject change request"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		CallbackID:      rejectCallbackID,
		PrivateMetadata: string(meta),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section("Rejecting `" + clip(value, 200, codePiece) + "`. The requester will see your reason."),
			slack.NewInputBlock(reasonBlockID, plain("Reason"), nil, input),
		}},
	}
	err := a.retry(ctx, "views.open", func(ctx context.Context) error {
		_, err := a.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
	if err != nil {
		a.log.Error("open reject dialog", "err", err)
		a.deliver(ctx, t, bot.Fail("The reject dialog could not be opened; please click Reject again."))
	}
}

func (a *Adapter) onRejectSubmit(cb slack.InteractionCallback, envelopeID string) any {
	if !a.seen.firstTime(deliveryTTL, prefixed("view:", cb.View.ID+"\x00"+cb.View.Hash), prefixed("envelope:", envelopeID)) {
		return nil
	}
	var meta rejectMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Value == "" {
		a.log.Warn("reject dialog without its metadata", "err", err)
		return nil
	}
	reason := strings.TrimSpace(cb.View.State.Values[reasonBlockID][reasonActionID].Value)
	if reason == "" {
		return map[string]any{"response_action": "errors", "errors": map[string]string{reasonBlockID: "Please give a reason."}}
	}
	req := bot.Request{
		Platform:   "slack",
		User:       bot.User{ID: cb.User.ID, Name: cb.User.Name},
		Channel:    meta.Channel,
		Action:     &bot.Action{ID: rejectActionID, Value: meta.Value, Reason: reason},
		DeliveryID: "slack:view:" + cb.View.ID,
		Received:   a.cfg.Now(),
	}
	t := target{responseURL: meta.ResponseURL, channel: meta.Channel, user: cb.User.ID, messageTS: meta.MessageTS, ephemeralSource: meta.Ephemeral}
	if !a.pool.submit(a.work(req, t)) {
		a.seen.forget(prefixed("view:", cb.View.ID+"\x00"+cb.View.Hash))
		// Keeping the dialog open with an error lets the user retry
		// without retyping the reason.
		return map[string]any{"response_action": "errors", "errors": map[string]string{reasonBlockID: busyText}}
	}
	return nil
}

// work is the job for one request: resolve groups, run the handler,
// deliver the reply.
func (a *Adapter) work(req bot.Request, t target) job {
	return func(ctx context.Context) {
		if a.cfg.Groups != nil {
			groups, err := a.cfg.Groups.UserGroups(ctx, req.User.ID)
			if err != nil {
				// Without groups the user holds fewer roles, never more.
				a.log.Warn("resolve user groups", "user", req.User.ID, "err", err)
			}
			req.User.Groups = groups
		}
		rep := a.h.Handle(ctx, req)
		a.deliver(ctx, t, rep)
	}
}

// goSide runs short work beside the pool (dialogs, busy notices); Close
// waits for it.
func (a *Adapter) goSide(f func(ctx context.Context)) {
	a.side.Go(func() { f(context.Background()) })
}

func (a *Adapter) sayBusy(ctx context.Context, t target) {
	rep := bot.Reply{OK: true, Summary: busyText, Ephemeral: true}
	t.messageTS = "" // a notice, not a replacement of the clicked message
	a.deliver(ctx, t, rep)
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
