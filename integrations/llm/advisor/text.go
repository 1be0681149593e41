package advisor

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/optix-bot/optix-bot/integrations/llm/redact"
	"github.com/optix-bot/optix-bot/prompts"
)

// This file holds the checks on text that crosses the boundary with the
// model: what of the estate may go in (label, ident) and what of the
// model's words may come out (prose, restoreNames). They are filters for
// the usual tricks, not proofs; the hard guarantees are elsewhere (the
// rules' scores, posture.BoundOrder, remediate.Tailor).

// withheld replaces a value that does not look like what it should be.
const withheld = "[withheld]"

// reLabel is the shape of an owner, application or resource type: a short
// name, not a sentence.
var reLabel = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._@/+:-]{0,63}$`)

// reIdent is the shape of an identifier: one token of printable
// characters, no longer than any real one.
var reIdent = regexp.MustCompile(`^[\p{L}\p{N}._:/@+=,\-\[\]*]{1,512}$`)

// instructionStems are what an order to a model is made of. Names and
// identifiers are matched on letters only ("IgnorePrevious",
// "ignoring_all"), since a real name has no call for them.
var instructionStems = regexp.MustCompile(`(?i)(ignor|disregard|forget|instruction|prompt|pretend|obey|override|jailbreak|youarenow)`)

func instructionLike(s string) bool {
	s = norm.NFKC.String(s)
	return instructionStems.MatchString(lettersOnly(foldLookalikes(s))) || instructionStems.MatchString(lettersOnly(foldLookalikesI(s)))
}

// lettersOnly keeps the letters of s, dropping marks (NFD first, so "Àp"
// is "Ap"), digits, spaces and punctuation.
func lettersOnly(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// label passes an owner, application or resource type only if it looks
// like one. Owners and applications can come from tags, which anyone who
// can create a resource can write.
func label(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !reLabel.MatchString(s) || len(strings.Fields(s)) > 4 || instructionLike(s) {
		return withheld
	}
	return s
}

// ident passes an identifier (account, ARN, resource id, check id).
func ident(s string) string {
	if s == "" {
		return ""
	}
	if !reIdent.MatchString(s) || instructionLike(s) || oddLetters(norm.NFKC.String(s)) {
		return withheld
	}
	return s
}

// knownProviders are the providers a source may name; anything else is
// withheld rather than passed as an identifier.
var knownProviders = map[string]bool{"aws": true, "azure": true, "gcp": true, "kubernetes": true, "oci": true,
	"alibaba": true, "ibm": true, "github": true, "m365": true}

func provider(s string) string {
	if s == "" || knownProviders[strings.ToLower(s)] {
		return strings.ToLower(s)
	}
	return withheld
}

// What a sentence for a chat line never needs: markup and shell
// characters (a backtick, angle brackets, a pipe, a backslash, braces, $,
// @), a scheme, a file path, a bare IP address, a shell command, or a host
// name a chat client could make a link of. Everything else, the
// punctuation of any language included, is fine ("0.0.0.0/0", "read/write",
// "a /32 address", "*:*").
var (
	proseForbidden = regexp.MustCompile(strings.Join([]string{
		"[`<>|\\\\{}$@]", `://`, `(?i)\b(www\.|mailto:|ftp:|file:|javascript:|data:)`,
		`(^|[\s(\["'])/\p{L}`, `//`, `~/`, `\.\./`, `\p{L}/[\p{L}\p{N}._-]+/`, // paths
		`(^|[^\d.])\d{1,3}(\.\d{1,3}){3}($|[^\d./])`, // a bare IPv4 address; CIDR ranges pass
		`(?i)\b(sudo|wget|chmod|powershell|netcat)\b|\brm\s+-|\bcurl\s|\bnc\s+-|\bbash\s+-`,
	}, "|"))
	// Domain-looking tokens ("evil.example", "acme.prod"), which Slack may
	// make a link; a dotted version number ("1.2") is not one.
	proseDomain = regexp.MustCompile(`(?i)[\p{L}\p{N}-]\.[\p{L}]{2,}\b`)
	// Provider namespaces and endpoints the catalogue itself uses
	// ("Microsoft.Storage", "compute.googleapis.com"): not a customer's.
	providerDomain = regexp.MustCompile(`(?i)^(microsoft\.[a-z]+|[a-z0-9.-]*\.(googleapis\.com|amazonaws\.com|azure\.com|windows\.net))$`)
	// Things a chat client may make a link of, in a restored name.
	linkish = regexp.MustCompile(`(?i)://|[\p{L}\p{N}-]\.[\p{L}]{2,}\b|\b\d{1,3}(\.\d{1,3}){3}\b`)
	// Words and phrases that steer the reader of a reply to act in
	// optix-bot's own workflow ("approve it", "sign-off", "LGTM", "accept
	// the change request"). Ordinary security words (approved ranges,
	// accepts traffic, rejects HTTP, deployed, visits) pass: impacts need
	// them.
	proseSteer = steerWords(`optix\w*`)
	// Names in a script need no such words at all, so that list is longer.
	nameSteer = steerWords(`approv\w*`, `reject\w*`, `accept\w*`, `merg(e|es|ed|ing)`, `deploy\w*`, `(re)?appl(y|ies|ied|ying)`,
		`press\w*`, `skip\w*`, `bypass\w*`, `authori[sz]\w*`, `confirm\w*`, `execut\w*`, `review\w*`, `clear(ed)?`, `safe`,
		`ok(ay)?`, `cur[l1]`, `wget`, `sudo`, `bash`, `powershell`, `netcat`, `nc`, `chmod`, `eval`)
)

