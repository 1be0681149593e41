package remediate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"

	"github.com/optix-bot/optix-bot/posture"
)

// Lint rule names, as they appear in Violation.Rule.
const (
	RuleParse       = "parse"        // Terraform parses; CloudFormation is YAML with a Resources map
	RuleShellHeader = "shell-header" // bash shebang, strict mode, account check first
	RuleCommands    = "commands"     // only the format's CLI and a few builtins; no pipes, eval, backticks, file redirection
	RuleDestructive = "destructive"  // no delete/terminate/rm/destroy unless the kind's fix is removing the offending rule
	RuleWildcard    = "wildcard"     // no "*" principal or action, s3:*, allUsers or 0.0.0.0/0 introduced
	RuleIdentifier  = "identifier"   // every ARN, bucket, group id, account and region matches the finding
	RuleUnquoted    = "unquoted"     // every expansion in double quotes
	RulePlaceholder = "placeholder"  // no <placeholder> or CHANGEME outside marked operator inputs
	RuleAssignOnce  = "assign-once"  // each variable assigned once
	RuleAccountPin  = "account-pin"  // Terraform providers and CloudFormation rules pin the finding's account
)

// Lint checks a script against the finding it claims to fix. It returns no
// violations for a script that may be shown to a person. It never runs
// anything: every rule reads the text.
func Lint(s *Script, f *posture.Finding) []Violation {
	if s == nil {
		return []Violation{{Rule: RuleParse, Message: "no script"}}
	}
	if f == nil {
		f = &posture.Finding{}
	}
	var removals, literals, regions []string
	if k := kindByID[s.TemplateID]; k != nil {
		removals, literals = k.removals, k.literals
		if k.global && isGlobalRegion(f.Region) && isGlobalRegion(f.Resource.Region) {
			// The only region a global-service script may name.
			regions = []string{iamHomeRegion(findingPartition(f))}
		}
	}
	var v []Violation
	switch s.Format {
	case Terraform:
		v = lintHCL(s.Body, f)
	case CloudFormation:
		v = lintYAML(s.Body, f)
	case AWSCLI, AzCLI, GCloud:
		v = lintShell(s.Body, s.Format, removals)
	default:
		v = []Violation{{Rule: RuleParse, Message: fmt.Sprintf("unknown format %q", s.Format)}}
	}
	if !s.Format.shell() {
		v = append(v, lintDeclarativeText(s.Body)...)
	}
	v = append(v, lintIdentifiers(s.Body, f, regions, literals...)...)
	sort.SliceStable(v, func(i, j int) bool { return v[i].Line < v[j].Line })
	return v
}

// clis are the commands each shell format may call.
var clis = map[Format][]string{
	AWSCLI: {"aws"},
	AzCLI:  {"az"},
	GCloud: {"gcloud", "gsutil"},
}

// builtins are the only other commands: enough to compare, print and stop.
var builtins = map[string]bool{"echo": true, "printf": true, "test": true, "[": true, "exit": true, "set": true}

// prefixes are shell keywords that introduce a command.
var prefixes = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "!": true}

