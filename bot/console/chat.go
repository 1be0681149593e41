package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/optix-bot/optix-bot/bot"
)

// Handler runs one request; *bot.Router is one.
type Handler interface {
	Handle(ctx context.Context, req bot.Request) bot.Reply
}

// Chat reads one command per line from in, runs it as user and writes the
// rendered reply to out, until in ends, the user types "quit" or ctx is
// done. Lines that are too long are refused, not truncated.
func Chat(ctx context.Context, h Handler, user bot.User, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	fmt.Fprintf(out, "optix-bot console as %s. Type /optix help, or quit.\n> ", user.ID)
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := strings.TrimSpace(sc.Text())
		switch strings.ToLower(line) {
		case "":
			fmt.Fprint(out, "> ")
			continue
		case "quit", "exit", "/quit":
			return nil
		}
		rep := h.Handle(ctx, bot.Request{Platform: "console", User: user, Channel: "console", Text: line, Received: time.Now()})
		fmt.Fprint(out, Render(rep))
		fmt.Fprint(out, "> ")
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read console input: %w", err)
	}
	return nil
}
