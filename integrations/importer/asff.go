package importer

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// asffFinding is the part of an AWS Security Finding Format record that
// optix-bot reads (see testdata/securityhub-asff.json).
type asffFinding struct {
	SchemaVersion   string   `json:"SchemaVersion"`
	ID              string   `json:"Id"`
	GeneratorID     string   `json:"GeneratorId"`
	AwsAccountID    string   `json:"AwsAccountId"`
	Region          string   `json:"Region"`
	Title           string   `json:"Title"`
	FirstObservedAt flexTime `json:"FirstObservedAt"`
	LastObservedAt  flexTime `json:"LastObservedAt"`
	CreatedAt       flexTime `json:"CreatedAt"`
	UpdatedAt       flexTime `json:"UpdatedAt"`
	Severity        struct {
		Label      string   `json:"Label"`
		Normalized *float64 `json:"Normalized"`
		Original   string   `json:"Original"`
	} `json:"Severity"`
	FindingProviderFields struct {
		Severity struct {
			Label string `json:"Label"`
		} `json:"Severity"`
	} `json:"FindingProviderFields"`
	// ProductFields is a string map by the spec; values are read leniently.
	ProductFields map[string]json.RawMessage `json:"ProductFields"`
	Resources     []asffResource             `json:"Resources"`
	Compliance    struct {
		Status string `json:"Status"`
	} `json:"Compliance"`
	Workflow struct {
		Status string `json:"Status"`
	} `json:"Workflow"`
	WorkflowState string `json:"WorkflowState"`
	RecordState   string `json:"RecordState"`
}

type asffResource struct {
	Type      string                     `json:"Type"`
	ID        string                     `json:"Id"`
	Partition string                     `json:"Partition"`
	Region    string                     `json:"Region"`
	Tags      flexTags                   `json:"Tags"`
	Details   map[string]json.RawMessage `json:"Details"`
}

func (f *asffFinding) looksRight() bool {
	return f.SchemaVersion != "" || (f.GeneratorID != "" && f.AwsAccountID != "")
}

// status applies the ASFF fields that take a finding out of the open set, a
// person's decision first: a suppressed finding stays muted whatever the
// control says; an archived record is gone; a passed (or not evaluable)
// control is passed even though Security Hub also marks it RESOLVED.
func (f *asffFinding) status() posture.Status {
	wf := strings.ToUpper(strings.TrimSpace(firstNonEmpty(f.Workflow.Status, f.WorkflowState)))
	switch {
	case wf == "SUPPRESSED":
		return posture.StatusMuted
	case strings.EqualFold(f.RecordState, "ARCHIVED"):
		return posture.StatusResolved
	}
	switch strings.ToUpper(strings.TrimSpace(f.Compliance.Status)) {
	case "PASSED", "NOT_AVAILABLE":
		// NOT_AVAILABLE is what Prowler writes for MANUAL checks: nothing
		// failed, so it is not open.
		return posture.StatusPassed
	}
	if wf == "RESOLVED" {
		return posture.StatusResolved
	}
	return posture.StatusOpen
}

func (f *asffFinding) severity() posture.Severity {
	for _, s := range []string{f.Severity.Label, f.FindingProviderFields.Severity.Label} {
		if sev := posture.ParseSeverity(s); sev != posture.SeverityUnknown {
			return sev
		}
	}
	if n := f.Severity.Normalized; n != nil {
		// The ASFF label ranges for Normalized: 0 informational, 1-39 low,
		// 40-69 medium, 70-89 high, 90-100 critical.
		switch {
		case *n >= 90:
			return posture.SeverityCritical
		case *n >= 70:
			return posture.SeverityHigh
		case *n >= 40:
			return posture.SeverityMedium
		case *n >= 1:
			return posture.SeverityLow
		case *n == 0:
			return posture.SeverityInfo
		}
	}
	return posture.ParseSeverity(f.Severity.Original)
}

func (f *asffFinding) productField(key string) string {
	v, ok := f.ProductFields[key]
	if !ok {
		return ""
	}
	return strings.TrimSpace(scalarText(v))
}