func lintShell(body string, format Format, removals []string) []Violation {
	cmds, v := lexShell(body)
	if !strings.HasPrefix(body, "#!/usr/bin/env bash\n") {
		v = append(v, Violation{Rule: RuleShellHeader, Line: 1, Message: "must start with #!/usr/bin/env bash"})
	}
	allowed := map[string]bool{}
	for _, c := range clis[format] {
		allowed[c] = true
	}
	assigned := map[string]int{}
	strict, guarded := false, false
	for _, c := range cmds {
		words := c.words
		for len(words) > 0 && !c.sub && !words[0].quoted && prefixes[words[0].raw] {
			words = words[1:]
		}
		for len(words) > 0 {
			name, ok := words[0].assignment()
			if !ok {
				break
			}
			if !c.sub {
				if n, dup := assigned[name]; dup {
					v = append(v, Violation{Rule: RuleAssignOnce, Line: c.line, Message: fmt.Sprintf("%s assigned again (first on line %d)", name, n)})
				} else {
					assigned[name] = c.line
				}
			}
			words = words[1:]
		}
		if len(words) == 0 || (len(words) == 1 && words[0].raw == "fi" && !c.sub) {
			continue
		}
		for _, w := range words {
			if m := rePlaceholder.FindString(w.lit); m != "" {
				v = append(v, Violation{Rule: RulePlaceholder, Line: c.line, Message: "placeholder " + m + ": use a marked operator input"})
			}
		}
		w0 := words[0]
		if w0.exp || w0.quoted {
			v = append(v, Violation{Rule: RuleCommands, Line: c.line, Message: "the command name must be a plain word"})
			continue
		}
		name := w0.raw
		if c.first && !allowed[name] {
			v = append(v, Violation{Rule: RuleCommands, Line: c.line, Message: fmt.Sprintf("$( ) may only wrap the %s CLI, not %s", strings.Join(clis[format], "/"), name)})
			continue
		}
		if destructiveCommand[name] {
			v = append(v, Violation{Rule: RuleDestructive, Line: c.line, Message: "destructive command " + name})
			continue
		}
		if !allowed[name] && !builtins[name] {
			v = append(v, Violation{Rule: RuleCommands, Line: c.line, Message: fmt.Sprintf("command %q is not allowed in a %s script", name, format)})
			continue
		}
		if name == "set" && joinRaw(words) == "set -euo pipefail" {
			strict = true
		}
		if !allowed[name] {
			continue
		}
		if !strict {
			v = append(v, Violation{Rule: RuleShellHeader, Line: c.line, Message: "set -euo pipefail must come before the first CLI call"})
			strict = true
		}
		head := cliHead(words)
		// The verb must be plain words right after the CLI name, so that
		// options or quoting cannot hide a destructive verb from the rules
		// below ("aws --region x s3api delete-bucket").
		if n := len(strings.Fields(head)); n < minHead[name] {
			v = append(v, Violation{Rule: RuleCommands, Line: c.line, Message: "the service and verb must come first, unquoted: " + joinRaw(words[:min(len(words), 4)])})
			continue
		}
		if isGuard(head) {
			guarded = true
			continue
		}
		readOnly := isReadOnly(head)
		if !guarded && !readOnly {
			v = append(v, Violation{Rule: RuleShellHeader, Line: c.line, Message: "the account or project must be checked before the first change"})
			guarded = true
		}
		removal := false
		for _, r := range removals {
			if head == r || strings.HasPrefix(head, r+" ") {
				removal = true
			}
		}
		if !removal && isDestructive(head) {
			v = append(v, Violation{Rule: RuleDestructive, Line: c.line, Message: "destructive verb in: " + head})
		}
		if !removal && !readOnly {
			for _, m := range wildcardIn(joinLit(words), false) {
				v = append(v, Violation{Rule: RuleWildcard, Line: c.line, Message: m})
			}
		}
	}
	if !strict {
		v = append(v, Violation{Rule: RuleShellHeader, Line: 1, Message: "set -euo pipefail is missing"})
	}
	return v
}

// minHead is how many plain words a call starts with: the CLI, the
// service (group) and the verb.
var minHead = map[string]int{"aws": 3, "az": 3, "gcloud": 3, "gsutil": 2}

var destructiveCommand = map[string]bool{"rm": true, "rmdir": true, "shred": true, "dd": true, "mkfs": true,
	"truncate": true, "terraform": true, "destroy": true}

func joinRaw(ws []shWord) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.raw
	}
	return strings.Join(s, " ")
}

func joinLit(ws []shWord) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.lit
	}
	return strings.Join(s, " ")
}

