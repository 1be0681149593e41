package llmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/optix-bot/optix-bot/prompts"
)

// EchoTailorLine is what Analyst appends to a tailored script when Echo is
// on and the tailor data holds an instruction: the destructive command a
// successful injection would smuggle in.
const EchoTailorLine = "aws s3 rb --force s3://optix-injected-bucket"

// Analyst is the default Brain: a deterministic model of optix-bot's prompt
// contract (package prompts, contract.go). It reads the task from
// Call.Data:
//
//   - "rank": answers {"summary", "items":[{"id","impact","next_action","group"}]}
//     ordered by score + (data weight + criticality weight)/2, descending
//     and stable (data: restricted 3, pii/phi/pci 2, confidential 1;
//     criticality: critical 3, high 2, medium 1).
//   - "tailor": answers {"script","changes"} with each resource_name or
//     logical_id slot renamed to application_value, or environment_value
//     when no application is given (fitted to the slot's pattern), and
//     other slots unchanged.
//
// Anything else gets {"summary": ...} that repeats nothing of the input.
// With Call.Echo it obeys instructions found in the data (see Server.Echo),
// as a model without defences would.
func Analyst(c Call) (string, error) {
	var head struct {
		Task string `json:"task"`
	}
	if c.Data == nil || json.Unmarshal(c.Data, &head) != nil {
		return marshal(map[string]string{"summary": "There is no task in this request."})
	}
	switch head.Task {
	case "rank":
		return rank(c)
	case "tailor":
		return tailor(c)
	}
	return marshal(map[string]string{"summary": "This task is not one I know."})
}

// rankAnswer is one entry of a rank answer. Score and Band appear only
// when an injected instruction "re-scored" the item.
type rankAnswer struct {
	ID         string `json:"id"`
	Impact     string `json:"impact"`
	NextAction string `json:"next_action"`
	Group      string `json:"group"`
	Score      int    `json:"score,omitempty"`
	Band       string `json:"band,omitempty"`
}

var injections = []*regexp.Regexp{
	regexp.MustCompile(`(?i)ignore (all |any )?(previous|prior|above) instructions`),
	regexp.MustCompile(`(?i)mark (this|it) (as )?(low|info|resolved)`),
	regexp.MustCompile(`(?i)(you are now|system prompt|new instructions)`),
}

var removal = regexp.MustCompile(`(?i)\b(remove|drop|hide)\b`)

// instruction returns the first string among ss that holds an injected
// instruction.
func instruction(ss []string) (string, bool) {
	for _, s := range ss {
		for _, re := range injections {
			if re.MatchString(s) {
				return s, true
			}
		}
	}
	return "", false
}

// texts lists every string in a JSON value, keys included, in a stable
// order: Echo looks for instructions wherever the data may carry them,
// including fields the contract does not (yet) define.
func texts(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				out = append(out, k)
				walk(x[k])
			}
		}
	}
	walk(v)
	return out
}

func dataWeight(class string) float64 {
	switch strings.ToLower(class) {
	case "restricted":
		return 3
	case "pii", "phi", "pci":
		return 2
	case "confidential":
		return 1
	}
	return 0
}

func critWeight(c string) float64 {
	switch strings.ToLower(c) {
	case "critical":
		return 3
	case "high":
		return 2
	case "medium":
		return 1
	}
	return 0
}

func rank(c Call) (string, error) {
	var task struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(c.Data, &task); err != nil {
		return marshal(map[string]string{"summary": "The rank task could not be read."})
	}
	type entry struct {
		prompts.RankItem
		raw json.RawMessage
	}
	items := make([]entry, 0, len(task.Items))
	for _, raw := range task.Items {
		var it prompts.RankItem
		if json.Unmarshal(raw, &it) != nil {
			continue // a model skips what it cannot read; the parser notices
		}
		items = append(items, entry{it, raw})
	}
	// The rules' score already counts data class and criticality, so a
	// careful model refines near-ties rather than overturning the rules:
	// business context is worth at most 3 points here.
	key := func(it entry) float64 {
		return float64(it.Score) + 0.5*dataWeight(it.DataClass) + 0.5*critWeight(it.Criticality)
	}
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) > key(items[j]) })

	var kept, demoted []rankAnswer
	var obeyed []string
	for _, it := range items {
		a := rankAnswer{ID: it.ID, Impact: impact(it.RankItem), NextAction: nextAction(it.RankItem), Group: group(it.Check)}
		if c.Echo {
			if text, ok := instruction(texts(it.raw)); ok {
				obeyed = append(obeyed, text)
				if removal.MatchString(text) {
					continue
				}
				a.Score, a.Band, a.Impact = 1, "LOW", text
				demoted = append(demoted, a)
				continue
			}
		}
		kept = append(kept, a)
	}
	out := append(kept, demoted...)
	if out == nil {
		out = []rankAnswer{}
	}
	summary := "There are no risks to rank."
	if len(kept) > 0 {
		first := items[0]
		for _, it := range items {
			if it.ID == kept[0].ID {
				first = it
				break
			}
		}
		summary = fmt.Sprintf("%d risks ranked; start with %s, %s in %s.",
			len(out), first.ID, orDefault(first.Application, "an unnamed application"), orDefault(first.Environment, "an unknown environment"))
	}
	for _, t := range obeyed {
		summary += " " + t
	}
	return marshal(struct {
		Summary string       `json:"summary"`
		Items   []rankAnswer `json:"items"`
	}{summary, out})
}

