package store

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledMidStreamLosesNothingAcknowledged kills a writer with SIGKILL
// while it commits decisions, then checks that the file opens, the chain
// verifies, and every entry the writer reported as committed is there with
// the hash it reported.
func TestKilledMidStreamLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a writer process")
	}
	path := filepath.Join(t.TempDir(), "optix.db")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type ack struct {
		seq       uint64
		hash, req string
	}
	var acks []ack
	// Several writers in turn on the same file, each killed at a different
	// point, so some kills land inside a commit.
	for round, killAfter := range []int{7, 23, 60, 41} {
		got := runAndKill(ctx, t, path, killAfter)
		if len(got) < killAfter {
			t.Fatalf("round %d: writer acknowledged only %d rounds", round, len(got))
		}
		for _, f := range got {
			seq, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, ack{seq, f[1], f[2]})
		}
	}

	s := openTest(t, path, Options{AuditKey: []byte("kill-test-key")})
	res, err := s.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify after kill: %v", err)
	}
	last := acks[len(acks)-1].seq
	if res.Count < last {
		t.Fatalf("chain has %d entries, writer acknowledged seq %d", res.Count, last)
	}
	all, err := s.AuditTail(ctx, int(res.Count))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		e := all[a.seq-1]
		if e.Seq != a.seq || e.Hash != a.hash {
			t.Fatalf("acknowledged seq %d: stored %d %s, acknowledged hash %s", a.seq, e.Seq, e.Hash, a.hash)
		}
		cr, err := s.Request(ctx, a.req)
		if err != nil {
			t.Fatalf("acknowledged request %s: %v", a.req, err)
		}
		if cr.State != StateApproved {
			t.Errorf("acknowledged request %s is %s", a.req, cr.State)
		}
	}
	t.Logf("%d acknowledged rounds over 4 kills; chain holds %d entries", len(acks), res.Count)
}

// runAndKill starts a writer on path, SIGKILLs it after killAfter
// acknowledged rounds, and returns every acknowledgement it printed as
// fields (seq, hash, request id).
func runAndKill(ctx context.Context, t *testing.T, path string, killAfter int) [][]string {
	t.Helper()
	child := helperCmd(t, ctx, "append", path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var acks [][]string
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) != 3 {
			t.Fatalf("writer said %q", lines.Text())
		}
		acks = append(acks, f)
		if len(acks) == killAfter {
			// The writer is already inside its next round's commits.
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	for lines.Scan() {
		// Lines written before the kill landed are acknowledged too.
		if f := strings.Fields(lines.Text()); len(f) == 3 {
			acks = append(acks, f)
		}
	}
	err = child.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer ended with %v, want killed", err)
	}
	return acks
}
