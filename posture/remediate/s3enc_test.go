package remediate

import (
	"strings"
	"testing"
)

// TestS3EncryptionFormatsAgree: for each S3 encryption check, every format
// targets the algorithm the awscli script accepts as fixed, so "No changes"
// in Terraform means the same as the awscli script's "nothing to do".
func TestS3EncryptionFormatsAgree(t *testing.T) {
	tests := []struct {
		check          string
		acceptsAES256  bool
		tf, cfn, notTF string
	}{
		{"s3_bucket_default_encryption", true, `sse_algorithm = "AES256"`, `SSEAlgorithm: "AES256"`, `"aws:kms"`},
		{"s3_bucket_kms_encryption", false, `sse_algorithm = "aws:kms"`, `SSEAlgorithm: "aws:kms"`, `sse_algorithm = "AES256"`},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			f := fixtures()[tt.check]
			body := func(format Format) string {
				res, err := Generate(Input{Finding: f}, format)
				if err != nil || res.Script == nil {
					t.Fatalf("%s: no script: %v %v", format, err, res.Refused)
				}
				return res.Script.Body
			}
			cli := body(AWSCLI)
			if got := strings.Contains(cli, `[ "${ALGORITHM}" = "AES256" ]`); got != tt.acceptsAES256 {
				t.Errorf("awscli accepts AES256 = %v, want %v", got, tt.acceptsAES256)
			}
			tf := body(Terraform)
			if !strings.Contains(tf, tt.tf) {
				t.Errorf("terraform lacks %s", tt.tf)
			}
			resource := tf[strings.Index(tf, "resource \""):]
			if strings.Contains(resource, tt.notTF) {
				t.Errorf("terraform resource sets %s", tt.notTF)
			}
			if cfn := body(CloudFormation); !strings.Contains(cfn, tt.cfn) {
				t.Errorf("cloudformation lacks %s", tt.cfn)
			}
		})
	}
}
