package remediate

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/optix-bot/optix-bot/posture"

	"github.com/optix-bot/optix-bot/internal/golden"
)

// TestGolden renders every kind in every format it offers for a fixed
// finding, compares with testdata/<check>.<format>.golden, and checks that
// what was rendered passes the linter (Generate would have refused it
// otherwise) and, for Terraform, parses.
func TestGolden(t *testing.T) {
	fx := fixtures()
	for _, check := range Kinds() {
		f := fx[check]
		if f == nil {
			t.Errorf("no fixture for templated check %s", check)
			continue
		}
		for _, format := range FormatsFor(check) {
			t.Run(check+"/"+string(format), func(t *testing.T) {
				res, err := Generate(Input{Finding: f, Attr: posture.Attribution{Owner: "team-data", Environment: posture.EnvProduction}}, format)
				if err != nil {
					t.Fatal(err)
				}
				if res.Script == nil {
					t.Fatalf("no script: %s %v", res.Note, res.Refused)
				}
				s := res.Script
				if v := Lint(s, f); len(v) > 0 {
					t.Fatalf("golden script fails lint: %v", v)
				}
				if s.Format != format || s.Check != check || s.TemplateVersion != version || s.SHA256 == "" {
					t.Errorf("script metadata = %+v", *s)
				}
				if format == Terraform {
					if _, d := hclparse.NewParser().ParseHCL([]byte(s.Body), s.Filename); d.HasErrors() {
						t.Errorf("terraform does not parse: %v", d)
					}
				}
				if !strings.Contains(s.Body, f.ID) || !strings.Contains(s.Body, "REVIEW BEFORE RUNNING") {
					t.Error("header lacks the finding id or the review warning")
				}
				golden.Check(t, check+"."+string(format)+".golden", []byte(s.Body))
			})
		}
	}
}

func TestGenerateOutcomes(t *testing.T) {
	fx := fixtures()
	cat := posture.DefaultCatalogue()
	lambda, _ := cat.Lookup("awslambda_function_no_secrets_in_variables")
	tests := []struct {
		name      string
		in        Input
		format    Format
		wantErr   error
		script    bool
		note      string
		formats   []Format
		wantFirst string
	}{
		{name: "default format is the kind's first", in: Input{Finding: fx["s3_bucket_public_access"]},
			script: true, note: NoteScript, formats: []Format{AWSCLI, Terraform, CloudFormation}},
		{name: "unsupported format lists the offered ones", in: Input{Finding: fx["ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"]},
			format: Terraform, wantErr: ErrUnsupportedFormat, formats: []Format{AWSCLI}},
		{name: "no template gives steps", in: Input{Finding: &posture.Finding{ID: "F-00000001", Check: lambda.ID, Provider: "aws", Account: acct}, Check: lambda},
			note: NoteNoTemplate},
		{name: "any-port without ports refuses", in: Input{Finding: awsFinding("ec2_securitygroup_allow_ingress_from_internet_to_any_port", "sg-0a1b2c3d")},
			note: NoteInvalid, formats: []Format{AWSCLI}},
		{name: "trail finding without a trail refuses", in: Input{Finding: awsFinding("cloudtrail_multi_region_enabled", "arn:aws:cloudtrail:"+region+":"+acct+":trail")},
			note: NoteInvalid, formats: []Format{AWSCLI, Terraform}},
		{name: "ARN in another account refuses", in: Input{Finding: awsFinding("s3_bucket_object_versioning", "arn:aws:ec2:"+region+":999999999999:security-group/sg-0a1b2c3d")},
			note: NoteInvalid, formats: []Format{AWSCLI, Terraform, CloudFormation}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Generate(tt.in, tt.format)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "awscli") {
					t.Errorf("error %q does not list the offered formats", err)
				}
				return
			}
			if (res.Script != nil) != tt.script {
				t.Fatalf("script = %v, want %v (%s %v)", res.Script != nil, tt.script, res.Note, res.Refused)
			}
			if res.Note != tt.note {
				t.Errorf("note = %q, want %q", res.Note, tt.note)
			}
			if len(res.Manual) < 2 {
				t.Errorf("manual steps = %v, want some", res.Manual)
			}
			if d := cmp.Diff(tt.formats, res.Formats); d != "" {
				t.Errorf("formats (-want +got):\n%s", d)
			}
		})
	}
}

