package slack

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/optix-bot/optix-bot/bot"
)

// Block Kit limits, from Slack's Block Kit reference. The emulator in
// slackemu enforces the same numbers, so a renderer bug fails a test
// rather than a production post.
const (
	maxBlocks        = 50   // blocks in one message
	maxSectionText   = 3000 // section text
	maxFieldText     = 2000 // one section field
	maxFields        = 10   // fields in one section
	maxHeaderText    = 150  // header plain_text
	maxButtonText    = 75   // button label
	maxButtonValue   = 2000 // button value
	maxActionElems   = 25   // elements in one actions block
	maxContextText   = 2000 // one context element (kept under Slack's 3000)
	maxFallbackText  = 150  // the notification text of a message
	maxInlineCode    = 2900 // a script longer than this goes up as a file
	maxActionIDChars = 255
)

// Message is one Slack message of a rendered reply.
type Message struct {
	// Text is the notification fallback Slack shows where blocks are not
	// rendered (push notifications, screen readers). Already escaped.
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

// File is a script too long to show inline; the adapter uploads it with
// files.getUploadURLExternal and files.completeUploadExternal.
type File struct {
	Filename string `json:"filename"`
	Title    string `json:"title"`
	Content  string `json:"content"`
}

// Rendered is a bot.Reply as Slack messages, in the order they are posted.
type Rendered struct {
	Messages  []Message `json:"messages"`
	File      *File     `json:"file,omitempty"`
	Ephemeral bool      `json:"ephemeral,omitempty"`
}

// Render turns a platform-neutral reply into Block Kit messages that fit
// Slack's limits. Every string of the reply is treated as untrusted text.
func Render(rep bot.Reply) Rendered {
	var blocks []slack.Block
	out := Rendered{Ephemeral: rep.Ephemeral}

	if rep.Title != "" {
		blocks = append(blocks, slack.NewHeaderBlock(plain(clip(rep.Title, maxHeaderText, oneLine(plainPiece)))))
	}
	if !rep.OK && rep.Error != "" {
		for i, c := range chunks(rep.Error, maxSectionText-len(":warning: "), freePiece) {
			if i == 0 {
				c = ":warning: " + c
			}
			blocks = append(blocks, section(c))
		}
	}
	for _, c := range chunks(rep.Summary, maxSectionText, freePiece) {
		blocks = append(blocks, section(c))
	}
	for _, it := range rep.Items {
		blocks = append(blocks, section(itemText(it)))
	}
	for _, s := range rep.Sections {
		blocks = append(blocks, sectionBlocks(s)...)
	}
	if rep.Code != nil {
		b, f := codeBlocks(*rep.Code)
		blocks = append(blocks, b...)
		out.File = f
	}
	if rep.Footer != "" {
		blocks = append(blocks, contextBlock(clip(rep.Footer, maxContextText, freePiece)))
	}
	blocks = append(blocks, buttonBlocks(rep.Buttons)...)

	fallback := firstNonEmpty(rep.Title, rep.Error, rep.Summary, "optix-bot")
	for start := 0; start < len(blocks) || start == 0; start += maxBlocks {
		end := min(start+maxBlocks, len(blocks))
		text := clip(fallback, maxFallbackText, oneLine(freePiece))
		if start > 0 {
			text = clip(fallback, maxFallbackText-len(" (continued)"), oneLine(freePiece)) + " (continued)"
		}
		out.Messages = append(out.Messages, Message{Text: text, Blocks: blocks[start:end]})
		if end == len(blocks) {
			break
		}
	}
	return out
}

// itemText is one ranked entry:
// "*1. CRITICAL 97* `F-1a2b3c4d` title — `resource` (account / environment, owner)\n_why_".
// The budgets below keep the worst case (every character an "&") under
// the 3000-character section limit.
func itemText(it bot.Item) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d. %s %d*", it.Rank, clip(it.Band, 20, oneLine(freePiece)), it.Score)
	if it.ID != "" {
		b.WriteString(" `" + clip(it.ID, 40, codePiece) + "`")
	}
	if it.Title != "" {
		b.WriteString(" " + clip(it.Title, 400, oneLine(freePiece)))
	}
	if it.Count > 1 {
		fmt.Fprintf(&b, " [%d findings]", it.Count)
	}
	if it.Resource != "" {
		b.WriteString(" — `" + clip(it.Resource, 300, codePiece) + "`")
	}
	var where []string
	acctEnv := joinNonEmpty(" / ", clip(it.Account, 100, oneLine(freePiece)), clip(it.Environment, 60, oneLine(freePiece)))
	where = appendNonEmpty(where, acctEnv, clip(it.Owner, 100, oneLine(freePiece)))
	if len(where) > 0 {
		b.WriteString(" (" + strings.Join(where, ", ") + ")")
	}
	if it.Why != "" {
		b.WriteString("\n_" + clip(it.Why, 900, oneLine(freePiece)) + "_")
	}
	if it.Impact != "" {
		b.WriteString("\nImpact: " + clip(it.Impact, 300, oneLine(freePiece)))
	}
	if it.Next != "" {
		b.WriteString("\nNext: " + clip(it.Next, 200, oneLine(freePiece)))
	}
	if it.Label != "" {
		b.WriteString("\nGroup: " + clip(it.Label, 60, oneLine(freePiece)))
	}
	return b.String()
}

