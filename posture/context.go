package posture

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Environment is the deployment stage of an account or resource, normalized
// so that scoring and filters compare one spelling.
type Environment string

// Environments. EnvUnknown is scored as neutral.
const (
	EnvProduction Environment = "production"
	EnvStaging    Environment = "staging"
	EnvDev        Environment = "dev"
	EnvSandbox    Environment = "sandbox"
	EnvUnknown    Environment = ""
)

// Asset criticality levels, highest first.
const (
	CriticalityCritical = "critical"
	CriticalityHigh     = "high"
	CriticalityMedium   = "medium"
	CriticalityLow      = "low"
)

// Data classification levels, most sensitive first.
const (
	DataRestricted   = "restricted"
	DataPII          = "pii"
	DataConfidential = "confidential"
	DataInternal     = "internal"
	DataPublic       = "public"
)

// Attribution says who owns a finding's resource and how much it matters.
type Attribution struct {
	Owner, Application string
	Environment        Environment
	Criticality        string   // "critical", "high", "medium", "low", ""
	DataClass          string   // "restricted", "pii", "confidential", "internal", "public", ""
	Sources            []string // how it was attributed, e.g. "context: account 111122223333", "tag owner"
}

type alias struct{ word, canon string }

// The spellings teams actually use in tags and spreadsheets. Words are
// compared case-insensitively with '-', '_' and ' ' treated alike.
var envAliases = []alias{
	{"production", "production"}, {"prod", "production"}, {"prd", "production"}, {"live", "production"},
	{"staging", "staging"}, {"stage", "staging"}, {"stg", "staging"}, {"uat", "staging"},
	{"preprod", "staging"}, {"pre-prod", "staging"}, {"pre-production", "staging"},
	{"dev", "dev"}, {"development", "dev"}, {"test", "dev"}, {"testing", "dev"}, {"qa", "dev"},
	{"sandbox", "sandbox"}, {"sbx", "sandbox"}, {"playground", "sandbox"},
}

var criticalityAliases = []alias{
	{"critical", "critical"}, {"crit", "critical"}, {"mission-critical", "critical"}, {"business-critical", "critical"},
	{"high", "high"}, {"medium", "medium"}, {"med", "medium"}, {"moderate", "medium"}, {"low", "low"},
}

// PHI and cardholder data carry legal duties beyond PII, so they rank as
// restricted; "sensitive" is how many teams say confidential.
var dataAliases = []alias{
	{"restricted", "restricted"}, {"phi", "restricted"}, {"pci", "restricted"}, {"secret", "restricted"},
	{"top-secret", "restricted"}, {"highly-confidential", "restricted"}, {"strictly-confidential", "restricted"},
	{"pii", "pii"}, {"personal", "pii"}, {"personal-data", "pii"},
	{"confidential", "confidential"}, {"sensitive", "confidential"},
	{"internal", "internal"}, {"private", "internal"}, {"public", "public"},
}

// wordIs compares a and b ignoring ASCII case, surrounding spaces, and the
// difference between '-', '_' and ' '. It does not allocate: it runs for
// every tag of every finding.
func wordIs(a, b string) bool {
	a = strings.TrimSpace(a)
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x == '_' || x == ' ' {
			x = '-'
		}
		if y == '_' || y == ' ' {
			y = '-'
		}
		if x != y {
			return false
		}
	}
	return true
}

func lookupAlias(table []alias, s string) (string, bool) {
	for _, a := range table {
		if wordIs(s, a.word) {
			return a.canon, true
		}
	}
	return "", false
}

// ParseEnvironment normalizes an environment word (prod, prd, live, stage,
// stg, uat, development, test, sbx, playground...); ok is false for words it
// does not know, and for the empty string.
func ParseEnvironment(s string) (Environment, bool) {
	c, ok := lookupAlias(envAliases, s)
	return Environment(c), ok
}

// NormalizeEnvironment is ParseEnvironment without the verdict: unknown
// words give EnvUnknown.
func NormalizeEnvironment(s string) Environment {
	e, _ := ParseEnvironment(s)
	return e
}

// ParseCriticality normalizes an asset criticality word.
func ParseCriticality(s string) (string, bool) { return lookupAlias(criticalityAliases, s) }

// ParseDataClass normalizes a data classification word (phi and pci become
// restricted, sensitive becomes confidential).
func ParseDataClass(s string) (string, bool) { return lookupAlias(dataAliases, s) }

