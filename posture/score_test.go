package posture

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/internal/golden"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestScoreTable(t *testing.T) {
	prodPII := Attribution{Owner: "finance", Environment: EnvProduction, Criticality: CriticalityHigh, DataClass: DataPII}
	cases := []struct {
		name     string
		f        Finding
		a        Attribution
		wantBand Band
		wantTop  string // label of the headline reason
	}{
		{"production public bucket holding PII", Finding{Check: "s3_bucket_public_access"}, prodPII, BandCritical, "internet-facing"},
		{"public write ACL, no context", Finding{Check: "s3_bucket_public_write_acl"}, Attribution{}, BandCritical, "internet-facing"},
		{"critical check, no context", Finding{Check: "iam_root_mfa_enabled"}, Attribution{}, BandCritical, "critical severity"},
		{"dev SSH open to the world", Finding{Check: "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"},
			Attribution{Environment: EnvDev}, BandHigh, "internet-facing"},
		{"sandbox public bucket", Finding{Check: "s3_bucket_public_access"}, Attribution{Environment: EnvSandbox}, BandMedium, "internet-facing"},
		{"sandbox versioning", Finding{Check: "s3_bucket_object_versioning"}, Attribution{Environment: EnvSandbox}, BandLow, "sandbox"},
		{"optix score keeps its band without context", Finding{Check: GenericCheck, SourceScore: 93, Severity: SeverityLow}, Attribution{}, BandCritical, "source score 93"},
		{"generic keeps source severity", Finding{Check: GenericCheck, Severity: SeverityLow}, Attribution{}, BandLow, "low severity"},
		{"unknown check id is generic", Finding{Check: "no_such_check", Severity: SeverityHigh}, Attribution{}, BandHigh, "high severity"},
		{"production privilege escalation", Finding{Check: "iam_policy_allows_privilege_escalation"},
			Attribution{Environment: EnvProduction}, BandCritical, "privilege escalation"},
		{"secret in lambda variables", Finding{Check: "awslambda_function_no_secrets_in_variables"}, Attribution{}, BandCritical, "secret exposed"},
		{"old medium finding", Finding{Check: "s3_bucket_object_versioning", FirstSeen: testNow.AddDate(0, 0, -200)}, Attribution{}, BandMedium, "open 200 days"},
		{"RDP port from the resource", Finding{Check: "ec2_instance_public_ip", Resource: Resource{OpenPorts: []int{3389}}},
			Attribution{}, BandMedium, "internet-facing"},
		{"every port open", Finding{Check: "ec2_securitygroup_allow_ingress_from_internet_to_all_ports"}, Attribution{}, BandCritical, "internet-facing"},
		{"staging is neutral", Finding{Check: "s3_bucket_object_versioning"}, Attribution{Environment: EnvStaging}, BandMedium, "medium severity"},
		{"unencrypted PII in production", Finding{Check: "s3_bucket_default_encryption"}, prodPII, BandMedium, "holds PII"},
		{"public IP from the resource", Finding{Check: GenericCheck, Severity: SeverityMedium, Resource: Resource{PublicIP: "203.0.113.7"}},
			Attribution{DataClass: DataRestricted}, BandMedium, "holds restricted data"},
	}
	sc := Scorer{Now: testNow}
	var g strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sc.Score(&tc.f, tc.a)
			if s.Band != tc.wantBand {
				t.Errorf("band %s (score %d, raw %.1f), want %s; factors %v", s.Band, s.Score, s.Raw, tc.wantBand, s.Factors)
			}
			if got := s.Top().Label; got != tc.wantTop {
				t.Errorf("top reason %q, want %q; factors %v", got, tc.wantTop, s.Factors)
			}
			fmt.Fprintf(&g, "%s\n  %d %s raw=%.2f why=%q\n", tc.name, s.Score, s.Band, s.Raw, s.Why(4))
			for _, f := range s.Factors {
				fmt.Fprintf(&g, "  %-20s %+6.1f %s\n", f.Name, f.Points, f.Label)
			}
		})
	}
	golden.Check(t, "score.golden", []byte(g.String()))
}

