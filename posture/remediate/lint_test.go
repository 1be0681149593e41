package remediate

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shellPrelude is what every valid AWS script starts with; the cases below
// append one line to it.
const shellPrelude = `#!/usr/bin/env bash
set -euo pipefail
ACCOUNT="111122223333"
REGION="eu-west-1"
BUCKET="acme-prod-exports"
CALLER_ACCOUNT="$(aws sts get-caller-identity --query Account --output text)"
if [ "${CALLER_ACCOUNT}" != "${ACCOUNT}" ]; then
  echo "wrong account ${CALLER_ACCOUNT}" >&2
  exit 1
fi
`

const tfPrelude = `provider "aws" {
  region              = "eu-west-1"
  allowed_account_ids = ["111122223333"]
}
`

const cfnPrelude = `AWSTemplateFormatVersion: "2010-09-09"
Rules:
  Account:
    Assertions:
      - Assert:
          Fn::Equals:
            - Ref: "AWS::AccountId"
            - "111122223333"
Resources:
  Fixed:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: "acme-prod-exports"
`

func rules(v []Violation) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range v {
		if !seen[x.Rule] {
			seen[x.Rule] = true
			out = append(out, x.Rule)
		}
	}
	sort.Strings(out)
	return out
}

func TestLintRules(t *testing.T) {
	s3 := fixtures()["s3_bucket_public_access"]
	sg := fixtures()["ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"]
	tests := []struct {
		name     string
		format   Format
		template string // template id, for the removal allowlist
		body     string
		want     []string // rules violated; nil = must pass
	}{
		// Passing scripts.
		{name: "plain fix passes", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-versioning --region "${REGION}" --bucket "${BUCKET}" --versioning-configuration "Status=Enabled"`},
		{name: "read-only query may mention 0.0.0.0/0", format: AWSCLI, body: shellPrelude + `N="$(aws ec2 describe-security-group-rules --region "${REGION}" --query "length(SecurityGroupRules[?CidrIpv4=='0.0.0.0/0'])" --output text)"`},
		{name: "rollback comment is not run", format: AWSCLI, body: shellPrelude + "# aws s3api delete-public-access-block --bucket acme-prod-exports\n"},
		{name: "discarding stderr is fine", format: AWSCLI, body: shellPrelude + `X="$(aws s3api get-bucket-encryption --bucket "${BUCKET}" 2>/dev/null || echo "none")"`},
		{name: "terraform passes", format: Terraform, body: tfPrelude + "resource \"aws_s3_bucket_versioning\" \"x\" {\n  bucket = \"acme-prod-exports\"\n}\n"},
		{name: "cloudformation passes", format: CloudFormation, body: cfnPrelude},

		// 1. parse
		{name: "terraform that does not parse", format: Terraform, body: tfPrelude + "resource \"aws_s3_bucket_versioning\" \"x\" {\n  bucket = \n", want: []string{RuleParse}},
		{name: "yaml that does not parse", format: CloudFormation, body: "Resources: [\n", want: []string{RuleParse}},
		{name: "yaml without Resources", format: CloudFormation, body: "AWSTemplateFormatVersion: \"2010-09-09\"\n", want: []string{RuleParse}},

		// 2. commands
		{name: "pipe to sh", format: AWSCLI, body: shellPrelude + `aws s3 cp "s3://${BUCKET}/x" - | sh`, want: []string{RuleCommands}},
		{name: "eval", format: AWSCLI, body: shellPrelude + `eval "${BUCKET}"`, want: []string{RuleCommands}},
		{name: "backticks", format: AWSCLI, body: shellPrelude + "echo \"`id`\"", want: []string{RuleCommands}},
		{name: "command substitution of curl", format: AWSCLI, body: shellPrelude + `X="$(curl -s https://example.com/x)"`, want: []string{RuleCommands}},
		{name: "curl as a command", format: AWSCLI, body: shellPrelude + `curl -s https://example.com/x`, want: []string{RuleCommands}},
		{name: "redirect to a file", format: AWSCLI, body: shellPrelude + `aws s3api get-bucket-policy --bucket "${BUCKET}" > /tmp/policy.json`, want: []string{RuleCommands}},
		{name: "another cloud's CLI", format: AWSCLI, body: shellPrelude + `az storage account list`, want: []string{RuleCommands}},
		{name: "background job", format: AWSCLI, body: shellPrelude + `aws s3api list-buckets &`, want: []string{RuleCommands}},
		{name: "options before the verb", format: AWSCLI, body: shellPrelude + `aws --region "${REGION}" s3api delete-bucket --bucket "${BUCKET}"`, want: []string{RuleCommands}},
		{name: "quoted verb", format: AWSCLI, body: shellPrelude + `aws s3api "delete-bucket" --bucket "${BUCKET}"`, want: []string{RuleCommands}},
		{name: "subshell", format: AWSCLI, body: shellPrelude + `( echo "x" )`, want: []string{RuleCommands}},

		// 3. destructive
		{name: "delete-bucket", format: AWSCLI, body: shellPrelude + `aws s3api delete-bucket --bucket "${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "s3 rm", format: AWSCLI, body: shellPrelude + `aws s3 rm "s3://${BUCKET}" --recursive`, want: []string{RuleDestructive}},
		{name: "terminate-instances", format: AWSCLI, body: shellPrelude + `aws ec2 terminate-instances --region "${REGION}" --instance-ids "${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "schedule-key-deletion", format: AWSCLI, body: shellPrelude + `aws kms schedule-key-deletion --region "${REGION}" --key-id "${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "delete-user", format: AWSCLI, body: shellPrelude + `aws iam delete-user --user-name "${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "rm -rf", format: AWSCLI, body: shellPrelude + `rm -rf /`, want: []string{RuleDestructive}},
		{name: "revoke outside the security-group kind", format: AWSCLI, template: "aws-s3-versioning", body: shellPrelude + `aws ec2 revoke-security-group-ingress --region "${REGION}" --group-id "${BUCKET}" --protocol tcp --port 22 --cidr 0.0.0.0/0`, want: []string{RuleDestructive, RuleWildcard}},
		{name: "az delete of a storage account", format: AzCLI, body: strings.Replace(shellPrelude, "aws sts get-caller-identity --query Account --output text", "az account show --query id --output tsv", 1) + `az storage account delete --name "${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "gcloud bucket delete", format: GCloud, body: strings.Replace(shellPrelude, "aws sts get-caller-identity --query Account --output text", "gcloud config get-value project", 1) + `gcloud storage buckets delete "gs://${BUCKET}"`, want: []string{RuleDestructive}},
		{name: "terraform removed block", format: Terraform, body: tfPrelude + "removed {\n  from = aws_s3_bucket.x\n  lifecycle {\n    destroy = true\n  }\n}\n", want: []string{RuleDestructive}},
		{name: "cloudformation DeletionPolicy Delete", format: CloudFormation, body: cfnPrelude + "    DeletionPolicy: Delete\n", want: []string{RuleDestructive}},

		// 4. wildcard
		{name: "Principal star", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-policy --bucket "${BUCKET}" --policy '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}'`, want: []string{RuleWildcard}},
		{name: "Action star", format: AWSCLI, body: shellPrelude + `aws iam put-user-policy --user-name "${BUCKET}" --policy-name p --policy-document '{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'`, want: []string{RuleWildcard}},
		{name: "s3:*", format: AWSCLI, body: shellPrelude + `aws iam put-user-policy --user-name "${BUCKET}" --policy-name p --policy-document '{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}'`, want: []string{RuleWildcard}},
		{name: "open to the world", format: AWSCLI, body: shellPrelude + `aws ec2 authorize-security-group-ingress --region "${REGION}" --group-id "${BUCKET}" --protocol tcp --port 22 --cidr 0.0.0.0/0`, want: []string{RuleWildcard}},
		{name: "allUsers added", format: GCloud, body: strings.Replace(shellPrelude, "aws sts get-caller-identity --query Account --output text", "gcloud config get-value project", 1) + `gsutil iam ch allUsers:objectViewer "gs://${BUCKET}"`, want: []string{RuleWildcard}},
		{name: "terraform open cidr", format: Terraform, body: tfPrelude + "resource \"aws_vpc_security_group_ingress_rule\" \"x\" {\n  cidr_ipv4 = \"0.0.0.0/0\"\n}\n", want: []string{RuleWildcard}},
		{name: "yaml Principal star", format: CloudFormation, body: cfnPrelude + "  Policy:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Principal: \"*\"\n", want: []string{RuleWildcard}},

		// 5. identifier
		{name: "another bucket", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-versioning --bucket other-bucket --versioning-configuration "Status=Enabled"`, want: []string{RuleIdentifier}},
		{name: "another region", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-versioning --region us-east-1 --bucket "${BUCKET}" --versioning-configuration "Status=Enabled"`, want: []string{RuleIdentifier}},
		{name: "another account's ARN", format: AWSCLI, body: shellPrelude + `aws iam attach-user-policy --user-name "${BUCKET}" --policy-arn arn:aws:iam::999988887777:policy/x`, want: []string{RuleIdentifier}},
		{name: "another bucket in terraform", format: Terraform, body: tfPrelude + "resource \"aws_s3_bucket_versioning\" \"x\" {\n  bucket = \"other-bucket\"\n}\n", want: []string{RuleIdentifier}},
		{name: "another region in a comment", format: AWSCLI, body: shellPrelude + "# rollback: aws s3api put-bucket-versioning --region us-west-2 --bucket acme-prod-exports\n", want: []string{RuleIdentifier}},

		// 6. unquoted
		{name: "unquoted $VAR", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-versioning --bucket $BUCKET --versioning-configuration "Status=Enabled"`, want: []string{RuleUnquoted}},
		{name: "unquoted ${VAR}", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-versioning --bucket ${BUCKET} --versioning-configuration "Status=Enabled"`, want: []string{RuleUnquoted}},
		{name: "unquoted $( )", format: AWSCLI, body: shellPrelude + `X=$(aws s3api list-buckets --query "Buckets[0].Name" --output text)`, want: []string{RuleUnquoted}},
		{name: "unquoted glob", format: AWSCLI, body: shellPrelude + `echo *`, want: []string{RuleUnquoted}},

		// Account pin: Terraform and CloudFormation cannot ask the caller
		// who they are, so the provider or a rule must refuse other accounts.
		{name: "terraform provider without allowed_account_ids", format: Terraform, body: "provider \"aws\" {\n  region = \"eu-west-1\"\n}\nresource \"aws_s3_bucket_versioning\" \"x\" {\n  bucket = \"acme-prod-exports\"\n}\n", want: []string{RuleAccountPin}},
		{name: "terraform pinned to another account", format: Terraform, body: strings.Replace(tfPrelude, "111122223333", "999988887777", 1), want: []string{RuleAccountPin, RuleIdentifier}},
		{name: "terraform pinned to two accounts", format: Terraform, body: strings.Replace(tfPrelude, `["111122223333"]`, `["111122223333", "999988887777"]`, 1), want: []string{RuleAccountPin, RuleIdentifier}},
		{name: "terraform pin from a variable", format: Terraform, body: strings.Replace(tfPrelude, `["111122223333"]`, `[var.account]`, 1), want: []string{RuleAccountPin}},
		{name: "terraform without a provider block", format: Terraform, body: "resource \"aws_s3_bucket_versioning\" \"x\" {\n  bucket = \"acme-prod-exports\"\n}\n", want: []string{RuleAccountPin}},
		{name: "terraform provider that cannot be pinned", format: Terraform, body: tfPrelude + "provider \"null\" {}\n", want: []string{RuleAccountPin}},
		{name: "cloudformation without Rules", format: CloudFormation, body: "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  Fixed:\n    Type: AWS::S3::Bucket\n", want: []string{RuleAccountPin}},
		{name: "cloudformation rule for another account", format: CloudFormation, body: strings.Replace(cfnPrelude, `- "111122223333"`, `- "999988887777"`, 1), want: []string{RuleAccountPin, RuleIdentifier}},
		{name: "cloudformation rule on the region only", format: CloudFormation, body: strings.Replace(strings.Replace(cfnPrelude, "AWS::AccountId", "AWS::Region", 1), `- "111122223333"`, `- "eu-west-1"`, 1), want: []string{RuleAccountPin}},

		{name: "import id default outside the EBS kind", format: Terraform, body: tfPrelude + "import {\n  to = aws_s3_bucket_versioning.x\n  id = \"default\"\n}\n", want: []string{RuleIdentifier}},
		{name: "import id default for the EBS kind", format: Terraform, template: "aws-ebs-default-encryption", body: tfPrelude + "import {\n  to = aws_ebs_encryption_by_default.x\n  id = \"default\"\n}\n"},

		// Placeholders, single assignment, header.
		{name: "placeholder in shell", format: AWSCLI, body: shellPrelude + `aws s3api put-bucket-logging --bucket "${BUCKET}" --bucket-logging-status "<log_bucket>"`, want: []string{RulePlaceholder}},
		{name: "placeholder in terraform", format: Terraform, body: tfPrelude + "resource \"aws_s3_bucket_logging\" \"x\" {\n  bucket = \"acme-prod-exports\"\n  target_bucket = \"CHANGEME\"\n}\n", want: []string{RulePlaceholder}},
		{name: "variable assigned twice", format: AWSCLI, body: shellPrelude + `BUCKET="acme-prod-exports"`, want: []string{RuleAssignOnce}},
		{name: "no shebang", format: AWSCLI, body: strings.TrimPrefix(shellPrelude, "#!/usr/bin/env bash\n"), want: []string{RuleShellHeader}},
		{name: "no strict mode", format: AWSCLI, body: strings.Replace(shellPrelude, "set -euo pipefail\n", "", 1), want: []string{RuleShellHeader}},
		{name: "change before the account check", format: AWSCLI, body: "#!/usr/bin/env bash\nset -euo pipefail\nBUCKET=\"acme-prod-exports\"\naws s3api put-bucket-versioning --bucket \"${BUCKET}\" --versioning-configuration \"Status=Enabled\"\n", want: []string{RuleShellHeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Script{Format: tt.format, Body: tt.body + "\n", TemplateID: tt.template}
			got := rules(Lint(s, s3))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("rules violated (-want +got):\n%s\nall: %v", d, Lint(s, s3))
			}
		})
	}

	// The revoke that is refused above is allowed for the security-group
	// kind, on the finding's own group.
	t.Run("revoke allowed for the security-group kind", func(t *testing.T) {
		body := strings.Replace(shellPrelude, `BUCKET="acme-prod-exports"`, `GROUP_ID="sg-0a1b2c3d4e5f67890"`, 1) +
			`aws ec2 revoke-security-group-ingress --region "${REGION}" --group-id "${GROUP_ID}" --protocol tcp --port 22 --cidr 0.0.0.0/0` + "\n"
		s := &Script{Format: AWSCLI, Body: body, TemplateID: "aws-ec2-sg-revoke-internet-ingress"}
		if v := Lint(s, sg); len(v) > 0 {
			t.Errorf("violations: %v", v)
		}
		if v := Lint(s, s3); len(rules(v)) != 1 || v[0].Rule != RuleIdentifier {
			t.Errorf("against another finding, want only identifier violations, got %v", v)
		}
	})
}

// TestLintRefusalReachesResult: a template that renders something the
// linter rejects is withheld, with the violations for the log. The bad
// template is registered for this test only.
func TestLintRefusalReachesResult(t *testing.T) {
	const check = "test_only_bad_template"
	if _, err := templates.New("test-bad.awscli.tmpl").Parse(
		"set -euo pipefail\nBUCKET=\"{{.Bucket}}\"\naws s3 rb \"s3://${BUCKET}\" --force\n"); err != nil {
		t.Fatal(err)
	}
	k := &kind{id: "test-bad", version: version, checks: []string{check}, formats: []Format{AWSCLI}, bind: bindS3}
	kindByCheck[check], kindByID[k.id] = k, k
	t.Cleanup(func() { delete(kindByCheck, check); delete(kindByID, k.id) })

	f := awsFinding(check, "arn:aws:s3:::acme-prod-exports")
	res, err := Generate(Input{Finding: f}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Script != nil || res.Note != NoteRefused || len(res.Manual) == 0 {
		t.Fatalf("want refusal with manual steps, got %+v", res)
	}
	if got := rules(res.Refused); !cmp.Equal(got, []string{RuleDestructive, RuleShellHeader}) {
		t.Errorf("refused for %v, want destructive and shell-header", res.Refused)
	}
}

func TestLintLineNumbers(t *testing.T) {
	body := shellPrelude + "echo \"ok\"\naws s3api delete-bucket --bucket \"${BUCKET}\"\n"
	v := Lint(&Script{Format: AWSCLI, Body: body}, fixtures()["s3_bucket_public_access"])
	if len(v) != 1 || v[0].Line != strings.Count(shellPrelude, "\n")+2 {
		t.Errorf("violations = %v, want one on line %d", v, strings.Count(shellPrelude, "\n")+2)
	}
}
