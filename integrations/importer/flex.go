package importer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// flexTags reads resource tags in every shape the two formats use: a map
// ({"env": "prod"}, ASFF and Azure metadata), a list of Key/Value objects
// (AWS metadata in Prowler's resource dump), a list of single-entry maps, or
// Prowler's OCSF labels, "key:value" or "key: value" strings. A shape it does
// not know gives no tags rather than an error: tags are optional and a
// finding is never dropped for them. Values are kept verbatim.
type flexTags map[string]string

func (t *flexTags) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	out := flexTags{}
	switch b[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return nil
		}
		addPairs(out, m)
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil {
			return nil
		}
		for _, item := range list {
			item = bytes.TrimSpace(item)
			if len(item) == 0 {
				continue
			}
			switch item[0] {
			case '"':
				var s string
				if json.Unmarshal(item, &s) == nil {
					k, v := splitLabel(s)
					if k != "" {
						out[k] = v
					}
				}
			case '{':
				var m map[string]json.RawMessage
				if json.Unmarshal(item, &m) != nil {
					continue
				}
				if k, ok := keyValue(m); ok {
					if k != "" {
						out[k] = scalarText(firstOf(m, "Value", "value"))
					}
					continue
				}
				addPairs(out, m)
			}
		}
	default:
		return nil
	}
	if len(out) > 0 {
		*t = out
	}
	return nil
}

func addPairs(out flexTags, m map[string]json.RawMessage) {
	for k, v := range m {
		out[k] = scalarText(v)
	}
}

// keyValue reports whether m is a {"Key": ..., "Value": ...} pair (either
// case, as AWS APIs and Prowler's dumps differ) and returns the key.
func keyValue(m map[string]json.RawMessage) (string, bool) {
	k := firstOf(m, "Key", "key")
	if k == nil {
		return "", false
	}
	return scalarText(k), true
}

func firstOf(m map[string]json.RawMessage, keys ...string) json.RawMessage {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// splitLabel splits a Prowler OCSF label. Prowler writes "key: value"
// (older releases "key:value"). AWS tag keys may hold colons themselves
// ("aws:cloudformation:stack-name"), so ": " is preferred over the first
// bare colon.
func splitLabel(s string) (string, string) {
	if i := strings.Index(s, ": "); i >= 0 {
		return s[:i], s[i+2:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	if i := strings.IndexByte(s, '='); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// scalarText gives a JSON string's text, or any other value's JSON text
// (numbers and booleans as written), or "" for null.
func scalarText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

// flexTime reads a timestamp written as epoch seconds or milliseconds
// (OCSF created_time) or as a string (ASFF ISO 8601, OCSF *_dt). A string
// without a zone is taken as UTC. An unreadable time is left zero: it is
// optional and never a reason to reject a file.
type flexTime struct{ time.Time }

// Epoch values above this are milliseconds: 1e12 seconds is the year 33658.
const msThreshold = 1e12

var naiveLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02",
}

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		s = strings.TrimSpace(s)
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = ts.UTC()
			return nil
		}
		for _, l := range naiveLayouts {
			if ts, err := time.Parse(l, s); err == nil {
				t.Time = ts.UTC()
				return nil
			}
		}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f <= 0 {
		return nil
	}
	if f >= msThreshold {
		t.Time = time.UnixMilli(int64(f)).UTC()
	} else {
		t.Time = time.Unix(int64(f), 0).UTC()
	}
	return nil
}

// first returns the first non-zero time.
func first(ts ...flexTime) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t.Time
		}
	}
	return time.Time{}
}

// exposure holds the fields of a resource dump that say outright that the
// resource faces the internet. Prowler's OCSF resources[].data.metadata uses
// snake_case, ASFF Resources[].Details.* PascalCase; encoding/json matches
// names case-insensitively, so one struct reads both. Type mismatches only
// leave a field unset.
type exposure struct {
	Public               *bool  `json:"public"`
	PubliclyAccessible   *bool  `json:"publicly_accessible"`
	PubliclyAccessibleUC *bool  `json:"PubliclyAccessible"`
	Scheme               string `json:"scheme"`
	PublicIP             string `json:"public_ip"`
	PublicIPUC           string `json:"PublicIp"`
	PublicIPAddress      string `json:"public_ip_address"`
}

func (e exposure) public() bool {
	return isTrue(e.Public) || isTrue(e.PubliclyAccessible) || isTrue(e.PubliclyAccessibleUC) ||
		strings.EqualFold(e.Scheme, "internet-facing") || e.ip() != ""
}

func (e exposure) ip() string {
	for _, s := range []string{e.PublicIP, e.PublicIPUC, e.PublicIPAddress} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func isTrue(b *bool) bool { return b != nil && *b }
