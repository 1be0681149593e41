package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/posture"
)

func testFindings(n int, tag string) []posture.Finding {
	var out []posture.Finding
	for i := range n {
		status, sev := posture.StatusOpen, posture.SeverityHigh
		if i%4 == 3 {
			status = posture.StatusResolved
		}
		if i%2 == 1 {
			sev = posture.SeverityCritical
		}
		res := fmt.Sprintf("arn:aws:s3:::bucket-%s-%d", tag, i)
		out = append(out, posture.Finding{
			ID:        posture.FindingID("aws", "111122223333", "s3_bucket_public_access", res),
			SourceIDs: []string{fmt.Sprintf("alert-%s-%d", tag, i)},
			Source:    "optix", Rule: "AR-251", Check: "s3_bucket_public_access",
			Title: "Bucket <@U999> is *public*", Provider: "aws", Account: "111122223333", Region: "eu-west-1",
			Resource: posture.Resource{ID: res, Name: "bucket " + tag, Type: "AwsS3Bucket", Tags: map[string]string{"env": "prod"}, Public: true},
			Severity: sev, SourceScore: 91, Status: status,
			FirstSeen: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), LastSeen: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			Raw: json.RawMessage(fmt.Sprintf(`{"alertId":"alert-%s-%d","score":91}`, tag, i)),
		})
	}
	return out
}

func TestSaveSnapshotRefusesIncomplete(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	_, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Tenant: "t1", Findings: testFindings(3, "a")})
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("SaveSnapshot(incomplete) err = %v, want ErrIncomplete", err)
	}
	list, err := s.Snapshots(ctx, 0)
	if err != nil || len(list) != 0 {
		t.Fatalf("Snapshots after refusal = %v, %v", list, err)
	}
	if _, err := s.LatestSnapshot(ctx, "optix"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LatestSnapshot err = %v, want ErrNotFound", err)
	}
	if res, err := s.Verify(ctx); err != nil || res.Count != 0 {
		t.Fatalf("refusal wrote audit entries: %+v, %v", res, err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	fs := testFindings(8, "a")
	meta, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Tenant: "t1", Complete: true, Findings: fs})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := Counts{Total: 8, ByStatus: map[string]int{"open": 6, "resolved": 2}, BySeverity: map[string]int{"high": 4, "critical": 2}}
	if diff := cmp.Diff(wantCounts, meta.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	for name, get := range map[string]func() (*Snapshot, error){
		"by id":  func() (*Snapshot, error) { return s.Snapshot(ctx, meta.ID) },
		"latest": func() (*Snapshot, error) { return s.LatestSnapshot(ctx, "optix") },
	} {
		t.Run(name, func(t *testing.T) {
			got, err := get()
			if err != nil {
				t.Fatal(err)
			}
			want := &Snapshot{ID: meta.ID, Time: meta.Time, Source: "optix", Tenant: "t1", Complete: true, Findings: fs, Counts: wantCounts}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := s.Snapshot(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Snapshot(unknown) err = %v", err)
	}
	tail, err := s.AuditTail(ctx, 1)
	if err != nil || len(tail) != 1 {
		t.Fatal(tail, err)
	}
	if e := tail[0]; e.Action != "snapshot.saved" || e.Subject != meta.ID || e.Details["findings_sha256"] != meta.FindingsSHA256 || e.Details["findings"] != "8" {
		t.Errorf("audit entry = %+v", e)
	}
}

func TestSnapshotsListAndPrune(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "optix.db"), Options{KeepSnapshots: 3})
	ctx := context.Background()
	var optix []string
	for i := range 5 {
		m, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Complete: true, Findings: testFindings(2, fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		optix = append(optix, m.ID)
		if i == 1 {
			if _, err := s.SaveSnapshot(ctx, Snapshot{ID: "prowler-1", Source: "prowler", Complete: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	list, err := s.Snapshots(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ID)
	}
	// Newest first; optix keeps its 3 newest, prowler's one is untouched.
	want := []string{optix[4], optix[3], optix[2], "prowler-1"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("Snapshots (-want +got):\n%s", diff)
	}
	if _, err := s.Snapshot(ctx, optix[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned snapshot still readable: %v", err)
	}
	limited, err := s.Snapshots(ctx, 2)
	if err != nil || len(limited) != 2 {
		t.Errorf("Snapshots(2) = %d, %v", len(limited), err)
	}
	empty, err := s.LatestSnapshot(ctx, "prowler")
	if err != nil || empty.Findings == nil || len(empty.Findings) != 0 {
		t.Errorf("empty snapshot = %+v, %v; want non-nil empty findings", empty, err)
	}
	if _, err := s.SaveSnapshot(ctx, Snapshot{ID: "prowler-1", Source: "prowler", Complete: true}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id err = %v", err)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// TestReadsSurviveLaterWrites checks that what the store hands out is a copy,
// not bbolt's mmap: the data must stay intact (and no fault must occur)
// after later writes grow the file and bbolt remaps it.
func TestReadsSurviveLaterWrites(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	m, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Complete: true, Findings: testFindings(20, "keep")})
	if err != nil {
		t.Fatal(err)
	}
	cr := &ChangeRequest{Script: "echo keep", Requester: "U1"}
	if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Request(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := s.AuditTail(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantSnap := testFindings(20, "keep")
	wantTail := append([]AuditEntry(nil), tail...)

	// Several megabytes of later writes force bbolt to grow and remap.
	for i := range 4 {
		if _, err := s.SaveSnapshot(ctx, Snapshot{Source: "bulk", Complete: true, Findings: testFindings(3000, strings.Repeat("x", 50)+fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(wantSnap, snap.Findings); diff != "" {
		t.Errorf("snapshot changed under the caller (-want +got):\n%s", diff)
	}
	if got.Script != "echo keep" || got.ID != cr.ID {
		t.Errorf("request changed under the caller: %+v", got)
	}
	if diff := cmp.Diff(wantTail, tail); diff != "" {
		t.Errorf("audit entries changed (-want +got):\n%s", diff)
	}

	// And changing what we were handed does not change the store.
	snap.Findings[0].Raw[2] = 'X'
	snap.Findings[0].Resource.Tags["env"] = "dev"
	again, err := s.Snapshot(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantSnap, again.Findings); diff != "" {
		t.Errorf("store changed through a returned value (-want +got):\n%s", diff)
	}
}

func BenchmarkSaveSnapshot1k(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	fs := testFindings(1000, "bench")
	for b.Loop() {
		if _, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Complete: true, Findings: fs}); err != nil {
			b.Fatal(err)
		}
	}
}