// ContextMap maps accounts, resource-id prefixes and tags to attribution.
// It is read-only after ParseContext and safe for concurrent use; a nil
// *ContextMap attributes from resource tags alone.
//
// Precedence, decided field by field (the first layer that sets a field
// wins, so a specific statement beats a general one):
//  1. resource-prefix rules, longest prefix first;
//  2. the resource's own tags (environment/env/stage, owner/team,
//     application/app, data-classification/classification, criticality);
//  3. tag rules, in file order;
//  4. the account rule.
type ContextMap struct {
	// conventions are the team's naming and tagging conventions, free text
	// written by the team, handed to an LLM that tailors scripts.
	conventions map[string]string
	accounts    map[string]*contextRule
	prefixes    []*contextRule // longest prefix first
	tags        []*contextRule // file order
}

type contextRule struct {
	kind    string // "account", "resource", "tag"
	match   string // account id, resource-id prefix or tag key
	value   string // tag value
	attr    Attribution
	source  string // precomputed so Attribute does not format per finding
	line    int
	hasSome bool
}

// Rules is the number of rules in the map.
func (m *ContextMap) Rules() int {
	if m == nil {
		return 0
	}
	return len(m.accounts) + len(m.prefixes) + len(m.tags)
}

// fill sets the fields of a that are still empty from b and reports whether
// it set any.
func (a *Attribution) fill(b *Attribution) bool {
	set := false
	if a.Owner == "" && b.Owner != "" {
		a.Owner, set = b.Owner, true
	}
	if a.Application == "" && b.Application != "" {
		a.Application, set = b.Application, true
	}
	if a.Environment == "" && b.Environment != "" {
		a.Environment, set = b.Environment, true
	}
	if a.Criticality == "" && b.Criticality != "" {
		a.Criticality, set = b.Criticality, true
	}
	if a.DataClass == "" && b.DataClass != "" {
		a.DataClass, set = b.DataClass, true
	}
	return set
}

func (a *Attribution) complete() bool {
	return a.Owner != "" && a.Application != "" && a.Environment != "" && a.Criticality != "" && a.DataClass != ""
}

const (
	fieldOwner = iota
	fieldApplication
	fieldEnvironment
	fieldCriticality
	fieldDataClass
	numFields
)

// tagKeys are the resource tag keys read for attribution, in priority order
// within a field: "environment" beats "env" beats "stage" when a resource
// carries several, so the answer does not depend on map order.
var tagKeys = []struct {
	key    string
	field  int
	source string
}{
	{"environment", fieldEnvironment, "tag environment"},
	{"env", fieldEnvironment, "tag env"},
	{"stage", fieldEnvironment, "tag stage"},
	{"owner", fieldOwner, "tag owner"},
	{"team", fieldOwner, "tag team"},
	{"application", fieldApplication, "tag application"},
	{"app", fieldApplication, "tag app"},
	{"data-classification", fieldDataClass, "tag data-classification"},
	{"classification", fieldDataClass, "tag classification"},
	{"data-class", fieldDataClass, "tag data-class"},
	{"criticality", fieldCriticality, "tag criticality"},
	{"business-criticality", fieldCriticality, "tag business-criticality"},
}

// Attribute works out the attribution of f's resource. Resource tags are
// untrusted: values that are not known words are ignored for the levelled
// fields, and owner/application are kept as plain data.
func (m *ContextMap) Attribute(f *Finding) Attribution {
	var a Attribution
	var srcBuf [8]string
	src := srcBuf[:0]
	if m != nil {
		for _, r := range m.prefixes {
			if strings.HasPrefix(f.Resource.ID, r.match) && a.fill(&r.attr) {
				src = append(src, r.source)
			}
		}
	}
	if len(f.Resource.Tags) > 0 && !a.complete() {
		src = attributeTags(&a, f.Resource.Tags, src)
	}
	if m != nil {
		if len(m.tags) > 0 && len(f.Resource.Tags) > 0 && !a.complete() {
			for _, r := range m.tags {
				if hasTag(f.Resource.Tags, r.match, r.value) && a.fill(&r.attr) {
					src = append(src, r.source)
				}
			}
		}
		if r, ok := m.accounts[f.Account]; ok && a.fill(&r.attr) {
			src = append(src, r.source)
		}
	}
	if len(src) > 0 {
		a.Sources = append(make([]string, 0, len(src)), src...)
	}
	return a
}

