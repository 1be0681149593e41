// Package redact replaces every identifier and secret in text bound for an LLM
// with a stable placeholder ("[ARN_1]", "[SECRET_2]") and puts the originals
// back into the answer shown to the user.
//
// Two sources of identifiers are combined: values the caller takes from
// structured fields (Known: account ids, resource ids and names) and patterns
// that recognise identifiers and secrets in free text (titles, descriptions,
// tags). Secrets are found first and win over anything they overlap, so a
// token inside a URL or a resource path is never sent nor echoed back.
package redact

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind names what a placeholder stands for; it is the word inside the
// placeholder, so the model can still reason about it ("[ARN_1]" is an ARN).
type Kind string

// Kinds of replaced values. There is no URL kind: in a URL only the parts that
// identify (the host, the userinfo, a token in the query) are replaced, so the
// path of a documentation link stays readable.
const (
	// KindAccount is an AWS account id, an Azure subscription or tenant GUID,
	// a GCP project id or organization/folder number.
	KindAccount Kind = "ACCOUNT"
	// KindARN is a whole AWS ARN, except AWS-managed ones (account "aws").
	KindARN Kind = "ARN"
	// KindResource is an Azure resource id, a GCP resource path, an AWS
	// resource id (sg-…, i-…) or a resource name registered with Known.
	KindResource Kind = "RESOURCE"
	// KindIP is an IPv4 or IPv6 address or CIDR other than the "anywhere"
	// ranges 0.0.0.0, 0.0.0.0/0 and ::/0, which are kept because they carry
	// the risk.
	KindIP Kind = "IP"
	// KindEmail is an e-mail address.
	KindEmail Kind = "EMAIL"
	// KindHost is a host name that names a customer thing (a bucket endpoint,
	// an internal or customer domain); provider endpoints and public
	// documentation sites stay as they are.
	KindHost Kind = "HOST"
	// KindSecret is a credential: keys, tokens, private keys, passwords.
	// Restore never puts a secret back.
	KindSecret Kind = "SECRET"
)

// kinds lists every Kind, for the placeholder pattern.
var kinds = []Kind{KindAccount, KindARN, KindResource, KindIP, KindEmail, KindHost, KindSecret}

// placeholderRE matches placeholders of every kind. Restore and the
// protection of placeholders already present in the input use the same
// pattern, so they agree on what a placeholder is.
var placeholderRE = func() *regexp.Regexp {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return regexp.MustCompile(`\[(?:` + strings.Join(names, "|") + `)_[0-9]+\]`)
}()

// minKnownRunes is the shortest Known value honoured: shorter ones ("db",
// "eu") would match ordinary words everywhere.
const minKnownRunes = 3

// genericNames are resource names too common to identify anyone; replacing
// them would mangle plain English ("the default encryption") for no privacy
// gain. A security group is literally called "default" in every VPC.
var genericNames = map[string]bool{
	"default": true, "main": true, "master": true, "prod": true, "production": true,
	"staging": true, "stage": true, "dev": true, "test": true, "public": true,
	"private": true, "internal": true, "admin": true, "root": true, "logs": true,
	"data": true, "backup": true, "web": true, "app": true, "api": true,
	"none": true, "null": true, "true": true, "false": true, "unknown": true,
	"global": true, "aws": true, "azure": true, "gcp": true,
}

type entry struct {
	raw  string
	kind Kind
}

type knownValue struct {
	value string
	kind  Kind
}

// Redactor holds the mapping between originals and placeholders for one LLM
// request: use a new one per request so that placeholders (and the cache key
// built from the redacted text) do not depend on earlier requests.
// A Redactor is not safe for concurrent use.
type Redactor struct {
	known      []knownValue // longest first, then by value
	knownKind  map[string]Kind
	knownDirty bool

	byRaw         map[string]string // original -> placeholder
	byPlaceholder map[string]entry  // placeholder -> original
	next          map[Kind]int      // last number issued per kind
	reserved      map[string]bool   // placeholders seen in input, never issued
	order         []string          // originals in order of first replacement
	counts        map[Kind]int
}