// steerVerbs are verbs that, aimed at a change request, ask someone to let
// it through.
const steerVerbs = `approv(e|es|ing)|accept(s|ing)?|authori[sz](e|es|ing)|confirm(s|ing)?|merg(e|es|ing)|ok(ay)?|reject(s|ing)?|sign(s|ing)?`

func steerWords(extra ...string) *regexp.Regexp {
	words := append([]string{
		// "approve it", "approve everything", "approve now", "please approve."
		`approv(e|es|ing)(\s+(it|them|this|that|all|every\w*|now|today|asap|immediately)\b|\s*[.!?]|\s*$)`,
		// "accept the pending change request", "OK the request", "merge the PR"
		`(` + steerVerbs + `)\s+(the\s+|this\s+|that\s+|these\s+|every\s+|all\s+)?(pending\s+|open\s+)?(change\w*|request\w*|pr|pull\s+request|fix(es)?|ticket)`,
		`sign(s|ed|ing)?[\s_-]*(it[\s_-]+)?off`, `lgtm`, `ship(s|ped|ping)?[\s_-]*it`, `green[\s_-]*(light\w*|lit)`,
	}, extra...)
	return regexp.MustCompile(`(?i)(^|[^\p{L}])(` + strings.Join(words, "|") + `)($|[^\p{L}])`)
}

// steerStems are looked for inside single tokens that were disguised with
// separators, digits or marks ("ap-prove", "appr0ved", "securityapproved"
// in a name), after letters only are kept; words are not joined across
// spaces, so "design offers" is not "signoff".
var steerStems = regexp.MustCompile(`(?i)approv|signoff|lgtm|greenli(gh)?t|shipit`)

// steers reports a steering word or phrase, also when spelt with
// lookalike letters or digits ("Аpprove", "appr0ve", "v1sit"), with marks
// ("Àpprove"), spaced out ("a p p r o v e") or split inside a token
// ("ap-prove").
func steers(re *regexp.Regexp, s string) bool {
	s = norm.NFKC.String(s)
	for _, f := range []func(string) string{foldLookalikes, foldLookalikesI} {
		for _, v := range []string{s, f(s), stripMarks(f(s)), joinSpaced(stripMarks(f(s)))} {
			if re.MatchString(v) {
				return true
			}
		}
		for _, tok := range strings.Fields(stripMarks(f(s))) {
			letters := lettersOnly(tok)
			if letters != tok && steerStems.MatchString(letters) {
				return true
			}
		}
	}
	return false
}

