package remediate

import (
	"testing"
)

// BenchmarkGenerate measures render + lint for one script, the work done
// per /optix fix request.
func BenchmarkGenerate(b *testing.B) {
	fx := fixtures()
	for _, check := range []string{"s3_bucket_public_access", "ec2_securitygroup_allow_ingress_from_internet_to_any_port",
		"iam_policy_allows_privilege_escalation", "network_ssh_internet_access_restricted"} {
		f := fx[check]
		b.Run(check, func(b *testing.B) {
			b.ReportAllocs()
			var bytes int
			for b.Loop() {
				res, err := Generate(Input{Finding: f}, "")
				if err != nil || res.Script == nil {
					b.Fatalf("no script: %v %v", err, res.Refused)
				}
				bytes = len(res.Script.Body)
			}
			b.ReportMetric(float64(bytes), "script-bytes")
		})
	}
}
