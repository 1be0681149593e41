package remediate

import (
	"strings"
	"testing"
)

// TestAWSRegionScopes: IAM findings in region "global" or "" render without
// a region, garbage regions are still refused, and a tag finding that names
// an EC2 instance by id gets the instance ARN built from the finding.
func TestAWSRegionScopes(t *testing.T) {
	user := "arn:aws:iam::" + acct + ":user/okim"
	tests := []struct {
		name, check, resID, region, resRegion string
		wantScript                            bool
		want, notWant                         []string
	}{
		{"iam global", "iam_user_mfa_enabled_console_access", user, "global", "global", true,
			[]string{"# Region:   none (global service)"}, []string{"--region"}},
		{"iam empty", "iam_rotate_access_key_90_days", user, "", "", true, nil, []string{"--region"}},
		{"iam global finding, resource empty", "iam_policy_allows_privilege_escalation",
			"arn:aws:iam::" + acct + ":policy/MigrationTemp", "global", "", true, nil, nil},
		{"iam real region kept", "iam_rotate_access_key_90_days", user, "us-east-1", "", true,
			[]string{"# Region:   us-east-1"}, nil},
		{"iam garbage region", "iam_user_mfa_enabled_console_access", user, "us-east-1; rm -rf /", "", false, nil, nil},
		{"iam Global capitalised", "iam_user_mfa_enabled_console_access", user, "Global", "", false, nil, nil},
		{"iam regions disagree", "iam_user_mfa_enabled_console_access", user, "eu-west-1", "us-east-1", false, nil, nil},
		{"s3 global refused", "s3_bucket_object_versioning", "arn:aws:s3:::acme-prod-exports", "global", "global", false, nil, nil},
		{"tags on instance id", "resource_missing_required_tags", "i-01418a3daeda8d8a9", "us-east-1", "us-east-1", true,
			[]string{`RESOURCE_ARN="arn:aws:ec2:us-east-1:` + acct + `:instance/i-01418a3daeda8d8a9"`}, nil},
		{"tags on gov instance id", "resource_missing_required_tags", "i-01418a3d", "us-gov-west-1", "", true,
			[]string{"arn:aws-us-gov:ec2:us-gov-west-1:" + acct + ":instance/i-01418a3d"}, nil},
		{"tags on instance id without region", "resource_missing_required_tags", "i-01418a3daeda8d8a9", "global", "", false, nil, nil},
		{"tags on hostile instance id", "resource_missing_required_tags", "i-01418a3d$(curl evil)", "us-east-1", "", false, nil, nil},
		{"tags on instance id, bad region", "resource_missing_required_tags", "i-01418a3daeda8d8a9", "us-east-1\nrm", "", false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := awsFinding(tt.check, tt.resID)
			f.Region, f.Resource.Region = tt.region, tt.resRegion
			for _, format := range FormatsFor(tt.check) {
				res, err := Generate(Input{Finding: f}, format)
				if err != nil {
					t.Fatal(err)
				}
				if (res.Script != nil) != tt.wantScript {
					t.Fatalf("%s: script = %v, want %v (%s %v)", format, res.Script != nil, tt.wantScript, res.Note, res.Refused)
				}
				if res.Script == nil {
					continue
				}
				body := res.Script.Body
				for _, w := range tt.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s: script lacks %q", format, w)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(body, w) {
						t.Errorf("%s: script has %q", format, w)
					}
				}
				if format == Terraform && tt.region == "global" && !strings.Contains(body, `region              = "us-east-1"`) {
					t.Errorf("terraform provider lacks the IAM home region")
				}
			}
		})
	}
}

// TestLintRefusesHomeRegionOutsideGlobalKinds: the IAM home region is
// allowed only for global kinds on region-less findings.
func TestLintRefusesHomeRegionOutsideGlobalKinds(t *testing.T) {
	f := awsFinding("s3_bucket_object_versioning", "arn:aws:s3:::acme-prod-exports")
	res, err := Generate(Input{Finding: f}, Terraform)
	if err != nil || res.Script == nil {
		t.Fatalf("no script: %v %v", err, res.Refused)
	}
	s := *res.Script
	s.Body = strings.Replace(s.Body, `region              = "`+region+`"`, `region              = "us-east-1"`, 1)
	if v := Lint(&s, f); len(v) == 0 {
		t.Error("lint passed a region that is not the finding's")
	}
}
