package remediate

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptRun is the outcome of running a generated script against the
// stand-in CLIs of testdata/fakecli.
type scriptRun struct {
	code           int
	stdout, stderr string
	calls          []string       // every CLI call, in order
	state          map[string]any // the cloud's state afterwards
}

func (r scriptRun) called(prefix string) bool {
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// runScript runs body under bash with aws, az and gcloud replaced by
// testdata/fakecli/fakecli.py over state. It skips when bash, python3 or
// its jmespath module (what the real CLIs evaluate --query with) is
// missing. Only the stand-ins are on PATH, so a script that calls anything
// else fails.
func runScript(t *testing.T, body string, state map[string]any, env ...string) scriptRun {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	// The interpreter itself, not a version manager's shim that needs a
	// PATH the scripts do not get.
	out, err := exec.Command(py, "-c", "import sys, jmespath; print(sys.executable)").CombinedOutput()
	if err != nil {
		t.Skipf("python3 has no jmespath module: %s", out)
	}
	py = strings.TrimSpace(string(out))
	fake, err := filepath.Abs(filepath.Join("testdata", "fakecli", "fakecli.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"aws", "az", "gcloud"} {
		wrapper := "#!" + bash + "\nexec '" + py + "' '" + fake + "' " + tool + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(wrapper), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	statePath, logPath := filepath.Join(dir, "state.json"), filepath.Join(dir, "calls.log")
	raw, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	scriptPath := filepath.Join(dir, "fix.sh")
	if err := os.WriteFile(scriptPath, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, scriptPath)
	cmd.Env = append([]string{"PATH=" + bin, "FAKECLI_STATE=" + statePath, "FAKECLI_LOG=" + logPath, "HOME=" + dir}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := scriptRun{}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run script: %v", err)
		}
		run.code = ee.ExitCode()
	}
	run.stdout, run.stderr = stdout.String(), stderr.String()
	if strings.Contains(run.stderr, "fakecli:") || strings.Contains(run.stderr, "Traceback") {
		t.Fatalf("the script made a call the stand-in CLI does not know:\n%s", run.stderr)
	}
	logged, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	run.calls = strings.Split(strings.TrimSpace(string(logged)), "\n")
	after, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(after, &run.state); err != nil {
		t.Fatal(err)
	}
	return run
}
