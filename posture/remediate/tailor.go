package remediate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Reasons a tailored script is refused, as they appear in TailorError.Reason
// (and in the audit entry that records the refusal).
const (
	TailorOutsideSlots = "outside-slots" // the candidate differs from the vetted script outside the slots
	TailorSlotValue    = "slot-value"    // a slot value fails its pattern, or one slot has two values
	TailorLint         = "lint"          // the rebuilt script fails the linter
	TailorNoScript     = "no-script"     // no template, or the vetted script itself is withheld
)

// TailorError says why a candidate script was refused. Its text never
// quotes the candidate beyond a %q-escaped slot value.
type TailorError struct {
	Reason     string      // one of the Tailor* reasons
	Line       int         // 1-based candidate line of the first difference (outside-slots, slot-value)
	Slot       string      // offending slot, for slot-value
	Violations []Violation // for lint
	Msg        string
	err        error // the Generate error behind a no-script, for errors.Is
}

// Error returns one line, such as "line 41 differs from the vetted template
// outside the allowed slots".
func (e *TailorError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return "tailored script refused: " + e.Reason
}

// Unwrap gives the Generate error behind a no-script refusal (such as
// ErrUnsupportedFormat), else nil.
func (e *TailorError) Unwrap() error { return e.err }

// sentinel marks a slot position in a skeleton render. NUL cannot occur in
// a rendered script: every substituted value is validated and templates
// are text.
const sentinel = "\x00"

// skelPart is a literal run of a skeleton line or, when slot is set, one
// slot position.
type skelPart struct {
	lit  string
	slot string
}

// Tailor checks a candidate script (from a model, say) against the vetted
// script for the same input and format. It succeeds only if the candidate
// is the vetted script with slot values replaced by values that match their
// patterns, the same value at every occurrence of a slot, ignoring only CRLF
// against LF and trailing newlines. The returned Script is rendered again
// from the template with those values, never taken from the candidate,
// hashed and linted as Generate does; Tailored names the changed slots (nil
// when nothing changed). Any refusal is a *TailorError.
func Tailor(in Input, format Format, candidate string) (*Script, error) {
	res, err := Generate(in, format)
	if err != nil {
		return nil, &TailorError{Reason: TailorNoScript, Msg: "no vetted script to tailor: " + err.Error(), err: err}
	}
	vetted := res.Script
	if vetted == nil {
		msg := "no vetted script to tailor: " + res.Note
		if len(res.Refused) > 0 {
			msg += " (" + res.Refused[0].String() + ")"
		}
		return nil, &TailorError{Reason: TailorNoScript, Msg: msg}
	}
	k := kindByID[vetted.TemplateID]
	sentinels := map[string]string{}
	for name := range slotDefs {
		sentinels[name] = sentinel + name + sentinel
	}
	skel, err := renderSlots(k, vetted.Check, in, vetted.Format, sentinels)
	if err != nil {
		return nil, &TailorError{Reason: TailorNoScript, Msg: "render the template skeleton: " + err.Error()}
	}
	lines, err := skeletonLines(skel.Body, vetted)
	if err != nil {
		return nil, &TailorError{Reason: TailorNoScript, Msg: err.Error()}
	}
	values, firstLine, terr := matchSkeleton(lines, normalize(candidate))
	if terr != nil {
		return nil, terr
	}
	out, err := renderSlots(k, vetted.Check, in, vetted.Format, values)
	if err != nil {
		return nil, &TailorError{Reason: TailorNoScript, Msg: "render the tailored script: " + err.Error()}
	}
	if body := normalize(out.Body); body != normalize(candidate) {
		// Cannot happen while the skeleton is the template; if it ever
		// does, the rebuilt script is not what the candidate showed.
		return nil, &TailorError{Reason: TailorOutsideSlots, Line: firstDiffLine(body, normalize(candidate)),
			Msg: "the rebuilt script differs from the candidate"}
	}
	if v := Lint(out, in.Finding); len(v) > 0 {
		msg := fmt.Sprintf("the tailored script fails the linter: %s", v[0])
		if len(v) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(v)-1)
		}
		return nil, &TailorError{Reason: TailorLint, Violations: v, Msg: msg}
	}
	vettedValue := map[string]string{}
	for _, s := range vetted.Slots {
		vettedValue[s.Name] = s.Value
	}
	for _, name := range sortedNames(values) {
		if keep := slotDefs[name].keeps; keep != nil {
			if why := keep(vettedValue[name], values[name]); why != "" {
				return nil, &TailorError{Reason: TailorSlotValue, Line: firstLine[name], Slot: name,
					Msg: fmt.Sprintf("line %d: slot %s: %s", firstLine[name], name, why)}
			}
		}
	}
	for name, v := range values {
		if v != vettedValue[name] {
			out.Tailored = append(out.Tailored, name)
			if out.Values == nil {
				out.Values = map[string]string{}
			}
			out.Values[name] = v
		}
	}
	sort.Strings(out.Tailored)
	return out, nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// normalize undoes what a chat or a model may do to a script without