func attributeTags(a *Attribution, tags map[string]string, src []string) []string {
	var best [numFields]int // index into tagKeys + 1; 0 = none
	var val [numFields]string
	for k, v := range tags {
		for i, tk := range tagKeys {
			if !wordIs(k, tk.key) {
				continue
			}
			v = strings.TrimSpace(v)
			ok := v != ""
			switch tk.field {
			case fieldEnvironment:
				var e Environment
				e, ok = ParseEnvironment(v)
				v = string(e)
			case fieldCriticality:
				v, ok = ParseCriticality(v)
			case fieldDataClass:
				v, ok = ParseDataClass(v)
			}
			if ok && (best[tk.field] == 0 || i+1 < best[tk.field]) {
				best[tk.field], val[tk.field] = i+1, v
			}
			break
		}
	}
	for field := 0; field < numFields; field++ {
		if best[field] == 0 {
			continue
		}
		var b Attribution
		switch field {
		case fieldOwner:
			b.Owner = val[field]
		case fieldApplication:
			b.Application = val[field]
		case fieldEnvironment:
			b.Environment = Environment(val[field])
		case fieldCriticality:
			b.Criticality = val[field]
		case fieldDataClass:
			b.DataClass = val[field]
		}
		if a.fill(&b) {
			src = append(src, tagKeys[best[field]-1].source)
		}
	}
	return src
}

func hasTag(tags map[string]string, key, value string) bool {
	if v, ok := tags[key]; ok {
		return strings.EqualFold(strings.TrimSpace(v), value)
	}
	for k, v := range tags {
		if strings.EqualFold(strings.TrimSpace(k), key) && strings.EqualFold(strings.TrimSpace(v), value) {
			return true
		}
	}
	return false
}

// ParseContext reads a context file. The format is chosen by name's
// extension (.yaml, .yml, .csv), else by content: a first line starting with
// "match," is CSV, anything else YAML.
//
// YAML shape (every key optional; unknown keys are errors):
//
//	accounts:
//	  - id: "111122223333"
//	    owner: finance
//	    application: ledger
//	    environment: production   # or prod, prd, live, stage, uat, dev, test, sbx...
//	    criticality: high         # critical, high, medium, low
//	    data_classification: pii  # restricted (phi, pci), pii, confidential (sensitive), internal, public
//	    note: free text, ignored
//	resources:
//	  - prefix: "arn:aws:s3:::finance-"
//	    owner: finance
//	tags:
//	  - key: cost-center
//	    value: cc-042
//	    owner: finance
//
// CSV shape: a header naming columns among match, value, owner, application,
// environment, criticality, data_classification, note (match and value
// required); match is account, resource or tag; a tag's value is key=value.
func ParseContext(data []byte, name string) (*ContextMap, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheets write a BOM
	var rules []*contextRule
	var conv map[string]string
	var err error
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		rules, conv, err = parseContextYAML(data, name)
	case ".csv":
		rules, err = parseContextCSV(data, name)
	default:
		if looksLikeCSV(data) {
			rules, err = parseContextCSV(data, name)
		} else {
			rules, conv, err = parseContextYAML(data, name)
		}
	}
	if err != nil {
		return nil, err
	}
	// An empty file is a mistake (a failed export, the wrong path), and
	// taking it as "no context" would silently change every ranking.
	if len(rules) == 0 {
		return nil, fmt.Errorf("%s holds no rules: a context file maps at least one account, resource prefix or tag", name)
	}
	m, err := buildContext(rules, name)
	if err != nil {
		return nil, err
	}
	m.conventions = conv
	return m, nil
}

// Conventions returns the context file's conventions section (YAML only):
// the team's own words on naming and tagging, e.g. terraform_names:
// "<application>_<purpose>, snake case". Nil when there is none.
func (m *ContextMap) Conventions() map[string]string {
	if m == nil || len(m.conventions) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.conventions))
	for k, v := range m.conventions {
		out[k] = v
	}
	return out
}

// Limits on the conventions section: it is prose for a prompt, not a
// second configuration language.
const (
	maxConventions     = 20
	maxConventionValue = 300
)

var reConventionKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func parseConventions(v *yaml.Node, name string) (map[string]string, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: conventions must be a mapping of name: text", name, v.Line)
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !reConventionKey.MatchString(k.Value) {
			return nil, fmt.Errorf("%s:%d: convention name %q must be lower case letters, digits and _", name, k.Line, k.Value)
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: convention %q appears twice", name, k.Line, k.Value)
		}
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" || strings.TrimSpace(val.Value) == "" {
			return nil, fmt.Errorf("%s:%d: convention %q must be a line of text", name, val.Line, k.Value)
		}
		if len([]rune(val.Value)) > maxConventionValue {
			return nil, fmt.Errorf("%s:%d: convention %q is longer than %d characters", name, val.Line, k.Value, maxConventionValue)
		}
		out[k.Value] = strings.Join(strings.Fields(val.Value), " ")
	}
	if len(out) > maxConventions {
		return nil, fmt.Errorf("%s:%d: more than %d conventions", name, v.Line, maxConventions)
	}
	return out, nil
}

func looksLikeCSV(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		l := strings.ToLower(string(line))
		return strings.HasPrefix(l, "match,") || strings.HasPrefix(l, "\"match\",")
	}
	return false
}

func buildContext(rules []*contextRule, name string) (*ContextMap, error) {
	m := &ContextMap{accounts: map[string]*contextRule{}}
	seen := map[string]*contextRule{}
	for _, r := range rules {
		if !r.hasSome {
			return nil, fmt.Errorf("%s:%d: %s rule %s sets no owner, application, environment, criticality or data_classification", name, r.line, r.kind, describeRule(r))
		}
		k := r.kind + "\x00" + r.match + "\x00" + strings.ToLower(r.value)
		if r.kind == "tag" {
			k = r.kind + "\x00" + strings.ToLower(r.match) + "\x00" + strings.ToLower(r.value)
		}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s:%d: %s rule %s repeats the rule on line %d", name, r.line, r.kind, describeRule(r), prev.line)
		}
		seen[k] = r
		switch r.kind {
		case "account":
			r.source = "context: account " + r.match
			m.accounts[r.match] = r
		case "resource":
			r.source = "context: resource " + r.match
			m.prefixes = append(m.prefixes, r)
		case "tag":
			r.source = "context: tag " + r.match + "=" + r.value
			m.tags = append(m.tags, r)
		}
	}
	sort.SliceStable(m.prefixes, func(i, j int) bool { return len(m.prefixes[i].match) > len(m.prefixes[j].match) })
	return m, nil
}

func describeRule(r *contextRule) string {
	if r.kind == "tag" {
		return fmt.Sprintf("%q", r.match+"="+r.value)
	}
	return fmt.Sprintf("%q", r.match)
}

// setField validates and stores one attribute column or key. field is the
// canonical name; ok is false when the field is not an attribute.
func (r *contextRule) setField(field, value string) (known bool, err error) {
	value = strings.TrimSpace(value)
	switch field {
	case "owner":
		r.attr.Owner = value
	case "application":
		r.attr.Application = value
	case "environment":
		if value != "" {
			e, ok := ParseEnvironment(value)
			if !ok {
				return true, fmt.Errorf("environment %q is not one of production, staging, dev, sandbox (or prod, prd, live, stage, stg, uat, development, test, sbx, playground)", value)
			}
			r.attr.Environment = e
		}
	case "criticality":
		if value != "" {
			c, ok := ParseCriticality(value)
			if !ok {
				return true, fmt.Errorf("criticality %q is not one of critical, high, medium, low", value)
			}
			r.attr.Criticality = c
		}
	case "data_classification":
		if value != "" {
			c, ok := ParseDataClass(value)
			if !ok {
				return true, fmt.Errorf("data_classification %q is not one of restricted, pii, confidential, internal, public (or phi, pci, sensitive)", value)
			}
			r.attr.DataClass = c
		}
	case "note":
		return true, nil
	default:
		return false, nil
	}
	if value != "" {
		r.hasSome = true
	}
	return true, nil
}

var yamlSections = map[string]struct{ kind, key, want string }{
	"accounts":  {"account", "id", "id, owner, application, environment, criticality, data_classification, note"},
	"resources": {"resource", "prefix", "prefix, owner, application, environment, criticality, data_classification, note"},
	"tags":      {"tag", "key", "key, value, owner, application, environment, criticality, data_classification, note"},
}

