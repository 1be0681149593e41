package redact

import (
	"net/netip"
	"regexp"
	"strings"
)

// detector recognises one shape of identifier or secret in free text.
type detector struct {
	kind Kind
	re   *regexp.Regexp
	// group is the submatch that is replaced (0: the whole match), so that
	// "password=hunter2" keeps its key and loses only the value.
	group int
	// hints are substrings of which at least one must occur for the regexp
	// to run at all: most strings hold no ARN, no '@', no "-----BEGIN".
	hints []string
	// hint, when set, replaces hints with a cheaper or stricter test.
	hint func(s string) bool
	// find, when set, replaces re: a hand-written scanner for shapes a
	// regexp would backtrack over in every string (runs of digits, of
	// base64, of host characters).
	find func(s string) [][]int
	// accept checks what a regexp cannot say (neighbours, checksums-like
	// shape, allow lists) and may narrow the span; nil accepts.
	accept func(s string, start, end int) (int, int, bool)
	// acceptMatch, when set, is given the whole submatch index instead.
	acceptMatch func(s string, m []int) (int, int, bool)
}

// pathChars are the characters a resource path or ARN may run over: anything
// but white space, quotes, brackets and list punctuation, so an id stops at
// the end of a quoted string, a JSON value or a Markdown link.
const pathChars = "[^\\s\"'`<>()\\[\\]{},;|\\\\]"

// strongDetectors find secrets. They run first and win over every
// identifier they overlap.
var strongDetectors = []detector{
	// PEM private keys (RSA, EC, OPENSSH, ENCRYPTED...); a block cut short
	// by a size limit still runs to the end of the text.
	{kind: KindSecret, re: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)`), hints: []string{"-----BEGIN"}},
	// JWTs: base64url JSON header and payload, both start with `{"`.
	{kind: KindSecret, re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`), hints: []string{"eyJ"}},
	// Slack bot, user, app-level and refresh tokens.
	{kind: KindSecret, re: regexp.MustCompile(`xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}`), hints: []string{"xox", "xapp-"}, accept: tokenBounded},
	// GitHub personal, OAuth, user-to-server, server and refresh tokens.
	{kind: KindSecret, re: regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}`), hints: []string{"gh", "github_pat_"}, accept: tokenBounded},
	// OpenAI keys, legacy and project/service-account ones.
	{kind: KindSecret, re: regexp.MustCompile(`sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`), hints: []string{"sk-"}, accept: tokenBounded},
	// Google API keys.
	{kind: KindSecret, re: regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`), hints: []string{"AIza"}, accept: tokenBounded},
	// AWS access key ids: long-term (AKIA), temporary (ASIA) and the rarer
	// ABIA/ACCA; always 20 upper-case characters.
	{kind: KindSecret, re: regexp.MustCompile(`(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}`), hints: []string{"AKIA", "ASIA", "ABIA", "ACCA"}, accept: tokenBounded},
	// URL userinfo with a password: https://user:pass@host. The whole
	// user:pass goes; the host is judged on its own.
	{kind: KindSecret, re: regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://([^\s/?#@:"'<>\[\]]*:[^\s/?#@"'<>\[\]]*)@`), group: 1, hint: func(s string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }, accept: nonEmpty},
	// "Bearer <token>" and "Basic <credentials>" as in an Authorization header.
	{kind: KindSecret, re: regexp.MustCompile(`(?i)\b(?:bearer|basic)[ \t]+([A-Za-z0-9._~+/=-]{12,})`), group: 1, hints: []string{"earer", "EARER", "asic", "ASIC"}, accept: notPlainWord},
	// key=value and key: value where the key names a credential: password=,
	// client_secret=, X-Amz-Signature=, AccountKey=, SharedAccessSignature=,
	// a SAS "sig=", "token": "...". Only the value is replaced.
	{kind: KindSecret, find: findKeyValues, group: 2, hints: credentialWords, acceptMatch: acceptKeyValue},
}

// credentialKeys end the keys whose value is a credential, lower case.
var credentialKeys = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "api_key", "api-key",
	"accesskey", "access_key", "access-key", "privatekey", "private_key", "private-key",
	"accountkey", "account_key", "account-key", "sharedaccesskey", "signature", "credential", "sig",
}