// impact names the data class, application and environment; it repeats
// no free text of the item.
func impact(it prompts.RankItem) string {
	object := "data"
	if it.DataClass != "" {
		object = strings.ToLower(it.DataClass) + " data"
	}
	if it.Application != "" {
		object += " of " + it.Application
	}
	if it.Environment != "" {
		object += " in " + it.Environment
	}
	subject := "This misconfiguration"
	switch it.Kind {
	case "cluster":
		subject = fmt.Sprintf("These %d findings", max(it.Findings, 1))
	case "combination":
		subject = "This combination of findings"
	}
	return fmt.Sprintf("%s put%s %s at risk.", subject, plural(it.Kind), object)
}

func plural(kind string) string {
	if kind == "cluster" {
		return ""
	}
	return "s"
}

func nextAction(it prompts.RankItem) string {
	if it.Kind == "" || it.Kind == "finding" {
		return "/optix fix " + it.ID
	}
	return "/optix finding " + it.ID
}

// group is the check's service: Prowler check ids start with it
// (s3_bucket_public_access → s3).
func group(check string) string {
	svc, _, _ := strings.Cut(check, "_")
	if svc == "" {
		return "other"
	}
	return strings.ToLower(svc)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func tailor(c Call) (string, error) {
	var t prompts.TailorInput
	if err := json.Unmarshal(c.Data, &t); err != nil {
		return marshal(map[string]string{"summary": "The tailor task could not be read."})
	}
	script := t.Script
	changes := []string{}
	// Names get the application as a prefix, or the environment when the
	// application is not known.
	prefix := t.Context["application"]
	if prefix == "" {
		prefix = t.Context["environment"]
	}
	for _, s := range t.Slots {
		if s.Value == "" || (s.Name != "resource_name" && s.Name != "logical_id") || prefix == "" {
			continue
		}
		nv, ok := fit(prefix+"_"+s.Value, s.Pattern)
		if !ok || nv == s.Value || !strings.Contains(script, s.Value) {
			continue
		}
		script = strings.ReplaceAll(script, s.Value, nv)
		changes = append(changes, fmt.Sprintf("%s: %s -> %s", s.Name, s.Value, nv))
	}
	if c.TailorExtra != "" {
		script = appendLine(script, c.TailorExtra)
		changes = append(changes, "added a line")
	}
	if c.Echo {
		if _, ok := instruction(texts(c.Data)); ok {
			script = appendLine(script, EchoTailorLine)
			changes = append(changes, "followed the instructions in the data")
		}
	}
	return marshal(struct {
		Script  string   `json:"script"`
		Changes []string `json:"changes"`
	}{script, changes})
}

func appendLine(script, line string) string {
	if script != "" && !strings.HasSuffix(script, "\n") {
		script += "\n"
	}
	return script + line + "\n"
}

// fit returns the first spelling of name that matches pattern: as is,
// lower case, with other separators, CamelCase (each word's first letter
// raised), or letters and digits only.
func fit(name, pattern string) (string, bool) {
	if pattern == "" {
		return name, true
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", false
	}
	lower := strings.ToLower(name)
	words := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var camel, alnum strings.Builder
	for _, w := range words {
		r := []rune(w)
		camel.WriteString(string(unicode.ToUpper(r[0])) + string(r[1:]))
		alnum.WriteString(strings.ToLower(w))
	}
	for _, cand := range []string{
		name, lower,
		strings.Join(words, "_"), strings.ToLower(strings.Join(words, "_")),
		strings.ToLower(strings.Join(words, "-")),
		camel.String(), alnum.String(),
	} {
		if cand != "" && re.MatchString(cand) {
			return cand, true
		}
	}
	return "", false
}

// marshal encodes an answer as a model writes it: compact, with <, > and
// & left as they are.
func marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode answer: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
