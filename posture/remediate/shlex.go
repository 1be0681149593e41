package remediate

import (
	"strings"
)

// This file is a small, deliberately strict reader for the bash subset our
// templates use. It does not try to understand all of bash: anything it
// does not recognise (pipes, subshells, arithmetic, here-documents,
// backticks, unquoted expansions) becomes a violation, which is the safe
// answer for a linter that guards what people run.

// shWord is one shell word.
type shWord struct {
	raw    string // as written, quotes included
	lit    string // value with quotes removed (expansions left as written)
	exp    bool   // holds a $ expansion
	quoted bool   // any part was quoted
}

// shCmd is one simple command: words between ; && || and newlines.
type shCmd struct {
	line  int
	words []shWord
	sub   bool // inside $( )
	first bool // first command of its $( )
}

type shLexer struct {
	src  string
	i    int
	line int
	cmds []shCmd
	viol []Violation
}

func (l *shLexer) fail(rule, msg string) {
	l.viol = append(l.viol, Violation{Rule: rule, Line: l.line, Message: msg})
}

// lexShell splits a script into simple commands, reporting constructs the
// subset does not allow.
func lexShell(src string) ([]shCmd, []Violation) {
	l := &shLexer{src: src, line: 1}
	l.run(false)
	return l.cmds, l.viol
}

// run reads commands until the end of input, or, in a command
// substitution, until its closing parenthesis.
func (l *shLexer) run(sub bool) {
	var cur shCmd
	cur.sub, cur.first, cur.line = sub, sub, l.line
	var raw, lit strings.Builder
	inWord, exp, quoted := false, false, false
	flushWord := func() {
		if inWord {
			cur.words = append(cur.words, shWord{raw: raw.String(), lit: lit.String(), exp: exp, quoted: quoted})
		}
		raw.Reset()
		lit.Reset()
		inWord, exp, quoted = false, false, false
	}
	flushCmd := func() {
		flushWord()
		if len(cur.words) > 0 {
			l.cmds = append(l.cmds, cur)
			cur.first = false
		}
		cur.words = nil
		cur.line = l.line
	}
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			flushCmd()
			l.line++
			l.i++
			cur.line = l.line
		case c == '\\' && l.i+1 < len(l.src) && l.src[l.i+1] == '\n':
			flushWord()
			l.i += 2
			l.line++
		case c == '\\':
			// An escape outside quotes: keep it literal but note it, since
			// our templates never need one.
			if l.i+1 < len(l.src) {
				raw.WriteString(l.src[l.i : l.i+2])
				lit.WriteByte(l.src[l.i+1])
			}
			inWord = true
			l.i += 2
		case c == ' ' || c == '\t':
			flushWord()
			l.i++
		case c == '#' && !inWord:
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case c == '\'':
			end := strings.IndexByte(l.src[l.i+1:], '\'')
			if end < 0 {
				l.fail("parse", "unterminated single quote")
				l.i = len(l.src)
				break
			}
			body := l.src[l.i+1 : l.i+1+end]
			if strings.Contains(body, "`") {
				l.fail("commands", "backtick")
			}
			raw.WriteString(l.src[l.i : l.i+end+2])
			lit.WriteString(body)
			l.line += strings.Count(body, "\n")
			inWord, quoted = true, true
			l.i += end + 2
		case c == '"':
			inWord, quoted = true, true
			start := l.i
			l.i++
			closed := false
			for l.i < len(l.src) && !closed {
				d := l.src[l.i]
				switch d {
				case '\\':
					if l.i+1 < len(l.src) {
						lit.WriteByte(l.src[l.i+1])
						if l.src[l.i+1] == '\n' {
							l.line++
						}
					}
					l.i += 2
				case '"':
					closed = true
					l.i++
				case '`':
					l.fail("commands", "backtick command substitution")
					l.i++
				case '$':
					s := l.i
					l.expansion()
					lit.WriteString(l.src[s:l.i])
					exp = true
				case '\n':
					l.line++
					lit.WriteByte(d)
					l.i++
				default:
					lit.WriteByte(d)
					l.i++
				}
			}
			if !closed {
				l.fail("parse", "unterminated double quote")
			}
			raw.WriteString(l.src[start:l.i])
		case c == '$':
			l.fail("unquoted", "unquoted expansion "+l.peekExpansion()+": put it in double quotes")
			s := l.i
			l.expansion()
			raw.WriteString(l.src[s:l.i])
			lit.WriteString(l.src[s:l.i])
			inWord, exp = true, true
		case c == '`':
			l.fail("commands", "backtick command substitution")
			l.i++
		case c == ';':
			flushCmd()
			l.i++
		case c == '&':
			if strings.HasPrefix(l.src[l.i:], "&&") {
				flushCmd()
				l.i += 2
			} else if strings.HasPrefix(l.src[l.i:], "&>") {
				flushWord()
				l.redirect()
			} else {
				l.fail("commands", "background job (&)")
				flushCmd()
				l.i++
			}
		case c == '|':
			if strings.HasPrefix(l.src[l.i:], "||") {
				flushCmd()
				l.i += 2
			} else {
				l.fail("commands", "pipe: scripts may not pipe between commands")
				flushCmd()
				l.i++
			}
		case c == '>' || c == '<':
			// A word of digits right before is the file descriptor.
			if inWord && !quoted && !exp && isDigits(raw.String()) {
				raw.Reset()
				lit.Reset()
				inWord = false
			}
			flushWord()
			l.redirect()
		case c == ')' && sub:
			flushCmd()
			l.i++
			return
		case c == '(' || c == ')':
			l.fail("commands", "subshell or grouping parentheses")
			l.i++
		case (c == '*' || c == '?') && !quoted:
			l.fail("unquoted", "unquoted glob character "+string(c))
			raw.WriteByte(c)
			lit.WriteByte(c)
			inWord = true
			l.i++
		default:
			raw.WriteByte(c)
			lit.WriteByte(c)
			inWord = true
			l.i++
		}
	}
	if sub {
		l.fail("parse", "unterminated $(")
	}
	flushCmd()
}

