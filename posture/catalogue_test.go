package posture

import "testing"

func TestCatalogueLoads(t *testing.T) {
	c := DefaultCatalogue()
	if c.Len() < 900 {
		t.Fatalf("catalogue has %d checks, want the ~946 derived from Prowler", c.Len())
	}
	ch, ok := c.Lookup("s3_bucket_public_access")
	if !ok || ch.Provider != "aws" || ch.Severity != SeverityCritical || !ch.Has("internet-exposed") {
		t.Fatalf("s3_bucket_public_access = %+v, %v", ch, ok)
	}
}

func TestResolve(t *testing.T) {
	c := DefaultCatalogue()
	tests := []struct {
		name, provider, rule, rtype, summary, want string
	}{
		{"check id", "aws", "ec2_ebs_volume_encryption", "", "", "ec2_ebs_volume_encryption"},
		{"optix alias", "AWS", "AR-251", "", "", "s3_bucket_public_access"},
		{"alias lower case", "AWS", "ar-651", "", "", "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"},
		{"provider-specific id", "gcp", "kms_key_not_publicly_accessible", "", "", "kms_key_not_publicly_accessible"},
		{"type and summary", "Azure", "AZ-999", "Storage account", "Storage account allows blob public access level", "storage_blob_public_access_level_is_disabled"},
		{"catalogue type and summary", "aws", "AR-999", "AwsS3Bucket", "S3 bucket object versioning is disabled", "s3_bucket_object_versioning"},
		{"one word is not enough", "aws", "AR-998", "AwsS3Bucket", "bucket looks odd", GenericCheck},
		{"unknown provider", "oracle", "OC-1", "bucket", "public bucket", GenericCheck},
		{"empty", "", "", "", "", GenericCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Resolve(tt.provider, tt.rule, tt.rtype, tt.summary)
			if got.ID != tt.want {
				t.Errorf("Resolve(%q, %q, %q, %q) = %s, want %s", tt.provider, tt.rule, tt.rtype, tt.summary, got.ID, tt.want)
			}
		})
	}
	if ch, _ := c.Lookup("kms_key_not_publicly_accessible"); ch == nil {
		t.Fatal("lookup lost the shared id")
	}
	if got := c.Resolve("gcp", "kms_key_not_publicly_accessible", "", ""); got.Provider != "gcp" {
		t.Errorf("gcp kms check resolved to provider %s", got.Provider)
	}
}

func TestFindingIDStable(t *testing.T) {
	a := FindingID("AWS", "111122223333", "s3_bucket_public_access", "arn:aws:s3:::b")
	b := FindingID("aws", "111122223333", "s3_bucket_public_access", "arn:aws:s3:::b")
	if a != b || len(a) != 10 || a[:2] != "F-" {
		t.Fatalf("ids %q %q", a, b)
	}
	if FindingID("aws", "1", "ab", "c") == FindingID("aws", "1", "a", "bc") {
		t.Fatal("parts are not separated in the hash")
	}
	if NormalizeID(" f-1A2B3C4D ") != "F-1a2b3c4d" {
		t.Fatalf("NormalizeID = %q", NormalizeID(" f-1A2B3C4D "))
	}
}
