package slack

import (
	"strings"
	"unicode/utf8"
)

// Slack's mrkdwn treats &, < and > as control characters: "<!channel>",
// "<@U123>" and "<https://x|label>" are a ping, a mention and a disguised
// link. Escaping the three as HTML entities is the only escape Slack
// documents, so every untrusted string goes through one of the functions
// below before it reaches a text object.

// entity returns the escaped form of r, or "" when r needs none.
func entity(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	}
	return ""
}

// Emphasis characters in untrusted text are replaced by lookalikes: mrkdwn
// has no backslash escape, so "*bold*" or "_x_" in a resource tag would
// otherwise restyle (or, with a backtick, unbalance) the line around it.
var emphasisLookalike = map[rune]rune{
	'*': '∗', // U+2217 asterisk operator
	'_': 'ˍ', // U+02CD modifier letter low macron
	'~': '∼', // U+223C tilde operator
	'`': 'ˋ', // U+02CB modifier letter grave accent
}

// piece is how one rune of untrusted text is written in a given context.
type piece func(r rune) string

// plainPiece escapes for plain_text objects and code blocks, where
// emphasis characters are shown as they are.
func plainPiece(r rune) string {
	if e := entity(r); e != "" {
		return e
	}
	return string(r)
}

// freePiece escapes for running mrkdwn text.
func freePiece(r rune) string {
	if e := entity(r); e != "" {
		return e
	}
	if l, ok := emphasisLookalike[r]; ok {
		return string(l)
	}
	return string(r)
}

// codePiece escapes for an inline `code` span, which cannot hold a
// backtick or span lines.
func codePiece(r rune) string {
	switch r {
	case '`':
		return "ˋ"
	case '\n', '\r', '\t':
		return " "
	}
	return plainPiece(r)
}

// oneLine wraps a piece so that line breaks become spaces (an item's "why"
// must stay inside its italics).
func oneLine(p piece) piece {
	return func(r rune) string {
		if r == '\n' || r == '\r' {
			return " "
		}
		return p(r)
	}
}

// clip escapes s with p and keeps at most limit characters of the result,
// ending with "…" when something was cut. It never cuts inside an entity.
func clip(s string, limit int, p piece) string {
	if escapedLen(s, p) <= limit {
		return escapeWith(s, p)
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		e := p(r)
		el := utf8.RuneCountInString(e)
		if n+el > limit-1 {
			break
		}
		b.WriteString(e)
		n += el
	}
	b.WriteString("…")
	return b.String()
}

func escapedLen(s string, p piece) int {
	n := 0
	for _, r := range s {
		n += utf8.RuneCountInString(p(r))
	}
	return n
}

func escapeWith(s string, p piece) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(p(r))
	}
	return b.String()
}

// Escape makes untrusted text safe for a Slack mrkdwn or plain_text field:
// it can no longer form a link, a mention or a channel-wide ping.
func Escape(s string) string { return escapeWith(s, plainPiece) }

// chunks escapes s with p and splits the result into parts of at most
// limit characters, preferring line breaks, never cutting an entity.
func chunks(s string, limit int, p piece) []string {
	var out []string
	var cur strings.Builder
	n := 0
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, strings.TrimRight(cur.String(), "\n"))
			cur.Reset()
			n = 0
		}
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		ll := escapedLen(line, p)
		if n+ll > limit {
			flush()
		}
		if ll <= limit {
			cur.WriteString(escapeWith(line, p))
			n += ll
			continue
		}
		for _, r := range line { // a single line longer than a block: hard cut
			e := p(r)
			el := utf8.RuneCountInString(e)
			if n+el > limit {
				flush()
			}
			cur.WriteString(e)
			n += el
		}
	}
	flush()
	return out
}