func parseContextYAML(data []byte, name string) ([]*contextRule, map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil, nil // an empty file is an empty map
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s:%d: want a mapping with accounts, resources and tags", name, root.Line)
	}
	var rules []*contextRule
	var conv map[string]string
	seenSection := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seenSection[k.Value] {
			return nil, nil, fmt.Errorf("%s:%d: section %q appears twice", name, k.Line, k.Value)
		}
		seenSection[k.Value] = true
		if k.Value == "conventions" {
			c, err := parseConventions(v, name)
			if err != nil {
				return nil, nil, err
			}
			conv = c
			continue
		}
		sec, ok := yamlSections[k.Value]
		if !ok {
			return nil, nil, fmt.Errorf("%s:%d: unknown section %q (want accounts, resources, tags, conventions)", name, k.Line, k.Value)
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return nil, nil, fmt.Errorf("%s:%d: %s must be a list", name, v.Line, k.Value)
		}
		for _, item := range v.Content {
			r, err := yamlRule(item, sec.kind, sec.key, sec.want)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%w", name, err)
			}
			rules = append(rules, r)
		}
	}
	return rules, conv, nil
}

// yamlRule reads one list item. Values are taken as written (Node.Value), so
// an unquoted account id like 012345678901 keeps its leading zero instead of
// becoming a number.
func yamlRule(item *yaml.Node, kind, key, want string) (*contextRule, error) {
	if item.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%d: each %s entry must be a mapping of %s", item.Line, kind, want)
	}
	r := &contextRule{kind: kind, line: item.Line}
	seen := map[string]int{}
	hasValue := false
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("%d: field %q repeats line %d", k.Line, k.Value, prev)
		}
		seen[k.Value] = k.Line
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%d: field %q must be a single value", v.Line, k.Value)
		}
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		switch {
		case k.Value == key:
			r.match = strings.TrimSpace(val)
			continue
		case kind == "tag" && k.Value == "value":
			r.value, hasValue = strings.TrimSpace(val), true
			continue
		}
		known, err := r.setField(k.Value, val)
		if err != nil {
			return nil, fmt.Errorf("%d: %w", v.Line, err)
		}
		if !known {
			return nil, fmt.Errorf("%d: unknown field %q in %s entry (want %s)", k.Line, k.Value, kind, want)
		}
	}
	if r.match == "" {
		return nil, fmt.Errorf("%d: %s entry has no %s", item.Line, kind, key)
	}
	if kind == "tag" && (!hasValue || r.value == "") {
		return nil, fmt.Errorf("%d: tag entry %q has no value", item.Line, r.match)
	}
	return r, nil
}

var csvColumns = map[string]string{
	"match": "match", "value": "value", "owner": "owner", "application": "application",
	"environment": "environment", "criticality": "criticality", "data_classification": "data_classification",
	"note": "note",
}

func parseContextCSV(data []byte, name string) ([]*contextRule, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	hline, _ := cr.FieldPos(0)
	cols := make([]string, len(header))
	have := map[string]bool{}
	for i, h := range header {
		c, ok := csvColumns[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown column %q (want match, value, owner, application, environment, criticality, data_classification, note)", name, hline, h)
		}
		if have[c] {
			return nil, fmt.Errorf("%s:%d: column %q appears twice", name, hline, c)
		}
		have[c] = true
		cols[i] = c
	}
	if !have["match"] || !have["value"] {
		return nil, fmt.Errorf("%s:%d: header must name the match and value columns", name, hline)
	}
	var rules []*contextRule
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		r := &contextRule{line: line}
		var match, value string
		for i, c := range cols {
			switch c {
			case "match":
				match = strings.ToLower(strings.TrimSpace(rec[i]))
			case "value":
				value = strings.TrimSpace(rec[i])
			default:
				if _, err := r.setField(c, rec[i]); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", name, line, err)
				}
			}
		}
		switch match {
		case "account", "resource":
			r.kind, r.match = match, value
		case "tag":
			k, v, ok := strings.Cut(value, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("%s:%d: tag value %q must be key=value", name, line, value)
			}
			r.kind, r.match, r.value = "tag", k, v
		default:
			return nil, fmt.Errorf("%s:%d: match %q is not one of account, resource, tag", name, line, match)
		}
		if r.match == "" {
			return nil, fmt.Errorf("%s:%d: %s rule has an empty value", name, line, r.kind)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