// New returns an empty Redactor.
func New() *Redactor {
	return &Redactor{
		knownKind:     map[string]Kind{},
		byRaw:         map[string]string{},
		byPlaceholder: map[string]entry{},
		next:          map[Kind]int{},
		reserved:      map[string]bool{},
		counts:        map[Kind]int{},
	}
}

// Known registers identifiers taken from structured fields (account ids,
// resource ids, resource names). They are replaced wherever they occur as a
// whole token, even when no pattern would recognise them ("acme-finance-pii").
//
// Token rule: an occurrence counts only when the characters on either side
// are not letters, digits, '_' or '-' (the characters cloud names are made
// of). So "logs" inside "access-logs-bucket" is left alone, while the bucket
// "access-logs-bucket" is found in "s3://access-logs-bucket/key",
// "arn:aws:s3:::access-logs-bucket" or at the end of a sentence.
// Matching is case-sensitive. Values shorter than 3 runes, the "anywhere"
// addresses and generic names such as "default" or "production" are ignored.
// The first kind registered for a value wins; longer values win over the
// shorter values they contain.
func (r *Redactor) Known(k Kind, values ...string) {
	for _, v := range values {
		if utf8.RuneCountInString(v) < minKnownRunes || genericNames[strings.ToLower(v)] {
			continue
		}
		r.known1(k, v)
	}
}

// KnownExact is Known without the length and generic-name exceptions: for
// text that is mostly identifiers (a script naming the IAM user "jo" or
// "admin"), where a mangled word costs nothing because Restore puts it
// back exactly, and a name sent as is would be a leak.
func (r *Redactor) KnownExact(k Kind, values ...string) {
	for _, v := range values {
		r.known1(k, v)
	}
}

func (r *Redactor) known1(k Kind, v string) {
	if v == "" || anywhere[v] || placeholderRE.MatchString(v) {
		return
	}
	if _, ok := r.knownKind[v]; ok {
		return
	}
	r.knownKind[v] = k
	r.known = append(r.known, knownValue{value: v, kind: k})
	r.knownDirty = true
}

