package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

func TestSocketModeServesAcrossDropsAndStalls(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *slackemu.Options) {
		c.AppToken = "socket"
		c.PingTimeout = 400 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.a.RunSocket(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSocket: %v", err)
		}
	}()
	wait, stop := context.WithTimeout(context.Background(), 15*time.Second)
	defer stop()

	// serve pushes one slash command and checks it is acked and answered.
	serve := func(step string) {
		t.Helper()
		ru := h.emu.NewResponseURL()
		cmd := slackemu.Command{Text: "top-risks", UserID: "U1", UserName: "alice", ChannelID: "C1", ResponseURL: ru}
		var env string
		var err error
		waitFor(t, step+": push", func() bool { env, err = h.emu.Push("slash_commands", cmd.Payload()); return err == nil })
		ack, err := h.emu.WaitAck(wait, env)
		if err != nil {
			t.Fatalf("%s: no ack: %v", step, err)
		}
		if len(ack.Payload) != 0 && string(ack.Payload) != "null" {
			t.Errorf("%s: ack payload %s, want empty", step, ack.Payload)
		}
		waitFor(t, step+": reply", func() bool { return len(h.emu.ResponsePosts(ru)) == 1 })
		if !strings.Contains(blocksText(h.emu.ResponsePosts(ru)[0].Blocks), "Top risks") {
			t.Errorf("%s: wrong reply", step)
		}
	}

	if err := h.emu.WaitConnections(wait, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected", h.a.Connected)
	serve("first connection")

	// A redelivered envelope (same id, retry_attempt 1) does not run twice.
	before := h.count("top-risks")
	cmd := slackemu.Command{Text: "top-risks", UserID: "U1", ChannelID: "C1", ResponseURL: h.emu.NewResponseURL()}
	for attempt := range 2 {
		if err := h.emu.PushEnvelope("env-retry", "slash_commands", cmd.Payload(), attempt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.emu.WaitAck(wait, "env-retry"); err != nil {
		t.Fatal(err)
	}

	h.emu.DropSockets()
	if err := h.emu.WaitConnections(wait, 2); err != nil {
		t.Fatalf("no reconnect after a drop: %v", err)
	}
	serve("after a drop")

	h.emu.StallSockets()
	if err := h.emu.WaitConnections(wait, 3); err != nil {
		t.Fatalf("no reconnect after a stall: %v", err)
	}
	serve("after a stall")
	waitFor(t, "Connected", h.a.Connected)

	if got := h.count("top-risks") - before; got != 3 {
		t.Errorf("after the redelivery, ran %d more times, want 3 (one per serve)", got)
	}
}

func TestSocketModeBusyAck(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *slackemu.Options) {
		c.AppToken = "socket"
		c.Workers, c.QueueSize = 1, 1
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = h.a.RunSocket(ctx) }()
	wait, stop := context.WithTimeout(context.Background(), 15*time.Second)
	defer stop()
	if err := h.emu.WaitConnections(wait, 1); err != nil {
		t.Fatal(err)
	}
	var acks []string
	for i := range 3 {
		cmd := slackemu.Command{Text: "slow", UserID: "U1", ChannelID: "C1", ResponseURL: h.emu.NewResponseURL()}
		env, err := h.emu.Push("slash_commands", cmd.Payload())
		if err != nil {
			t.Fatal(err)
		}
		ack, err := h.emu.WaitAck(wait, env)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, string(ack.Payload))
		if i == 0 {
			waitFor(t, "the worker to be busy", func() bool { return h.count("slow") == 1 })
		}
	}
	if !strings.Contains(acks[2], busyText) || strings.Contains(acks[0]+acks[1], busyText) {
		t.Errorf("acks %q: only the third should be busy", acks)
	}
}
