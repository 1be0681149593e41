package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
)

// TestAskLLM drives the OPTIX_BOT_LLM_* settings through run(): what a
// team sets to point optix-bot at OpenAI, Azure OpenAI or a local server.
func TestAskLLM(t *testing.T) {
	emu := llmtest.NewServer(llmtest.WithAPIKey("sk-test-key-0123456789"))
	t.Cleanup(emu.Close)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html><body>Not Found</body></html>"))
	}))
	t.Cleanup(html.Close)
	keyFile := filepath.Join(t.TempDir(), "llm-key")
	if err := os.WriteFile(keyFile, []byte("sk-test-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	top := []string{"ask", "/optix top-risks 3", "--db", "DB"}
	tests := []struct {
		name           string
		env            env
		code           int
		stdout, stderr []string
		notStdout      []string
	}{
		{name: "no LLM: rules only, said once", code: 0, stdout: []string{"Ranked by rules only (no LLM configured)."}, notStdout: []string{"impact:"}},
		{name: "demo emulator", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo"}, code: 0,
			stdout: []string{"refined by optix-analyst-emulator within the rules' bounds", "impact: ", "next: /optix "}},
		{name: "openai-compatible server with a key file", env: env{"OPTIX_BOT_LLM_BASE_URL": emu.URL, "OPTIX_BOT_LLM_MODEL": "gpt-test",
			"OPTIX_BOT_LLM_API_KEY_FILE": keyFile}, code: 0, stdout: []string{"refined by gpt-test", "impact: "}},
		{name: "azure deployment", env: env{"OPTIX_BOT_LLM_BASE_URL": emu.AzureURL(), "OPTIX_BOT_LLM_PROVIDER": "azure",
			"OPTIX_BOT_LLM_DEPLOYMENT": "optix-gpt", "OPTIX_BOT_LLM_API_VERSION": "2024-10-21", "OPTIX_BOT_LLM_API_KEY": "sk-test-key-0123456789"},
			code: 0, stdout: []string{"refined by optix-gpt"}},
		{name: "wrong key falls back", env: env{"OPTIX_BOT_LLM_BASE_URL": emu.URL, "OPTIX_BOT_LLM_MODEL": "gpt-test", "OPTIX_BOT_LLM_API_KEY": "sk-wrong"},
			code: 0, stdout: []string{"Ranked by rules only: "}, notStdout: []string{"sk-wrong"}},
		{name: "HTML 404 means the URL looks wrong", env: env{"OPTIX_BOT_LLM_BASE_URL": html.URL + "/v1", "OPTIX_BOT_LLM_MODEL": "gpt-test"},
			code: 0, stdout: []string{"Ranked by rules only: the LLM endpoint URL looks wrong (HTTP 404 text/html"}},
		{name: "send raw is said", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_SEND_RAW": "1"}, code: 0,
			stdout: []string{"Identifiers were sent to the LLM unredacted (OPTIX_BOT_LLM_SEND_RAW=1)."}},
		{name: "demo in capitals, Azure form", env: env{"OPTIX_BOT_LLM_BASE_URL": "DEMO", "OPTIX_BOT_LLM_PROVIDER": "azure"}, code: 0,
			stdout: []string{"refined by optix-analyst-emulator"}},
		{name: "model and deployment disagree", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_MODEL": "a", "OPTIX_BOT_LLM_DEPLOYMENT": "b"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_MODEL and OPTIX_BOT_LLM_DEPLOYMENT name different models"}},
		{name: "base URL without model", env: env{"OPTIX_BOT_LLM_BASE_URL": "https://api.openai.com/v1"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_MODEL is not"}},
		{name: "model without base URL", env: env{"OPTIX_BOT_LLM_MODEL": "gpt-4o"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_BASE_URL is not"}},
		{name: "bad provider", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_PROVIDER": "anthropic"}, code: 2,
			stderr: []string{`OPTIX_BOT_LLM_PROVIDER must be openai or azure, not "anthropic"`}},
		{name: "api version is Azure's", env: env{"OPTIX_BOT_LLM_BASE_URL": "https://api.openai.com/v1", "OPTIX_BOT_LLM_MODEL": "m", "OPTIX_BOT_LLM_API_VERSION": "2024-10-21"},
			code: 2, stderr: []string{"OPTIX_BOT_LLM_API_VERSION is Azure's"}},
		{name: "bad scheme", env: env{"OPTIX_BOT_LLM_BASE_URL": "ftp://llm.example", "OPTIX_BOT_LLM_MODEL": "m"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_BASE_URL / OPTIX_BOT_LLM_MODEL: ", "scheme"}},
		{name: "credentials in the URL are refused", env: env{"OPTIX_BOT_LLM_BASE_URL": "https://u:p@llm.example/v1", "OPTIX_BOT_LLM_MODEL": "m"}, code: 2,
			stderr: []string{"must not carry credentials"}},
		{name: "bad send raw", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_SEND_RAW": "yes"}, code: 2,
			stderr: []string{`OPTIX_BOT_LLM_SEND_RAW must be 1 or unset, not "yes"`}},
		{name: "bad top k", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_TOP_K": "500"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_TOP_K must be a whole number from 1 to 50"}},
		{name: "bad timeout", env: env{"OPTIX_BOT_LLM_BASE_URL": "demo", "OPTIX_BOT_LLM_TIMEOUT": "forever"}, code: 2,
			stderr: []string{"OPTIX_BOT_LLM_TIMEOUT must be a duration"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string(nil), top...)
			args[3] = tempDB(t)
			r := runCLI(t, tc.env, args...)
			r.expect(t, tc.code, tc.stdout, tc.notStdout, tc.stderr)
			if strings.Contains(r.stdout+r.stderr, "sk-test-key-0123456789") {
				t.Error("the API key was printed")
			}
			if tc.code == 0 && strings.Count(r.stdout, "Ranked by rules only") > 1 {
				t.Errorf("rules-only note repeated:\n%s", r.stdout)
			}
		})
	}
}

// The demo emulator listens on a new port each run; its answers are still
// one cache entry, so the second run costs no call.
func TestAskLLMDemoCacheAcrossRuns(t *testing.T) {
	db := tempDB(t)
	e := env{"OPTIX_BOT_LLM_BASE_URL": "demo"}
	for i := range 2 {
		r := runCLI(t, e, "ask", "/optix top-risks 3", "--db", db)
		r.expect(t, 0, []string{"refined by optix-analyst-emulator"}, nil, nil)
		if want := i == 1; strings.Contains(r.stdout, "from cache") != want {
			t.Errorf("run %d: from cache = %v, want %v:\n%s", i+1, !want, want, r.stdout)
		}
	}
	r := runCLI(t, nil, "ask", "/optix audit last 20", "--db", db)
	if !strings.Contains(r.stdout, "cache=hit") || !strings.Contains(r.stdout, "provider=demo-emulator") {
		t.Errorf("audit does not show the cache hit:\n%s", r.stdout)
	}
	// The LLM's entries are links of the chain like any other.
	runCLI(t, e, "ask", "/optix fix F-00164105 terraform", "--db", db).expect(t, 0, []string{"Tailored by the LLM"}, nil, nil)
	runCLI(t, nil, "audit", "verify", "--db", db).expect(t, 0, []string{"intact"}, nil, nil)
}