// cliHead is the command up to its first option or quoted word: "aws ec2
// revoke-security-group-ingress", "az network nsg rule delete",
// "gsutil iam ch -d allUsers". gsutil takes single-dash options in its head
// because "-d" (remove) is part of what it does.
func cliHead(ws []shWord) string {
	var out []string
	for _, w := range ws {
		if w.quoted || w.exp || strings.HasPrefix(w.raw, "--") || (strings.HasPrefix(w.raw, "-") && ws[0].raw != "gsutil") {
			break
		}
		out = append(out, w.raw)
	}
	return strings.Join(out, " ")
}

func isGuard(head string) bool {
	switch head {
	case "aws sts get-caller-identity", "az account show", "gcloud config get-value project":
		return true
	}
	return false
}

func isReadOnly(head string) bool {
	w := strings.Fields(head)
	if len(w) < 2 {
		return false
	}
	switch w[0] {
	case "aws":
		if len(w) < 3 {
			return false
		}
		op := w[2]
		if op == "wait" {
			return true
		}
		for _, p := range []string{"describe-", "get-", "list-", "head-", "simulate-", "validate-", "lookup-"} {
			if strings.HasPrefix(op, p) {
				return true
			}
		}
	case "az":
		last := w[len(w)-1]
		return last == "show" || last == "list"
	case "gcloud":
		for _, x := range w[1:] {
			if x == "describe" || x == "list" || x == "get-iam-policy" || x == "get-value" {
				return true
			}
		}
	case "gsutil":
		return w[1] == "ls" || w[1] == "stat" || (len(w) > 2 && w[1] == "iam" && w[2] == "get")
	}
	return false
}

func isDestructive(head string) bool {
	w := strings.Fields(head)
	if len(w) < 2 {
		return false
	}
	switch w[0] {
	case "aws":
		if len(w) < 3 {
			return false
		}
		op := w[2]
		if w[1] == "s3" && (op == "rm" || op == "rb" || op == "mv") {
			return true
		}
		for _, p := range []string{"delete-", "terminate-", "revoke-", "detach-", "remove-", "deregister-",
			"disable-", "stop-", "schedule-key-deletion", "cancel-", "purge-"} {
			if strings.HasPrefix(op, p) {
				return true
			}
		}
	case "az", "gcloud":
		for _, x := range w[1:] {
			if x == "delete" || x == "purge" || x == "stop" || x == "deallocate" || strings.HasPrefix(x, "remove") {
				return true
			}
		}
	case "gsutil":
		if w[1] == "rm" || w[1] == "rb" {
			return true
		}
		if (w[1] == "iam" || w[1] == "acl" || w[1] == "defacl") && strings.Contains(" "+head+" ", " -d ") {
			return true
		}
	}
	for _, x := range w {
		if x == "destroy" {
			return true
		}
	}
	return false
}

var wildcardPatterns = []struct {
	re  *regexp.Regexp
	msg string
}{
	{regexp.MustCompile(`"Principal"\s*:\s*"\*"`), `"Principal": "*"`},
	{regexp.MustCompile(`"AWS"\s*:\s*\[?\s*"\*"`), `"AWS": "*" principal`},
	{regexp.MustCompile(`"Action"\s*:\s*\[?[^\]]*"\*"`), `"Action": "*"`},
	{regexp.MustCompile(`(?m)^\s*-?\s*Principal:\s*['"]?\*`), `Principal: "*"`},
	{regexp.MustCompile(`(?m)^\s*-?\s*(AWS|Action):\s*\[?\s*['"]?\*['"]?\s*\]?\s*$`), `"*" principal or action`},
	{regexp.MustCompile(`identifiers\s*=\s*\[[^\]]*"\*"`), `principal identifiers "*"`},
	{regexp.MustCompile(`(?m)^\s*actions\s*=\s*\[[^\]]*"\*"`), `actions "*"`},
	{regexp.MustCompile(`\b[a-z0-9-]+:\*`), `service-wide action wildcard`},
	{regexp.MustCompile(`\ballUsers\b`), `allUsers member`},
	{regexp.MustCompile(`\ballAuthenticatedUsers\b`), `allAuthenticatedUsers member`},
	{regexp.MustCompile(`\b0\.0\.0\.0/0\b`), `0.0.0.0/0 source`},
	{regexp.MustCompile(`::/0`), `::/0 source`},
}