// TestHostileIdentifiers feeds resource names and regions that try to break
// out of a script. None may produce a script; each must get manual steps.
func TestHostileIdentifiers(t *testing.T) {
	hostile := []string{
		`acme$(curl evil)`, `acme"; rm -rf / #`, "acme\nrm -rf /", "acme`id`", `acme'; id; '`,
		"acme${IFS}x", "acme bucket", "acme|sh", "acme&&id", "acme>/etc/passwd",
	}
	// Values that are harmless to a shell but are not valid bucket names.
	badBuckets := []string{"ACME-UPPER", "a", "acme..bucket", "192.168.1.1", "-acme"}
	type tc struct {
		name, check string
		f           func(v string) *posture.Finding
	}
	var cases []tc
	cases = append(cases,
		tc{"s3 arn", "s3_bucket_public_access", func(v string) *posture.Finding {
			return awsFinding("s3_bucket_public_access", "arn:aws:s3:::"+v)
		}},
		tc{"s3 bare name", "s3_bucket_object_versioning", func(v string) *posture.Finding {
			f := awsFinding("s3_bucket_object_versioning", "")
			f.Resource.Name = v
			return f
		}},
		tc{"security group", "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", func(v string) *posture.Finding {
			return awsFinding("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "sg-"+v)
		}},
		tc{"region", "s3_bucket_public_access", func(v string) *posture.Finding {
			f := awsFinding("s3_bucket_public_access", "arn:aws:s3:::acme-prod-exports")
			f.Region, f.Resource.Region = "us-east-1; "+v, ""
			return f
		}},
		tc{"account", "iam_user_mfa_enabled_console_access", func(v string) *posture.Finding {
			f := awsFinding("iam_user_mfa_enabled_console_access", "arn:aws:iam::"+acct+":user/alice")
			f.Account = acct + v
			return f
		}},
		tc{"iam user", "iam_user_mfa_enabled_console_access", func(v string) *posture.Finding {
			return awsFinding("iam_user_mfa_enabled_console_access", "arn:aws:iam::"+acct+":user/"+v)
		}},
		tc{"inline policy name", "iam_inline_policy_no_administrative_privileges", func(v string) *posture.Finding {
			f := awsFinding("iam_inline_policy_no_administrative_privileges", "arn:aws:iam::"+acct+":role/batch")
			f.Resource.Name = v
			return f
		}},
		tc{"rds", "rds_instance_no_public_access", func(v string) *posture.Finding {
			return awsFinding("rds_instance_no_public_access", "arn:aws:rds:"+region+":"+acct+":db:"+v)
		}},
		tc{"tagged resource arn", "resource_missing_required_tags", func(v string) *posture.Finding {
			return awsFinding("resource_missing_required_tags", "arn:aws:lambda:"+region+":"+acct+":function:"+v)
		}},
		tc{"azure storage", "storage_blob_public_access_level_is_disabled", func(v string) *posture.Finding {
			f := fixtures()["storage_blob_public_access_level_is_disabled"]
			f.Resource.ID = "/subscriptions/" + azSub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/" + v
			return f
		}},
		tc{"azure resource group", "network_ssh_internet_access_restricted", func(v string) *posture.Finding {
			f := fixtures()["network_ssh_internet_access_restricted"]
			f.Resource.ID = "/subscriptions/" + azSub + "/resourceGroups/" + v + "/providers/Microsoft.Network/networkSecurityGroups/nsg"
			return f
		}},
		tc{"gcs bucket", "cloudstorage_bucket_public_access", func(v string) *posture.Finding {
			f := fixtures()["cloudstorage_bucket_public_access"]
			f.Resource.ID = v
			return f
		}},
		tc{"gcp project", "compute_firewall_ssh_access_from_the_internet_allowed", func(v string) *posture.Finding {
			f := fixtures()["compute_firewall_ssh_access_from_the_internet_allowed"]
			f.Account = v
			return f
		}},
		tc{"finding id", "s3_bucket_public_access", func(v string) *posture.Finding {
			f := awsFinding("s3_bucket_public_access", "arn:aws:s3:::acme-prod-exports")
			f.ID = "F-1 " + v
			return f
		}},
	)
	for _, c := range cases {
		values := hostile
		if strings.Contains(c.name, "s3") || c.name == "gcs bucket" {
			values = append(append([]string(nil), hostile...), badBuckets...)
		}
		for _, v := range values {
			f := c.f(v)
			t.Run(c.name+"/"+v, func(t *testing.T) {
				res, err := Generate(Input{Finding: f}, "")
				if err != nil {
					t.Fatal(err)
				}
				if res.Script != nil {
					t.Fatalf("rendered a script for a hostile identifier:\n%s", res.Script.Body)
				}
				if len(res.Manual) == 0 || len(res.Refused) == 0 || res.Note == NoteScript {
					t.Errorf("result = %+v, want manual steps and a reason", res)
				}
				for _, r := range res.Refused {
					if strings.Contains(r.Message, v) && len(v) > 2 {
						t.Errorf("refusal message echoes the hostile value: %q", r.Message)
					}
				}
			})
		}
	}
}

// TestHostileTagsBecomeOperatorInputs: attribution values that are not
// safe are not substituted; the script asks the operator instead.
func TestHostileTagsBecomeOperatorInputs(t *testing.T) {
	f := fixtures()["resource_missing_required_tags"]
	res, err := Generate(Input{Finding: f, Attr: posture.Attribution{Owner: `team"; curl evil`, Environment: "$(id)"}}, AWSCLI)
	if err != nil || res.Script == nil {
		t.Fatalf("no script: %v %+v", err, res)
	}
	for _, bad := range []string{"curl evil", "$(id)"} {
		if strings.Contains(res.Script.Body, bad) {
			t.Errorf("script contains %q", bad)
		}
	}
	for _, want := range []string{`OWNER="${OWNER:?`, `ENVIRONMENT="${ENVIRONMENT:?`} {
		if !strings.Contains(res.Script.Body, want) {
			t.Errorf("script lacks operator input %s", want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"tf": Terraform, "Terraform": Terraform, "cli": AWSCLI, "cfn": CloudFormation,
		"az": AzCLI, "gcloud": GCloud} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("powershell"); err == nil {
		t.Error("ParseFormat(powershell) succeeded")
	}
}

func TestGuidanceForEveryCatalogueCheck(t *testing.T) {
	cat := posture.DefaultCatalogue()
	for _, ch := range append(cat.Checks(), cat.Generic()) {
		g := Guidance(ch)
		if len(g) < 3 {
			t.Errorf("%s: guidance %v", ch.ID, g)
		}
		for _, s := range g {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: empty step", ch.ID)
			}
		}
	}
	if len(Guidance(nil)) == 0 {
		t.Error("Guidance(nil) is empty")
	}
	for _, id := range Kinds() {
		ch, ok := cat.Lookup(id)
		if !ok {
			t.Errorf("templated check %s is not in the catalogue", id)
			continue
		}
		if got, want := Guidance(ch)[1], kindByCheck[id].steps[0]; got != want {
			t.Errorf("%s: guidance starts %q, want the kind's own step %q", id, got, want)
		}
	}
}

// TestGuidanceNamesTheCheckNotTheProblem: most catalogue titles are the
// check id's words and state the desired state ("RDS instance backup
// enabled"), so a step that puts the title where the problem goes ("What
// to fix: RDS instance backup enabled") tells the reader the backup is the
// problem. Over the whole catalogue, the first step must name the failing
// check, and no step may start with the title or a "what to fix" lead-in.
func TestGuidanceNamesTheCheckNotTheProblem(t *testing.T) {
	cat := posture.DefaultCatalogue()
	for _, ch := range append(cat.Checks(), cat.Generic()) {
		g := Guidance(ch)
		if ch.ID == posture.GenericCheck {
			if !strings.HasPrefix(g[0], "The source reported a problem") {
				t.Errorf("generic: first step %q", g[0])
			}
		} else if !strings.HasPrefix(g[0], "The check ") || !strings.Contains(g[0], "("+ch.ID+")") || !strings.Contains(g[0], " fails for this resource") {
			t.Errorf("%s: first step %q does not name the failing check", ch.ID, g[0])
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(ch.Title, " (check failed)")))
		for i, s := range g {
			l := strings.ToLower(s)
			if strings.HasPrefix(l, "what to fix") || strings.HasPrefix(l, "fix:") || strings.HasPrefix(l, "problem:") ||
				(title != "" && strings.HasPrefix(l, title)) {
				t.Errorf("%s: step %d %q states the check's title as the problem", ch.ID, i+1, s)
			}
		}
	}
	backup, ok := cat.Lookup("rds_instance_backup_enabled")
	if !ok {
		t.Fatal("rds_instance_backup_enabled is not in the catalogue")
	}
	if got, want := Guidance(backup)[0], `The check "RDS instance backup enabled" (rds_instance_backup_enabled) fails for this resource (AWS, service rds).`; got != want {
		t.Errorf("first step = %q, want %q", got, want)
	}
}

// TestAvailableAgreesWithGenerate: the finding view offers "/optix fix"
// only when Available says so, so it must be false exactly when Generate
// withholds the script: no template, a format the kind lacks, identifiers
// that fail validation, or a lint refusal.
func TestAvailableAgreesWithGenerate(t *testing.T) {
	fx := fixtures()
	var cases []struct {
		name   string
		in     Input
		format Format
	}
	add := func(name string, f *posture.Finding, format Format) {
		cases = append(cases, struct {
			name   string
			in     Input
			format Format
		}{name, Input{Finding: f}, format})
	}
	for _, check := range Kinds() {
		add(check+"/default", fx[check], "")
		for _, format := range allFormats {
			add(check+"/"+string(format), fx[check], format)
		}
	}
	add("no template", &posture.Finding{ID: "F-00000001", Check: "awslambda_function_no_secrets_in_variables", Provider: "aws", Account: acct}, "")
	add("hostile bucket", awsFinding("s3_bucket_public_access", "arn:aws:s3:::acme$(curl evil)"), "")
	add("any-port without ports", awsFinding("ec2_securitygroup_allow_ingress_from_internet_to_any_port", "sg-0a1b2c3d"), "")
	add("no finding", nil, "")
	var yes, no int
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Generate(c.in, c.format)
			want := err == nil && res.Script != nil
			if got := Available(c.in, c.format); got != want {
				t.Errorf("Available = %v, but Generate gave script=%v err=%v", got, res.Script != nil, err)
			}
			if want {
				yes++
			} else {
				no++
			}
		})
	}
	if yes == 0 || no < 4 {
		t.Errorf("cases cover %d available and %d unavailable outcomes; want both", yes, no)
	}
	// The case the finding view got wrong: a templated check whose
	// identifiers fail validation.
	bad := awsFinding("s3_bucket_public_access", "arn:aws:s3:::acme$(curl evil)")
	if !slices.Contains(Kinds(), bad.Check) || Available(Input{Finding: bad}, "") {
		t.Error("Available is true for a finding whose bucket name fails validation")
	}
}