// stripMarks removes combining marks ("Àpprove" reads "Approve").
func stripMarks(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// reSpaced is three or more single letters separated by one space, dot,
// dash or underscore.
var reSpaced = regexp.MustCompile(`(^|[^\p{L}])(\p{L}([ ._-]\p{L}){2,})($|[^\p{L}])`)

func joinSpaced(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range reSpaced.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[4], m[5] // the letters, not the boundaries around them
		b.WriteString(s[last:start])
		b.WriteString(strings.NewReplacer(" ", "", ".", "", "-", "", "_", "").Replace(s[start:end]))
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// lookalikes maps letters of other scripts that look like Latin ones, and
// the digits and signs used for letters, so "Аpprove" (Cyrillic А) and
// "appr0ve" read "approve".
var lookalikes = strings.NewReplacer(
	"А", "A", "В", "B", "Е", "E", "К", "K", "М", "M", "Н", "H", "О", "O", "Р", "P", "С", "C", "Т", "T", "Х", "X", "У", "Y",
	"а", "a", "е", "e", "о", "o", "р", "p", "с", "c", "у", "y", "х", "x", "і", "i", "ј", "j", "ѕ", "s", "ԁ", "d", "ɡ", "g",
	"Α", "A", "Β", "B", "Ε", "E", "Ζ", "Z", "Η", "H", "Ι", "I", "Κ", "K", "Μ", "M", "Ν", "N", "Ο", "O", "Ρ", "P", "Τ", "T",
	"Υ", "Y", "Χ", "X", "ο", "o", "ν", "v", "ι", "i", "κ", "k", "ρ", "p", "τ", "t", "υ", "u", "χ", "x",
	"ı", "i", "ǀ", "l", "օ", "o", "ɪ", "i", "ɢ", "g", "ɴ", "n", "ʀ", "r", "ᴏ", "o", "ᴇ", "e",
	"0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s",
)

func foldLookalikes(s string) string { return lookalikes.Replace(s) }

// foldLookalikesI is foldLookalikes with 1 and ! read as i ("cl1ck").
func foldLookalikesI(s string) string {
	return foldLookalikes(strings.NewReplacer("1", "i", "!", "i", "|", "i").Replace(s))
}

// homoglyphScripts are scripts whose letters are mostly Latin lookalikes
// and which no team writes its findings in; any letter of theirs drops
// the sentence.
var homoglyphScripts = []*unicode.RangeTable{unicode.Cherokee, unicode.Lisu, unicode.Canadian_Aboriginal, unicode.Coptic,
	unicode.Deseret, unicode.Osage, unicode.Vai, unicode.Tifinagh, unicode.Runic, unicode.Ogham, unicode.Old_Italic}

// oddLetters reports the usual shapes of a lookalike spelling: a word that
// mixes Latin letters with Cyrillic, Greek or Armenian ones ("Аpprove"), Latin
// letters beyond the Latin alphabets proper (small capitals, IPA:
// "ᴀᴘᴘʀᴏᴠᴇ"), or any letter of a script made of Latin lookalikes.
func oddLetters(s string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) {
		var latin, lookalike bool
		for _, r := range w {
			switch {
			case unicode.In(r, homoglyphScripts...):
				return true
			case unicode.Is(unicode.Latin, r):
				// Beyond Latin Extended-B, except Extended Additional
				// (Vietnamese) and the schwa Azerbaijani writes with.
				if r > 0x024F && !(r >= 0x1E00 && r <= 0x1EFF) && r != 'ə' && r != 'Ə' {
					return true
				}
				latin = true
			case unicode.In(r, unicode.Cyrillic, unicode.Greek, unicode.Armenian):
				// Latin next to Japanese or Chinese in one word ("AWSのバケット")
				// is ordinary writing; next to these, a disguise.
				lookalike = true
			}
		}
		if latin && lookalike {
			return true
		}
	}
	return false
}

// prose passes the model's text s (as written, with placeholders) if it
// is plain prose, restoring identifiers and cleaning it; otherwise it
// returns "" and false. A /optix command is checked by nextAction first.
func prose(red *redact.Redactor, s string, max int) (string, bool) {
	// Compatibility forms (fullwidth, mathematical bold) are read as the
	// letters they stand for before any check.
	t := norm.NFKC.String(prompts.Clean(s, 4*max))
	if proseForbidden.MatchString(t) || oddLetters(t) || customerDomain(t) || steers(proseSteer, t) {
		return "", false
	}
	return restoreNames(red, s, max)
}

// customerDomain reports a domain-looking token other than a provider
// namespace or endpoint.
func customerDomain(s string) bool {
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`,;()[]"'`, r) }) {
		tok = strings.TrimRight(tok, ".:!?")
		if proseDomain.MatchString(tok) && !providerDomain.MatchString(strings.Trim(tok, "/")) && !providerPath(tok) {
			return true
		}
	}
	return false
}

// providerPath is a provider resource type written as a path
// ("microsoft.storage/storageaccounts", "compute.googleapis.com/Firewall").
func providerPath(tok string) bool {
	head, _, ok := strings.Cut(tok, "/")
	return ok && providerDomain.MatchString(head)
}

// restoreNames is restore for prose: a name the model refers to by its
// placeholder comes back as it is, except that a name that itself steers
// or is spelt with lookalikes ("approve-now-bucket", "ᴀᴘᴘʀᴏᴠᴇ-now") drops
// the sentence, and a name a chat client could make a link of is defanged
// ("evil[.]example", "hxxp[://]…").
func restoreNames(red *redact.Redactor, s string, max int) (string, bool) {
	if red == nil {
		return restore(nil, s, max), true
	}
	ok := true
	s = rePlaceholder.ReplaceAllStringFunc(s, func(p string) string {
		raw := red.Restore(p)
		if raw == p {
			return p
		}
		if steers(proseSteer, raw) || oddLetters(norm.NFKC.String(raw)) {
			ok = false
		}
		if linkish.MatchString(raw) {
			raw = strings.NewReplacer("://", "[://]", ".", "[.]").Replace(raw)
		}
		return raw
	})
	if !ok {
		return "", false
	}
	return restore(nil, s, max), true
}

var rePlaceholder = regexp.MustCompile(`\[[A-Z]+_[0-9]+\]`)

// modelName passes the model name a server reports, for the audit entry,
// only if it looks like one.
var reModelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$`)

func modelName(s string) string {
	if s == "" || reModelName.MatchString(s) && !instructionLike(s) && !steers(nameSteer, s) && !linkish.MatchString(s) {
		return s
	}
	return withheld
}
