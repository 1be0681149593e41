package remediate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/posture"

	"github.com/optix-bot/optix-bot/internal/golden"
)

var attributed = posture.Attribution{Owner: "team-data", Environment: posture.EnvProduction}

// vettedFor renders the vetted script for a fixture check, with the
// attribution the goldens use.
func vettedFor(t *testing.T, check string, format Format, attr posture.Attribution) (Input, *Script) {
	t.Helper()
	in := Input{Finding: fixtures()[check], Attr: attr}
	res, err := Generate(in, format)
	if err != nil || res.Script == nil {
		t.Fatalf("vetted %s %s: %v %v", check, format, err, res.Refused)
	}
	return in, res.Script
}

// templateSamples gives one check per template and format, so that each
// template is tailored once.
func templateSamples(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fx := fixtures()
	for _, check := range Kinds() {
		for _, f := range FormatsFor(check) {
			res, err := Generate(Input{Finding: fx[check], Attr: attributed}, f)
			if err != nil || res.Script == nil {
				t.Fatalf("%s %s: %v %v", check, f, err, res.Refused)
			}
			key := res.Script.TemplateID + "." + string(f)
			if _, ok := out[key]; !ok {
				out[key] = check
			}
		}
	}
	return out
}

// TestSlotsPerTemplate pins which slots each template offers and their
// vetted values: a new slot must be added here on purpose.
func TestSlotsPerTemplate(t *testing.T) {
	tf := []Slot{{Name: SlotResourceName, Value: "optix_fix"}}
	want := map[string][]Slot{
		"aws-cloudtrail-multi-region.terraform": tf,
		"aws-ebs-default-encryption.terraform":  tf,
		"aws-s3-access-logging.terraform":       tf,
		"aws-s3-block-public-access.terraform":  tf,
		"aws-s3-kms-encryption.terraform":       tf,
		"aws-s3-versioning.terraform":           tf,
		"aws-iam-require-mfa.terraform": {{Name: SlotPolicyResourceName, Value: "require_mfa"},
			{Name: SlotResourceName, Value: "optix_fix"}},
		"aws-tag-required.awscli": {{Name: SlotEnvironmentTag, Value: "production"}, {Name: SlotOwnerTag, Value: "team-data"}},
	}
	fx := fixtures()
	for _, check := range Kinds() {
		for _, f := range FormatsFor(check) {
			t.Run(check+"/"+string(f), func(t *testing.T) {
				res, err := Generate(Input{Finding: fx[check], Attr: attributed}, f)
				if err != nil || res.Script == nil {
					t.Fatalf("%v %v", err, res.Refused)
				}
				s := res.Script
				if s.Tailored != nil {
					t.Errorf("vetted script has Tailored = %v", s.Tailored)
				}
				var got []Slot
				for _, sl := range s.Slots {
					if sl.Pattern == "" || sl.Meaning == "" || !strings.HasPrefix(sl.Pattern, "^") || !strings.HasSuffix(sl.Pattern, "$") {
						t.Errorf("slot %s lacks an anchored pattern or a meaning: %+v", sl.Name, sl)
					}
					if !strings.Contains(s.Body, sl.Value) {
						t.Errorf("slot %s value %q is not in the body", sl.Name, sl.Value)
					}
					got = append(got, Slot{Name: sl.Name, Value: sl.Value})
				}
				if d := cmp.Diff(want[s.TemplateID+"."+string(f)], got); d != "" {
					t.Errorf("slots (-want +got):\n%s", d)
				}
			})
		}
	}
	t.Run("operator-input tags are not slots", func(t *testing.T) {
		_, s := vettedFor(t, "resource_missing_required_tags", AWSCLI, posture.Attribution{Owner: "team-data"})
		if d := cmp.Diff([]string{SlotOwnerTag}, slotNamesOf(s)); d != "" {
			t.Errorf("slots (-want +got):\n%s", d)
		}
		_, s = vettedFor(t, "resource_missing_required_tags", AWSCLI, posture.Attribution{})
		if len(s.Slots) != 0 {
			t.Errorf("slots = %v, want none without attribution", s.Slots)
		}
	})
}

func slotNamesOf(s *Script) []string {
	var out []string
	for _, sl := range s.Slots {
		out = append(out, sl.Name)
	}
	return out
}