func wildcardIn(s string, _ bool) []string {
	var out []string
	for _, p := range wildcardPatterns {
		if p.re.MatchString(s) {
			out = append(out, "introduces "+p.msg)
		}
	}
	return out
}

// codeLines yields the non-comment lines of a declarative body with their
// numbers. Our templates put comments on lines of their own.
func codeLines(body string) (nums []int, lines []string) {
	for i, ln := range strings.Split(body, "\n") {
		t := strings.TrimSpace(ln)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
			continue
		}
		nums = append(nums, i+1)
		lines = append(lines, ln)
	}
	return nums, lines
}

// The marker words are spelt with a character class so that a search of
// the source for unfinished work does not find this rule itself.
var rePlaceholder = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.-]*>|\b(CHANGE_?ME|REPLACE_?ME|T[O]DO|F[I]XME|XXX)\b`)

// lintDeclarativeText applies the text rules to Terraform and YAML.
func lintDeclarativeText(body string) []Violation {
	var v []Violation
	nums, lines := codeLines(body)
	for i, ln := range lines {
		for _, m := range wildcardIn(ln, false) {
			v = append(v, Violation{Rule: RuleWildcard, Line: nums[i], Message: m})
		}
		if rePlaceholder.MatchString(ln) {
			v = append(v, Violation{Rule: RulePlaceholder, Line: nums[i], Message: "placeholder " + rePlaceholder.FindString(ln) + ": use a declared variable or parameter"})
		}
	}
	return v
}

func lintHCL(body string, finding *posture.Finding) []Violation {
	f, diags := hclparse.NewParser().ParseHCL([]byte(body), "fix.tf")
	if diags.HasErrors() {
		var v []Violation
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			line := 0
			if d.Subject != nil {
				line = d.Subject.Start.Line
			}
			v = append(v, Violation{Rule: RuleParse, Line: line, Message: d.Summary + ": " + d.Detail})
		}
		return v
	}
	b, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return []Violation{{Rule: RuleParse, Message: "not native HCL syntax"}}
	}
	var v []Violation
	var walk func(*hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for name, a := range b.Attributes {
			if name == "destroy" || name == "force_destroy" {
				v = append(v, Violation{Rule: RuleDestructive, Line: a.SrcRange.Start.Line, Message: "attribute " + name})
			}
		}
		for _, blk := range b.Blocks {
			if blk.Type == "removed" {
				v = append(v, Violation{Rule: RuleDestructive, Line: blk.TypeRange.Start.Line, Message: "removed block"})
			}
			walk(blk.Body)
		}
	}
	walk(b)
	if len(b.Blocks) == 0 {
		v = append(v, Violation{Rule: RuleParse, Message: "no blocks"})
	}
	return append(v, hclAccountPin(b, finding)...)
}

// providerPins is the provider argument that restricts a Terraform
// provider to one account, subscription or project, per provider name.
// Terraform then refuses to plan with credentials for any other: the
// declarative counterpart of the shell scripts' account check.
var providerPins = map[string]string{"aws": "allowed_account_ids", "azurerm": "subscription_id", "google": "project"}

// hclAccountPin checks that the script configures at least one provider
// and that every provider we know is pinned to the finding's account.
func hclAccountPin(b *hclsyntax.Body, f *posture.Finding) []Violation {
	var v []Violation
	want := strings.ToLower(f.Account)
	providers := 0
	for _, blk := range b.Blocks {
		if blk.Type != "provider" || len(blk.Labels) != 1 {
			continue
		}
		providers++
		line := blk.TypeRange.Start.Line
		attr, ok := providerPins[blk.Labels[0]]
		if !ok {
			v = append(v, Violation{Rule: RuleAccountPin, Line: line, Message: "provider " + blk.Labels[0] + " cannot be pinned to the finding's account"})
			continue
		}
		a, ok := blk.Body.Attributes[attr]
		if !ok {
			v = append(v, Violation{Rule: RuleAccountPin, Line: line, Message: "provider " + blk.Labels[0] + " has no " + attr})
			continue
		}
		got, ok := literalStrings(a.Expr)
		if !ok || len(got) != 1 || want == "" || strings.ToLower(got[0]) != want {
			v = append(v, Violation{Rule: RuleAccountPin, Line: a.SrcRange.Start.Line, Message: attr + " must be exactly the finding's account"})
		}
	}
	if providers == 0 {
		v = append(v, Violation{Rule: RuleAccountPin, Message: "no provider block pins the finding's account"})
	}
	return v
}

// literalStrings reads a string or a list of strings written as literals.
func literalStrings(e hclsyntax.Expression) ([]string, bool) {
	val, diags := e.Value(nil)
	if diags.HasErrors() || !val.IsWhollyKnown() || val.IsNull() {
		return nil, false
	}
	t := val.Type()
	if t == cty.String {
		return []string{val.AsString()}, true
	}
	if !t.IsTupleType() && !t.IsListType() {
		return nil, false
	}
	var out []string
	for _, x := range val.AsValueSlice() {
		if x.IsNull() || x.Type() != cty.String {
			return nil, false
		}
		out = append(out, x.AsString())
	}
	return out, true
}

func lintYAML(body string, f *posture.Finding) []Violation {
	var doc struct {
		Resources map[string]struct {
			Type           string `yaml:"Type"`
			DeletionPolicy string `yaml:"DeletionPolicy"`
		} `yaml:"Resources"`
		Rules map[string]struct {
			Assertions []struct {
				Assert any `yaml:"Assert"`
			} `yaml:"Assertions"`
		} `yaml:"Rules"`
	}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return []Violation{{Rule: RuleParse, Message: "not valid YAML: " + err.Error()}}
	}
	if len(doc.Resources) == 0 {
		return []Violation{{Rule: RuleParse, Message: "no Resources map"}}
	}
	var v []Violation
	names := make([]string, 0, len(doc.Resources))
	for n := range doc.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := doc.Resources[n]
		if r.Type == "" {
			v = append(v, Violation{Rule: RuleParse, Message: "resource " + n + " has no Type"})
		}
		if r.DeletionPolicy == "Delete" {
			v = append(v, Violation{Rule: RuleDestructive, Message: "resource " + n + " has DeletionPolicy: Delete"})
		}
	}
	pinned := false
	for _, r := range doc.Rules {
		for _, a := range r.Assertions {
			pinned = pinned || assertsAccount(a.Assert, f.Account)
		}
	}
	if !pinned {
		v = append(v, Violation{Rule: RuleAccountPin, Message: `no Rules assertion Fn::Equals [Ref "AWS::AccountId", the finding's account]`})
	}
	return v
}

// assertsAccount reports whether a rule assertion is, in the long form we
// write, Fn::Equals of the AWS::AccountId pseudo parameter and the
// account: CloudFormation then refuses the stack operation anywhere else.
func assertsAccount(a any, account string) bool {
	m, ok := a.(map[string]any)
	if !ok || len(m) != 1 || account == "" {
		return false
	}
	args, ok := m["Fn::Equals"].([]any)
	if !ok || len(args) != 2 {
		return false
	}
	ref, lit := false, false
	for _, x := range args {
		switch x := x.(type) {
		case map[string]any:
			ref = ref || (len(x) == 1 && x["Ref"] == "AWS::AccountId")
		case string:
			lit = lit || x == account
		}
	}
	return ref && lit
}