// keyValueTail follows a credential key: an optional closing quote of a
// JSON or YAML key, the separator, and the value (quoted or up to the next
// delimiter of a query string, a connection string or a sentence).
var keyValueTail = regexp.MustCompile(`^["']?[ \t]*([:=])[ \t]*("[^"\n]*"|'[^'\n]*'|\$\{[^}\s]*\}|\{\{[^}\n]*\}\}|[^\s"'&;,<>\[\]{}]+)`)

// credentialWords are the spellings of the key/value keywords as they occur
// (lower, Title and UPPER case): without one of them there is nothing for
// the key/value pattern to find, and it is the costliest one.
var credentialWords = []string{
	"pass", "Pass", "PASS", "pwd", "Pwd", "PWD", "secret", "Secret", "SECRET",
	"token", "Token", "TOKEN", "key", "Key", "KEY", "sig", "Sig", "SIG",
	"credential", "Credential", "CREDENTIAL",
}

// weakDetectors find identifiers, and the one secret shape that is only a
// guess (a 40-character AWS secret access key). They compete with Known
// values: the leftmost, then longest, then the first listed wins.
var weakDetectors = []detector{
	// ARNs in every partition. AWS-managed ones (account field "aws", e.g.
	// arn:aws:iam::aws:policy/AdministratorAccess) are public and carry the
	// meaning of the finding, so they stay.
	{kind: KindARN, re: regexp.MustCompile(`arn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:[A-Za-z0-9-]+:[A-Za-z0-9-]*:([0-9]{12}|aws)?:` + pathChars + `+`), hints: []string{"arn:"}, accept: acceptARN},
	// Azure resource ids, and bare subscription scopes.
	{kind: KindResource, re: regexp.MustCompile(`(?i)/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:/` + pathChars + `*)?`), hints: []string{"ubscriptions/", "UBSCRIPTIONS/"}, accept: trimPath},
	// GCP resource paths, with or without the API prefix (full resource
	// names "//compute.googleapis.com/projects/...", self links
	// "https://www.googleapis.com/compute/v1/projects/..."). Project ids are
	// 6-30 characters; project numbers are digits.
	{kind: KindResource, re: regexp.MustCompile(`(?:https://www\.googleapis\.com/[a-z]+/v[0-9a-z.]+/|//[a-z0-9.-]+\.googleapis\.com/)?projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,})(?:/` + pathChars + `*)?`), hints: []string{"projects/"}, accept: acceptGCP},
	// GCP organization and folder numbers.
	{kind: KindAccount, re: regexp.MustCompile(`(?:organizations|folders)/[0-9]{6,}`), hints: []string{"organizations/", "folders/"}, accept: nameBounded},
	// AWS resource ids: prefix, then 8 (old) or 17 (new) hex digits.
	{kind: KindResource, find: findAWSID, hint: dashHex8, accept: nameBounded},
	// The storage account named in an Azure connection string.
	{kind: KindResource, re: regexp.MustCompile(`(?i)\bAccountName=([^;\s"']+)`), group: 1, hints: []string{"ccountName=", "ccountname=", "CCOUNTNAME="}},
	// e-mail addresses.
	{kind: KindEmail, re: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`), hints: []string{"@"}},
	// IPv4 addresses and CIDRs.
	{kind: KindIP, find: findIPv4, hints: []string{"."}, accept: acceptIPv4},
	// IPv6 addresses and prefixes: a loose shape, then net/netip decides.
	{kind: KindIP, find: findIPv6, hint: ipv6Hint, accept: acceptIPv6},
	// GUIDs: Azure subscription and tenant ids.
	{kind: KindAccount, find: findGUID, hints: []string{"-"}, accept: nameBounded},
	// AWS account ids: 12 digits standing alone.
	{kind: KindAccount, find: findDigits12, accept: acceptNumber},
	// Host names; acceptHost keeps provider endpoints and public sites.
	{kind: KindHost, find: findHosts, hints: []string{"."}, accept: acceptHost},
	// AWS secret access keys: 40 base64 characters. Only a guess, so it is
	// weak: a resource path that happens to contain such a run keeps its
	// meaning. Upper, lower and digit must all occur, which rules out hex
	// digests and words.
	{kind: KindSecret, find: findBase64x40, accept: acceptAWSSecret},
}

// detect runs detectors over s and returns their candidate spans; rank is
// the detector's position, offset by base, so earlier detectors win ties.
func detect(s string, ds []detector, base int) []span {
	var out []span
	for i, d := range ds {
		if d.hint != nil && !d.hint(s) || d.hint == nil && !hinted(s, d.hints) {
			continue
		}
		var ms [][]int
		if d.find != nil {
			ms = d.find(s)
		} else {
			ms = d.re.FindAllStringSubmatchIndex(s, -1)
		}
		for _, m := range ms {
			start, end := m[2*d.group], m[2*d.group+1]
			if start < 0 || start == end {
				continue
			}
			if d.acceptMatch != nil {
				var ok bool
				if start, end, ok = d.acceptMatch(s, m); !ok {
					continue
				}
			} else if d.accept != nil {
				var ok bool
				if start, end, ok = d.accept(s, start, end); !ok {
					continue
				}
			}
			out = append(out, span{start: start, end: end, kind: d.kind, rank: base + i})
		}
	}
	return out
}

func hinted(s string, hints []string) bool {
	if len(hints) == 0 {
		return true
	}
	for _, h := range hints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// before and after return the byte next to a span, or 0 at the edges.
func before(s string, i int) byte {
	if i == 0 {
		return 0
	}
	return s[i-1]
}

func after(s string, i int) byte {
	if i >= len(s) {
		return 0
	}
	return s[i]
}

// tokenBounded accepts a match whose neighbours are not alphanumeric or '_'
// or '-', so "task-..." does not look like an OpenAI key.
func tokenBounded(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '_' || b == '-' || isAlnum(a) || a == '_' {
		return 0, 0, false
	}
	return start, end, true
}

// nameBounded accepts a match that is a whole cloud-name token.
func nameBounded(s string, start, end int) (int, int, bool) {
	if nameRuneBefore(s, start) || nameRuneAfter(s, end) {
		return 0, 0, false
	}
	return start, end, true
}

func nonEmpty(s string, start, end int) (int, int, bool) { return start, end, end > start }

// notPlainWord rejects "Basic authentication": a credential has a digit or
// a symbol in it.
func notPlainWord(s string, start, end int) (int, int, bool) {
	for i := start; i < end; i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return start, end, true
		}
	}
	return 0, 0, false
}

// plainValues are what a configuration flag says, not a secret
// ("secret_rotation: enabled").
var plainValues = map[string]bool{
	"true": true, "false": true, "null": true, "none": true, "yes": true, "no": true,
	"enabled": true, "disabled": true, "required": true, "optional": true, "empty": true,
}

// codeReference matches an expression that points at a secret rather than
// being one: a Terraform attribute ("azurerm_storage_account.main.primary_access_key",
// "var.db_password"). The first part must be a resource type (with '_') or
// a Terraform namespace, so that "hunter.two" is still taken for a password.
var codeReference = regexp.MustCompile(`^(?:[a-z][a-z0-9]*_[a-z0-9_]*|var|local|data|module|each|self)(?:\.[A-Za-z_][A-Za-z0-9_-]*)+$`)

// yamlTagOrCall matches a CloudFormation tag ("!GetAtt", "!Ref") or the
// start of a function call ("listKeys(sa.id").
var yamlTagOrCall = regexp.MustCompile(`^(?:![A-Z][A-Za-z]*$|[A-Za-z_][A-Za-z0-9_.]*\()`)

// isReference reports whether a value is a template slot, a variable or a
// call in a script or IaC snippet ("<PASSWORD>", "${DB_PASSWORD}",
// "{{ssm-secure:/path}}", "$(cat key)", "!GetAtt"): the remediation examples
// in ../shared/data/prowler/checks are full of them, they carry meaning,
// and no secret is in them.
func isReference(v string) bool {
	switch {
	case strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"),
		strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"), strings.HasPrefix(v, "$("):
		return true
	}
	return yamlTagOrCall.MatchString(v) || codeReference.MatchString(v)
}

// acceptKeyValue narrows a key/value match to its value (without quotes).
// After a ':' the value must look like a credential (a digit or a symbol in
// it, or quoted), so "Secret: rotate it" stays English.
func acceptKeyValue(s string, m []int) (int, int, bool) {
	sep := s[m[2]:m[3]]
	start, end := m[4], m[5]
	quoted := false
	if c := s[start]; (c == '"' || c == '\'') && end-start >= 2 {
		start, end, quoted = start+1, end-1, true
	}
	if start >= end {
		return 0, 0, false
	}
	v := s[start:end]
	if plainValues[strings.ToLower(v)] || isReference(v) {
		return 0, 0, false
	}
	if sep == ":" && !quoted {
		if _, _, ok := notPlainWord(s, start, end); !ok {
			return 0, 0, false
		}
		// "token: 30s"? still a guess; but "tokens: 5" never reaches here
		// (the key must end with the keyword).
	}
	return start, end, true
}

// trimPath drops sentence punctuation after a path or ARN: "…/bucket." ends a
// sentence, it is not part of the id.
func trimPath(s string, start, end int) (int, int, bool) {
	for end > start && strings.IndexByte(".:!?", s[end-1]) >= 0 {
		end--
	}
	return start, end, end > start
}

func acceptARN(s string, start, end int) (int, int, bool) {
	if b := before(s, start); isAlnum(b) || b == '_' || b == '-' {
		return 0, 0, false
	}
	// Fields: arn, partition, service, region, account, resource.
	f := strings.SplitN(s[start:end], ":", 6)
	if len(f) == 6 && f[4] == "aws" {
		return 0, 0, false
	}
	return trimPath(s, start, end)
}

func acceptGCP(s string, start, end int) (int, int, bool) {
	if b := before(s, start); isAlnum(b) || b == '_' || b == '-' || b == '.' {
		return 0, 0, false
	}
	return trimPath(s, start, end)
}

// anywhere are the addresses that mean "the whole internet": they are the
// risk, not an identifier, and the model needs to see them.
var anywhere = map[string]bool{"0.0.0.0": true, "0.0.0.0/0": true, "::/0": true, "::": true}

func acceptIPv4(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '_' || b == '.' || isAlnum(a) || a == '_' {
		return 0, 0, false
	}
	// "1.2.3.4.5" is a version or an OID, not an address.
	if a == '.' && end+1 < len(s) && isDigit(s[end+1]) {
		return 0, 0, false
	}
	if anywhere[s[start:end]] {
		return 0, 0, false
	}
	return start, end, true
}

func acceptIPv6(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '_' || b == ':' || b == '.' || isAlnum(a) || a == '_' || a == ':' {
		return 0, 0, false
	}
	v := s[start:end]
	if anywhere[v] {
		return 0, 0, false
	}
	// Require a digit and either "::" or all eight groups, so that C++ or
	// Ruby scopes ("Foo::Bar", "ab::cd") and clock times stay text.
	if !strings.ContainsAny(v, "0123456789") || !strings.Contains(v, "::") && strings.Count(v, ":") < 7 {
		return 0, 0, false
	}
	if strings.Contains(v, "/") {
		if _, err := netip.ParsePrefix(v); err != nil {
			return 0, 0, false
		}
	} else if _, err := netip.ParseAddr(v); err != nil {
		return 0, 0, false
	}
	return start, end, true
}

func acceptNumber(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '_' || b == '.' || isAlnum(a) || a == '_' {
		return 0, 0, false
	}
	if a == '.' && end+1 < len(s) && isDigit(s[end+1]) {
		return 0, 0, false
	}
	return start, end, true
}

func acceptAWSSecret(s string, start, end int) (int, int, bool) {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || b == '/' || b == '+' || isAlnum(a) || a == '/' || a == '+' {
		return 0, 0, false
	}
	var upper, lower, digit bool
	for i := start; i < end; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case isDigit(c):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return 0, 0, false
	}
	return start, end, true
}
