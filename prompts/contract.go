package prompts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is the contract between optix-bot and a model: the data each
// prompt carries in its <data> block and the answer it must return. The
// answer parsers are strict about shape (a wrong shape earns one repair
// attempt) and lenient about content the model had no right to give: extra
// fields, unknown ids and missing ids are not errors but override attempts,
// which the caller counts and records.

// Task names, the "task" field of every data block.
const (
	TaskRank   = "rank"
	TaskTailor = "tailor"
)

// RankInput is the data block of the top-risks prompt.
type RankInput struct {
	Task  string     `json:"task"` // TaskRank
	Items []RankItem `json:"items"`
}

// RankItem is one risk group as the model sees it: our own vocabulary
// (check, catalogue title, bands, factors) and identifiers, never
// free text from the estate.
type RankItem struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"` // finding, cluster, combination
	Band         string `json:"band"`
	Score        int    `json:"score"`
	Check        string `json:"check"`
	Title        string `json:"title"` // the catalogue's title for the check
	Provider     string `json:"provider,omitempty"`
	Account      string `json:"account,omitempty"`
	Environment  string `json:"environment,omitempty"`
	Resource     string `json:"resource,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	Findings     int    `json:"findings"`
	Owner        string `json:"owner,omitempty"`
	Application  string `json:"application,omitempty"`
	Criticality  string `json:"criticality,omitempty"`
	DataClass    string `json:"data_class,omitempty"`
	Why          string `json:"why,omitempty"` // the rules' factors, e.g. "internet-facing; holds PII; production"
}

// RankAnswer is a parsed top-risks answer.
type RankAnswer struct {
	Summary string
	Items   []RankedItem // the model's order, known ids only, each once
	// Attempts lists what the model tried and had no right to: unknown or
	// repeated ids, ids left out, fields that would set a score or band.
	Attempts []string
}

// RankedItem is the model's word on one group.
type RankedItem struct {
	ID         string `json:"id"`
	Impact     string `json:"impact"`
	NextAction string `json:"next_action"`
	Group      string `json:"group"`
}

// Length caps for what the model writes; longer text is cut at a word.
const (
	maxSummary = 600
	maxImpact  = 240
	maxAction  = 160
	maxGroup   = 40
	maxAnswer  = 1 << 20
)

// ErrInvalid is wrapped by every parse error: the answer does not have the
// contract's shape, and a repair attempt may help.
var ErrInvalid = errors.New("invalid answer")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseRank decodes a top-risks answer. ids are the ids that were sent, in
// the rules' order; ids the model left out are reported as attempts, not
// added (the caller's bounds place them).
func ParseRank(text string, ids []string) (RankAnswer, error) {
	obj, err := decodeObject(text)
	if err != nil {
		return RankAnswer{}, err
	}
	var ans RankAnswer
	for _, k := range sortedKeys(obj) {
		switch k {
		case "summary", "items":
		default:
			ans.Attempts = append(ans.Attempts, "answer "+fieldName(k)+" ignored")
		}
	}
	if raw, ok := obj["summary"]; ok {
		if err := json.Unmarshal(raw, &ans.Summary); err != nil {
			return RankAnswer{}, invalid("summary is not a string")
		}
		ans.Summary = Clean(ans.Summary, maxSummary)
	}
	raw, ok := obj["items"]
	if !ok {
		return RankAnswer{}, invalid(`there is no "items" list`)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return RankAnswer{}, invalid(`"items" is not a list of objects`)
	}
	if len(items) == 0 {
		return RankAnswer{}, invalid(`"items" is empty`)
	}
	// Ids compare case-insensitively (models like to upper-case hex) and
	// come back in the spelling that was sent.
	sent := make(map[string]string, len(ids))
	for _, id := range ids {
		sent[strings.ToLower(id)] = id
	}
	seen := make(map[string]bool, len(ids))
	for i, it := range items {
		var r RankedItem
		var extra []string
		for _, k := range sortedKeys(it) {
			var dst *string
			switch k {
			case "id":
				dst = &r.ID
			case "impact":
				dst = &r.Impact
			case "next_action":
				dst = &r.NextAction
			case "group":
				dst = &r.Group
			default:
				// "score", "band", "severity", "hide": the model has no say
				// in these, whatever it was told.
				extra = append(extra, k)
				continue
			}
			if string(it[k]) == "null" {
				continue
			}
			if err := json.Unmarshal(it[k], dst); err != nil {
				return RankAnswer{}, invalid("items[%d].%s is not a string", i, k)
			}
		}
		raw := strings.TrimSpace(r.ID)
		id, known := sent[strings.ToLower(raw)]
		switch {
		case raw == "":
			return RankAnswer{}, invalid("items[%d] has no id", i)
		case !known:
			ans.Attempts = append(ans.Attempts, "an id that was not sent ignored")
			continue
		case seen[id]:
			ans.Attempts = append(ans.Attempts, fmt.Sprintf("%s listed twice; the first place counts", id))
			continue
		}
		for _, k := range extra {
			ans.Attempts = append(ans.Attempts, id+": "+fieldName(k)+" ignored")
		}
		seen[id] = true
		r.ID = id
		r.Impact = Clean(r.Impact, maxImpact)
		r.NextAction = Clean(r.NextAction, maxAction)
		r.Group = Clean(r.Group, maxGroup)
		ans.Items = append(ans.Items, r)
	}
	if len(ans.Items) == 0 {
		return RankAnswer{}, invalid("no item has an id that was sent")
	}
	for _, id := range ids {
		if !seen[id] {
			ans.Attempts = append(ans.Attempts, fmt.Sprintf("%s left out; the rules place it", id))
		}
	}
	return ans, nil
}

// TailorInput is the data block of the tailor-script prompt.
type TailorInput struct {
	Task        string            `json:"task"` // TaskTailor
	Format      string            `json:"format"`
	Script      string            `json:"script"`
	Slots       []SlotInfo        `json:"slots"`
	Context     map[string]string `json:"context,omitempty"`     // application, environment, owner
	Conventions map[string]string `json:"conventions,omitempty"` // from the context file
}

// SlotInfo is one value in the script the model may change.
type SlotInfo struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Pattern string `json:"pattern"`
	Meaning string `json:"meaning"`
}

// TailorAnswer is a parsed tailor-script answer.
type TailorAnswer struct {
	Script  string
	Changes []string
}

// maxScript caps a tailored script: the vetted ones are a few KiB.
const maxScript = 128 << 10

// ParseTailor decodes a tailor-script answer.
func ParseTailor(text string) (TailorAnswer, error) {
	obj, err := decodeObject(text)
	if err != nil {
		return TailorAnswer{}, err
	}
	var ans TailorAnswer
	raw, ok := obj["script"]
	if !ok {
		return TailorAnswer{}, invalid(`there is no "script"`)
	}
	if err := json.Unmarshal(raw, &ans.Script); err != nil {
		return TailorAnswer{}, invalid(`"script" is not a string`)
	}
	if strings.TrimSpace(ans.Script) == "" {
		return TailorAnswer{}, invalid(`"script" is empty`)
	}
	if len(ans.Script) > maxScript {
		return TailorAnswer{}, invalid(`"script" is longer than %d bytes`, maxScript)
	}
	if raw, ok := obj["changes"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ans.Changes); err != nil {
			return TailorAnswer{}, invalid(`"changes" is not a list of strings`)
		}
		for i := range ans.Changes {
			ans.Changes[i] = Clean(ans.Changes[i], maxAction)
		}
	}
	return ans, nil
}

// Unfence strips one Markdown code fence around an answer ("```json" …
// "```"), which models add even when told not to.
func Unfence(text string) string {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "```") {
		return t
	}
	nl := strings.IndexByte(t, '\n')
	if nl < 0 {
		return t
	}
	lang := strings.TrimSpace(t[3:nl])
	if lang != "" && !strings.EqualFold(lang, "json") {
		return t
	}
	body := strings.TrimSpace(t[nl+1:])
	if !strings.HasSuffix(body, "```") {
		return t
	}
	return strings.TrimSpace(strings.TrimSuffix(body, "```"))
}

