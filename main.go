// Command optix-bot is a ChatOps bot for cloud security posture work: it
// pulls Sophos Cloud Optix findings, ranks them by real risk, drafts
// remediation scripts that pass a linter, and records every decision in a
// tamper-evident audit chain.
//
//	optix-bot ask "/optix top-risks" [--as USER] [--format text|json] [--source demo|sophos|file:PATH] [--db PATH] [--context PATH] [--rbac PATH]
//	optix-bot chat [flags]
//	optix-bot serve [--slack-mode socket|http] [--listen ADDR] [flags]
//	optix-bot audit verify [--db PATH]
//	optix-bot version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/console"
	"github.com/optix-bot/optix-bot/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses of `ask`: the reply was an error (bad arguments, source
// unreachable) or optix-bot itself failed.
const (
	exitOK       = 0
	exitInternal = 1
	exitReply    = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitReply
	}
	switch args[0] {
	case "ask":
		return runAsk(ctx, args[1:], stdout, stderr, getenv)
	case "chat":
		return runChat(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "optix-bot", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "optix-bot: unknown subcommand %q\n", args[0])
	usage(stderr)
	return exitReply
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  optix-bot ask "/optix <verb> [args]" [--as USER] [--format text|json] [--source demo|sophos|file:PATH] [--db PATH] [--context PATH] [--rbac PATH]
  optix-bot chat [--as USER] [--source ...] [--db PATH] [--context PATH] [--rbac PATH]
  optix-bot serve [--slack-mode socket|http] [--listen ADDR] --rbac PATH [--source ...] [--db PATH] [--context PATH]
  optix-bot audit verify [--db PATH]
  optix-bot version
Try: optix-bot ask "/optix help"
`)
}

// parseInterleaved parses flags that may come before or after the
// positional arguments ("ask '/optix top-risks' --as bob").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newLogger(w io.Writer, getenv func(string) string, def slog.Level, jsonFormat bool) *slog.Logger {
	level := def
	if v := getenv("OPTIX_BOT_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	opts := &slog.HandlerOptions{Level: level}
	if jsonFormat {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runAsk(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var c config
	fs := flag.NewFlagSet("ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &c, getenv)
	fs.StringVar(&c.As, "as", envOr(getenv, "OPTIX_BOT_USER", defaultUser(getenv)), "who is asking (env OPTIX_BOT_USER; default $USER, else console)")
	c.asSet = true
	fs.StringVar(&c.Format, "format", envOr(getenv, "OPTIX_BOT_FORMAT", "text"), "text or json (env OPTIX_BOT_FORMAT)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitReply
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, `optix-bot ask: give the command as one argument, e.g. optix-bot ask "/optix top-risks"`)
		return exitReply
	}
	if c.Format != "text" && c.Format != "json" {
		fmt.Fprintln(stderr, "optix-bot ask: --format must be text or json")
		return exitReply
	}
	a, code := consoleApp(ctx, "ask", &c, stderr, getenv)
	if a == nil {
		return code
	}
	defer a.Close()
	rep := a.router.Handle(ctx, bot.Request{
		Platform: "console", User: bot.User{ID: c.As, Name: c.As}, Channel: "console", Text: pos[0], Received: time.Now(),
	})
	if err := printReply(stdout, rep, c.Format); err != nil {
		fmt.Fprintln(stderr, "optix-bot:", err)
		return exitInternal
	}
	if !rep.OK {
		return exitReply
	}
	return exitOK
}

// jsonReply is `ask --format json`: the neutral reply plus its plain-text
// rendering.
type jsonReply struct {
	Text string `json:"text"`
	bot.Reply
}

func printReply(w io.Writer, rep bot.Reply, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(jsonReply{Text: console.Render(rep), Reply: rep})
	}
	_, err := io.WriteString(w, console.Render(rep))
	return err
}

// consoleApp finishes the configuration of ask and chat and wires the app;
// on failure it has told the user why and returns the exit status.
func consoleApp(ctx context.Context, name string, c *config, stderr io.Writer, getenv func(string) string) (*app, int) {
	if err := loadEnv(c, getenv); err != nil {
		fmt.Fprintf(stderr, "optix-bot %s: %v\n", name, err)
		return nil, exitReply
	}
	log := newLogger(stderr, getenv, slog.LevelWarn, false)
	a, err := newApp(ctx, *c, log, false)
	if err != nil {
		fmt.Fprintln(stderr, "optix-bot:", err)
		return nil, exitInternal
	}
	return a, exitOK
}

func defaultUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	return "console"
}

func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var c config
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	commonFlags(fs, &c, getenv)
	fs.StringVar(&c.As, "as", envOr(getenv, "OPTIX_BOT_USER", defaultUser(getenv)), "who is typing (env OPTIX_BOT_USER; default $USER, else console)")
	c.asSet = true
	if _, err := parseInterleaved(fs, args); err != nil {
		return exitReply
	}
	a, code := consoleApp(ctx, "chat", &c, stderr, getenv)
	if a == nil {
		return code
	}
	defer a.Close()
	if a.openPolicy {
		fmt.Fprintln(stdout, openPolicyNote)
	}
	if err := console.Chat(ctx, a.router, bot.User{ID: c.As, Name: c.As}, cancelableReader(ctx, stdin), stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "optix-bot:", err)
		return exitInternal
	}
	return exitOK
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: optix-bot audit verify [--db PATH]")
		return exitReply
	}
	var c config
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DB, "db", envOr(getenv, "OPTIX_BOT_DB", "optix-bot.db"), "bbolt database file (env OPTIX_BOT_DB)")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return exitReply
	}
	key, err := secret(getenv, "OPTIX_BOT_AUDIT_KEY")
	if err != nil {
		fmt.Fprintln(stderr, "optix-bot audit verify:", err)
		return exitInternal
	}
	// Read-only: verifying must work on a copy the auditor cannot write,
	// and must never change the file it checks. The store logs where run
	// was told to, not to the process-wide default logger.
	opts := store.Options{ReadOnly: true, Logger: newLogger(stderr, getenv, slog.LevelWarn, false)}
	if key != "" {
		opts.AuditKey = []byte(key)
	}
	st, err := store.Open(c.DB, opts)
	if err != nil {
		fmt.Fprintln(stderr, "optix-bot audit verify:", err)
		return exitInternal
	}
	defer st.Close()
	res, err := st.Verify(ctx)
	if err != nil {
		var ce *store.ChainError
		if errors.As(err, &ce) {
			if ce.Seq == 0 {
				// A stored record that no entry accounts for.
				fmt.Fprintf(stdout, "audit chain BROKEN: %s\n", ce.Reason)
			} else {
				fmt.Fprintf(stdout, "audit chain BROKEN at entry %d: %s\n", ce.Seq, ce.Reason)
			}
			return exitReply
		}
		fmt.Fprintln(stderr, "optix-bot audit verify:", err)
		return exitInternal
	}
	mode := "SHA-256"
	if key != "" {
		mode = "HMAC-SHA-256"
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries, head %s (%s)\n", res.Count, res.Head, mode)
	return exitOK
}

// cancelableReader reads r until ctx is done, then fails with ctx's error.
// console.Chat waits in a read of stdin between commands, and a read of a
// terminal or pipe cannot be interrupted: without this, Ctrl-C or SIGTERM
// (docker stop) left chat running, holding the database lock, until the
// next line arrived. A command already running still finishes first,
// because Chat only reads between commands.
func cancelableReader(ctx context.Context, r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		// Blocks in r.Read until input or EOF; it ends with the process.
		_, err := io.Copy(pw, r)
		_ = pw.CloseWithError(err)
	}()
	context.AfterFunc(ctx, func() { _ = pw.CloseWithError(ctx.Err()) })
	return pr
}
