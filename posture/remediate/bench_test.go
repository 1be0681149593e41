package remediate

import (
	"strings"
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

// BenchmarkTailor measures checking a candidate with every slot renamed:
// two skeleton renders, the line match and the lint, per tailored /optix fix.
func BenchmarkTailor(b *testing.B) {
	fx := fixtures()
	for _, c := range []struct {
		check  string
		format Format
	}{{"resource_missing_required_tags", AWSCLI}, {"iam_user_mfa_enabled_console_access", Terraform}} {
		in := Input{Finding: fx[c.check], Attr: attributed}
		res, err := Generate(in, c.format)
		if err != nil || res.Script == nil {
			b.Fatalf("%s: %v", c.check, err)
		}
		cand := res.Script.Body
		for _, sl := range res.Script.Slots {
			cand = strings.ReplaceAll(cand, sl.Value, renamed[sl.Name])
		}
		b.Run(c.check+"/"+string(c.format), func(b *testing.B) {
			b.ReportAllocs()
			var tailored int
			for b.Loop() {
				s, err := Tailor(in, c.format, cand)
				if err != nil {
					b.Fatal(err)
				}
				tailored = len(s.Tailored)
			}
			b.ReportMetric(float64(tailored), "slots-tailored")
		})
	}
}