func decodeObject(text string) (map[string]json.RawMessage, error) {
	if len(text) > maxAnswer {
		return nil, invalid("the answer is longer than %d bytes", maxAnswer)
	}
	t := Unfence(text)
	if t == "" {
		return nil, invalid("the answer is empty")
	}
	dec := json.NewDecoder(strings.NewReader(t))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, invalid("not JSON (offset %d: %s)", se.Offset, se.Error())
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, invalid("not JSON (it ends before the object is closed)")
		}
		return nil, invalid("not a JSON object")
	}
	if obj == nil {
		return nil, invalid("not a JSON object")
	}
	if dec.More() {
		return nil, invalid("text follows the JSON object")
	}
	if rest := t[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		return nil, invalid("text follows the JSON object")
	}
	return obj, nil
}

// Clean makes model text fit for a chat line: control characters and line
// breaks become spaces, runs of space collapse, and text past max runes is
// cut at a word with an ellipsis. Markup is not the model's to write; the
// renderers escape what is left.
func Clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b bytes.Buffer
	space := false
	for _, r := range s {
		// Format characters (zero-width spaces, bidi controls, the tag
		// characters that can spell hidden text) are dropped outright.
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Bidi_Control, r) || blankLetter(r) {
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) <= max {
		return out
	}
	runes := []rune(out)[:max-1]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// blankLetter reports the letters that render as nothing (Hangul fillers,
// the Braille blank), which could spell an empty-looking label.
func blankLetter(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return true
	}
	return false
}

// fieldName names a field the model had no right to add. Attempts reach
// the audit chain and logs, so they quote none of the model's text: a
// field is named only when it is one optix-bot knows models try.
func fieldName(k string) string {
	switch strings.ToLower(k) {
	case "score", "band", "severity", "rank", "priority", "hide", "drop", "remove", "override":
		return fmt.Sprintf("field %q", strings.ToLower(k))
	}
	return "an unexpected field"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
