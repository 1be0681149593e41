package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/optix-bot/optix-bot/integrations/llm"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/integrations/llm/llmtest"
	"github.com/optix-bot/optix-bot/prompts"
	"github.com/optix-bot/optix-bot/store"
)

// llmEnv is the OPTIX_BOT_LLM_* configuration. With no base URL there is
// no LLM: every answer comes from the rules and says so.
type llmEnv struct {
	BaseURL, Model, APIKey string
	Azure                  bool
	APIVersion             string
	TopK, TokenBudget      int
	Timeout                time.Duration
	SendRaw                bool
}

// demoLLM is the base URL that starts the in-repo emulator (its
// deterministic Analyst model) in-process, to see the LLM layer without a
// model or network.
const demoLLM = "demo"

func loadLLMEnv(getenv func(string) string, get func(string) string) (llmEnv, error) {
	model, deployment := strings.TrimSpace(getenv("OPTIX_BOT_LLM_MODEL")), strings.TrimSpace(getenv("OPTIX_BOT_LLM_DEPLOYMENT"))
	e := llmEnv{
		BaseURL:    strings.TrimSpace(getenv("OPTIX_BOT_LLM_BASE_URL")),
		Model:      model,
		APIKey:     get("OPTIX_BOT_LLM_API_KEY"),
		APIVersion: strings.TrimSpace(getenv("OPTIX_BOT_LLM_API_VERSION")),
		TopK:       20, TokenBudget: 8000, Timeout: 25 * time.Second,
	}
	var err error
	switch {
	case model != "" && deployment != "" && model != deployment:
		err = errors.Join(err, errors.New("OPTIX_BOT_LLM_MODEL and OPTIX_BOT_LLM_DEPLOYMENT name different models; set one"))
	case model == "":
		e.Model = deployment
	}
	if strings.EqualFold(e.BaseURL, demoLLM) {
		e.BaseURL = demoLLM
	}
	switch p := strings.ToLower(strings.TrimSpace(getenv("OPTIX_BOT_LLM_PROVIDER"))); p {
	case "azure":
		e.Azure = true
	case "", "openai":
		// Azure's endpoints are recognisable, so the provider need not be
		// spelled out for them.
		if u, perr := url.Parse(e.BaseURL); perr == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), ".openai.azure.com") {
			e.Azure = p == ""
		}
	default:
		err = errors.Join(err, fmt.Errorf("OPTIX_BOT_LLM_PROVIDER must be openai or azure, not %q", p))
	}
	if e.APIVersion != "" && !e.Azure {
		err = errors.Join(err, errors.New("OPTIX_BOT_LLM_API_VERSION is Azure's; set OPTIX_BOT_LLM_PROVIDER=azure"))
	}
	if e.BaseURL == "" {
		if e.Model != "" || e.APIKey != "" {
			err = errors.Join(err, errors.New("OPTIX_BOT_LLM_MODEL, OPTIX_BOT_LLM_DEPLOYMENT or OPTIX_BOT_LLM_API_KEY is set but OPTIX_BOT_LLM_BASE_URL is not; set it (e.g. https://api.openai.com/v1) or unset the others"))
		}
		return e, err
	}
	if e.BaseURL == demoLLM {
		if e.Model == "" {
			e.Model = "optix-analyst-emulator"
		}
	} else if e.Model == "" {
		err = errors.Join(err, errors.New("OPTIX_BOT_LLM_BASE_URL is set but OPTIX_BOT_LLM_MODEL is not (for Azure, the deployment name)"))
	}
	intVar := func(key string, dst *int, lo, hi int) {
		if v := getenv(key); v != "" {
			n, perr := strconv.Atoi(v)
			if perr != nil || n < lo || n > hi {
				err = errors.Join(err, fmt.Errorf("%s must be a whole number from %d to %d", key, lo, hi))
				return
			}
			*dst = n
		}
	}
	intVar("OPTIX_BOT_LLM_TOP_K", &e.TopK, 1, 50)
	intVar("OPTIX_BOT_LLM_TOKEN_BUDGET", &e.TokenBudget, 500, 200000)
	if v := getenv("OPTIX_BOT_LLM_TIMEOUT"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d < time.Second || d > 10*time.Minute {
			err = errors.Join(err, errors.New("OPTIX_BOT_LLM_TIMEOUT must be a duration from 1s to 10m, like 25s"))
		} else {
			e.Timeout = d
		}
	}
	if e.BaseURL != demoLLM && e.Model != "" {
		// Validate now so a typo is the caller's error (exit 2), found
		// before anything is opened; nothing is sent.
		if _, verr := llm.New(llm.Config{BaseURL: e.BaseURL, Model: e.Model, Azure: e.Azure, APIVersion: e.APIVersion}); verr != nil {
			err = errors.Join(err, fmt.Errorf("OPTIX_BOT_LLM_BASE_URL / OPTIX_BOT_LLM_MODEL: %w", verr))
		}
	}
	switch v := getenv("OPTIX_BOT_LLM_SEND_RAW"); v {
	case "", "0":
	case "1":
		e.SendRaw = true
	default:
		err = errors.Join(err, fmt.Errorf("OPTIX_BOT_LLM_SEND_RAW must be 1 or unset, not %q", v))
	}
	return e, err
}

// newAdvisor builds the LLM layer: an advisor without an LLM when none is
// configured, the in-process emulator for "demo", else the real client.
func newAdvisor(e llmEnv, st *store.Store, log *slog.Logger) (*advisor.Advisor, func(), error) {
	lib, err := prompts.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("load prompts: %w", err)
	}
	cfg := advisor.Config{Prompts: lib, Cache: st, Audit: st, TopK: e.TopK, TokenBudget: e.TokenBudget,
		Timeout: e.Timeout, SendRaw: e.SendRaw, Log: log}
	closer := func() {}
	if e.BaseURL != "" {
		base := e.BaseURL
		if base == demoLLM {
			srv := llmtest.NewServer()
			closer = srv.Close
			base = srv.URL
			if e.Azure {
				base = srv.AzureURL()
			}
		}
		client, err := llm.New(llm.Config{BaseURL: base, Model: e.Model, APIKey: e.APIKey, Azure: e.Azure,
			APIVersion: e.APIVersion, Logger: log})
		if err != nil {
			closer()
			return nil, nil, err
		}
		cfg.LLM = client
		if e.BaseURL == demoLLM {
			// The emulator listens on a new port each run; one label keeps
			// its answers in the cache from run to run.
			cfg.LLM = demoClient{client}
		}
		log.Info("LLM configured", "provider", cfg.LLM.Provider(), "model", client.Model(), "send_raw", e.SendRaw)
	}
	adv, err := advisor.New(cfg)
	if err != nil {
		closer()
		return nil, nil, err
	}
	return adv, closer, nil
}

// demoClient is the emulator's client under a fixed provider label.
type demoClient struct{ *llm.Client }

func (demoClient) Provider() string { return "demo-emulator" }