func TestWhy(t *testing.T) {
	s := Scored{Factors: []Factor{
		{FactorSeverity, "critical severity", 103},
		{FactorEnvironment, "dev", -25},
		{FactorInternetExposure, "internet-facing", 15},
		{FactorPublicAccess, "public write", 12},
		{FactorAge, "open 40 days", 1.3},
	}}
	cases := []struct {
		n    int
		want string
	}{
		{0, ""},
		{1, "dev"},
		{2, "internet-facing; dev"},
		{3, "internet-facing; public write; dev"},
		{9, "internet-facing; public write; open 40 days; dev"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := s.Why(tc.n); got != tc.want {
				t.Errorf("Why(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
	plain := Scored{Factors: []Factor{{FactorSeverity, "high severity", 82.5}}}
	if got := plain.Why(3); got != "high severity" {
		t.Errorf("severity-only Why = %q", got)
	}
}

func TestBandOf(t *testing.T) {
	cases := []struct {
		score int
		want  Band
	}{{100, BandCritical}, {90, BandCritical}, {89, BandHigh}, {80, BandHigh}, {79, BandMedium}, {50, BandMedium}, {49, BandLow}, {0, BandLow}}
	for _, tc := range cases {
		if got := BandOf(tc.score); got != tc.want {
			t.Errorf("BandOf(%d) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

// TestSquashStrictlyIncreasing guards the property the ranking relies on:
// more raw points always mean a higher (float) score, with no plateau at 100.
func TestSquashStrictlyIncreasing(t *testing.T) {
	prev := squash(-200)
	for raw := -199.75; raw <= 400; raw += 0.25 {
		s := squash(raw)
		if !(s > prev) || s >= 100 || s <= 0 {
			t.Fatalf("squash(%.2f) = %v after %v", raw, s, prev)
		}
		prev = s
	}
}

// A source's own score, with no context, keeps its Optix band, and a higher
// source score never maps lower.
func TestSourceBaseKeepsBand(t *testing.T) {
	prev := math.Inf(-1)
	for score := 1; score <= 100; score++ {
		b := sourceBase(score)
		if !(b > prev) {
			t.Fatalf("sourceBase(%d) = %v, not above sourceBase(%d) = %v", score, b, score-1, prev)
		}
		prev = b
		if got, want := BandOf(intScore(b)), BandOf(score); got != want {
			t.Errorf("source score %d lands in %s (score %d), want %s", score, got, intScore(b), want)
		}
	}
}

// randomFinding builds a finding and attribution from a seeded generator,
// over checks of every exposure kind.
func randomFinding(r *rand.Rand) (Finding, Attribution) {
	checks := []string{
		"s3_bucket_public_access", "s3_bucket_public_write_acl", "s3_bucket_default_encryption", "s3_bucket_object_versioning",
		"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "ec2_instance_public_ip", "iam_policy_allows_privilege_escalation",
		"awslambda_function_no_secrets_in_variables", "rds_instance_no_public_access", GenericCheck, "iam_root_mfa_enabled",
	}
	envs := []Environment{EnvUnknown, EnvProduction, EnvStaging, EnvDev, EnvSandbox}
	f := Finding{
		Check:       checks[r.IntN(len(checks))],
		Severity:    Severity(r.IntN(6)),
		SourceScore: []int{0, 0, 0, 35, 72, 88, 97}[r.IntN(7)],
		Resource:    Resource{Public: r.IntN(4) == 0},
	}
	if r.IntN(4) == 0 {
		f.Resource.PublicIP = "198.51.100.1"
	}
	if r.IntN(4) == 0 {
		f.Resource.OpenPorts = []int{[]int{22, 3389, 0, 443}[r.IntN(4)]}
	}
	if r.IntN(2) == 0 {
		f.FirstSeen = testNow.Add(-time.Duration(r.IntN(400*24)) * time.Hour)
	}
	a := Attribution{
		Environment: envs[r.IntN(len(envs))],
		Criticality: criticalityOrder[r.IntN(len(criticalityOrder))],
		DataClass:   dataOrder[r.IntN(len(dataOrder))],
	}
	return f, a
}

// Least to most: adding a step never lowers a score.
var (
	criticalityOrder = []string{"", CriticalityLow, CriticalityMedium, CriticalityHigh, CriticalityCritical}
	dataOrder        = []string{"", DataPublic, DataInternal, DataConfidential, DataPII, DataRestricted}
)

func raise(order []string, v string, r *rand.Rand) string {
	for i, x := range order {
		if x == v {
			return order[i+r.IntN(len(order)-i)]
		}
	}
	return v
}

func TestScoreMonotone(t *testing.T) {
	sc := Scorer{Now: testNow}
	mutations := []struct {
		name string
		fn   func(f *Finding, a *Attribution, r *rand.Rand)
	}{
		{"public", func(f *Finding, a *Attribution, r *rand.Rand) { f.Resource.Public = true }},
		{"public ip", func(f *Finding, a *Attribution, r *rand.Rand) { f.Resource.PublicIP = "203.0.113.9" }},
		{"open port", func(f *Finding, a *Attribution, r *rand.Rand) {
			f.Resource.OpenPorts = append(append([]int(nil), f.Resource.OpenPorts...), []int{22, 3389, 0, 8080}[r.IntN(4)])
		}},
		{"criticality", func(f *Finding, a *Attribution, r *rand.Rand) {
			a.Criticality = raise(criticalityOrder, a.Criticality, r)
		}},
		{"data", func(f *Finding, a *Attribution, r *rand.Rand) { a.DataClass = raise(dataOrder, a.DataClass, r) }},
		{"older", func(f *Finding, a *Attribution, r *rand.Rand) {
			if !f.FirstSeen.IsZero() {
				f.FirstSeen = f.FirstSeen.Add(-time.Duration(r.IntN(300*24)) * time.Hour)
			}
		}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			for i := 0; i < 5000; i++ {
				f, a := randomFinding(r)
				before := sc.Score(&f, a)
				g, b := f, a
				// Two mutations of the same kind in a row: composition too.
				m.fn(&g, &b, r)
				m.fn(&g, &b, r)
				after := sc.Score(&g, b)
				if after.Raw < before.Raw || after.Score < before.Score {
					t.Fatalf("%s lowered the score: %.2f (%d) -> %.2f (%d)\nbefore %+v %+v\nafter  %+v %+v",
						m.name, before.Raw, before.Score, after.Raw, after.Score, f, a, g, b)
				}
			}
		})
	}
}

func TestScoreDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	sc := Scorer{Now: testNow}
	for i := 0; i < 1000; i++ {
		f, a := randomFinding(r)
		x, y := sc.Score(&f, a), sc.Score(&f, a)
		if x.Raw != y.Raw || x.Why(5) != y.Why(5) {
			t.Fatalf("same input, different scores: %v vs %v", x, y)
		}
	}
}

func TestPublicAccessFromCheckID(t *testing.T) {
	cases := []struct {
		check, want string // want: the public-access label, "" for none
	}{
		{"s3_bucket_public_write_acl", "public write"},
		{"s3_bucket_policy_public_write_access", "public write"},
		{"s3_bucket_public_access", "public read"},
		{"s3_bucket_public_list_acl", "public read"},
		{"cloudstorage_bucket_public_access", "public read"},
		{"ec2_ebs_public_snapshot", "public read"},
		{"s3_bucket_level_public_access_block", ""}, // a guard rail being off is not itself public data
		{"rds_instance_no_public_access", ""},       // reachable, but not "public read"
		{"ec2_instance_public_ip", ""},
	}
	for _, tc := range cases {
		t.Run(tc.check, func(t *testing.T) {
			s := Scorer{}.Score(&Finding{Check: tc.check}, Attribution{})
			got := ""
			for _, f := range s.Factors {
				if f.Name == FactorPublicAccess {
					got = f.Label
				}
			}
			if got != tc.want {
				t.Errorf("public-access label %q, want %q (factors %v)", got, tc.want, s.Factors)
			}
			if !strings.Contains(s.Why(5), "internet-facing") {
				t.Errorf("%s should be internet-facing: %s", tc.check, s.Why(5))
			}
		})
	}
}