// rule is the finding's own rule name, short but unique across standards:
// Prowler's check id ("prowler-<check>"), else the generator with the
// Security Hub ruleset ARN prefix dropped
// ("cis-aws-foundations-benchmark/v/1.2.0/rule/1.1"), else the control or
// rule number. A bare RuleId ("1.1") is last because CIS versions reuse it.
func (f *asffFinding) rule() string {
	g := strings.TrimSpace(f.GeneratorID)
	if c, ok := strings.CutPrefix(g, "prowler-"); ok {
		return c
	}
	if i := strings.Index(g, ":ruleset/"); i >= 0 && strings.HasPrefix(g, "arn:") {
		return g[i+len(":ruleset/"):]
	}
	return firstNonEmpty(g, f.productField("ControlId"), f.productField("RuleId"))
}

// ruleCandidates lists, most specific first, the names under which the
// catalogue may know this finding's check.
func (f *asffFinding) ruleCandidates() []string {
	var out []string
	g := strings.TrimSpace(f.GeneratorID)
	if c, ok := strings.CutPrefix(g, "prowler-"); ok {
		out = append(out, c)
	}
	var keys []string
	for k := range f.ProductFields {
		if strings.HasPrefix(strings.ToLower(k), "prowler/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, f.productField(k))
	}
	out = append(out, f.productField("ControlId"), f.productField("RuleId"), g)
	if arn := f.productField("StandardsControlArn"); arn != "" {
		out = append(out, arn[strings.LastIndexByte(arn, '/')+1:])
	}
	return out
}

func (f *asffFinding) resolve(cat *posture.Catalogue, resType string) *posture.Check {
	for _, c := range f.ruleCandidates() {
		if c == "" {
			continue
		}
		if ch := cat.Resolve("aws", c, "", ""); ch.ID != posture.GenericCheck {
			return ch
		}
	}
	if ch := f.controlCheck(cat); ch != nil {
		return ch
	}
	return cat.Resolve("aws", f.rule(), resType, f.Title)
}

func (f *asffFinding) toFinding(cat *posture.Catalogue, raw json.RawMessage) posture.Finding {
	var res asffResource
	if len(f.Resources) > 0 {
		res = f.Resources[0]
	}
	var exp exposure
	// Details holds one object per resource type (AwsRdsDbInstance, ...);
	// sorted so that the first public IP found is the same on every run.
	names := make([]string, 0, len(res.Details))
	for k := range res.Details {
		names = append(names, k)
	}
	sort.Strings(names)
	public := false
	for _, k := range names {
		var e exposure
		_ = json.Unmarshal(res.Details[k], &e) // lenient: details vary by type
		public = public || e.public()
		if exp.ip() == "" {
			exp = e
		}
	}

	rule := f.rule()
	check := f.resolve(cat, res.Type)
	sev := f.severity()
	if sev == posture.SeverityUnknown {
		sev = check.Severity
	}
	out := posture.Finding{
		Source:   "asff",
		Rule:     rule,
		Check:    check.ID,
		Title:    f.Title,
		Provider: "aws", // ASFF is AWS Security Hub's format
		Account:  f.AwsAccountID,
		Region:   firstNonEmpty(f.Region, res.Region),
		Resource: posture.Resource{
			ID:       res.ID,
			Type:     res.Type,
			Region:   firstNonEmpty(res.Region, f.Region),
			Public:   public,
			PublicIP: exp.ip(),
		},
		Severity:  sev,
		Status:    f.status(),
		FirstSeen: first(f.FirstObservedAt, f.CreatedAt),
		LastSeen:  first(f.LastObservedAt, f.UpdatedAt),
		Raw:       raw,
	}
	if len(res.Tags) > 0 {
		out.Resource.Tags = res.Tags
	}
	if out.Title == "" {
		out.Title = check.Title
	}
	if f.ID != "" {
		out.SourceIDs = []string{f.ID}
	}
	out.ID = posture.FindingID(out.Provider, out.Account, idKey(check, rule, f.Title), res.ID)
	return out
}
