package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/bot"
)

// readView is everything the read-only methods return, to compare a
// read-only Store against the read-write one that wrote the file.
type readView struct {
	Verify   VerifyResult
	Tail     []AuditEntry
	For      []AuditEntry
	Request  *ChangeRequest
	Requests []*ChangeRequest
	Metas    []SnapshotMeta
	Snapshot *Snapshot
	Latest   *Snapshot
}

func readAll(t *testing.T, s *Store, reqID, snapID string) readView {
	t.Helper()
	ctx := context.Background()
	var v readView
	var err error
	check := func(what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	v.Verify, err = s.Verify(ctx)
	check("Verify")
	v.Tail, err = s.AuditTail(ctx, 3)
	check("AuditTail")
	v.For, err = s.AuditFor(ctx, reqID)
	check("AuditFor")
	v.Request, err = s.Request(ctx, reqID[:MinPrefixLen])
	check("Request")
	v.Requests, err = s.Requests(ctx, RequestFilter{})
	check("Requests")
	v.Metas, err = s.Snapshots(ctx, 0)
	check("Snapshots")
	v.Snapshot, err = s.Snapshot(ctx, snapID)
	check("Snapshot")
	v.Latest, err = s.LatestSnapshot(ctx, "optix")
	check("LatestSnapshot")
	return v
}

// writeDatabase fills a database the way serve does and returns what it
// reads back, with the ids to look up.
func writeDatabase(t *testing.T, path string, key []byte) (readView, string, string) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(path, Options{AuditKey: key, Logger: quietLogger(), Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Tenant: "t1", Complete: true, Findings: testFindings(6, "ro")})
	if err != nil {
		t.Fatal(err)
	}
	cr := createReq(t, s, &ChangeRequest{Script: "echo fix", Requester: "U1", Account: "111122223333"})
	if _, err := s.UpdateRequest(ctx, cr.ID, approve("U2")); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 5)
	want := readAll(t, s, cr.ID, meta.ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return want, cr.ID, meta.ID
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyReadsAWrittenDatabase(t *testing.T) {
	key := []byte("ro-key")
	src := filepath.Join(t.TempDir(), "optix.db")
	want, reqID, snapID := writeDatabase(t, src, key)

	// A 0444 copy in a directory nobody may write: the case of running
	// `audit verify` as another user. Root ignores both modes, so there
	// the writes are kept out by the read-only open alone.
	dir := t.TempDir()
	path := filepath.Join(dir, "optix.db")
	copyFile(t, src, path, 0o444)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		// The defect being fixed: a read-write open of this file fails.
		if s, err := Open(path, Options{AuditKey: key, Logger: quietLogger()}); err == nil {
			_ = s.Close()
			t.Error("read-write Open of a 0444 file succeeded")
		} else if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("read-write Open of a 0444 file: %v, want permission denied", err)
		}
	} else {
		t.Log("running as root: file modes do not stop writes, only ReadOnly does")
	}

	s, err := Open(path, Options{AuditKey: key, ReadOnly: true, Logger: quietLogger(), Now: testClock()})
	if err != nil {
		t.Fatalf("read-only Open: %v", err)
	}
	if !s.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	if got := readAll(t, s, reqID, snapID); !cmp.Equal(got, want) {
		t.Errorf("read-only reads differ from what was written (-want +got):\n%s", cmp.Diff(want, got))
	}
	if want.Verify.Count != 8 {
		t.Errorf("written chain has %d entries, want 8 (snapshot, created, approved, 5 appends)", want.Verify.Count)
	}

	ctx := context.Background()
	writes := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { _, err := s.Append(ctx, AuditRecord{Actor: "U1", Action: "note"}); return err }},
		{"Record", func() error { return s.Record(ctx, bot.AuditEvent{Actor: "U1", Action: "command"}) }},
		{"CreateRequest", func() error { return s.CreateRequest(ctx, &ChangeRequest{Script: "echo x"}, "U1") }},
		{"UpdateRequest", func() error { _, err := s.UpdateRequest(ctx, reqID, approve("U3")); return err }},
		{"SetMessage", func() error { return s.SetMessage(ctx, reqID, "C1", "1.2") }},
		{"ExpireDue", func() error { _, err := s.ExpireDue(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); return err }},
		{"SaveSnapshot", func() error {
			_, err := s.SaveSnapshot(ctx, Snapshot{Source: "optix", Complete: true, Findings: testFindings(1, "x")})
			return err
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := w.call(); !errors.Is(err, ErrReadOnly) {
				t.Errorf("err = %v, want ErrReadOnly", err)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, original) {
		t.Error("the read-only Store changed the file")
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the read-only Store wrote a lock sidecar: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("file mode after read-only use: %v, %v", fi.Mode(), err)
	}
}

func TestReadOnlyLockIsShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "optix.db")
	writeDatabase(t, path, nil)
	ro := Options{ReadOnly: true, Timeout: 200 * time.Millisecond}
	a := openTest(t, path, ro)
	b := openTest(t, path, ro) // a second reader does not wait for the first
	if _, err := b.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	// flock is per open file, so a writer in this same process is excluded
	// as another process would be.
	_, err := Open(path, Options{Timeout: 200 * time.Millisecond, Logger: quietLogger()})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("read-write Open while readers hold the file: %v, want ErrLocked", err)
	}
	_ = a.Close()
	_ = b.Close()
	openTest(t, path, Options{Timeout: 200 * time.Millisecond})
}

func TestReadOnlyNeedsAnExistingDatabase(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		make    func(t *testing.T, path string)
		kind    error
		wantMsg string
	}{
		{"missing", filepath.Join(dir, "missing.db"), func(*testing.T, string) {}, fs.ErrNotExist,
			"there is no optix-bot database at " + filepath.Join(dir, "missing.db")},
		{"empty file", filepath.Join(dir, "empty.db"), func(t *testing.T, p string) { writeFile(t, p, "") }, ErrNotDatabase,
			filepath.Join(dir, "empty.db") + " is empty, not an optix-bot database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.make(t, tt.path)
			s, err := Open(tt.path, Options{ReadOnly: true, Logger: quietLogger()})
			if err == nil {
				_ = s.Close()
				t.Fatal("read-only Open succeeded")
			}
			if !errors.Is(err, tt.kind) || err.Error() != tt.wantMsg {
				t.Errorf("err = %q, want %q matching %v", err, tt.wantMsg, tt.kind)
			}
			if _, err := os.Stat(tt.path); tt.kind == fs.ErrNotExist && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("read-only Open created the file: %v", err)
			}
		})
	}
}
