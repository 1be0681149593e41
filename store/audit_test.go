package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/optix-bot/optix-bot/bot"

	"github.com/optix-bot/optix-bot/internal/golden"
)

func appendN(t testing.TB, s *Store, n int) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	for i := range n {
		e, err := s.Append(context.Background(), AuditRecord{
			Actor: "U" + strconv.Itoa(i%3), Action: "command", Subject: "top-risks",
			Details: map[string]string{"i": strconv.Itoa(i), "args": "5 env=prod"},
		})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendAndVerify(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("secret")} {
		t.Run(fmt.Sprintf("key=%q", key), func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "optix.db"), Options{AuditKey: key})
			ctx := context.Background()
			res, err := s.Verify(ctx)
			if err != nil || res.Count != 0 {
				t.Fatalf("empty chain: %+v, %v", res, err)
			}
			es := appendN(t, s, 10)
			if es[0].PrevHash != GenesisHash {
				t.Errorf("first prev_hash = %s", es[0].PrevHash)
			}
			for i := 1; i < len(es); i++ {
				if es[i].Seq != uint64(i+1) || es[i].PrevHash != es[i-1].Hash {
					t.Errorf("entry %d not linked: %+v", i, es[i])
				}
			}
			res, err = s.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if want := (VerifyResult{Count: 10, Head: es[9].Hash}); res != want {
				t.Errorf("Verify = %+v, want %+v", res, want)
			}
			tail, err := s.AuditTail(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(es[7:], tail); diff != "" {
				t.Errorf("AuditTail (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHMACDiffersFromPlain(t *testing.T) {
	plain := newTestStore(t)
	keyed := openTest(t, filepath.Join(t.TempDir(), "optix.db"), Options{AuditKey: []byte("k")})
	a, b := appendN(t, plain, 1)[0], appendN(t, keyed, 1)[0]
	if a.Hash == b.Hash {
		t.Fatal("HMAC chain has the same hash as the plain one")
	}
}

// TestCanonicalGolden pins the exact bytes that are hashed, so a change to
// the encoding (which would break every existing chain) cannot go unseen.
func TestCanonicalGolden(t *testing.T) {
	e := AuditEntry{
		Seq: 7, Time: time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC),
		Actor: "U123", Action: "request.approved", Subject: "2f1c0c9e-0000-4000-8000-000000000000",
		Details: map[string]string{
			"z": "last", "a": `quote " backslash \ <b>&amp;</b>`, "ctl": "tab\tnl\nnul\x00del\x7f", "uni": "é ✓ \u2028",
		},
		PrevHash: GenesisHash,
	}
	got := canonical(&e)
	golden.Check(t, "canonical.golden", got)
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("canonical bytes are not JSON: %v", err)
	}
}

// TestThirdPartyVerifies checks the documented recipe: a few lines of
// Python re-verify the chain from the raw bbolt values.
func TestThirdPartyVerifies(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	for _, key := range []string{"", "k3y"} {
		t.Run("key="+key, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "optix.db")
			var k []byte
			if key != "" {
				k = []byte(key)
			}
			s := openTest(t, path, Options{AuditKey: k})
			ctx := context.Background()
			for _, d := range []string{"plain", "tab\there", `q"b\`, "<@U123> *bold*", "é\u2028", "bad\xffutf8", "\x01"} {
				if _, err := s.Append(ctx, AuditRecord{Actor: "U1", Action: "note", Subject: d, Details: map[string]string{d: d, "k": d}}); err != nil {
					t.Fatal(err)
				}
			}
			var lines bytes.Buffer
			err := s.db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketAudit).ForEach(func(_, v []byte) error {
					lines.Write(v)
					lines.WriteByte('\n')
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			script := `
import hashlib, hmac, json, sys
key = sys.argv[1].encode()
prev = "0" * 64
for line in sys.stdin.buffer:
    e = json.loads(line); h = e.pop("hash")
    e["details"] = dict(sorted(e["details"].items()))
    msg = e["prev_hash"].encode() + json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
    got = hmac.new(key, msg, hashlib.sha256).hexdigest() if key else hashlib.sha256(msg).hexdigest()
    assert got == h and e["prev_hash"] == prev, (e["seq"], got, h)
    prev = h
print(prev)
`
			cmd := exec.Command(py, "-c", script, key)
			cmd.Stdin = &lines
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python verify: %v\n%s", err, out)
			}
			res, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(bytes.TrimSpace(out)); got != res.Head {
				t.Errorf("python head %s, Verify head %s", got, res.Head)
			}
		})
	}
}

// rawEdit opens the closed store file with bbolt directly, as an attacker or
// a broken disk would, and lets fn change the audit bucket.
func rawEdit(t *testing.T, path string, fn func(audit, meta *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketAudit), tx.Bucket(bucketMeta)) }); err != nil {
		t.Fatalf("raw edit: %v", err)
	}
}

func editEntry(audit *bolt.Bucket, seq uint64, fn func(m map[string]any)) error {
	var m map[string]any
	if err := json.Unmarshal(audit.Get(seqKey(seq)), &m); err != nil {
		return err
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return audit.Put(seqKey(seq), b)
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 20
	tests := []struct {
		name    string
		edit    func(s *Store, audit, meta *bolt.Bucket) error
		wantSeq uint64
		wantMsg string
	}{
		{
			name: "details changed",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				return editEntry(a, 7, func(m map[string]any) { m["details"].(map[string]any)["args"] = "1" })
			},
			wantSeq: 7, wantMsg: "entry 7: hash does not match its content",
		},
		{
			name: "actor changed and its hash recomputed without the key",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				v := bytes.Clone(a.Get(seqKey(9)))
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				e.Actor = "U-forger"
				plain := &Store{}
				canon := canonical(&e)
				return a.Put(seqKey(9), encodeEntry(canon, plain.hash(e.PrevHash, canon)))
			},
			wantSeq: 9, wantMsg: "entry 9: hash does not match its content",
		},
		{
			name:    "middle entry deleted",
			edit:    func(_ *Store, a, _ *bolt.Bucket) error { return a.Delete(seqKey(5)) },
			wantSeq: 5, wantMsg: "entry 5 missing",
		},
		{
			name:    "first entry deleted",
			edit:    func(_ *Store, a, _ *bolt.Bucket) error { return a.Delete(seqKey(1)) },
			wantSeq: 1, wantMsg: "entry 1 missing",
		},
		{
			name:    "last entry deleted",
			edit:    func(_ *Store, a, _ *bolt.Bucket) error { return a.Delete(seqKey(n)) },
			wantSeq: n, wantMsg: fmt.Sprintf("entry %d missing", n),
		},
		{
			name: "last entry deleted and head rewound",
			edit: func(_ *Store, a, m *bolt.Bucket) error {
				prev, err := decodeEntry(a.Get(seqKey(n - 1)))
				if err != nil {
					return err
				}
				if err := a.Delete(seqKey(n)); err != nil {
					return err
				}
				// Rewinding the head needs the previous hash, which is there;
				// plain SHA-256 cannot catch this, which is what AuditKey and
				// publishing the head are for. With the head's own check gone,
				// the chain must at least still verify as n-1 entries.
				return m.Put(keyAuditHead, append(seqKey(n-1), prev.Hash...))
			},
			wantSeq: 0,
		},
		{
			name: "two entries swapped",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				x, y := bytes.Clone(a.Get(seqKey(12))), bytes.Clone(a.Get(seqKey(14)))
				if err := a.Put(seqKey(12), y); err != nil {
					return err
				}
				return a.Put(seqKey(14), x)
			},
			wantSeq: 12, wantMsg: "entry 12 out of order (it holds entry 14)",
		},
		{
			name: "entry inserted, later ones renumbered",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				for seq := uint64(n); seq >= 10; seq-- {
					if err := a.Put(seqKey(seq+1), bytes.Clone(a.Get(seqKey(seq)))); err != nil {
						return err
					}
				}
				return editEntry(a, 10, func(m map[string]any) { m["action"] = "request.approved" })
			},
			wantSeq: 10, wantMsg: "entry 10: hash does not match its content",
		},
		{
			name: "entry appended past the head",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				last, err := decodeEntry(a.Get(seqKey(n)))
				if err != nil {
					return err
				}
				e := AuditEntry{Seq: n + 1, Time: last.Time, Actor: "U-forger", Action: "request.approved", Details: map[string]string{}, PrevHash: last.Hash}
				canon := canonical(&e)
				return a.Put(seqKey(n+1), encodeEntry(canon, (&Store{}).hash(e.PrevHash, canon)))
			},
			wantSeq: n + 1, wantMsg: fmt.Sprintf("entry %d is beyond the recorded head %d", n+1, n),
		},
		{
			name: "prev_hash rewritten",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				return editEntry(a, 3, func(m map[string]any) { m["prev_hash"] = GenesisHash })
			},
			wantSeq: 3, wantMsg: "entry 3: hash does not match its content",
		},
		{
			name: "garbage value",
			edit: func(_ *Store, a, _ *bolt.Bucket) error {
				return a.Put(seqKey(4), []byte("not json"))
			},
			wantSeq: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "optix.db")
			opt := Options{AuditKey: []byte("chain-key"), Logger: quietLogger(), Now: testClock()}
			s, err := Open(path, opt)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, n)
			if _, err := s.Verify(context.Background()); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			_ = s.Close()
			rawEdit(t, path, func(a, m *bolt.Bucket) error { return tt.edit(s, a, m) })
			s = openTest(t, path, opt)
			res, err := s.Verify(context.Background())
			if tt.wantSeq == 0 {
				if err != nil || res.Count != n-1 {
					t.Fatalf("Verify = %+v, %v; want %d entries", res, err, n-1)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify err = %v (%+v), want a *ChainError", err, res)
			}
			if ce.Seq != tt.wantSeq {
				t.Errorf("first bad seq = %d, want %d (%s)", ce.Seq, tt.wantSeq, ce.Reason)
			}
			if tt.wantMsg != "" && ce.Reason != tt.wantMsg {
				t.Errorf("reason = %q, want %q", ce.Reason, tt.wantMsg)
			}
		})
	}
}

func TestConcurrentAppendsAreGapFree(t *testing.T) {
	s := newTestStore(t)
	const workers, each = 50, 10
	var wg sync.WaitGroup
	seqs := make(chan uint64, workers*each)
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e, err := s.Append(context.Background(), AuditRecord{Actor: "w" + strconv.Itoa(w), Action: "note", Subject: strconv.Itoa(i)})
				if err != nil {
					errs <- err
					return
				}
				seqs <- e.Seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for q := range seqs {
		if seen[q] {
			t.Fatalf("seq %d handed out twice", q)
		}
		seen[q] = true
	}
	for q := uint64(1); q <= workers*each; q++ {
		if !seen[q] {
			t.Fatalf("seq %d never handed out", q)
		}
	}
	res, err := s.Verify(context.Background())
	if err != nil || res.Count != workers*each {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

func TestRecordAndAuditFor(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	var a bot.Auditor = s
	if err := a.Record(ctx, bot.AuditEvent{Actor: "U1", Action: "command", Subject: "fix", Details: map[string]string{"args": "F-1"}}); err != nil {
		t.Fatal(err)
	}
	cr := &ChangeRequest{Script: "echo hi", Requester: "U1"}
	if err := s.CreateRequest(ctx, cr, "U1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(ctx, bot.AuditEvent{Actor: "U2", Action: "refused", Subject: "approve", Details: map[string]string{"request": cr.ID, "reason": "own request"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditFor(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range got {
		actions = append(actions, e.Action)
	}
	if diff := cmp.Diff([]string{"request.created", "refused"}, actions); diff != "" {
		t.Errorf("AuditFor actions (-want +got):\n%s", diff)
	}
	none, err := s.AuditFor(ctx, "no-such-id")
	if err != nil || len(none) != 0 {
		t.Errorf("AuditFor unknown = %v, %v", none, err)
	}
}

func TestAppendRefusesEmptyAction(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.Append(context.Background(), AuditRecord{Actor: "U1"}); err == nil {
		t.Fatal("Append with no action succeeded")
	}
	res, err := s.Verify(context.Background())
	if err != nil || res.Count != 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

func TestSeqKeysSortNumerically(t *testing.T) {
	// Big-endian keys make bbolt's byte order the numeric order, which
	// Verify and AuditTail rely on.
	for _, pair := range [][2]uint64{{1, 2}, {255, 256}, {65535, 65536}, {1<<32 - 1, 1 << 32}} {
		if bytes.Compare(seqKey(pair[0]), seqKey(pair[1])) >= 0 {
			t.Errorf("key %d does not sort before %d", pair[0], pair[1])
		}
		if binary.BigEndian.Uint64(seqKey(pair[1])) != pair[1] {
			t.Errorf("key %d does not round-trip", pair[1])
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	rec := AuditRecord{Actor: "U1", Action: "command", Subject: "top-risks", Details: map[string]string{"args": "5"}}
	start := time.Now()
	for b.Loop() {
		if _, err := s.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

func BenchmarkVerify10k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "optix.db")
	s := openTest(b, path, Options{})
	// One transaction for the set-up: 10k fsyncs would dominate the run.
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range 10000 {
			if _, err := s.appendTx(tx, AuditRecord{Actor: "U1", Action: "command", Subject: "top-risks", Details: map[string]string{"i": strconv.Itoa(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	for b.Loop() {
		if _, err := s.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10000/time.Since(start).Seconds(), "entries/s")
}
