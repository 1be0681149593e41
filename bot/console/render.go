// Package console is the terminal chat backend: it renders replies as plain
// text and runs an interactive loop over the same router the chat platforms
// use. Untrusted text is printed as data: control characters (which could
// move the cursor or recolour the terminal) are replaced.
package console

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/optix-bot/optix-bot/bot"
)

// Render turns a reply into the plain text shown in a terminal, and the
// "text" field of `ask --format json`.
func Render(r bot.Reply) string {
	var b strings.Builder
	if !r.OK && r.Error != "" {
		b.WriteString("Error: ")
		b.WriteString(line(r.Error))
		b.WriteString("\n")
	}
	if r.Title != "" {
		b.WriteString(line(r.Title))
		b.WriteString("\n")
	}
	if r.Summary != "" {
		b.WriteString(line(r.Summary))
		b.WriteString("\n")
	}
	if len(r.Items) > 0 {
		b.WriteString("\n")
	}
	for _, it := range r.Items {
		writeItem(&b, it)
	}
	for _, s := range r.Sections {
		b.WriteString("\n")
		if s.Heading != "" {
			b.WriteString(line(s.Heading))
			b.WriteString("\n")
		}
		if s.Text != "" {
			b.WriteString(indent(clean(s.Text), "  "))
			b.WriteString("\n")
		}
		width := 0
		for _, f := range s.Fields {
			width = max(width, len([]rune(line(f.Label))))
		}
		for _, f := range s.Fields {
			label := line(f.Label)
			fmt.Fprintf(&b, "  %s:%s %s\n", label, strings.Repeat(" ", width-len([]rune(label))), line(f.Value))
		}
	}
	if r.Code != nil {
		fmt.Fprintf(&b, "\n--- %s (%s", line(r.Code.Filename), line(r.Code.Language))
		if r.Code.SHA256 != "" {
			fmt.Fprintf(&b, ", sha256 %s", r.Code.SHA256)
		}
		b.WriteString(") ---\n")
		b.WriteString(cleanKeepTabs(r.Code.Body))
		if !strings.HasSuffix(r.Code.Body, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("--- end ---\n")
	}
	if len(r.Buttons) > 0 {
		b.WriteString("\n")
		for _, bt := range r.Buttons {
			fmt.Fprintf(&b, "[%s] /optix %s %s\n", line(bt.Label), line(bt.ActionID), line(bt.Value))
		}
	}
	if r.Footer != "" {
		b.WriteString("\n")
		b.WriteString(line(r.Footer))
		b.WriteString("\n")
	}
	return b.String()
}

func writeItem(b *strings.Builder, it bot.Item) {
	fmt.Fprintf(b, "%2d. %-8s %3d  %s  %s\n", it.Rank, line(it.Band), it.Score, line(it.ID), line(it.Title))
	var where []string
	if it.Resource != "" {
		where = append(where, line(it.Resource))
	}
	loc := line(it.Account)
	if it.Environment != "" {
		loc += " / " + line(it.Environment)
	}
	if loc != "" {
		where = append(where, loc)
	}
	if it.Owner != "" {
		where = append(where, "owner "+line(it.Owner))
	}
	if len(where) > 0 {
		fmt.Fprintf(b, "    %s\n", strings.Join(where, " · "))
	}
	if it.Why != "" {
		fmt.Fprintf(b, "    why: %s\n", line(it.Why))
	}
	if it.Impact != "" {
		fmt.Fprintf(b, "    impact: %s\n", line(it.Impact))
	}
	if it.Next != "" {
		fmt.Fprintf(b, "    next: %s\n", line(it.Next))
	}
	if it.Label != "" {
		fmt.Fprintf(b, "    group: %s\n", line(it.Label))
	}
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

// line is clean for places that hold one line (titles, fields, items): a
// newline in untrusted text would otherwise start a line that looks like
// optix-bot's own output.
func line(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

// clean replaces control characters (ESC, CR, BEL, ...) with U+FFFD so that
// untrusted text cannot drive the terminal; newlines are kept.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return '\uFFFD'
		}
		return r
	}, s)
}

func cleanKeepTabs(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}
