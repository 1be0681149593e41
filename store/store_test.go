package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// helperEnv selects a child-process role when the test binary re-executes
// itself (see TestHelperProcess).
const helperEnv = "OPTIX_STORE_TEST_HELPER"

// testClock is a deterministic clock: each call is one second later.
func testClock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t testing.TB, path string, opt Options) *Store {
	t.Helper()
	if opt.Now == nil {
		opt.Now = testClock()
	}
	if opt.Logger == nil {
		opt.Logger = quietLogger()
	}
	s, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "optix.db"), Options{})
}

// TestHelperProcess is not a test: it is the child process of the lock and
// kill tests, selected by helperEnv.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("only runs as a child process")
	}
	path := os.Getenv(helperEnv + "_PATH")
	var err error
	switch role {
	case "hold":
		err = helperHold(path)
	case "append":
		err = helperAppend(path)
	case "open":
		err = helperOpen(path)
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stdout, "error:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// helperHold opens the store, says so, and holds it until stdin closes.
func helperHold(path string) error {
	s, err := Open(path, Options{Logger: quietLogger()})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// helperOpen tries to open a store another process holds and reports how.
func helperOpen(path string) error {
	start := time.Now()
	s, err := Open(path, Options{Logger: quietLogger()})
	if err == nil {
		_ = s.Close()
		return errors.New("opened a held store")
	}
	fmt.Printf("locked=%t elapsed=%s msg=%s\n", errors.Is(err, ErrLocked), time.Since(start), err)
	return nil
}

// helperAppend writes requests, decisions and plain entries until killed,
// printing each acknowledged seq and hash after the call returned (so after
// the commit).
func helperAppend(path string) error {
	ctx := context.Background()
	s, err := Open(path, Options{Logger: quietLogger(), AuditKey: []byte("kill-test-key")})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		cr := &ChangeRequest{Script: "echo " + strconv.Itoa(i), Requester: "U1", Account: "111122223333"}
		if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
			return err
		}
		_, err := s.UpdateRequest(ctx, cr.ID, func(cr *ChangeRequest) (AuditRecord, error) {
			cr.State = StateApproved
			cr.Approvals = append(cr.Approvals, Decision{By: "U2", ScriptSHA256: cr.ScriptSHA256})
			return AuditRecord{Actor: "U2", Action: "request.approved"}, nil
		})
		if err != nil {
			return err
		}
		e, err := s.Append(ctx, AuditRecord{Actor: "U2", Action: "note", Subject: cr.ID, Details: map[string]string{"i": strconv.Itoa(i)}})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d %s %s\n", e.Seq, e.Hash, cr.ID)
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

func helperCmd(t *testing.T, ctx context.Context, role, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, helperEnv+"_PATH="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "optix.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	holder := helperCmd(t, ctx, "hold", path)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("holder did not get ready: %q %v", lines.Text(), lines.Err())
	}

	start := time.Now()
	_, err = Open(path, Options{Logger: quietLogger()})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open: err %T is not a *LockedError", err)
	}
	msg := err.Error()
	for _, want := range []string{ErrLocked.Error(), fmt.Sprintf("pid %d", holder.Process.Pid), filepath.Base(os.Args[0])} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	// The default timeout is 1s; the margin is for a loaded machine, the
	// point is that it does not hang.
	if elapsed < 900*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("second Open returned after %s, want about 1s", elapsed)
	}

	// A read-only open takes a shared lock, which a writer's exclusive one
	// still excludes: it waits the same timeout and names the holder.
	start = time.Now()
	_, err = Open(path, Options{ReadOnly: true, Logger: quietLogger()})
	elapsed = time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("read-only Open: err = %v, want ErrLocked", err)
	}
	if want := fmt.Sprintf("%s (pid %d, ", ErrLocked.Error(), holder.Process.Pid); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("read-only Open: message %q does not start with %q", err, want)
	}
	if elapsed < 900*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("read-only Open returned after %s, want about 1s", elapsed)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("the refused read-only Open removed the holder's sidecar: %v", err)
	}

	// A third process sees the same, through its own flock.
	child := helperCmd(t, ctx, "open", path)
	b, err := child.Output()
	if err != nil {
		t.Fatalf("open helper: %v: %s", err, b)
	}
	if !strings.Contains(string(b), "locked=true") || !strings.Contains(string(b), ErrLocked.Error()) {
		t.Errorf("open helper said %q", b)
	}

	_ = stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sidecar lock file left after Close: %v", err)
	}
	s := openTest(t, path, Options{})
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("sidecar lock file not written: %v", err)
	}
	_ = s
}

func TestOpenRefusesOtherAuditKey(t *testing.T) {
	// wantMsg is the whole message, %s the path: one sentence saying what
	// the chain was written with and what to do.
	tests := []struct {
		name        string
		first, then []byte
		wantMsg     string
	}{
		{"same key", []byte("k1"), []byte("k1"), ""},
		{"no key twice", nil, nil, ""},
		{"other key", []byte("k1"), []byte("k2"),
			"the audit chain in %s was written with a different OPTIX_BOT_AUDIT_KEY; set the key it was written with"},
		{"key dropped", []byte("k1"), nil,
			"the audit chain in %s was written with OPTIX_BOT_AUDIT_KEY set; set the same key to open this database"},
		{"key added", nil, []byte("k1"),
			"the audit chain in %s was written without OPTIX_BOT_AUDIT_KEY; unset it to open this database"},
		// An empty key is a key (HMAC with it differs from plain SHA-256).
		{"empty key added", nil, []byte{},
			"the audit chain in %s was written without OPTIX_BOT_AUDIT_KEY; unset it to open this database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "optix.db")
			s, err := Open(path, Options{AuditKey: tt.first, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(context.Background(), AuditRecord{Actor: "a", Action: "x"}); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			// Read-only (audit verify) first, then read-write: both check.
			for _, ro := range []bool{true, false} {
				s, err = Open(path, Options{AuditKey: tt.then, ReadOnly: ro, Logger: quietLogger()})
				if s != nil {
					_ = s.Close()
				}
				if tt.wantMsg == "" {
					if err != nil {
						t.Fatalf("reopen (read-only %t): %v", ro, err)
					}
					continue
				}
				if !errors.Is(err, ErrAuditKey) {
					t.Fatalf("reopen (read-only %t): err = %v, want ErrAuditKey", ro, err)
				}
				if want := fmt.Sprintf(tt.wantMsg, path); err.Error() != want {
					t.Errorf("reopen (read-only %t): message\n got %q\nwant %q", ro, err.Error(), want)
				}
			}
		})
	}
}