// TestDeclarativeScriptsCheckAccountAndState: Terraform and CloudFormation
// cannot run an account check or a state test the way the shell scripts
// do, so every such script pins the finding's account (the linter's
// account-pin rule) and its header says how to see the live state before
// changing anything. The S3 rollback must restore the earlier settings, not
// delete them.
func TestDeclarativeScriptsCheckAccountAndState(t *testing.T) {
	fx := fixtures()
	n := 0
	for _, check := range Kinds() {
		for _, format := range FormatsFor(check) {
			if format != Terraform && format != CloudFormation {
				continue
			}
			n++
			t.Run(check+"/"+string(format), func(t *testing.T) {
				res, err := Generate(Input{Finding: fx[check]}, format)
				if err != nil || res.Script == nil {
					t.Fatalf("no script: %v %v", err, res.Refused)
				}
				body := res.Script.Body
				want := []string{}
				switch format {
				case Terraform:
					want = append(want, `allowed_account_ids = ["`+acct+`"]`, "Run terraform plan first")
					if strings.Contains(body, "\nimport {") {
						want = append(want, `"No changes" means the problem is already fixed`)
					} else {
						want = append(want, "(read-only)")
					}
				case CloudFormation:
					want = append(want, `Ref: "AWS::AccountId"`, `- "`+acct+`"`, "Detect drift", "change set")
				}
				for _, w := range want {
					if !strings.Contains(body, w) {
						t.Errorf("script lacks %q", w)
					}
				}
				if strings.Contains(strings.ToLower(body), "remove this resource block and apply") ||
					strings.Contains(body, "back to false and update") {
					t.Error("rollback deletes the settings instead of restoring the earlier ones")
				}
			})
		}
	}
	if n < 10 {
		t.Errorf("only %d declarative scripts checked", n)
	}
	bpa, _ := Generate(Input{Finding: fx["s3_bucket_public_access"]}, Terraform)
	for _, w := range []string{"aws s3api get-public-access-block --region " + region + " --bucket acme-prod-exports", "back to the values you recorded"} {
		if bpa.Script == nil || !strings.Contains(bpa.Script.Body, w) {
			t.Errorf("S3 Terraform rollback lacks %q", w)
		}
	}
}