func (l *shLexer) peekExpansion() string {
	end := l.i + 1
	for end < len(l.src) && end < l.i+40 && !strings.ContainsRune(" \t\n\"';|&)", rune(l.src[end])) {
		end++
	}
	return l.src[l.i:end]
}

// expansion consumes one $ expansion starting at l.i. Command
// substitutions are lexed as commands of their own.
func (l *shLexer) expansion() {
	rest := l.src[l.i:]
	switch {
	case strings.HasPrefix(rest, "$(("):
		l.fail("commands", "arithmetic expansion")
		end := strings.Index(rest, "))")
		if end < 0 {
			l.i = len(l.src)
			return
		}
		l.i += end + 2
	case strings.HasPrefix(rest, "$("):
		l.i += 2
		l.run(true)
	case strings.HasPrefix(rest, "${"):
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			l.fail("parse", "unterminated ${")
			l.i = len(l.src)
			return
		}
		inner := rest[2:end]
		name := inner
		if k := strings.IndexAny(inner, ":-=?+#%/"); k >= 0 {
			name = inner[:k]
			if strings.ContainsAny(inner[k:], "$`") {
				l.fail("commands", "expansion inside a parameter default")
			}
		}
		if !isName(name) {
			l.fail("unquoted", "unusual parameter expansion ${"+inner+"}")
		}
		l.i += end + 1
	default:
		j := l.i + 1
		if j < len(l.src) && strings.IndexByte("?#@*!$0123456789-", l.src[j]) >= 0 {
			j++
		} else {
			for j < len(l.src) && isNameByte(l.src[j]) {
				j++
			}
		}
		if j == l.i+1 {
			// A lone "$" is a literal dollar.
			l.i++
			return
		}
		l.i = j
	}
}

// redirect consumes a redirection operator and its target. Only discarding
// output (>/dev/null) and sending it to stderr (>&2) are allowed: a script
// must not write or read files.
func (l *shLexer) redirect() {
	j := l.i
	for j < len(l.src) && strings.IndexByte("<>&", l.src[j]) >= 0 {
		j++
	}
	op := l.src[l.i:j]
	for j < len(l.src) && (l.src[j] == ' ' || l.src[j] == '\t') {
		j++
	}
	k := j
	for k < len(l.src) && strings.IndexByte(" \t\n;|&)", l.src[k]) < 0 {
		k++
	}
	target := l.src[j:k]
	switch {
	case (op == ">" || op == ">>" || op == "&>") && target == "/dev/null":
	case op == ">&" && (target == "2" || target == "1"):
	default:
		l.fail("commands", "redirection "+op+" "+target+": only >/dev/null and >&2 are allowed")
	}
	l.i = k
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func isName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// assignment reports whether w is NAME=value, and the name.
func (w shWord) assignment() (string, bool) {
	k := strings.IndexByte(w.raw, '=')
	if k <= 0 || !isName(w.raw[:k]) {
		return "", false
	}
	return w.raw[:k], true
}
