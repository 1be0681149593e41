package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/store"

	"github.com/optix-bot/optix-bot/internal/golden"
)

// seedFinding is the demo estate's worst finding: public read on the
// finance team's production bucket of customer exports.
const seedFinding = "F-7a210470"

var idPattern = regexp.MustCompile(`^[FC]-[0-9a-f]{8}$`)

// TestAsk drives `optix-bot ask` through run() with its flags, its
// environment variables and its exit statuses.
func TestAsk(t *testing.T) {
	ocsf := "file:" + filepath.Join("testdata", "prowler-aws.ocsf.json")
	asff := "file:" + filepath.Join("testdata", "securityhub-asff.json")
	tests := []struct {
		name string
		env  env
		args []string // "DB" is replaced by a fresh database path
		code int
		// Every string must occur in the output named.
		stdout, stderr []string
		// notStdout must not occur on stdout.
		notStdout []string
		check     func(t *testing.T, r result)
	}{
		{name: "top risks lead with the finance bucket", args: []string{"ask", "/optix top-risks", "--db", "DB"}, code: 0,
			check: func(t *testing.T, r result) {
				first := lineWith(r.stdout, " 1. ")
				if !strings.Contains(first, "acme-finance-customer-exports") {
					t.Errorf("first entry is not the finance bucket: %q\n%s", first, r.stdout)
				}
				if next := lineAfter(r.stdout, first); !strings.Contains(next, "owner finance") {
					t.Errorf("first entry is not attributed to finance: %q", next)
				}
			}},
		{name: "json is one object with ranked items", args: []string{"ask", "/optix top-risks 5", "--db", "DB", "--format", "json"}, code: 0,
			check: checkOneJSONObject},
		{name: "bad argument is one sentence", args: []string{"ask", "/optix top-risks 0", "--db", "DB"}, code: 2,
			check: func(t *testing.T, r result) {
				got := strings.TrimSpace(r.stdout)
				if strings.Contains(got, "\n") || !strings.HasPrefix(got, "Error: ") || !strings.HasSuffix(got, ".") ||
					strings.Count(got, ". ") > 0 {
					t.Errorf("want one sentence, got %q", got)
				}
			}},
		{name: "json error reply", args: []string{"ask", "/optix top-risks 0", "--db", "DB", "--format", "json"}, code: 2,
			check: func(t *testing.T, r result) {
				if a := decodeOne(t, r.stdout); a.OK || a.Error != "N must be a whole number from 1 to 50." {
					t.Errorf("ok=%v error=%q", a.OK, a.Error)
				}
			}},
		{name: "unknown verb answers with help", args: []string{"ask", "/optix frobnicate", "--db", "DB"}, code: 2,
			stdout: []string{`There is no command "frobnicate"`, "/optix top-risks", "/optix fix <F-id>", "/optix approve <request-id>"}},
		{name: "ask without the command", args: []string{"ask", "--db", "DB"}, code: 2,
			stderr: []string{`give the command as one argument`}},
		{name: "ask with two commands", args: []string{"ask", "/optix help", "/optix top-risks", "--db", "DB"}, code: 2,
			stderr: []string{`give the command as one argument`}},
		{name: "bad format", args: []string{"ask", "/optix help", "--db", "DB", "--format", "xml"}, code: 2,
			stderr: []string{"--format must be text or json"}},
		{name: "prowler ocsf file", args: []string{"ask", "/optix top-risks", "--db", "DB", "--source", ocsf}, code: 0,
			stdout: []string{"tenant prowler-ocsf", " 1. ", " 2. ", "IAM Access Analyzer", "Considered 2 open findings"}},
		{name: "security hub asff file", args: []string{"ask", "/optix top-risks 3", "--db", "DB", "--source", asff}, code: 0,
			stdout: []string{"tenant asff", " 1. ", " 3. ", "AWS Config", "Considered 17 open findings"}},
		{name: "missing file", args: []string{"ask", "/optix top-risks", "--db", "DB", "--source", "file:missing.json"}, code: 2,
			stdout: []string{"Error: ", "missing.json could not be imported", "no such file"}},
		{name: "malformed file", args: []string{"ask", "/optix top-risks", "--db", "DB", "--source", "file:" + filepath.Join("testdata", "malformed.json")}, code: 2,
			stdout: []string{"Error: ", "malformed.json could not be imported", "line "}},
		{name: "bogus source", args: []string{"ask", "/optix top-risks", "--db", "DB", "--source", "bogus"}, code: 2,
			stderr: []string{`--source must be demo, sophos or file:PATH, not "bogus"`}},
		{name: "empty file source", args: []string{"ask", "/optix top-risks", "--db", "DB", "--source", "file:"}, code: 2,
			stderr: []string{`--source must be`}},
		{name: "empty --as is refused", args: []string{"ask", "/optix help", "--db", "DB", "--as", ""}, code: 2,
			stderr: []string{"--as needs a user name"}},
		{name: "invisible characters in --as are refused", args: []string{"ask", "/optix help", "--db", "DB", "--as", "alice\u200b"}, code: 2,
			stderr: []string{"without spaces or invisible characters (found U+200B)"}},
		{name: "control characters in --as are refused", args: []string{"ask", "/optix help", "--db", "DB", "--as", "mallory\x1b[31m"}, code: 2,
			stderr: []string{"(found U+001B)"}},
		{name: "unknown log level is refused", env: env{"OPTIX_BOT_LOG_LEVEL": "loud"}, args: []string{"ask", "/optix help", "--db", "DB"}, code: 2,
			stderr: []string{`OPTIX_BOT_LOG_LEVEL must be debug, info, warn or error, not "loud"`}},
		{name: "flags after the positional", args: []string{"ask", "/optix help", "--as", "bob", "--db", "DB"}, code: 0,
			stdout: []string{"optix-bot commands", "/optix top-risks"}},
		{name: "--as after the positional is the caller", args: []string{"ask", "/optix fix " + seedFinding, "--db", "DB", "--as", "bob"}, code: 0,
			stdout: []string{"other than bob", "Requested by:   bob"}},
		{name: "OPTIX_BOT_USER is the caller", env: env{"OPTIX_BOT_USER": "carol"}, args: []string{"ask", "/optix fix " + seedFinding, "--db", "DB"}, code: 0,
			stdout: []string{"other than carol"}},
		{name: "--as beats OPTIX_BOT_USER", env: env{"OPTIX_BOT_USER": "carol"}, args: []string{"ask", "/optix fix " + seedFinding, "--as", "dave", "--db", "DB"}, code: 0,
			stdout: []string{"other than dave"}, notStdout: []string{"carol"}},
		{name: "OPTIX_BOT_SOURCE picks the source", env: env{"OPTIX_BOT_SOURCE": asff}, args: []string{"ask", "/optix top-risks 1", "--db", "DB"}, code: 0,
			stdout: []string{"file:testdata/securityhub-asff.json", "tenant asff"}},
		{name: "bad OPTIX_BOT_SOURCE", env: env{"OPTIX_BOT_SOURCE": "ftp://x"}, args: []string{"ask", "/optix top-risks 1", "--db", "DB"}, code: 2,
			stderr: []string{`not "ftp://x"`}},
		{name: "bad OPTIX_BOT_REQUEST_TTL", env: env{"OPTIX_BOT_REQUEST_TTL": "soon"}, args: []string{"ask", "/optix help", "--db", "DB"}, code: 2,
			stderr: []string{"OPTIX_BOT_REQUEST_TTL must be a duration"}},
		{name: "context file attributes the account", args: []string{"ask", "/optix top-risks 3", "--db", "DB", "--source", asff, "--format", "json",
			"--context", filepath.Join("testdata", "context-asff.yaml")}, code: 0,
			check: func(t *testing.T, r result) {
				a := decodeOne(t, r.stdout)
				for _, it := range a.Items {
					if it.Owner != "audit-team" || it.Environment != "production" {
						t.Errorf("%s: owner %q env %q, want audit-team / production", it.ID, it.Owner, it.Environment)
					}
				}
				if len(a.Items) == 0 || a.Items[0].Band != "HIGH" {
					t.Errorf("a critical restricted-data account should lift the top finding to HIGH: %+v", a.Items)
				}
			}},
		{name: "without a context file the account is unattributed", args: []string{"ask", "/optix top-risks 3", "--db", "DB", "--source", asff, "--format", "json"}, code: 0,
			check: func(t *testing.T, r result) {
				for _, it := range decodeOne(t, r.stdout).Items {
					if it.Owner != "" || it.Environment != "" {
						t.Errorf("%s: owner %q env %q, want none", it.ID, it.Owner, it.Environment)
					}
				}
			}},
		{name: "missing context file", args: []string{"ask", "/optix help", "--db", "DB", "--context", "nope.yaml"}, code: 1,
			stderr: []string{"read context file", "nope.yaml"}},
		{name: "unknown subcommand", args: []string{"frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`, "usage:"}},
		{name: "no subcommand", args: nil, code: 2, stderr: []string{"usage:"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"optix-bot dev"}},
		{name: "audit without verify", args: []string{"audit"}, code: 2, stderr: []string{"usage: optix-bot audit verify"}},
		{name: "audit verify of a missing file", args: []string{"audit", "verify", "--db", "DB"}, code: 1, stderr: []string{"there is no optix-bot database at "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := tempDB(t)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				if a == "DB" {
					a = db
				}
				args[i] = a
			}
			r := runCLI(t, tc.env, args...)
			r.expect(t, tc.code, tc.stdout, tc.notStdout, tc.stderr)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestAskEnvDB checks that OPTIX_BOT_DB names the database when --db is
// not given.
func TestAskEnvDB(t *testing.T) {
	db := tempDB(t)
	if r := runCLI(t, env{"OPTIX_BOT_DB": db}, "ask", "/optix top-risks 1"); r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r := runCLI(t, env{"OPTIX_BOT_DB": db}, "audit", "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "audit chain intact") {
		t.Fatalf("audit verify on OPTIX_BOT_DB: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestAskFileGolden pins what the two public sample files rank to: ids,
// bands and titles, not the ages and times that change from day to day.
func TestAskFileGolden(t *testing.T) {
	for _, name := range []string{"prowler-aws.ocsf.json", "securityhub-asff.json"} {
		t.Run(name, func(t *testing.T) {
			a, r := askJSON(t, tempDB(t), "tester", "/optix top-risks 50", "--source", "file:"+filepath.Join("testdata", name))
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var b strings.Builder
			for _, it := range a.Items {
				fmt.Fprintf(&b, "%2d %-11s %s %-8s %s\n", it.Rank, it.Kind, it.ID, it.Band, it.Title)
			}
			golden.Check(t, strings.TrimSuffix(name, ".json")+".top.golden", []byte(b.String()))
		})
	}
}

func checkOneJSONObject(t *testing.T, r result) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		t.Fatalf("more than one JSON value on stdout (next: %v)", err)
	}
	for _, k := range []string{"ok", "text", "items"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in the object", k)
		}
	}
	a := decodeOne(t, r.stdout)
	if !a.OK || !strings.Contains(a.Text, "Top 5 risks") {
		t.Errorf("ok=%v text=%q", a.OK, a.Text)
	}
	if len(a.Items) != 5 {
		t.Fatalf("%d items, want 5", len(a.Items))
	}
	bands := map[string]bool{"CRITICAL": true, "HIGH": true, "MEDIUM": true, "LOW": true}
	for i, it := range a.Items {
		if !idPattern.MatchString(it.ID) || !bands[it.Band] || it.Score < 0 || it.Score > 100 || it.Rank != i+1 {
			t.Errorf("item %d: id %q band %q score %d rank %d", i, it.ID, it.Band, it.Score, it.Rank)
		}
		if i > 0 && it.Score > a.Items[i-1].Score {
			t.Errorf("item %d scores %d, above item %d's %d", i, it.Score, i-1, a.Items[i-1].Score)
		}
	}
	if a.Items[0].Owner != "finance" {
		t.Errorf("first item is owned by %q, want finance", a.Items[0].Owner)
	}
}

func decodeOne(t *testing.T, s string) jsonAnswer {
	t.Helper()
	var a jsonAnswer
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, s)
	}
	return a
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func lineAfter(s, line string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		if l == line && i+1 < len(ls) {
			return ls[i+1]
		}
	}
	return ""
}

// TestApprovalFlow walks the two-person rule through the CLI on one
// database, then proves that editing one audit entry in the file is caught.
func TestApprovalFlow(t *testing.T) {
	db := tempDB(t)
	fix, r := askJSON(t, db, "alice", "/optix fix "+seedFinding)
	if r.code != 0 || len(fix.Buttons) == 0 {
		t.Fatalf("fix: exit %d, buttons %v\n%s%s", r.code, fix.Buttons, r.stdout, r.stderr)
	}
	id := fix.Buttons[0].Value
	for _, b := range fix.Buttons {
		if b.Value != id {
			t.Fatalf("buttons carry different values: %+v", fix.Buttons)
		}
	}

	steps := []struct {
		name, as, command string
		code              int
		want              string
	}{
		{"own request refused", "alice", "/optix approve " + id, 2, "You requested this change, so someone else must approve it."},
		{"reject needs a reason", "bob", "/optix reject " + id, 2, "Reject needs a reason"},
		{"unknown request", "bob", "/optix approve 00000000-0000-4000-8000-000000000000", 2, "Error: "},
		{"approved by bob", "bob", "/optix approve " + id, 0, "Approved by bob"},
		{"second approval answered", "bob", "/optix approve " + id[:8], 2, "already approved by bob at "},
		{"reject after approval answered", "carol", "/optix reject " + id + " too late", 2, "already approved by bob at "},
		{"audit shows the decision", "carol", "/optix audit " + id, 0, "request.approved"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runCLI(t, nil, "ask", s.command, "--as", s.as, "--db", db)
			if r.code != s.code || !strings.Contains(r.stdout, s.want) {
				t.Fatalf("exit %d (want %d), stdout lacks %q?\n%s%s", r.code, s.code, s.want, r.stdout, r.stderr)
			}
		})
	}

	r = runCLI(t, nil, "audit", "verify", "--db", db)
	m := regexp.MustCompile(`audit chain intact: (\d+) entries, head ([0-9a-f]{64})`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("audit verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	t.Run("tampered entry is named", func(t *testing.T) {
		const victim = 3
		tamper(t, db, victim)
		r := runCLI(t, nil, "audit", "verify", "--db", db)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, fmt.Sprintf("BROKEN at entry %d", victim)) {
			t.Fatalf("audit verify after tampering: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// tamper rewrites one byte inside the actor of audit entry seq, straight in
// the bbolt file, as someone with write access to the disk could.
func tamper(t *testing.T, path string, seq uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("open db to tamper: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			return errors.New("no audit bucket")
		}
		key := make([]byte, 8)
		for i := range 8 {
			key[7-i] = byte(seq >> (8 * i))
		}
		v := b.Get(key)
		if v == nil {
			return fmt.Errorf("no audit entry %d", seq)
		}
		i := strings.Index(string(v), `"actor":"`)
		if i < 0 {
			return fmt.Errorf("entry %d has no actor: %s", seq, v)
		}
		nv := append([]byte(nil), v...)
		nv[i+len(`"actor":"`)] ^= 0x01 // still valid JSON and UTF-8
		return b.Put(key, nv)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDBLockedByAnotherProcess holds the database in a child `chat` and
// checks that `ask` fails at once with a sentence instead of hanging.
func TestDBLockedByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a second optix-bot process")
	}
	db := tempDB(t)
	c := startChild(t, "chat", "--db", db, "--as", "holder")
	c.waitLine(t, "optix-bot console as holder")

	done := make(chan result, 1)
	go func() {
		var out, errb strings.Builder
		code := run(context.Background(), []string{"ask", "/optix top-risks", "--db", db}, strings.NewReader(""), &out, &errb, env{"USER": "tester"}.get)
		done <- result{code, out.String(), errb.String()}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ask hangs on a locked database") // a guard, not a speed target
	}
	if r.code != 1 || !strings.Contains(r.stderr, "the database is in use by another optix-bot process") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("pid %d", c.cmd.Process.Pid)) {
		t.Errorf("the error does not name the holder's pid %d: %s", c.cmd.Process.Pid, r.stderr)
	}

	// Once the holder quits, the database is usable again.
	_, _ = io.WriteString(c.stdin, "quit\n")
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("holder exited with %v; stderr:\n%s", err, c.stderr())
	}
	if r := runCLI(t, nil, "ask", "/optix top-risks 1", "--db", db); r.code != 0 {
		t.Fatalf("after the holder quit: exit %d\n%s", r.code, r.stderr)
	}
}

// TestKilledMidStream SIGKILLs a `chat` process while it approves change
// requests, then checks that the chain verifies and that every approval
// the process printed is recorded.
func TestKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills an optix-bot process")
	}
	db := tempDB(t)
	findings := demoFindingIDs(t, db, 12)
	var requests []string // alice's, one per finding that has a script
	var fixable []string
	for _, f := range findings {
		a, r := askJSON(t, db, "alice", "/optix fix "+f)
		if r.code == 0 && len(a.Buttons) > 0 {
			requests = append(requests, a.Buttons[0].Value)
			fixable = append(fixable, f)
		}
	}
	if len(requests) < 6 {
		t.Fatalf("only %d of %d demo findings gave a change request", len(requests), len(findings))
	}

	c := startChild(t, "chat", "--db", db, "--as", "bob")
	c.waitLine(t, "optix-bot console as bob")
	killAfter := len(requests) / 2
	var approved []string
	for i, id := range requests {
		// bob also drafts fixes of his own, so the stream mixes writes of
		// both kinds.
		if _, err := fmt.Fprintf(c.stdin, "/optix fix %s\n/optix approve %s\n", fixable[i], id); err != nil {
			t.Fatalf("write to chat: %v", err)
		}
		if len(approved) == killAfter {
			// The lines just written are in flight: kill now, mid-stream.
			if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
		line := c.waitLine(t, "change request "+id[:8])
		if !strings.Contains(line, "Approved by bob") {
			t.Fatalf("approve %s: %q", id, line)
		}
		approved = append(approved, id)
	}
	// Approvals printed before the kill, even ones we had not read yet,
	// must be durable too.
	for l := range c.lines {
		if strings.Contains(l, "Approved by bob: change request ") {
			for _, id := range requests {
				if strings.Contains(l, id[:8]) && !contains(approved, id) {
					approved = append(approved, id)
				}
			}
		}
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child was not killed: %v", err)
	}

	r := runCLI(t, nil, "audit", "verify", "--db", db)
	if r.code != 0 {
		t.Fatalf("audit verify after SIGKILL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, err := store.Open(db, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range approved {
		es, err := st.AuditFor(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range es {
			if e.Action == "request.approved" && e.Actor == "bob" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s was printed as approved but the chain has no request.approved by bob", id)
		}
	}
	if len(approved) < killAfter {
		t.Fatalf("only %d approvals seen", len(approved))
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// demoFindingIDs collects up to n finding ids from the demo's top groups.
func demoFindingIDs(t *testing.T, db string, n int) []string {
	t.Helper()
	top, r := askJSON(t, db, "alice", "/optix top-risks 20")
	if r.code != 0 {
		t.Fatalf("top-risks: %s", r.stderr)
	}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if strings.HasPrefix(id, "F-") && !seen[id] && len(ids) < n {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, it := range top.Items {
		if strings.HasPrefix(it.ID, "F-") {
			add(it.ID)
			continue
		}
		g, r := askJSON(t, db, "alice", "/optix finding "+it.ID)
		if r.code != 0 {
			t.Fatalf("finding %s: %s", it.ID, r.stdout)
		}
		for _, m := range g.Items {
			add(m.ID)
		}
	}
	return ids
}

// TestAuditVerifyLogsToItsStderr is a regression test: audit verify used
// to open the store without a logger, so its "store opened" line went to
// the process-wide default logger instead of the stderr run was given.
func TestAuditVerifyLogsToItsStderr(t *testing.T) {
	db := tempDB(t)
	if r := runCLI(t, nil, "ask", "/optix top-risks 1", "--db", db); r.code != 0 {
		t.Fatalf("ask: %s", r.stderr)
	}
	var global strings.Builder
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))
	defer slog.SetDefault(old)
	r := runCLI(t, nil, "audit", "verify", "--db", db)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if global.Len() > 0 {
		t.Errorf("audit verify wrote to the default logger:\n%s", global.String())
	}
}

// TestChatStopsOnSignal is a regression test: chat used to sit in a read
// of stdin after SIGINT or SIGTERM, holding the database lock, until the
// next line was typed.
func TestChatStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns an optix-bot process")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			db := tempDB(t)
			c := startChild(t, "chat", "--db", db, "--as", "carol")
			c.waitLine(t, "optix-bot console as carol")
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// stdin stays open: only the signal may end the chat.
			waited := make(chan error, 1)
			go func() { waited <- c.cmd.Wait() }()
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("chat ended with %v; stderr:\n%s", err, c.stderr())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("chat ignores the signal") // a guard, not a speed target
			}
			if r := runCLI(t, nil, "ask", "/optix top-risks 1", "--db", db); r.code != 0 {
				t.Fatalf("database still held after chat stopped: %s", r.stderr)
			}
		})
	}
}

