package sophos_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/posture"
)

const (
	benchAlerts   = 100_000
	benchPageSize = 500
	benchHosts    = 2_000
)

type benchPage struct {
	Data    []sophos.Alert `json:"data"`
	HasNext bool           `json:"hasNext"`
}

// benchInput builds 100,000 alerts as Optix {data, hasNext} pages, in the
// shape the emulator serves: mostly aliased rules, some unknown ones, inline
// and bare resource ids, a host inventory for enrichment.
func benchInput(b *testing.B) ([][]byte, []sophos.Host) {
	b.Helper()
	cat := posture.DefaultCatalogue()
	rules := cat.Aliases()
	envs := []string{"111122223333", "222233334444", "333344445555", "444455556666", "555566667777"}
	var hosts []sophos.Host
	for i := range benchHosts {
		hosts = append(hosts, sophos.Host{AccountType: "AWS", AccountID: envs[i%len(envs)], InstanceID: fmt.Sprintf("i-%016x", i),
			MoreInfo: sophos.HostInfo{Name: fmt.Sprintf("web-%04d", i), Region: "us-east-1", PublicIP: "203.0.113.7",
				Tags: sophos.Tags{"owner": "web", "environment": "prod"},
				SecurityGroupList: []sophos.SecurityGroup{{GroupID: fmt.Sprintf("sg-%016x", i),
					InboundRules: []sophos.SGRule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0"}}}}}})
	}
	var pages [][]byte
	for p := 0; p*benchPageSize < benchAlerts; p++ {
		var recs []map[string]any
		for j := range benchPageSize {
			i := p*benchPageSize + j
			rule := rules[i%len(rules)]
			if i%17 == 0 {
				rule = fmt.Sprintf("AR-%d", 700+i%50) // not aliased: fallback or generic
			}
			var info any = map[string]any{"resourceId": fmt.Sprintf("arn:aws:s3:::bucket-%06d", i), "resourceName": fmt.Sprintf("bucket-%06d", i),
				"tags": map[string]string{"owner": "team-a", "data-classification": "internal"}}
			if i%3 == 0 {
				info = fmt.Sprintf("i-%016x", i%benchHosts)
			}
			recs = append(recs, map[string]any{
				"alertId": fmt.Sprintf("A-%06d", i+1), "accountId": envs[i%len(envs)], "provider": "AWS", "region": "us-east-1",
				"score": 50 + i%50, "severity": "High", "alertSummary": "S3 bucket has no default encryption", "alertType": "Policy",
				"ruleNumber": rule, "resourceType": "AwsS3Bucket", "firstDetected": "2026-06-01T00:00:00Z", "lastDetected": "2026-11-29T10:00:00Z",
				"affectedResources": []any{map[string]any{"resourceInfo": info, "state": "OPEN"}},
			})
		}
		page, err := json.Marshal(map[string]any{"data": recs, "hasNext": (p+1)*benchPageSize < benchAlerts})
		if err != nil {
			b.Fatal(err)
		}
		pages = append(pages, page)
	}
	return pages, hosts
}

func decodePages(b *testing.B, pages [][]byte) []sophos.Alert {
	alerts := make([]sophos.Alert, 0, benchAlerts)
	for _, pg := range pages {
		var p benchPage
		if err := json.Unmarshal(pg, &p); err != nil {
			b.Fatal(err)
		}
		alerts = append(alerts, p.Data...)
	}
	return alerts
}

// report adds per-finding figures: findings/s, ns/finding, bytes allocated
// per finding (B/finding), and the heap still live per finding once the
// result is built (live-B/finding, from liveBytes).
func report(b *testing.B, findings int, before *runtime.MemStats, live float64) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	total := float64(findings) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "findings/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/finding")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/finding")
	b.ReportMetric(live, "live-B/finding")
}

// liveBytes measures, before the timed loop, the heap one run leaves live
// per finding.
func liveBytes(findings int, run func() any) float64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	keep := run()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(keep)
	return float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(findings)
}

// BenchmarkDecodeOnly is the baseline: JSON-decode the alert pages.
func BenchmarkDecodeOnly(b *testing.B) {
	pages, _ := benchInput(b)
	live := liveBytes(benchAlerts, func() any { return decodePages(b, pages) })
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = len(decodePages(b, pages))
	}
	report(b, n, &ms, live)
}

// BenchmarkNormalize is Normalize alone, on decoded alerts.
func BenchmarkNormalize(b *testing.B) {
	pages, hosts := benchInput(b)
	alerts := decodePages(b, pages)
	cat := posture.DefaultCatalogue()
	live := liveBytes(len(alerts), func() any { return sophos.Normalize(alerts, hosts, cat) })
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = len(sophos.Normalize(alerts, hosts, cat))
	}
	report(b, n, &ms, live)
}

// BenchmarkPipeline is decode + Normalize + posture.Assess: target within
// 1.5x of BenchmarkDecodeOnly and under 2.5 KB of heap per finding.
func BenchmarkPipeline(b *testing.B) {
	pages, hosts := benchInput(b)
	cat := posture.DefaultCatalogue()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	run := func() *posture.Assessment {
		f := sophos.Normalize(decodePages(b, pages), hosts, cat)
		return posture.Assess(f, posture.AssessOptions{Catalogue: cat, Now: now})
	}
	live := liveBytes(benchAlerts, func() any { return run() })
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = len(run().Scored)
	}
	report(b, n, &ms, live)
}