// changing it: CRLF line ends and trailing newlines.
func normalize(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// skeletonLines splits a sentinel render into lines of literals and slot
// positions, and checks that putting the vetted values back gives the
// vetted script, so that the skeleton is known to be the vetted script.
func skeletonLines(body string, vetted *Script) ([][]skelPart, error) {
	vettedValue := map[string]string{}
	for _, s := range vetted.Slots {
		vettedValue[s.Name] = s.Value
	}
	var lines [][]skelPart
	var back strings.Builder
	for _, ln := range strings.Split(normalize(body), "\n") {
		pieces := strings.Split(ln, sentinel)
		if len(pieces)%2 == 0 {
			return nil, fmt.Errorf("template %s: unbalanced slot marker", vetted.TemplateID)
		}
		var parts []skelPart
		for i, p := range pieces {
			if i%2 == 0 {
				parts = append(parts, skelPart{lit: p})
				back.WriteString(p)
				continue
			}
			v, ok := vettedValue[p]
			if !ok {
				return nil, fmt.Errorf("template %s: slot %s missing from the vetted script", vetted.TemplateID, p)
			}
			parts = append(parts, skelPart{slot: p})
			back.WriteString(v)
		}
		lines = append(lines, parts)
		back.WriteByte('\n')
	}
	if strings.TrimRight(back.String(), "\n") != normalize(vetted.Body) {
		return nil, fmt.Errorf("template %s: skeleton does not reproduce the vetted script", vetted.TemplateID)
	}
	return lines, nil
}

// matchSkeleton reads the slot values out of a normalized candidate, line
// by line, and checks each against its pattern and earlier occurrences.
func matchSkeleton(lines [][]skelPart, cand string) (map[string]string, map[string]int, *TailorError) {
	got := strings.Split(cand, "\n")
	values := map[string]string{}
	firstLine := map[string]int{}
	outside := func(line int) *TailorError {
		return &TailorError{Reason: TailorOutsideSlots, Line: line,
			Msg: fmt.Sprintf("line %d differs from the vetted template outside the allowed slots", line)}
	}
	for i, parts := range lines {
		line := i + 1
		if i >= len(got) {
			return nil, nil, outside(line)
		}
		if len(parts) == 1 {
			if got[i] != parts[0].lit {
				return nil, nil, outside(line)
			}
			continue
		}
		vals, ok := matchLine(parts, got[i])
		if !ok {
			return nil, nil, outside(line)
		}
		for j, name := range slotNames(parts) {
			v := vals[j]
			if !slotDefs[name].re.MatchString(v) {
				return nil, nil, &TailorError{Reason: TailorSlotValue, Line: line, Slot: name,
					Msg: fmt.Sprintf("line %d: %q is not allowed for slot %s (must match %s)", line, v, name, slotDefs[name].re)}
			}
			if m := rePlaceholder.FindString(v); m != "" {
				// The linter skips assignments, so a model's "CHANGEME"
				// would otherwise end up as a tag on the resource.
				return nil, nil, &TailorError{Reason: TailorSlotValue, Line: line, Slot: name,
					Msg: fmt.Sprintf("line %d: slot %s holds the placeholder %q", line, name, m)}
			}
			if prev, seen := values[name]; seen && prev != v {
				return nil, nil, &TailorError{Reason: TailorSlotValue, Line: line, Slot: name,
					Msg: fmt.Sprintf("line %d: slot %s is %q here but %q on line %d; it must be the same everywhere", line, name, v, prev, firstLine[name])}
			}
			if _, seen := values[name]; !seen {
				values[name], firstLine[name] = v, line
			}
		}
	}
	if len(got) > len(lines) {
		return nil, nil, outside(len(lines) + 1)
	}
	return values, firstLine, nil
}

func slotNames(parts []skelPart) []string {
	var out []string
	for _, p := range parts {
		if p.slot != "" {
			out = append(out, p.slot)
		}
	}
	return out
}

// matchLine matches one candidate line against a skeleton line with slots:
// the literals must be there exactly, and each slot takes what lies
// between them (checked against its pattern by the caller, so that a bad
// value is reported as such rather than as a changed line).
func matchLine(parts []skelPart, line string) ([]string, bool) {
	var re strings.Builder
	re.WriteString("^")
	for _, p := range parts {
		if p.slot != "" {
			re.WriteString("(.*)")
		} else {
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	re.WriteString("$")
	m := regexp.MustCompile(re.String()).FindStringSubmatch(line)
	if m == nil {
		return nil, false
	}
	return m[1:], true
}

// firstDiffLine is the 1-based number of the first line where a and b differ.
func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