// TestAuditKey checks the keyed chain end to end: verify names HMAC mode
// with the key (from the variable or a _FILE), and a missing or different
// key is refused rather than reported intact.
func TestAuditKey(t *testing.T) {
	db := tempDB(t)
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(keyFile, []byte("k-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env{"OPTIX_BOT_AUDIT_KEY": "k-one"}, "ask", "/optix top-risks 1", "--db", db); r.code != 0 {
		t.Fatalf("ask: %s", r.stderr)
	}
	tests := []struct {
		name   string
		env    env
		code   int
		stdout string
		stderr string
	}{
		{"same key", env{"OPTIX_BOT_AUDIT_KEY": "k-one"}, 0, "(HMAC-SHA-256)", ""},
		{"key from a file", env{"OPTIX_BOT_AUDIT_KEY_FILE": keyFile}, 0, "(HMAC-SHA-256)", ""},
		{"no key", nil, 1, "", "was written with OPTIX_BOT_AUDIT_KEY set; set the same key"},
		{"other key", env{"OPTIX_BOT_AUDIT_KEY": "k-two"}, 1, "", "was written with a different OPTIX_BOT_AUDIT_KEY"},
		{"unreadable key file", env{"OPTIX_BOT_AUDIT_KEY_FILE": keyFile + ".missing"}, 1, "", "read OPTIX_BOT_AUDIT_KEY_FILE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.env, "audit", "verify", "--db", db)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestAskSophosSource points `--source sophos` at the Sophos emulator
// through the environment, as a real tenant would be configured, and
// checks that its failures come back as one sentence with exit status 2.
func TestAskSophosSource(t *testing.T) {
	ctxFile := filepath.Join(t.TempDir(), "context.yaml")
	if err := os.WriteFile(ctxFile, sophostest.DemoContext(), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		faults []sophostest.Fault
		env    func(id, secret, key string) env
		code   int
		stdout string
		stderr string
	}{
		{name: "demo tenant", code: 0, stdout: "acme-finance-customer-exports"},
		{name: "wrong api key", env: func(id, secret, _ string) env {
			return env{"SOPHOS_CLIENT_ID": id, "SOPHOS_CLIENT_SECRET": secret, "OPTIX_API_KEY": "wrong"}
		}, code: 2, stdout: "Error: "},
		{name: "malformed alerts page", faults: []sophostest.Fault{{Kind: sophostest.FaultMalformed, Path: "/api/v1/alerts"}}, code: 2, stdout: "Error: "},
		{name: "no api key", env: func(id, secret, _ string) env {
			return env{"SOPHOS_CLIENT_ID": id, "SOPHOS_CLIENT_SECRET": secret}
		}, code: 2, stderr: "--source sophos needs OPTIX_API_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []sophostest.Option
			opts = append(opts, sophostest.Demo()...)
			for _, f := range tc.faults {
				opts = append(opts, sophostest.WithFault(f))
			}
			srv := sophostest.NewServer(opts...)
			defer srv.Close()
			id, secret, key := srv.Credentials()
			e := env{"SOPHOS_CLIENT_ID": id, "SOPHOS_CLIENT_SECRET": secret, "OPTIX_API_KEY": key}
			if tc.env != nil {
				e = tc.env(id, secret, key)
			}
			e["SOPHOS_AUTH_URL"], e["SOPHOS_API_URL"], e["OPTIX_API_URL"] = srv.URL, srv.URL, srv.URL
			r := runCLI(t, e, "ask", "/optix top-risks 3", "--source", "sophos", "--db", tempDB(t), "--context", ctxFile)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if tc.code == 0 {
				if first := lineWith(r.stdout, " 1. "); !strings.Contains(first, "acme-finance-customer-exports") {
					t.Errorf("first entry: %q", first)
				}
			} else if tc.stdout != "" {
				if got := strings.TrimSpace(r.stdout); strings.Contains(got, "\n") {
					t.Errorf("want one line, got:\n%s", got)
				}
			}
		})
	}
}

// TestAskHostileText feeds a finding whose title and resource carry
// terminal escapes, a bell, a carriage return and a Slack mention, and
// checks that the console shows them as inert text.
func TestAskHostileText(t *testing.T) {
	r := runCLI(t, nil, "ask", "/optix top-risks", "--db", tempDB(t), "--source", "file:"+filepath.Join("testdata", "hostile.ocsf.json"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	for i, b := range []byte(r.stdout) {
		if b < 0x20 && b != '\n' || b == 0x7f {
			t.Fatalf("control byte %#x at %d reached the terminal:\n%q", b, i, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "PWNED") || !strings.Contains(r.stdout, "ignore previous instructions") {
		t.Errorf("the title was dropped rather than shown as text:\n%s", r.stdout)
	}
}
