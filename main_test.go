package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// update rewrites the golden files under testdata/ instead of comparing.

// helperEnv makes the test binary act as optix-bot itself: tests re-exec it
// to get a second process (one holding the database lock, or one to kill
// mid-stream). The arguments travel as a JSON array in helperArgsEnv.
const (
	helperEnv     = "OPTIX_BOT_TEST_HELPER"
	helperArgsEnv = "OPTIX_BOT_TEST_HELPER_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv(helperArgsEnv)), &args); err != nil {
			fmt.Fprintln(os.Stderr, "helper: bad arguments:", err)
			os.Exit(3)
		}
		// The child sees only what the test put in its environment, not the
		// developer's OPTIX_BOT_* or SLACK_* settings.
		// Signals as in main, so that tests can stop the child the way
		// Ctrl-C or docker stop would.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// env is a fake environment for run's getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// result is what one run() call produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs optix-bot in-process with an isolated environment. USER is
// set so that the default caller does not depend on who runs the tests.
func runCLI(t *testing.T, e env, args ...string) result {
	t.Helper()
	full := env{"USER": "tester"}
	for k, v := range e {
		full[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out, &errb, full.get)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// expect checks the exit status and that every string in stdout and
// stderr occurs in that stream and none of notStdout does.
func (r result) expect(t *testing.T, code int, stdout, notStdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range stdout {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	for _, w := range notStdout {
		if strings.Contains(r.stdout, w) {
			t.Errorf("stdout has %q:\n%s", w, r.stdout)
		}
	}
	for _, w := range stderr {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// tempDB is a fresh database path in the test's temp dir.
func tempDB(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "optix.db")
}

// askJSON runs ask --format json and decodes the one object it prints.
func askJSON(t *testing.T, db, as, command string, extra ...string) (jsonAnswer, result) {
	t.Helper()
	args := append([]string{"ask", command, "--db", db, "--as", as, "--format", "json"}, extra...)
	r := runCLI(t, nil, args...)
	var a jsonAnswer
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", command, err, r.stdout, r.stderr)
	}
	return a, r
}

// jsonAnswer is the part of `ask --format json` the tests read.
type jsonAnswer struct {
	OK      bool   `json:"ok"`
	Text    string `json:"text"`
	Error   string `json:"error"`
	Summary string `json:"summary"`
	Items   []struct {
		Rank        int    `json:"rank"`
		Kind        string `json:"kind"`
		ID          string `json:"id"`
		Band        string `json:"band"`
		Score       int    `json:"score"`
		Title       string `json:"title"`
		Account     string `json:"account"`
		Environment string `json:"environment"`
		Owner       string `json:"owner"`
		Why         string `json:"why"`
	} `json:"items"`
	Buttons []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"buttons"`
}

// child is the test binary running optix-bot in another process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at EOF
	mu    sync.Mutex
	errb  bytes.Buffer
}

// startChild re-execs the test binary as `optix-bot args...`.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{helperEnv + "=1", helperArgsEnv + "=" + string(b), "USER=tester", "PATH=" + os.Getenv("PATH")}
	c := &child{cmd: cmd, lines: make(chan string, 1024)}
	cmd.Stderr = lockedWriter{&c.mu, &c.errb}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return c
}

// waitLine returns the first line containing want. It gives up (and fails
// the test) when the child's output ends or after a generous guard, so a
// broken child cannot hang the run.
func (c *child) waitLine(t *testing.T, want string) string {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("helper output ended before %q; stderr:\n%s", want, c.stderr())
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-guard.C:
			t.Fatalf("helper never printed %q; stderr:\n%s", want, c.stderr())
		}
	}
}

func (c *child) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errb.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
