package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/slack/slackemu"

	"github.com/optix-bot/optix-bot/internal/golden"
)

func topRisks(n int) bot.Reply {
	rep := bot.Reply{OK: true, Title: "Top risks", Summary: fmt.Sprintf("%d findings ranked by risk.", n), Footer: "Scores blend severity, exposure and environment."}
	for i := 1; i <= n; i++ {
		rep.Items = append(rep.Items, bot.Item{
			Rank: i, Kind: "finding", ID: fmt.Sprintf("F-%08x", i), Band: "HIGH", Score: 90 - i%50,
			Title: "S3 bucket allows public read", Resource: fmt.Sprintf("arn:aws:s3:::bucket-%d", i),
			Account: "123456789012", Environment: "prod", Owner: "team-data", Why: "public and holds customer data",
		})
	}
	return rep
}

func hostile() bot.Reply {
	evil := "<!channel> <@U1> <https://evil.example|click> & *bold* _it_ ~s~ `x`"
	return bot.Reply{
		OK: true, Title: "Risks " + evil, Summary: evil,
		Items: []bot.Item{{Rank: 1, ID: "F-1a2b3c4d", Band: "CRITICAL", Score: 97, Title: evil, Resource: "bucket`<!here>`",
			Account: "<!everyone>", Environment: "prod*", Owner: "<@U2|boss>", Why: "because\n<!channel>",
			Impact: evil, Next: "run\n" + evil, Label: evil}},
		Sections: []bot.Section{{Heading: evil, Text: evil, Fields: []bot.Field{{Label: evil, Value: evil}}}},
		Buttons:  []bot.Button{{ActionID: "approve", Label: "Approve " + evil, Value: "CR-1", Style: "primary"}},
		Footer:   evil,
	}
}

func withScript(n int) bot.Reply {
	body := strings.Repeat("aws s3api put-public-access-block --bucket b && echo ok\n", n)
	return bot.Reply{OK: true, Title: "Remediation for F-1a2b3c4d",
		Code: &bot.Code{Language: "bash", Filename: "../../fix.sh", Body: body, SHA256: "0123456789abcdef0123"},
		Buttons: []bot.Button{
			{ActionID: "approve", Label: "Approve", Value: "CR-9", Style: "primary"},
			{ActionID: "reject", Label: "Reject", Value: "CR-9", Style: "danger"},
			{ActionID: "approve", Label: "Approve other", Value: "CR-10"},
		}}
}

