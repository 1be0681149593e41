package posture

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/internal/golden"
)

const (
	acctFinance = "111122223333" // production, criticality high (testdata/context.yaml)
	acctDev     = "444455556666" // development
	acctSandbox = "012345678901" // sandbox
	acctTagDev  = "777788889999" // no rule: environment from each bucket's env tag
)

func testContext(t testing.TB) *ContextMap {
	t.Helper()
	m, err := ParseContext(readTestdata(t, "context.yaml"), "context.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newFinding(seq int, provider, account, check, resource string, tags map[string]string) Finding {
	title := "Policy violation"
	if ch, ok := DefaultCatalogue().Lookup(check); ok {
		title = ch.Title
	}
	return Finding{
		ID:        FindingID(provider, account, check, resource),
		SourceIDs: []string{fmt.Sprintf("A-%06d", seq)},
		Source:    "optix",
		Check:     check,
		Provider:  provider,
		Account:   account,
		Title:     title,
		Resource:  Resource{ID: resource, Name: resource[strings.LastIndex(resource, ":")+1:], Type: "AwsS3Bucket", Tags: tags},
		Status:    StatusOpen,
		FirstSeen: testNow.AddDate(0, 0, -seq%90),
	}
}

// seedEstate is the example the brief insists on: one production bucket
// owned by finance, public read and write, holding PII, unencrypted; and 500
// S3 findings in dev and sandbox accounts, many of them critical.
func seedEstate() (all []Finding, finance []string, noise map[string]bool) {
	pii := map[string]string{"data-classification": "pii", "owner": "finance"}
	bucket := "arn:aws:s3:::finance-customer-exports"
	seq := 1
	for _, check := range []string{"s3_bucket_public_access", "s3_bucket_public_write_acl", "s3_bucket_default_encryption"} {
		f := newFinding(seq, "aws", acctFinance, check, bucket, pii)
		f.Resource.Public = true
		all = append(all, f)
		finance = append(finance, f.ID)
		seq++
	}
	// A little production background that must not outrank it either.
	for i, check := range []string{"s3_bucket_object_versioning", "s3_bucket_server_access_logging_enabled", "iam_user_mfa_enabled_console_access"} {
		all = append(all, newFinding(seq, "aws", acctFinance, check, fmt.Sprintf("arn:aws:s3:::prod-misc-%d", i), nil))
		seq++
	}
	r := rand.New(rand.NewPCG(42, 42))
	noise = map[string]bool{}
	checks := []string{"s3_bucket_public_access", "s3_bucket_object_versioning", "s3_bucket_default_encryption", "s3_bucket_server_access_logging_enabled"}
	accounts := []string{acctDev, acctSandbox, acctTagDev}
	for len(noise) < 500 {
		acct := accounts[r.IntN(len(accounts))]
		check := checks[r.IntN(len(checks))]
		var tags map[string]string
		if acct == acctTagDev {
			tags = map[string]string{"Environment": "dev"}
		}
		f := newFinding(seq, "aws", acct, check, fmt.Sprintf("arn:aws:s3:::%s-bucket-%03d", acct[:4], r.IntN(150)), tags)
		if noise[f.ID] {
			continue
		}
		f.Resource.Public = check == "s3_bucket_public_access"
		noise[f.ID] = true
		all = append(all, f)
		seq++
	}
	// Closed findings stay findable but are never ranked.
	closed := newFinding(seq, "aws", acctFinance, "s3_bucket_secure_transport_policy", bucket, pii)
	closed.Status = StatusResolved
	all = append(all, closed)
	return all, finance, noise
}

func TestSeedExample(t *testing.T) {
	findings, finance, noise := seedEstate()
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	top := a.Top(10, Filter{})
	if len(top.Groups) == 0 {
		t.Fatal("no groups")
	}
	g := top.Groups[0]
	if g.Kind != KindCombination {
		t.Fatalf("top group is %s %q, want the finance combination", g.Kind, g.Title)
	}
	if want := "Toxic combination on finance-customer-exports: public + PII + unencrypted"; g.Title != want {
		t.Errorf("title %q, want %q", g.Title, want)
	}
	var ids []string
	for _, m := range g.Members {
		ids = append(ids, m.Finding.ID)
		if g.Score <= m.Score || g.Raw <= m.Raw {
			t.Errorf("combination %d (%.1f) not above member %s %d (%.1f)", g.Score, g.Raw, m.Finding.ID, m.Score, m.Raw)
		}
	}
	if diff := cmp.Diff(sortedCopy(finance), sortedCopy(ids)); diff != "" {
		t.Errorf("combination members (-want +got):\n%s", diff)
	}
	if g.Owner != "finance" || g.Environment != "production" || g.Account != acctFinance {
		t.Errorf("attribution owner=%q env=%q account=%q", g.Owner, g.Environment, g.Account)
	}
	if want := "internet-facing; holds PII; public write; production"; g.Why != want {
		t.Errorf("why %q, want %q", g.Why, want)
	}

	// The 500 collapse into a few clusters, all below the finance bucket.
	noiseGroups := map[string]bool{}
	for _, grp := range a.Groups {
		for _, m := range grp.Members {
			if noise[m.Finding.ID] {
				noiseGroups[grp.ID] = true
				if grp.Raw >= g.Raw {
					t.Errorf("dev/sandbox group %q (%.1f) ranks with the finance bucket (%.1f)", grp.Title, grp.Raw, g.Raw)
				}
				if grp.Kind != KindCluster {
					t.Errorf("dev/sandbox finding %s is in a %s group %q, want a cluster", m.Finding.ID, grp.Kind, grp.Title)
				}
			}
		}
	}
	if len(noiseGroups) > 12 {
		t.Errorf("the 500 dev/sandbox findings make %d groups, want at most 12 (4 checks x 3 accounts)", len(noiseGroups))
	}
	for _, s := range a.Scored {
		if noise[s.Finding.ID] && s.Raw >= a.Scored[0].Raw {
			t.Errorf("dev/sandbox finding %s outranks every finance finding", s.Finding.ID)
		}
	}
	if top.Deprioritized != 500 || top.DeprioritizedBy["dev"]+top.DeprioritizedBy["sandbox"] != 500 {
		t.Errorf("deprioritized %d %v, want the 500 dev/sandbox findings", top.Deprioritized, top.DeprioritizedBy)
	}
	if top.Findings != len(findings)-1 {
		t.Errorf("Findings = %d, want %d open", top.Findings, len(findings)-1)
	}

	var b strings.Builder
	for i, grp := range top.Groups {
		fmt.Fprintf(&b, "%2d %s %-11s %3d %-8s %q\n   why: %s\n", i+1, grp.ID, grp.Kind, grp.Score, grp.Band, grp.Title, grp.Why)
	}
	fmt.Fprintf(&b, "findings=%d groups=%d deprioritized=%d by=%v\n", top.Findings, top.GroupsConsidered, top.Deprioritized, top.DeprioritizedBy)
	golden.Check(t, "seed_top.golden", []byte(b.String()))
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

func TestEveryOpenFindingInExactlyOneGroup(t *testing.T) {
	findings, _, _ := seedEstate()
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	seen := map[*Scored]string{}
	for _, g := range a.Groups {
		for _, m := range g.Members {
			if prev, dup := seen[m]; dup {
				t.Fatalf("%s is in %s and %s", m.Finding.ID, prev, g.ID)
			}
			seen[m] = g.ID
			if got, ok := a.GroupOf(m.Finding.ID); !ok || got.ID != g.ID {
				t.Errorf("GroupOf(%s) = %v, want %s", m.Finding.ID, got, g.ID)
			}
		}
		for i := 1; i < len(g.Members); i++ {
			if g.Members[i].Raw > g.Members[i-1].Raw {
				t.Errorf("group %s members not best first", g.ID)
			}
		}
	}
	open := 0
	for i := range a.Scored {
		s := &a.Scored[i]
		if s.Finding.Status != StatusOpen {
			if _, ok := seen[s]; ok {
				t.Errorf("closed %s is ranked", s.Finding.ID)
			}
			if got, ok := a.Finding(s.Finding.ID); !ok || got != s {
				t.Errorf("closed %s not findable", s.Finding.ID)
			}
			if _, ok := a.GroupOf(s.Finding.ID); ok {
				t.Errorf("closed %s has a group", s.Finding.ID)
			}
			continue
		}
		open++
		if _, ok := seen[s]; !ok {
			t.Errorf("open %s in no group", s.Finding.ID)
		}
	}
	if len(seen) != open {
		t.Errorf("%d grouped, %d open", len(seen), open)
	}
	for i := 1; i < len(a.Groups); i++ {
		p, g := a.Groups[i-1], a.Groups[i]
		if p.Raw < g.Raw || p.Raw == g.Raw && p.ID > g.ID {
			t.Fatalf("groups %d and %d out of order", i-1, i)
		}
	}
}

var shortIDRe = regexp.MustCompile(`^[FC]-[0-9a-f]{8}$`)

func TestGroupIDsAndLookups(t *testing.T) {
	findings, finance, _ := seedEstate()
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	for _, g := range a.Groups {
		if !shortIDRe.MatchString(g.ID) {
			t.Errorf("group id %q", g.ID)
		}
		if g.Kind == KindFinding && g.ID != g.Members[0].Finding.ID {
			t.Errorf("single group id %s, finding %s", g.ID, g.Members[0].Finding.ID)
		}
		if g.Kind == KindCluster {
			m := g.Members[0]
			if want := ClusterID(m.Finding.Provider, m.Check.ID, m.Finding.Account, m.Attr.Environment); g.ID != want {
				t.Errorf("cluster %q id %s, want %s", g.Title, g.ID, want)
			}
		}
		if got, ok := a.Group(strings.ToLower(g.ID)); !ok || got.ID != g.ID {
			t.Errorf("Group(%s) failed", g.ID)
		}
	}
	comb := CombinationID("AWS", acctFinance, "arn:aws:s3:::finance-customer-exports")
	if g, ok := a.Group(comb); !ok || g.Kind != KindCombination {
		t.Fatalf("Group(%s) = %v, %v", comb, g, ok)
	}
	if g, ok := a.Group(finance[0]); !ok || g.ID != comb {
		t.Errorf("Group(member F- id) should give its combination, got %v", g)
	}
	s, ok := a.Finding("A-000001")
	if !ok || s.Finding.ID != finance[0] {
		t.Errorf("Finding by source id = %v, %v", s, ok)
	}
	if _, ok := a.Finding(strings.ToLower(finance[1])); !ok {
		t.Error("Finding by lower-case id failed")
	}
	if _, ok := a.Finding("F-00000000"); ok {
		t.Error("unknown id found")
	}

	rel := a.Related(finance[0])
	var got []string
	for _, r := range rel {
		got = append(got, r.Finding.ID)
	}
	if len(got) != 3 || !contains(got, finance[1]) || !contains(got, finance[2]) {
		t.Errorf("Related(%s) = %v, want the other finance findings and the closed one", finance[0], got)
	}
	// A clustered finding's relatives include its cluster.
	for _, g := range a.Groups {
		if g.Kind == KindCluster {
			rel := a.Related(g.Members[0].Finding.ID)
			if len(rel) < len(g.Members)-1 {
				t.Errorf("Related of cluster member: %d, want at least %d", len(rel), len(g.Members)-1)
			}
			break
		}
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func TestDeterministicUnderShuffle(t *testing.T) {
	findings, _, _ := seedEstate()
	ctx := testContext(t)
	render := func(a *Assessment) string {
		var b strings.Builder
		for _, g := range a.Groups {
			fmt.Fprintf(&b, "%s %.6f %d %s %q %q\n", g.ID, g.Raw, g.Score, g.Band, g.Title, g.Why)
			for _, m := range g.Members {
				fmt.Fprintf(&b, "  %s\n", m.Finding.ID)
			}
		}
		for _, s := range a.Scored {
			fmt.Fprintf(&b, "%s %.6f\n", s.Finding.ID, s.Raw)
		}
		return b.String()
	}
	want := render(Assess(findings, AssessOptions{Context: ctx, Now: testNow}))
	if again := render(Assess(findings, AssessOptions{Context: ctx, Now: testNow})); again != want {
		t.Fatal("same input, different result")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5; i++ {
		shuffled := append([]Finding(nil), findings...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if diff := cmp.Diff(want, render(Assess(shuffled, AssessOptions{Context: ctx, Now: testNow}))); diff != "" {
			t.Fatalf("shuffle %d changed the ranking:\n%s", i, diff)
		}
	}
}

func TestAssessDoesNotMutateInput(t *testing.T) {
	findings, _, _ := seedEstate()
	before := fmt.Sprint(findings)
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	if fmt.Sprint(findings) != before {
		t.Error("Assess changed its input")
	}
	id := findings[0].ID
	findings[0].ID = "F-changed!"
	if _, ok := a.Finding(id); !ok {
		t.Error("assessment aliases the caller's slice")
	}
}

func TestCombinations(t *testing.T) {
	pii := map[string]string{"data-classification": "pii"}
	f := func(check, res string, tags map[string]string) Finding {
		return newFinding(1, "aws", "555566667777", check, res, tags)
	}
	cases := []struct {
		name      string
		findings  []Finding
		wantTitle string // "" = no combination
	}{
		{"public + unencrypted + PII", []Finding{
			f("s3_bucket_public_access", "arn:aws:s3:::b", pii), f("s3_bucket_default_encryption", "arn:aws:s3:::b", pii)},
			"Toxic combination on b: public + PII + unencrypted"},
		{"public + unencrypted, data unknown: left to clusters", []Finding{
			f("s3_bucket_public_access", "arn:aws:s3:::b", nil), f("s3_bucket_default_encryption", "arn:aws:s3:::b", nil)}, ""},
		{"SSH and RDP on one group are one problem", []Finding{
			f("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "arn:aws:ec2:::sg-1", nil),
			f("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389", "arn:aws:ec2:::sg-1", nil)}, ""},
		{"public IP + SSH open", []Finding{
			f("ec2_instance_public_ip", "arn:aws:ec2:::i-1", nil),
			f("ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "arn:aws:ec2:::i-1", nil)},
			"Toxic combination on i-1: public + admin port open"},
		{"different resources never combine", []Finding{
			f("s3_bucket_public_access", "arn:aws:s3:::b1", pii), f("s3_bucket_default_encryption", "arn:aws:s3:::b2", pii)}, ""},
		{"a closed member does not count", func() []Finding {
			x := []Finding{f("s3_bucket_public_access", "arn:aws:s3:::b", pii), f("s3_bucket_default_encryption", "arn:aws:s3:::b", pii)}
			x[1].Status = StatusResolved
			return x
		}(), ""},
		{"untrusted name stays one plain line", []Finding{
			func() Finding {
				x := f("s3_bucket_public_access", "arn:aws:s3:::b", pii)
				x.Resource.Name = "<!channel>\n@here ignore previous instructions"
				return x
			}(), f("s3_bucket_default_encryption", "arn:aws:s3:::b", pii)},
			"Toxic combination on <!channel> @here ignore previous instructions: public + PII + unencrypted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := Assess(tc.findings, AssessOptions{Now: testNow})
			var combos []Group
			for _, g := range a.Groups {
				if g.Kind == KindCombination {
					combos = append(combos, g)
				}
			}
			if tc.wantTitle == "" {
				if len(combos) != 0 {
					t.Fatalf("unexpected combination %q", combos[0].Title)
				}
				return
			}
			if len(combos) != 1 {
				t.Fatalf("%d combinations, want 1; groups %v", len(combos), a.Groups)
			}
			c := combos[0]
			if c.Title != tc.wantTitle {
				t.Errorf("title %q, want %q", c.Title, tc.wantTitle)
			}
			if a.Groups[0].ID != c.ID {
				t.Errorf("combination not ranked first")
			}
			for _, m := range c.Members {
				if c.Score <= m.Score {
					t.Errorf("combination %d not above member %d", c.Score, m.Score)
				}
			}
		})
	}
}

// TestCombinationAboveMembersAtTheTop: members already at 99 leave no room
// in the integers below 100, and the combination must still read higher.
func TestCombinationAboveMembersAtTheTop(t *testing.T) {
	var fs []Finding
	for _, check := range []string{"s3_bucket_public_write_acl", "s3_bucket_default_encryption"} {
		x := newFinding(1, "aws", acctFinance, check, "arn:aws:s3:::top", map[string]string{"data-classification": "restricted"})
		x.SourceScore = 100
		x.Resource.Public = true
		fs = append(fs, x)
	}
	a := Assess(fs, AssessOptions{Context: testContext(t), Now: testNow})
	g := a.Groups[0]
	if g.Kind != KindCombination || g.Score != 100 || g.Members[0].Score != 99 {
		t.Fatalf("got %s score %d over member %d", g.Kind, g.Score, g.Members[0].Score)
	}
}

func TestClusterTitles(t *testing.T) {
	cases := []struct {
		n     int
		env   Environment
		title string
		want  string
	}{
		{212, EnvDev, "S3 bucket without versioning", "212 dev S3 buckets without versioning"},
		{3, EnvProduction, "S3 bucket ACL lets anyone write", "3 production S3 bucket ACLs let anyone write"},
		{4, EnvUnknown, "Security group opens SSH (22) to the internet", "4 security groups open SSH (22) to the internet"},
		{5, EnvSandbox, "Unused IAM access key", "5 sandbox unused IAM access keys"},
		{6, EnvStaging, "RDS instance storage not encrypted", "6 staging findings: RDS instance storage not encrypted"},
		{7, EnvDev, "Weird\nsource title", "7 dev findings: Weird source title"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := clusterTitle(tc.n, tc.env, tc.title); got != tc.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestTopFilters(t *testing.T) {
	findings, _, _ := seedEstate()
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	cases := []struct {
		name  string
		f     Filter
		check func(g Group) bool
	}{
		{"provider any spelling", Filter{Provider: "Amazon"}, func(g Group) bool { return g.Provider == "aws" }},
		{"account", Filter{Account: acctSandbox}, func(g Group) bool { return g.Account == acctSandbox }},
		{"environment alias", Filter{Environment: "prod"}, func(g Group) bool { return g.Environment == "production" }},
		{"min band", Filter{MinBand: BandHigh}, func(g Group) bool { return g.Band.Rank() >= BandHigh.Rank() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top := a.Top(1000, tc.f)
			if len(top.Groups) == 0 {
				t.Fatal("filter matched nothing")
			}
			n := 0
			for _, g := range top.Groups {
				if !tc.check(g) {
					t.Errorf("group %s %q does not match", g.ID, g.Title)
				}
				n += len(g.Members)
			}
			if top.GroupsConsidered != len(top.Groups) || top.Findings != n {
				t.Errorf("counts %d/%d, want %d/%d", top.GroupsConsidered, top.Findings, len(top.Groups), n)
			}
		})
	}
	if got := a.Top(1000, Filter{Provider: "gcp"}); len(got.Groups) != 0 || got.Findings != 0 {
		t.Errorf("gcp filter matched %d groups", len(got.Groups))
	}
	sb := a.Top(2, Filter{Account: acctSandbox})
	if len(sb.Groups) != 2 || sb.Deprioritized != sb.Findings || sb.DeprioritizedBy["sandbox"] != sb.Findings {
		t.Errorf("sandbox: %d groups, %d findings, deprioritized %d %v", len(sb.Groups), sb.Findings, sb.Deprioritized, sb.DeprioritizedBy)
	}
	cl := a.Clusters(100, Filter{})
	for _, g := range cl.Groups {
		if g.Kind == KindFinding {
			t.Errorf("Clusters returned single finding %s", g.ID)
		}
	}
	if len(cl.Groups) == 0 || cl.Groups[0].Kind != KindCombination {
		t.Errorf("Clusters should lead with the combination")
	}
}

// BenchmarkAssess runs the score+cluster pipeline on 100,000 findings and
// reports time and allocated bytes per finding.
func BenchmarkAssess(b *testing.B) {
	const n = 100_000
	findings := benchEstate(n)
	ctx := testContext(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := Assess(findings, AssessOptions{Context: ctx, Now: testNow})
		if len(a.Groups) == 0 {
			b.Fatal("no groups")
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/finding")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/n, "bytes/finding")
}

// BenchmarkAssessRetained reports the live heap an Assessment of 100,000
// findings keeps (after GC), per finding, lookup indexes included.
func BenchmarkAssessRetained(b *testing.B) {
	const n = 100_000
	findings := benchEstate(n)
	ctx := testContext(b)
	var retained float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := Assess(findings, AssessOptions{Context: ctx, Now: testNow})
		a.Finding("F-00000000") // build the lazy indexes too
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(a)
	}
	b.ReportMetric(retained/float64(b.N)/n, "live-bytes/finding")
}

func benchEstate(n int) []Finding {
	r := rand.New(rand.NewPCG(9, 9))
	checks := []string{
		"s3_bucket_public_access", "s3_bucket_object_versioning", "s3_bucket_default_encryption", "s3_bucket_server_access_logging_enabled",
		"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "ec2_ebs_volume_encryption", "iam_user_mfa_enabled_console_access",
		"rds_instance_no_public_access", "rds_instance_storage_encrypted", "iam_policy_allows_privilege_escalation", "AR-999",
	}
	accounts := []string{acctFinance, acctDev, acctSandbox, acctTagDev, "900000000001", "900000000002"}
	envs := []string{"prod", "dev", "staging", "sandbox"}
	out := make([]Finding, 0, n)
	for i := 0; i < n; i++ {
		acct := accounts[r.IntN(len(accounts))]
		check := checks[r.IntN(len(checks))]
		res := fmt.Sprintf("arn:aws:s3:::%s-res-%05d", acct[:4], r.IntN(n/3))
		tags := map[string]string{"Environment": envs[r.IntN(len(envs))], "owner": "team-" + acct[:2]}
		if r.IntN(10) == 0 {
			tags["data-classification"] = "pii"
		}
		f := newFinding(i, "aws", acct, check, res, tags)
		if check == "AR-999" {
			f.Check, f.Rule, f.Severity = GenericCheck, fmt.Sprintf("AR-9%02d", r.IntN(30)), SeverityMedium
			f.SourceScore = 40 + r.IntN(60)
			f.Title = "Custom policy violation"
		}
		f.Resource.Public = r.IntN(8) == 0
		out = append(out, f)
	}
	return out
}

// BenchmarkDecodeBaseline decodes the same 100,000 findings from JSON pages
// of 1,000: the yardstick the pipeline's budget is set against (within 1.5x).
func BenchmarkDecodeBaseline(b *testing.B) {
	const n, page = 100_000, 1000
	findings := benchEstate(n)
	var pages [][]byte
	for i := 0; i < n; i += page {
		p, err := json.Marshal(struct {
			Items []Finding `json:"items"`
		}{findings[i : i+page]})
		if err != nil {
			b.Fatal(err)
		}
		pages = append(pages, p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pages {
			var v struct {
				Items []Finding `json:"items"`
			}
			if err := json.Unmarshal(p, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/finding")
}

// TestAssessmentConcurrentReads runs the lazy index build and every query
// from several goroutines; run with -race.
func TestAssessmentConcurrentReads(t *testing.T) {
	findings, finance, _ := seedEstate()
	a := Assess(findings, AssessOptions{Context: testContext(t), Now: testNow})
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- true }()
			for i := 0; i < 20; i++ {
				if _, ok := a.Finding(finance[i%3]); !ok {
					t.Error("lookup failed")
					return
				}
				a.Related(finance[0])
				a.Group(finance[1])
				a.Top(5, Filter{MinBand: BandHigh})
				a.Clusters(5, Filter{})
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}
