package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/optix-bot/optix-bot/bot/slack"
)

// missingSlackVars names the variables a Slack mode needs that are unset.
func missingSlackVars(mode string, s slackEnv) []string {
	var missing []string
	if s.BotToken == "" {
		missing = append(missing, "SLACK_BOT_TOKEN (xoxb-…)")
	}
	switch mode {
	case "socket":
		if s.AppToken == "" {
			missing = append(missing, "SLACK_APP_TOKEN (xapp-…, with connections:write)")
		}
	case "http":
		if s.SigningSecret == "" {
			missing = append(missing, "SLACK_SIGNING_SECRET")
		}
	}
	return missing
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &c, getenv)
	fs.StringVar(&c.SlackMode, "slack-mode", envOr(getenv, "OPTIX_BOT_SLACK_MODE", "socket"), "socket (no public URL) or http (env OPTIX_BOT_SLACK_MODE)")
	fs.StringVar(&c.Listen, "listen", envOr(getenv, "OPTIX_BOT_LISTEN", "127.0.0.1:8080"), "address for /healthz and, in http mode, /slack/* (env OPTIX_BOT_LISTEN)")
	if pos, err := parseInterleaved(fs, args); err != nil {
		return exitReply
	} else if len(pos) > 0 {
		fmt.Fprintf(stderr, "optix-bot serve: unexpected argument %q\n", pos[0])
		return exitReply
	}
	if c.SlackMode != "socket" && c.SlackMode != "http" {
		fmt.Fprintln(stderr, "optix-bot serve: --slack-mode must be socket or http")
		return exitReply
	}
	if err := loadEnv(&c, getenv); err != nil {
		fmt.Fprintln(stderr, "optix-bot serve:", err)
		return exitReply
	}
	if missing := missingSlackVars(c.SlackMode, c.Slack); len(missing) > 0 {
		fmt.Fprintf(stderr, "optix-bot serve: Slack %s mode needs %s; see README, Slack set-up\n", c.SlackMode, strings.Join(missing, ", "))
		return exitReply
	}
	log := newLogger(stderr, getenv, slog.LevelInfo, true)
	a, err := newApp(ctx, c, log, true)
	if err != nil {
		fmt.Fprintln(stderr, "optix-bot serve:", err)
		return exitReply
	}
	defer a.Close()
	if err := serve(ctx, c, a, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("serve stopped", "err", err)
		return exitInternal
	}
	return exitOK
}

func serve(ctx context.Context, c config, a *app, log *slog.Logger) error {
	ad, err := slack.New(slack.Config{
		BotToken: c.Slack.BotToken, AppToken: c.Slack.AppToken, SigningSecret: c.Slack.SigningSecret,
		APIURL: c.Slack.APIURL, Logger: log,
	}, a.router)
	if err != nil {
		return fmt.Errorf("slack adapter: %w", err)
	}
	defer ad.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		live := c.SlackMode == "http" || ad.Connected()
		w.Header().Set("Content-Type", "application/json")
		if !live {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": live, "slack_mode": c.SlackMode, "slack_connected": ad.Connected()})
	})
	if c.SlackMode == "http" {
		mux.Handle("/slack/", ad.HTTPHandler())
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	log.Info("optix-bot serving", "listen", ln.Addr().String(), "slack_mode", c.SlackMode, "source", c.Source, "db", c.DB)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	})
	if c.SlackMode == "socket" {
		g.Go(func() error { return ad.RunSocket(gctx) })
	}
	g.Go(func() error { return expireLoop(gctx, a, log) })
	return g.Wait()
}

// expireLoop flips pending change requests past their expiry to expired,
// each with an audit entry, once a minute.
func expireLoop(ctx context.Context, a *app, log *slog.Logger) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if n, err := a.store.ExpireDue(ctx, time.Now()); err != nil {
			log.Error("expire change requests", "err", err)
		} else if n > 0 {
			log.Info("expired change requests", "count", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
