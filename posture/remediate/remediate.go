// Package remediate drafts remediation scripts for findings from vetted
// templates, and lints every script before anyone sees it. It is pure: no
// I/O, no network, no exec. A script that fails validation or the linter is
// never returned; the caller gets manual steps instead.
package remediate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// Format is the language a script is written for.
type Format string

// The formats templates may offer.
const (
	Terraform      Format = "terraform"
	AWSCLI         Format = "awscli"
	CloudFormation Format = "cloudformation"
	AzCLI          Format = "azcli"
	GCloud         Format = "gcloud"
)

var allFormats = []Format{Terraform, AWSCLI, CloudFormation, AzCLI, GCloud}

// ParseFormat reads a format name as a user may type it ("tf", "cli", "cfn").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "terraform", "tf", "hcl":
		return Terraform, nil
	case "awscli", "aws", "aws-cli", "cli", "bash":
		return AWSCLI, nil
	case "cloudformation", "cfn", "cf":
		return CloudFormation, nil
	case "azcli", "az", "azure-cli":
		return AzCLI, nil
	case "gcloud", "gcp", "gsutil":
		return GCloud, nil
	}
	return "", fmt.Errorf("unknown script format %q (want one of %s)", s, joinFormats(allFormats))
}

// language is the syntax each format is written in.
func (f Format) language() string {
	switch f {
	case Terraform:
		return "hcl"
	case CloudFormation:
		return "yaml"
	}
	return "bash"
}

func (f Format) ext() string {
	switch f {
	case Terraform:
		return ".tf"
	case CloudFormation:
		return ".yaml"
	}
	return ".sh"
}

func (f Format) shell() bool { return f.language() == "bash" }

// Script is a rendered, linted remediation script.
type Script struct {
	Format          Format
	Language        string // hcl, bash or yaml
	Filename        string
	Body            string
	SHA256          string // hex SHA-256 of Body
	TemplateID      string
	TemplateVersion string
	Check           string
	// Slots are the values in Body that Tailor may change, with their
	// vetted values, sorted by Name. Empty when the template has none.
	Slots []Slot
	// Tailored names the slots whose value differs from the vetted one;
	// nil for a vetted script (from Generate, or an unchanged Tailor).
	Tailored []string
	// Values holds the value of each tailored slot, by name (nil when
	// Tailored is), so a caller can check them against its own rules.
	Values map[string]string
}

// Violation is one linter finding against a script.
type Violation struct {
	Rule    string
	Line    int // 1-based; 0 when the violation is about the whole script
	Message string
}

func (v Violation) String() string {
	if v.Line == 0 {
		return v.Rule + ": " + v.Message
	}
	return fmt.Sprintf("%s (line %d): %s", v.Rule, v.Line, v.Message)
}

// Result is what Generate hands back for one finding.
type Result struct {
	// Script is nil when no template covers the check, an identifier failed
	// validation, or the linter refused the script.
	Script *Script
	// Manual holds manual steps in our own words; always filled, so that a
	// templated kind still offers the console route as an alternative.
	Manual []string
	// Refused says why a rendered script was withheld (for logs and audit).
	Refused []Violation
	// Formats lists the formats the check's kind offers, default first.
	Formats []Format
	// Note is one sentence for the user about what they are getting.
	Note string
}

// Input is what a script is rendered from.
type Input struct {
	Finding *posture.Finding
	Check   *posture.Check      // may be nil: then only Finding.Check is used
	Attr    posture.Attribution // may be zero; tag values fall back to operator inputs
}

// Notes shown with a Result.
const (
	NoteNoTemplate = "No template for this check yet: follow the steps."
	NoteInvalid    = "The resource identifiers could not be verified as safe to put in a script, so here are the manual steps."
	NoteRefused    = "The script failed the safety check, so here are the manual steps."
	NoteScript     = "Review the script before running it; the manual steps are an alternative."
)

// ErrUnsupportedFormat is returned (wrapped) when a kind does not offer the
// asked-for format.
var ErrUnsupportedFormat = errors.New("format not offered for this check")

// Generate renders the template for the finding's check in format (""
// means the kind's default), lints it, and returns the script only if the
// linter passed it. A finding without a template, or with identifiers that
// fail validation, gets manual steps and no error: those are normal
// outcomes. The error is for caller mistakes: no finding, or a format the
// kind does not offer.
func Generate(in Input, format Format) (Result, error) {
	if in.Finding == nil {
		return Result{}, errors.New("generate remediation: no finding")
	}
	checkID := in.Finding.Check
	if in.Check != nil {
		checkID = in.Check.ID
	}
	check := in.Check
	if check == nil {
		if ch, ok := posture.DefaultCatalogue().Lookup(checkID); ok {
			check = ch
		}
	}
	res := Result{Manual: Guidance(check)}
	if len(res.Manual) == 0 {
		res.Manual = categoryGuidance(nil)
	}
	k, ok := kindByCheck[checkID]
	if !ok {
		res.Note = NoteNoTemplate
		return res, nil
	}
	res.Formats = append([]Format(nil), k.formats...)
	if format == "" {
		format = k.formats[0]
	}
	if !k.offers(format) {
		return res, fmt.Errorf("generate %s for %s: %w (offered: %s)", format, checkID, ErrUnsupportedFormat, joinFormats(k.formats))
	}
	s, err := render(k, checkID, in, format)
	if err != nil {
		res.Note = NoteInvalid
		res.Refused = []Violation{{Rule: "identifier", Message: err.Error()}}
		return res, nil
	}
	if v := Lint(s, in.Finding); len(v) > 0 {
		res.Note = NoteRefused
		res.Refused = v
		return res, nil
	}
	res.Script = s
	res.Note = NoteScript
	return res, nil
}

// Available reports whether Generate would return a script for this
// finding in format ("" = the kind's default): a template covers the
// check, offers the format, the finding's identifiers pass validation and
// the rendered script passes the linter. It runs Generate itself, so the
// two cannot disagree; that costs one render and lint (about a
// millisecond, see BenchmarkGenerate).
func Available(in Input, format Format) bool {
	res, err := Generate(in, format)
	return err == nil && res.Script != nil
}

// Kinds returns the check ids that have templates, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kindByCheck))
	for id := range kindByCheck {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// FormatsFor returns the formats the check's template offers, default
// first, or nil when the check has no template.
func FormatsFor(checkID string) []Format {
	k, ok := kindByCheck[checkID]
	if !ok {
		return nil
	}
	return append([]Format(nil), k.formats...)
}

func newScript(k *kind, checkID string, format Format, filename, body string) *Script {
	sum := sha256.Sum256([]byte(body))
	return &Script{
		Format:          format,
		Language:        format.language(),
		Filename:        filename,
		Body:            body,
		SHA256:          hex.EncodeToString(sum[:]),
		TemplateID:      k.id,
		TemplateVersion: k.version,
		Check:           checkID,
	}
}

func joinFormats(fs []Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}