// renamed are the tailored values the tests use for every slot.
var renamed = map[string]string{
	SlotResourceName:       "exports_bucket_fix",
	SlotPolicyResourceName: "mfa_guard",
	SlotOwnerTag:           "TEAM-DATA",
	SlotEnvironmentTag:     "Production",
}

// renameAll edits a vetted script by plain text replacement, the way a
// person would, not through the skeleton Tailor uses: the fixtures' names
// cannot contain the vetted slot values anywhere else.
func renameAll(t *testing.T, s *Script) string {
	t.Helper()
	body := s.Body
	for _, sl := range s.Slots {
		switch sl.Name {
		case SlotOwnerTag:
			body = strings.Replace(body, `OWNER="`+sl.Value+`"`, `OWNER="`+renamed[sl.Name]+`"`, 1)
		case SlotEnvironmentTag:
			body = strings.Replace(body, `ENVIRONMENT="`+sl.Value+`"`, `ENVIRONMENT="`+renamed[sl.Name]+`"`, 1)
		default:
			body = strings.ReplaceAll(body, sl.Value, renamed[sl.Name])
		}
	}
	if body == s.Body {
		t.Fatal("renaming changed nothing")
	}
	return body
}

// TestTailorRenamesEverySlot renames every slot of each template, checks
// the result is accepted, lints, is rebuilt byte for byte, and matches
// testdata/tailored/<template>.<format>.golden.
func TestTailorRenamesEverySlot(t *testing.T) {
	for key, check := range templateSamples(t) {
		format := Format(key[strings.LastIndex(key, ".")+1:])
		in, vetted := vettedFor(t, check, format, attributed)
		if len(vetted.Slots) == 0 {
			continue
		}
		t.Run(key, func(t *testing.T) {
			cand := renameAll(t, vetted)
			for _, variant := range []struct{ name, text string }{
				{"as is", cand},
				{"CRLF and no final newline", strings.TrimRight(strings.ReplaceAll(cand, "\n", "\r\n"), "\r\n")},
				{"extra final newlines", cand + "\n\n"},
			} {
				t.Run(variant.name, func(t *testing.T) {
					s, err := Tailor(in, format, variant.text)
					if err != nil {
						t.Fatalf("Tailor: %v", err)
					}
					if s.Body != cand {
						t.Errorf("rebuilt body differs from the candidate:\n%s", cmp.Diff(cand, s.Body))
					}
					sum := sha256.Sum256([]byte(s.Body))
					if s.SHA256 != hex.EncodeToString(sum[:]) || s.SHA256 == vetted.SHA256 {
						t.Errorf("SHA256 = %s, want the hash of the tailored body", s.SHA256)
					}
					if v := Lint(s, in.Finding); len(v) > 0 {
						t.Errorf("tailored script fails lint: %v", v)
					}
					if d := cmp.Diff(slotNamesOf(vetted), s.Tailored); d != "" {
						t.Errorf("Tailored (-want +got):\n%s", d)
					}
					if d := cmp.Diff(vetted.Slots, s.Slots); d != "" {
						t.Errorf("Slots should keep the vetted values (-want +got):\n%s", d)
					}
					if s.TemplateID != vetted.TemplateID || s.Filename != vetted.Filename || s.Check != vetted.Check {
						t.Errorf("metadata changed: %+v", *s)
					}
				})
			}
			s, err := Tailor(in, format, cand)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range s.Tailored {
				if s.Values[name] != renamed[name] {
					t.Errorf("Values[%s] = %q, want %q", name, s.Values[name], renamed[name])
				}
			}
			golden.Check(t, filepath.Join("tailored", key+".golden"), []byte(s.Body))
		})
	}
}

// TestTailorUnchanged: the vetted script itself is a valid tailoring, with
// nothing tailored and the same hash, for every check and format.
func TestTailorUnchanged(t *testing.T) {
	fx := fixtures()
	for _, check := range Kinds() {
		for _, f := range FormatsFor(check) {
			t.Run(check+"/"+string(f), func(t *testing.T) {
				in := Input{Finding: fx[check], Attr: attributed}
				res, err := Generate(in, f)
				if err != nil || res.Script == nil {
					t.Fatalf("%v %v", err, res.Refused)
				}
				s, err := Tailor(in, f, strings.ReplaceAll(res.Script.Body, "\n", "\r\n"))
				if err != nil {
					t.Fatalf("Tailor: %v", err)
				}
				if d := cmp.Diff(res.Script, s); d != "" {
					t.Errorf("unchanged tailoring differs from the vetted script (-want +got):\n%s", d)
				}
			})
		}
	}
}