func (r *Redactor) sortKnown() {
	if !r.knownDirty {
		return
	}
	sort.Slice(r.known, func(i, j int) bool {
		a, b := r.known[i].value, r.known[j].value
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	r.knownDirty = false
}

// span is one value to replace: s[start:end].
type span struct {
	start, end int
	kind       Kind
	rank       int // lower wins when two candidates start at the same place and have the same length
}

// String replaces every identifier in s, known and recognised by pattern.
// Placeholders already present in s are left as they are and their numbers
// are never issued for other values.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	r.reserve(s)
	protected := placeholderSpans(s)

	// Secrets first: they win over any identifier they overlap.
	secrets := selectSpans(detect(s, strongDetectors, 1), protected)
	blocked := mergeSpans(protected, secrets)

	r.sortKnown()
	cands := r.knownSpans(s)
	cands = append(cands, detect(s, weakDetectors, 1)...)
	others := selectSpans(cands, blocked)

	all := mergeSpans(secrets, others)
	if len(all) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range all {
		b.WriteString(s[last:sp.start])
		b.WriteString(r.placeholder(s[sp.start:sp.end], sp.kind))
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// reserve records the placeholders present in s, so that a placeholder-like
// text in the input never collides with one this Redactor issues (which
// would make Restore replace text that was never redacted).
func (r *Redactor) reserve(s string) {
	if !strings.Contains(s, "_") || !strings.Contains(s, "[") {
		return
	}
	for _, p := range placeholderRE.FindAllString(s, -1) {
		if _, ours := r.byPlaceholder[p]; !ours {
			r.reserved[p] = true
		}
	}
}

func (r *Redactor) placeholder(raw string, k Kind) string {
	if p, ok := r.byRaw[raw]; ok {
		return p
	}
	var p string
	for {
		r.next[k]++
		p = "[" + string(k) + "_" + strconv.Itoa(r.next[k]) + "]"
		if !r.reserved[p] {
			break
		}
	}
	r.byRaw[raw] = p
	r.byPlaceholder[p] = entry{raw: raw, kind: k}
	r.order = append(r.order, raw)
	r.counts[k]++
	return p
}

// Restore puts the originals back in place of this Redactor's placeholders.
// Secret placeholders stay as they are (a secret is never echoed into chat)
// and placeholders it did not issue are left untouched. The originals are
// untrusted text: the chat renderer must still escape the result.
func (r *Redactor) Restore(s string) string {
	if len(r.byPlaceholder) == 0 || !strings.Contains(s, "[") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		e, ok := r.byPlaceholder[p]
		if !ok || e.kind == KindSecret {
			return p
		}
		return e.raw
	})
}

// Counts returns how many distinct values were replaced per kind, for the
// audit entry of the LLM call.
func (r *Redactor) Counts() map[Kind]int {
	out := make(map[Kind]int, len(r.counts))
	for k, n := range r.counts {
		out[k] = n
	}
	return out
}

// Originals returns every distinct original value replaced so far, in order
// of first replacement, so that tests can scan what was sent for any of them
// (see Leaks).
func (r *Redactor) Originals() []string {
	return slices.Clone(r.order)
}

// Placeholder returns the placeholder issued for raw, if any.
func (r *Redactor) Placeholder(raw string) (string, bool) {
	p, ok := r.byRaw[raw]
	return p, ok
}

// knownSpans finds the whole-token occurrences of the Known values in s.
func (r *Redactor) knownSpans(s string) []span {
	var out []span
	for _, kv := range r.known {
		from := 0
		for {
			i := strings.Index(s[from:], kv.value)
			if i < 0 {
				break
			}
			start := from + i
			end := start + len(kv.value)
			if !nameRuneBefore(s, start) && !nameRuneAfter(s, end) {
				out = append(out, span{start: start, end: end, kind: kv.kind, rank: 0})
			}
			from = start + 1
			// Skip to the next rune start so that an index never splits a
			// multi-byte rune.
			for from < len(s) && !utf8.RuneStart(s[from]) {
				from++
			}
		}
	}
	return out
}

func isNameRune(c rune) bool {
	return c == '_' || c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c)
}

func nameRuneBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	c, _ := utf8.DecodeLastRuneInString(s[:i])
	return isNameRune(c)
}

func nameRuneAfter(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c, _ := utf8.DecodeRuneInString(s[i:])
	return isNameRune(c)
}

func placeholderSpans(s string) []span {
	if !strings.Contains(s, "[") {
		return nil
	}
	idx := placeholderRE.FindAllStringIndex(s, -1)
	out := make([]span, len(idx))
	for i, m := range idx {
		out[i] = span{start: m[0], end: m[1]}
	}
	return out
}

// selectSpans keeps, from candidates, the leftmost, then longest, then
// best-ranked ones that overlap neither each other nor blocked (which must be
// sorted and non-overlapping). The result is sorted.
func selectSpans(cands, blocked []span) []span {
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return a.rank < b.rank
	})
	var out []span
	j := 0
	lastEnd := 0
	for _, c := range cands {
		if c.start < lastEnd {
			continue
		}
		for j < len(blocked) && blocked[j].end <= c.start {
			j++
		}
		if j < len(blocked) && blocked[j].start < c.end {
			continue
		}
		out = append(out, c)
		lastEnd = c.end
	}
	return out
}

// mergeSpans merges two sorted, mutually non-overlapping span lists.
func mergeSpans(a, b []span) []span {
	out := make([]span, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].start < b[j].start {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
