package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// JSON marshals v and redacts every string in it, object keys included,
// walking objects in sorted key order so that placeholder numbers (and so the
// redacted text, which is a cache key) depend only on v. Numbers whose text
// is an identifier (a 12-digit account id sent as a number) become
// placeholder strings. The result is a generic value (map[string]any, []any,
// string, json.Number, bool, nil) ready to marshal into a request.
func (r *Redactor) JSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("redact: marshal %T: %w", v, err)
	}
	g, err := decodeGeneric(raw)
	if err != nil {
		return nil, fmt.Errorf("redact: decode %T: %w", v, err)
	}
	// Reserve every placeholder-like text of the whole document before any
	// number is issued, not only those of strings already walked.
	walkStrings(g, func(s string) { r.reserve(s) })
	out, err := r.redactValue(g)
	if err != nil {
		return nil, fmt.Errorf("redact: %T: %w", v, err)
	}
	return out, nil
}

func decodeGeneric(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	return g, nil
}

func (r *Redactor) redactValue(v any) (any, error) {
	switch t := v.(type) {
	case string:
		return r.String(t), nil
	case json.Number:
		if s := r.String(string(t)); s != string(t) {
			return s, nil
		}
		return t, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, err := r.redactValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			rk := r.String(k)
			if _, dup := out[rk]; dup {
				// Cannot happen with distinct placeholders per original, but
				// silently dropping a field would hide data from the model.
				return nil, fmt.Errorf("object key %q collides after redaction", rk)
			}
			x, err := r.redactValue(t[k])
			if err != nil {
				return nil, err
			}
			out[rk] = x
		}
		return out, nil
	}
	return v, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// walkStrings calls f on every string, object key and number text in v, in
// sorted key order.
func walkStrings(v any, f func(string)) {
	switch t := v.(type) {
	case string:
		f(t)
	case json.Number:
		f(string(t))
	case []any:
		for _, e := range t {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			f(k)
			walkStrings(t[k], f)
		}
	}
}

// Leaks decodes body as JSON and returns, sorted, the raw values found as a
// substring of any string, object key or number in it. Tests in other
// packages use it on what an emulator received, with a Redactor's Originals
// (and the values they registered with Known). A body that is not JSON is
// scanned as text, so a broken request cannot hide a leak.
func Leaks(body []byte, raws []string) []string {
	var texts []string
	if g, err := decodeGeneric(body); err == nil {
		walkStrings(g, func(s string) { texts = append(texts, s) })
	} else {
		texts = []string{string(body)}
	}
	seen := map[string]bool{}
	var out []string
	for _, raw := range raws {
		if raw == "" || seen[raw] {
			continue
		}
		for _, t := range texts {
			if strings.Contains(t, raw) {
				seen[raw] = true
				out = append(out, raw)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
