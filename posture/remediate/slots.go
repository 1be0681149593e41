package remediate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Slot is a value in a vetted script that tailoring may change: a name the
// operator's conventions may prefer, never anything that decides what the
// script does to which resource (account, region, resource ids, ARNs,
// commands, flags and the header are never slots).
type Slot struct {
	Name    string // "resource_name", "policy_resource_name", "owner_tag", "environment_tag"
	Value   string // the value in the vetted script
	Pattern string // anchored regexp a new value must match
	Meaning string // one line for a prompt
}

// Slot names, as they appear in Slot.Name and TailorError.Slot.
const (
	SlotResourceName       = "resource_name"
	SlotPolicyResourceName = "policy_resource_name"
	SlotOwnerTag           = "owner_tag"
	SlotEnvironmentTag     = "environment_tag"
)

// slotDef is what every template using a slot shares: the pattern, the
// meaning, and where the vetted value comes from.
type slotDef struct {
	re      *regexp.Regexp
	meaning string
	// vetted is the value the vetted script has, from the template data.
	vetted func(d map[string]any) string
	// keeps, when set, says why a new value would change what the script
	// means (empty when it does not): a tag value that optix-bot reads back
	// into its own ranking must keep its meaning, whatever it is spelt.
	keeps func(vetted, v string) string
}

// shortName keeps a Terraform local name a name: at most five words and
// 40 characters, like "payments_exports_public_block", not a sentence an
// approver reads in the plan ("approved_by_security_skip_plan_and_apply").
func shortName(_, v string) string {
	if len(v) > 40 || strings.Count(v, "_") > 4 {
		return "a name has at most five words and 40 characters"
	}
	return ""
}

// sameCase keeps a tag value that optix-bot reads back into its ranking:
// the resource's own tags outrank the account's context, and tag rules in
// the context file match values ignoring case only. So a tailored value
// may change letter case ("Production", "Payments") and nothing else: not
// "sandbox" on a production bucket, not "prod" where a tag rule says
// "production", not "web-platform" for "platform".
func sameCase(vetted, v string) string {
	if !strings.EqualFold(v, vetted) {
		return "only the letter case of the attributed value may change"
	}
	return ""
}

func fixed(v string) func(map[string]any) string { return func(map[string]any) string { return v } }

func dataString(key string) func(map[string]any) string {
	return func(d map[string]any) string { s, _ := d[key].(string); return s }
}

var (
	// Terraform local names are identifiers; we keep them to lower-case
	// snake case so one cannot look like an id, a region or an account.
	reTFLocalName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	// Tag values: reTagValue without leading or trailing spaces, which
	// validTag trims from attributed values, so a tailored value cannot
	// differ from an attributed one by invisible padding.
	reTagSlot = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]([A-Za-z0-9 _.:/=+@-]{0,126}[A-Za-z0-9_.:/=+@-])?$`)
)

var slotDefs = map[string]slotDef{
	SlotResourceName: {re: reTFLocalName, vetted: fixed("optix_fix"), keeps: shortName,
		meaning: "Terraform local name of the resource (and import) blocks that apply the fix; every occurrence"},
	SlotPolicyResourceName: {re: reTFLocalName, vetted: fixed("require_mfa"), keeps: shortName,
		meaning: "Terraform local name of the MFA policy document and policy blocks; every occurrence, references included"},
	SlotOwnerTag: {re: reTagSlot, vetted: dataString("Owner"), keeps: sameCase,
		meaning: "value of the owner tag to add (the owning team); only its letter case may change"},
	SlotEnvironmentTag: {re: reTagSlot, vetted: dataString("Environment"), keeps: sameCase,
		meaning: "value of the environment tag to add; only its letter case may change"},
}

// slotKey is where render puts the slot set in the template data; the
// template function slot reads it from there.
const slotKey = "_slots"

// slotSet is one render's slot values: the vetted ones from the data,
// replaced by override where it has a value, and which slots were used.
type slotSet struct {
	data     map[string]any
	override map[string]string
	used     map[string]bool
}

// slotValue is the template function {{slot . "name"}}.
func slotValue(d map[string]any, name string) (string, error) {
	sv, ok := d[slotKey].(*slotSet)
	if !ok {
		return "", fmt.Errorf("slot %s: no slot values in the template data", name)
	}
	def, ok := slotDefs[name]
	if !ok {
		return "", fmt.Errorf("unknown slot %s", name)
	}
	vetted := def.vetted(sv.data)
	if vetted == "" {
		// A template must not offer a slot it has no value for (the tag
		// lines are operator inputs then, never slots).
		return "", fmt.Errorf("slot %s has no vetted value", name)
	}
	if sv.used == nil {
		sv.used = map[string]bool{}
	}
	sv.used[name] = true
	if v, ok := sv.override[name]; ok {
		return v, nil
	}
	return vetted, nil
}

// slots lists the slots the render used, with their vetted values, sorted
// by name.
func (sv *slotSet) slots() []Slot {
	if len(sv.used) == 0 {
		return nil
	}
	out := make([]Slot, 0, len(sv.used))
	for name := range sv.used {
		def := slotDefs[name]
		out = append(out, Slot{Name: name, Value: def.vetted(sv.data), Pattern: def.re.String(), Meaning: def.meaning})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