// lineOf is the 1-based line of the first line of body containing sub.
func lineOf(t *testing.T, body, sub string) int {
	t.Helper()
	for i, ln := range strings.Split(body, "\n") {
		if strings.Contains(ln, sub) {
			return i + 1
		}
	}
	t.Fatalf("no line contains %q", sub)
	return 0
}

// replaceLine swaps old for new on the first line containing old, failing
// the test when there is none (so that a case cannot pass vacuously).
func replaceLine(t *testing.T, body, old, new string) string {
	t.Helper()
	if !strings.Contains(body, old) {
		t.Fatalf("vetted script has no %q", old)
	}
	return strings.Replace(body, old, new, 1)
}

func TestTailorRefuses(t *testing.T) {
	const (
		tags = "resource_missing_required_tags"
		vers = "s3_bucket_object_versioning"
		mfa  = "iam_user_mfa_enabled_console_access"
	)
	tests := []struct {
		name   string
		check  string
		format Format
		attr   posture.Attribution
		// edit makes the candidate from the vetted body and says which
		// line the refusal must name (0: none).
		edit       func(t *testing.T, body string) (string, int)
		reason     string
		slot       string
		violations []string // rules, for lint
	}{
		{name: "added line", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				n := lineOf(t, b, `bucket = "acme-prod-exports"`)
				return replaceLine(t, b, `bucket = "acme-prod-exports"`+"\n", `bucket = "acme-prod-exports"`+"\n  mfa = \"x\"\n"), n + 1
			}},
		{name: "deleted line", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				n := lineOf(t, b, "  allowed_account_ids = [")
				return replaceLine(t, b, `  allowed_account_ids = ["111122223333"]`+"\n", ""), n
			}},
		{name: "changed region", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `region              = "eu-west-1"`, `region              = "us-east-1"`), lineOf(t, b, `region              = "eu-west-1"`)
			}},
		{name: "changed resource", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `bucket = "acme-prod-exports"`, `bucket = "acme-prod-backups"`), lineOf(t, b, `bucket = "acme-prod-exports"`)
			}},
		{name: "changed resource type on a slot line", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `resource "aws_s3_bucket_versioning"`, `resource "aws_s3_bucket"`), lineOf(t, b, `resource "aws_s3_bucket_versioning"`)
			}},
		{name: "changed account", check: vers, format: CloudFormation, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `- "111122223333"`, `- "999988887777"`), lineOf(t, b, `- "111122223333"`)
			}},
		{name: "changed header", check: vers, format: CloudFormation, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, "REVIEW BEFORE RUNNING", "safe to run"), 1
			}},
		{name: "changed flag", check: tags, format: AWSCLI, attr: attributed, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `--tags "owner=${OWNER}"`, `--tags "owner=${OWNER}" --no-verify-ssl`), lineOf(t, b, `--tags "owner=${OWNER}"`)
			}},
		{name: "destructive verb appended", check: tags, format: AWSCLI, attr: attributed, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return b + "aws lambda delete-function --function-name thumbnailer\n", strings.Count(b, "\n") + 1
			}},
		{name: "destructive verb on a slot line", check: tags, format: AWSCLI, attr: attributed, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="team-data"; aws lambda delete-function --function-name thumbnailer`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "operator input line is not a slot", check: tags, format: AWSCLI, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="${OWNER:?Set OWNER to the owning team}"`, `OWNER="team-data"`), lineOf(t, b, `OWNER="${OWNER:?`)
			}},
		{name: "empty candidate", check: vers, format: Terraform, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) { return "", 1 }},
		{name: "environment tag relabels production as sandbox", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotEnvironmentTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `ENVIRONMENT="production"`, `ENVIRONMENT="sandbox"`), lineOf(t, b, `ENVIRONMENT="production"`)
			}},
		{name: "environment tag that is no environment", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotEnvironmentTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `ENVIRONMENT="production"`, `ENVIRONMENT="blue"`), lineOf(t, b, `ENVIRONMENT="production"`)
			}},
		{name: "owner tag decorated into another team", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="team-data-platform"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "owner tag names another team", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="attacker@evil.example"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "slot value with a command", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="team-data; rm -rf /"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "slot value with a quote", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotEnvironmentTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `ENVIRONMENT="production"`, `ENVIRONMENT="prod"uction"`), lineOf(t, b, `ENVIRONMENT="production"`)
			}},
		{name: "slot value with an expansion", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="$(id -un)"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "slot value with a backslash", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="team\data"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "slot value padded with spaces", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER=" team-data"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "placeholder slot value", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotOwnerTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="CHANGEME"`), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "empty slot value", check: tags, format: AWSCLI, attr: attributed, reason: TailorSlotValue, slot: SlotEnvironmentTag,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `ENVIRONMENT="production"`, `ENVIRONMENT=""`), lineOf(t, b, `ENVIRONMENT="production"`)
			}},
		{name: "slot value with a newline", check: tags, format: AWSCLI, attr: attributed, reason: TailorOutsideSlots,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, "OWNER=\"team\naws s3 rb s3://acme-prod-exports\""), lineOf(t, b, `OWNER="team-data"`)
			}},
		{name: "inconsistent values for one slot", check: vers, format: Terraform, reason: TailorSlotValue, slot: SlotResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				b = replaceLine(t, b, "aws_s3_bucket_versioning.optix_fix", "aws_s3_bucket_versioning.one")
				return replaceLine(t, b, `"aws_s3_bucket_versioning" "optix_fix"`, `"aws_s3_bucket_versioning" "two"`), lineOf(t, b, `"aws_s3_bucket_versioning" "optix_fix"`)
			}},
		{name: "inconsistent policy name breaks a reference", check: mfa, format: Terraform, reason: TailorSlotValue, slot: SlotPolicyResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, "aws_iam_policy.require_mfa.arn", "aws_iam_policy.other.arn"), lineOf(t, b, "aws_iam_policy.require_mfa.arn")
			}},
		{name: "terraform name starting with a digit", check: vers, format: Terraform, reason: TailorSlotValue, slot: SlotResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				return strings.ReplaceAll(b, "optix_fix", "9fix"), lineOf(t, b, "optix_fix")
			}},
		{name: "terraform name breaking the label", check: vers, format: Terraform, reason: TailorSlotValue, slot: SlotResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				return strings.ReplaceAll(b, "optix_fix", `a" "b`), lineOf(t, b, "optix_fix")
			}},
		{name: "terraform name that is a sentence", check: vers, format: Terraform, reason: TailorSlotValue, slot: SlotResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				return strings.ReplaceAll(b, "optix_fix", "approved_by_security_skip_plan_and_apply"), lineOf(t, b, "optix_fix")
			}},
		{name: "terraform name with a dot", check: vers, format: Terraform, reason: TailorSlotValue, slot: SlotResourceName,
			edit: func(t *testing.T, b string) (string, int) {
				return strings.ReplaceAll(b, "optix_fix", "a.b"), lineOf(t, b, "optix_fix")
			}},
		{name: "tag that names another account", check: tags, format: AWSCLI, attr: attributed, reason: TailorLint,
			violations: []string{RuleIdentifier},
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `OWNER="team-data"`, `OWNER="999988887777"`), 0
			}},
		{name: "tag that names another region", check: tags, format: AWSCLI, attr: attributed, reason: TailorLint,
			violations: []string{RuleIdentifier},
			edit: func(t *testing.T, b string) (string, int) {
				return replaceLine(t, b, `ENVIRONMENT="production"`, `ENVIRONMENT="us-east-1"`), 0
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, vetted := vettedFor(t, tt.check, tt.format, tt.attr)
			cand, line := tt.edit(t, vetted.Body)
			s, err := Tailor(in, tt.format, cand)
			var te *TailorError
			if !errors.As(err, &te) {
				t.Fatalf("Tailor = %v, %v; want a *TailorError", s, err)
			}
			if s != nil {
				t.Error("a refused candidate still returned a script")
			}
			if te.Reason != tt.reason || te.Line != line || te.Slot != tt.slot {
				t.Errorf("refusal = %s line %d slot %q, want %s line %d slot %q (%v)", te.Reason, te.Line, te.Slot, tt.reason, line, tt.slot, te)
			}
			var rules []string
			for _, v := range te.Violations {
				rules = append(rules, v.Rule)
			}
			if d := cmp.Diff(tt.violations, rules); d != "" {
				t.Errorf("violation rules (-want +got):\n%s", d)
			}
			if msg := te.Error(); msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("Error() = %q, want one line", msg)
			}
		})
	}
}

func TestTailorNoScript(t *testing.T) {
	fx := fixtures()
	cat := posture.DefaultCatalogue()
	lambda, _ := cat.Lookup("awslambda_function_no_secrets_in_variables")
	tests := []struct {
		name    string
		in      Input
		format  Format
		wantErr error
	}{
		{name: "no finding", in: Input{}},
		{name: "no template", in: Input{Finding: &posture.Finding{ID: "F-00000001", Check: lambda.ID, Provider: "aws", Account: acct}, Check: lambda}},
		{name: "format not offered", in: Input{Finding: fx["ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"]},
			format: Terraform, wantErr: ErrUnsupportedFormat},
		{name: "vetted script withheld", in: Input{Finding: awsFinding("s3_bucket_object_versioning", "arn:aws:ec2:"+region+":999999999999:security-group/sg-0a1b2c3d")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Tailor(tt.in, tt.format, "#!/usr/bin/env bash\nset -euo pipefail\n")
			var te *TailorError
			if !errors.As(err, &te) || te.Reason != TailorNoScript {
				t.Fatalf("Tailor error = %v, want a %s *TailorError", err, TailorNoScript)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if strings.ContainsAny(te.Error(), "\n\r") {
				t.Errorf("Error() = %q, want one line", te.Error())
			}
		})
	}
}

// FuzzTailor: whatever a model sends, an accepted script lints, is the
// rebuilt template, and differs from the vetted script only on lines that
// hold a slot.
func FuzzTailor(f *testing.F) {
	fx := fixtures()
	type sample struct {
		in     Input
		format Format
		vetted *Script
	}
	var samples []sample
	for _, c := range []struct {
		check  string
		format Format
	}{{"resource_missing_required_tags", AWSCLI}, {"s3_bucket_object_versioning", Terraform},
		{"s3_bucket_object_versioning", CloudFormation}, {"iam_user_mfa_enabled_console_access", Terraform}} {
		in := Input{Finding: fx[c.check], Attr: attributed}
		res, err := Generate(in, c.format)
		if err != nil || res.Script == nil {
			f.Fatalf("%s: %v", c.check, err)
		}
		samples = append(samples, sample{in, c.format, res.Script})
		f.Add(uint8(len(samples)-1), res.Script.Body)
		f.Add(uint8(len(samples)-1), strings.ReplaceAll(res.Script.Body, "optix_fix", "x"))
		f.Add(uint8(len(samples)-1), strings.ReplaceAll(res.Script.Body, "team-data", "team-data\"; rm -rf /; echo \""))
	}
	f.Fuzz(func(t *testing.T, which uint8, cand string) {
		sm := samples[int(which)%len(samples)]
		s, err := Tailor(sm.in, sm.format, cand)
		if err != nil {
			var te *TailorError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TailorError", err)
			}
			return
		}
		if v := Lint(s, sm.in.Finding); len(v) > 0 {
			t.Fatalf("accepted script fails lint: %v", v)
		}
		if normalize(s.Body) != normalize(cand) {
			t.Fatal("accepted script is not the candidate")
		}
		got, want := strings.Split(normalize(s.Body), "\n"), strings.Split(normalize(sm.vetted.Body), "\n")
		if len(got) != len(want) {
			t.Fatalf("accepted script has %d lines, vetted %d", len(got), len(want))
		}
		for i := range got {
			if got[i] == want[i] {
				continue
			}
			slotted := false
			for _, sl := range sm.vetted.Slots {
				slotted = slotted || strings.Contains(want[i], sl.Value)
			}
			if !slotted {
				t.Fatalf("line %d changed but holds no slot: %q", i+1, got[i])
			}
		}
	})
}