func sectionBlocks(s bot.Section) []slack.Block {
	var out []slack.Block
	heading := ""
	if s.Heading != "" {
		heading = "*" + clip(s.Heading, 250, oneLine(freePiece)) + "*"
	}
	texts := chunks(s.Text, maxSectionText-utf8.RuneCountInString(heading)-1, freePiece)
	switch {
	case len(texts) == 0 && heading != "":
		out = append(out, section(heading))
	case len(texts) > 0:
		for i, t := range texts {
			if i == 0 && heading != "" {
				t = heading + "\n" + t
			}
			out = append(out, section(t))
		}
	}
	for start := 0; start < len(s.Fields); start += maxFields {
		var fields []*slack.TextBlockObject
		for _, f := range s.Fields[start:min(start+maxFields, len(s.Fields))] {
			fields = append(fields, mrkdwn("*"+clip(f.Label, 100, oneLine(freePiece))+"*\n"+fieldValue(f.Value)))
		}
		out = append(out, slack.NewSectionBlock(nil, fields, nil))
	}
	return out
}

// codeBlocks shows a short script inline and turns a long one (or one a
// code fence cannot hold) into a file with a one-line pointer.
func codeBlocks(c bot.Code) ([]slack.Block, *File) {
	name := safeFilename(c.Filename, c.Language)
	var meta []string
	meta = appendNonEmpty(meta, "`"+clip(name, 100, codePiece)+"`", clip(c.Language, 20, oneLine(freePiece)))
	if c.SHA256 != "" {
		meta = append(meta, "sha256 `"+clip(c.SHA256, 16, codePiece)+"`")
	}
	inline := "```\n" + escapeWith(c.Body, plainPiece) + "\n```"
	if utf8.RuneCountInString(c.Body) <= maxInlineCode && utf8.RuneCountInString(inline) <= maxSectionText && !strings.Contains(c.Body, "```") {
		return []slack.Block{contextBlock(strings.Join(meta, " · ")), section(inline)}, nil
	}
	lines := strings.Count(c.Body, "\n")
	if !strings.HasSuffix(c.Body, "\n") {
		lines++
	}
	pointer := fmt.Sprintf("The script is too long to show here; it is attached as a file: %s (%d lines).", strings.Join(meta, " · "), lines)
	return []slack.Block{section(pointer)}, &File{Filename: name, Title: name, Content: c.Body}
}

// safeFilename keeps the base name of what the reply proposed, so a
// hostile "../../x" or an empty name cannot reach files.upload.
func safeFilename(name, lang string) string {
	name = path.Base(strings.ReplaceAll(strings.TrimSpace(name), "\\", "/"))
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
	if name == "" || name == "." || name == "_" || strings.Trim(name, "._") == "" {
		ext := map[string]string{"hcl": "tf", "bash": "sh", "yaml": "yaml"}[lang]
		if ext == "" {
			ext = "txt"
		}
		name = "script." + ext
	}
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	return name
}

// buttonBlocks turns the reply's buttons into actions blocks. Slack wants
// action ids unique within a message, so repeats get a "#n" suffix that
// the click parser strips.
func buttonBlocks(btns []bot.Button) []slack.Block {
	var out []slack.Block
	var elems []slack.BlockElement
	seen := map[string]int{}
	dropped := 0
	for _, b := range btns {
		if b.Value == "" || utf8.RuneCountInString(b.Value) > maxButtonValue {
			// Button values are opaque ids; an over-long one is a bug
			// upstream, and truncating it would name another request.
			dropped++
			continue
		}
		id := b.ActionID
		if n := seen[b.ActionID]; n > 0 {
			id = b.ActionID + "#" + strconv.Itoa(n)
		}
		seen[b.ActionID]++
		if len(id) > maxActionIDChars {
			dropped++
			continue
		}
		el := slack.NewButtonBlockElement(id, b.Value, plain(clip(b.Label, maxButtonText, oneLine(plainPiece))))
		switch b.Style {
		case "primary":
			el.Style = slack.StylePrimary
		case "danger":
			el.Style = slack.StyleDanger
		}
		elems = append(elems, el)
	}
	for start := 0; start < len(elems); start += maxActionElems {
		out = append(out, slack.NewActionBlock("optix_actions_"+strconv.Itoa(start/maxActionElems), elems[start:min(start+maxActionElems, len(elems))]...))
	}
	if dropped > 0 {
		out = append(out, contextBlock(fmt.Sprintf("%d button(s) could not be shown.", dropped)))
	}
	return out
}

// ActionID returns the reply's button action id a rendered action id came
// from ("approve#2" → "approve").
func ActionID(rendered string) string {
	if i := strings.IndexByte(rendered, '#'); i >= 0 {
		return rendered[:i]
	}
	return rendered
}

// mrkdwn is a text object for already-escaped text. Verbatim stops Slack
// from turning bare URLs, #channel names and @mentions into links.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func section(s string) slack.Block { return slack.NewSectionBlock(mrkdwn(s), nil, nil) }

func contextBlock(s string) slack.Block { return slack.NewContextBlock("", mrkdwn(s)) }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func appendNonEmpty(dst []string, ss ...string) []string {
	for _, s := range ss {
		if s != "" {
			dst = append(dst, s)
		}
	}
	return dst
}

func joinNonEmpty(sep string, ss ...string) string {
	return strings.Join(appendNonEmpty(nil, ss...), sep)
}

// fieldValue renders a field's value. A one-line value (a check id, an ARN,
// a hash, an owner) goes in a code span, where mrkdwn applies no emphasis,
// so it is shown and copied exactly: s3_bucket_public_access must not come
// out as a look-alike. Longer text is written as running mrkdwn.
func fieldValue(v string) string {
	if v != "" && !strings.ContainsAny(v, "\n\r") {
		return "`" + clip(v, maxFieldText-112, codePiece) + "`"
	}
	return clip(v, maxFieldText-110, freePiece)
}