func TestRenderGolden(t *testing.T) {
	cases := []struct {
		name  string
		reply bot.Reply
		check func(t *testing.T, r Rendered)
	}{
		{"top-risks", topRisks(3), func(t *testing.T, r Rendered) {
			if len(r.Messages) != 1 {
				t.Errorf("want 1 message, got %d", len(r.Messages))
			}
		}},
		{"error", bot.Fail("No finding F-00000000 <@U1>."), nil},
		{"hostile", hostile(), func(t *testing.T, r Rendered) {
			all, md := texts(t, r)
			for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U1>", "<@U2", "<https://", "&b", "& "} {
				if strings.Contains(all, bad) {
					t.Errorf("rendered text still holds %q", bad)
				}
			}
			// Emphasis only matters where Slack reads mrkdwn, outside code
			// spans (where it is shown literally, so ids copy exactly).
			if strings.Count(md, "`")%2 != 0 {
				t.Errorf("unbalanced code span in %q", md)
			}
			prose := outsideCode(md)
			for _, bad := range []string{"*bold*", "_it_", "~s~", "`x`", "`<"} {
				if strings.Contains(prose, bad) {
					t.Errorf("mrkdwn text still holds %q", bad)
				}
			}
		}},
		{"split-120", topRisks(120), func(t *testing.T, r Rendered) {
			if len(r.Messages) < 3 {
				t.Errorf("120 items should split into at least 3 messages, got %d", len(r.Messages))
			}
			// Items keep their order across messages.
			var ranks []string
			for _, m := range r.Messages {
				for _, b := range m.Blocks {
					js, _ := json.Marshal(b)
					if i := strings.Index(string(js), `"text":"*`); i >= 0 && strings.Contains(string(js), "HIGH") {
						ranks = append(ranks, strings.SplitN(string(js)[i+9:], ".", 2)[0])
					}
				}
			}
			if len(ranks) != 120 || ranks[0] != "1" || ranks[119] != "120" {
				t.Errorf("items out of order or lost: %d items, first %v", len(ranks), ranks[:min(3, len(ranks))])
			}
		}},
		{"script-inline", withScript(3), func(t *testing.T, r Rendered) {
			if r.File != nil {
				t.Error("a short script should be inline")
			}
		}},
		{"script-upload", withScript(80), func(t *testing.T, r Rendered) {
			if r.File == nil {
				t.Fatal("a long script should be uploaded")
			}
			if r.File.Filename != "fix.sh" {
				t.Errorf("filename %q, want the base name fix.sh", r.File.Filename)
			}
			if r.File.Content != withScript(80).Code.Body {
				t.Error("uploaded content differs from the script")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Render(tc.reply)
			for i, m := range r.Messages {
				js, err := json.Marshal(m.Blocks)
				if err != nil {
					t.Fatal(err)
				}
				if err := slackemu.ValidateBlocks(js); err != nil {
					t.Errorf("message %d breaks Slack's limits: %v", i, err)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep &lt; readable in the goldens
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".golden.json", append(buf.Bytes(), '\n'))
		})
	}
}

func TestRenderLimits(t *testing.T) {
	long := strings.Repeat("&<>*", 5000)
	reps := map[string]bot.Reply{
		"long-everything": {OK: false, Error: long, Title: long, Summary: long,
			Items:    []bot.Item{{Rank: 1, Band: long, ID: long, Title: long, Resource: long, Account: long, Environment: long, Owner: long, Why: long, Impact: long, Next: long, Label: long}},
			Sections: []bot.Section{{Heading: long, Text: long, Fields: make([]bot.Field, 23)}},
			Buttons:  make([]bot.Button, 30), Footer: long},
		"many-buttons": {OK: true, Buttons: func() []bot.Button {
			var b []bot.Button
			for i := range 60 {
				b = append(b, bot.Button{ActionID: "approve", Label: long, Value: fmt.Sprint("CR-", i)})
			}
			return append(b, bot.Button{ActionID: "x", Label: "x", Value: strings.Repeat("v", 2001)})
		}()},
		"empty": {},
	}
	for name, rep := range reps {
		t.Run(name, func(t *testing.T) {
			for i := range rep.Sections {
				for j := range rep.Sections[i].Fields {
					rep.Sections[i].Fields[j] = bot.Field{Label: long, Value: long}
				}
			}
			for i := range rep.Buttons {
				if rep.Buttons[i].ActionID == "" {
					rep.Buttons[i] = bot.Button{ActionID: "a", Label: long, Value: "v"}
				}
			}
			r := Render(rep)
			if len(r.Messages) == 0 {
				t.Fatal("no message")
			}
			for i, m := range r.Messages {
				js, _ := json.Marshal(m.Blocks)
				if err := slackemu.ValidateBlocks(js); err != nil {
					t.Errorf("message %d: %v", i, err)
				}
				if n := len([]rune(m.Text)); n > maxFallbackText {
					t.Errorf("message %d fallback text is %d characters", i, n)
				}
			}
		})
	}
}

func TestClipNeverCutsAnEntity(t *testing.T) {
	for limit := 1; limit < 12; limit++ {
		got := clip("a&b<c>d&e", limit, plainPiece)
		if n := len([]rune(got)); n > limit {
			t.Errorf("limit %d: %q is %d characters", limit, got, n)
		}
		trimmed := strings.TrimSuffix(got, "…")
		if i := strings.LastIndexByte(trimmed, '&'); i >= 0 && !strings.Contains(trimmed[i:], ";") {
			t.Errorf("limit %d: %q ends inside an entity", limit, got)
		}
	}
}

// texts collects every text of a rendered reply, and separately the
// mrkdwn ones, by walking its JSON.
func texts(t *testing.T, r Rendered) (all, md string) {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	var a, m strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				a.WriteString(s + "\n")
				if x["type"] == "mrkdwn" {
					m.WriteString(s + "\n")
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return a.String(), m.String()
}

// outsideCode drops the `code spans` of mrkdwn text, keeping the rest.
func outsideCode(md string) string {
	var b strings.Builder
	in := false
	for _, r := range md {
		if r == '`' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Regression: field values were written with look-alike characters, so a
// check id copied out of Slack no longer matched anything.
func TestFieldValuesCopyExactly(t *testing.T) {
	r := Render(bot.Reply{OK: true, Sections: []bot.Section{{Heading: "Finding", Fields: []bot.Field{
		{Label: "Check", Value: "s3_bucket_public_access (AR-251)"},
		{Label: "Policy", Value: "arn:aws:iam::111122223333:policy/*_admin"},
	}}}})
	js, err := json.Marshal(r.Messages)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`s3_bucket_public_access (AR-251)`", "`arn:aws:iam::111122223333:policy/*_admin`"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("rendered fields lack %s: %s", want, js)
		}
	}
}
