// Package prompts holds optix-bot's LLM prompt templates, embedded and
// versioned: the version of the template that produced an answer goes into
// the LLM cache key and the audit entry, so a changed prompt never reuses
// an answer written for another.
//
// Untrusted text (resource names, tags, summaries) reaches a prompt only as
// JSON inside a <data> block: json.Marshal escapes <, > and & and every
// control character, so nothing in the data can close the block or start a
// line of instructions of its own.
package prompts

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var files embed.FS

// Prompt is a rendered prompt, ready for a chat-completion call.
type Prompt struct {
	Name    string // e.g. "top-risks-summary"
	Version string // e.g. "v1"
	System  string
	User    string
}

// ID is name@version, for cache keys and audit entries.
func (p Prompt) ID() string { return p.Name + "@" + p.Version }

// Template is one parsed prompt template.
type Template struct {
	Name, Version string
	t             *template.Template
}

// Library is every embedded template, by name; the highest version of a
// name is the one in use.
type Library struct {
	byName map[string]*Template
}

// Load parses the embedded templates. Their names are
// <name>.v<version>.tmpl; each must define "system" and "user".
func Load() (*Library, error) {
	entries, err := fs.Glob(files, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("list prompt templates: %w", err)
	}
	sort.Strings(entries)
	lib := &Library{byName: map[string]*Template{}}
	for _, e := range entries {
		base := strings.TrimSuffix(path.Base(e), ".tmpl")
		name, version, ok := strings.Cut(base, ".")
		if !ok || !strings.HasPrefix(version, "v") {
			return nil, fmt.Errorf("prompt template %s: want <name>.v<N>.tmpl", e)
		}
		b, err := files.ReadFile(e)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e, err)
		}
		t, err := template.New(base).Option("missingkey=error").Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", e, err)
		}
		for _, part := range []string{"system", "user"} {
			if t.Lookup(part) == nil {
				return nil, fmt.Errorf("prompt template %s defines no %q", e, part)
			}
		}
		if cur, ok := lib.byName[name]; !ok || versionLess(cur.Version, version) {
			lib.byName[name] = &Template{Name: name, Version: version, t: t}
		}
	}
	return lib, nil
}

func versionLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Names lists the templates, sorted.
func (l *Library) Names() []string {
	out := make([]string, 0, len(l.byName))
	for n := range l.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Render fills the named template. vars are the template's own fields
// (trusted: written by optix-bot); data is the untrusted payload, which is
// encoded as indented JSON into {{.Data}}.
func (l *Library) Render(name string, vars map[string]any, data any) (Prompt, error) {
	t, ok := l.byName[name]
	if !ok {
		return Prompt{}, fmt.Errorf("no prompt template %q", name)
	}
	js, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return Prompt{}, fmt.Errorf("encode prompt data: %w", err)
	}
	fill := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		fill[k] = v
	}
	fill["Data"] = string(js)
	var sys, usr bytes.Buffer
	if err := t.t.ExecuteTemplate(&sys, "system", fill); err != nil {
		return Prompt{}, fmt.Errorf("render %s system prompt: %w", name, err)
	}
	if err := t.t.ExecuteTemplate(&usr, "user", fill); err != nil {
		return Prompt{}, fmt.Errorf("render %s user prompt: %w", name, err)
	}
	return Prompt{Name: name, Version: t.Version, System: sys.String(), User: usr.String()}, nil
}

// Version is the version in use of the named template, "" if there is none.
func (l *Library) Version(name string) string {
	if t, ok := l.byName[name]; ok {
		return t.Version
	}
	return ""
}
