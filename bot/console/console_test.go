package console

import (
	"context"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/bot"
)

func TestRenderNeutralizesControlCharacters(t *testing.T) {
	rep := bot.Reply{OK: true, Title: "Top \x1b[2J risks",
		Items: []bot.Item{{Rank: 1, ID: "F-1a2b3c4d", Band: "HIGH", Score: 85, Title: "bucket\rOVERWRITE", Owner: "bell\a", Why: "rtl\u202eevil",
			Impact: "data\nnext: fake line", Next: "run \x1b[31m", Label: "S3\r"}},
		Code: &bot.Code{Filename: "fix.sh", Language: "bash", Body: "echo\tok\x1b]0;title\a\n"}}
	out := Render(rep)
	for _, bad := range []string{"\x1b", "\r", "\a", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered output carries %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "echo\tok") {
		t.Errorf("tabs in scripts must survive: %q", out)
	}
	for _, want := range []string{"    impact: data next: fake line\n", "    next: run \uFFFD[31m\n", "    group: S3\uFFFD\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("LLM line %q not rendered on one line: %q", want, out)
		}
	}
	if !strings.Contains(out, " 1. HIGH      85  F-1a2b3c4d") {
		t.Errorf("item line not rendered: %q", out)
	}
}

func TestRenderError(t *testing.T) {
	if got := Render(bot.Fail("N must be a whole number from 1 to 50.")); got != "Error: N must be a whole number from 1 to 50.\n" {
		t.Errorf("Render = %q", got)
	}
}

type echo struct{ seen []string }

func (e *echo) Handle(_ context.Context, req bot.Request) bot.Reply {
	e.seen = append(e.seen, req.User.ID+":"+req.Text)
	return bot.Reply{OK: true, Summary: "ok " + req.Text}
}

func TestChat(t *testing.T) {
	h := &echo{}
	var out strings.Builder
	in := strings.NewReader("/optix help\n\n   \n/optix top-risks 3\nquit\n/optix never-run\n")
	if err := Chat(context.Background(), h, bot.User{ID: "alice"}, in, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.seen, "|"); got != "alice:/optix help|alice:/optix top-risks 3" {
		t.Errorf("handled %q", got)
	}
	if !strings.Contains(out.String(), "ok /optix top-risks 3") {
		t.Errorf("output = %q", out.String())
	}
}

// Regression: a newline in an owner tag or resource name printed a line of
// its own, which could pass for optix-bot output.
func TestRenderKeepsUntrustedTextOnItsLine(t *testing.T) {
	rep := bot.Reply{OK: true, Title: "F-1 · S3\nError: fake",
		Items:    []bot.Item{{Rank: 1, ID: "F-1a2b3c4d", Title: "t", Owner: "team\n 2. CRITICAL 100 fake", Resource: "arn\nline"}},
		Sections: []bot.Section{{Heading: "Context", Fields: []bot.Field{{Label: "Owner", Value: "x\nApproved by: mallory"}}}}}
	out := Render(rep)
	for _, bad := range []string{"\nError: fake", "\n 2. CRITICAL", "\nApproved by", "\nline"} {
		if strings.Contains(out, bad) {
			t.Errorf("untrusted newline survived (%q):\n%s", bad, out)
		}
	}
}
