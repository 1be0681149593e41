package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode"
)

// config is everything optix-bot reads from flags, the environment and
// secret files. main owns it; packages receive what they need.
type config struct {
	Source     string // demo, sophos, file:PATH
	DB         string
	Context    string
	RBAC       string
	As         string
	asSet      bool // ask and chat act as a user; serve takes users from Slack
	Format     string
	SlackMode  string
	Listen     string
	RequestTTL time.Duration
	PullTTL    time.Duration
	AuditKey   []byte
	Sophos     sophosEnv
	Slack      slackEnv
	LLM        llmEnv
}

type sophosEnv struct {
	ClientID, ClientSecret, OptixAPIKey string
	AuthURL, APIURL, OptixURL           string
	AlertsPath, InventoryPath           string
}

type slackEnv struct {
	BotToken, AppToken, SigningSecret, APIURL string
}

// envOr returns the environment variable, or def when it is unset.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// secret reads KEY, or the file named by KEY_FILE (for Docker and
// Kubernetes secrets). The value is never logged.
func secret(getenv func(string) string, key string) (string, error) {
	if v := getenv(key); v != "" {
		return strings.TrimSpace(v), nil
	}
	if p := getenv(key + "_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", key, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// commonFlags registers the flags every subcommand shares, with their
// environment variables as defaults.
func commonFlags(fs *flag.FlagSet, c *config, getenv func(string) string) {
	fs.StringVar(&c.Source, "source", getenv("OPTIX_BOT_SOURCE"), "where findings come from: demo, sophos or file:PATH (env OPTIX_BOT_SOURCE; default demo without Sophos credentials, else sophos)")
	fs.StringVar(&c.DB, "db", envOr(getenv, "OPTIX_BOT_DB", "optix-bot.db"), "bbolt database file (env OPTIX_BOT_DB)")
	fs.StringVar(&c.Context, "context", getenv("OPTIX_BOT_CONTEXT"), "context file (YAML or CSV) mapping accounts, resources and tags to owner, environment, criticality, data class (env OPTIX_BOT_CONTEXT; the demo ships one)")
	fs.StringVar(&c.RBAC, "rbac", getenv("OPTIX_BOT_RBAC"), "roles file (YAML) (env OPTIX_BOT_RBAC; without it every console user may request and approve)")
}

func loadEnv(c *config, getenv func(string) string) error {
	var err error
	get := func(key string) string {
		v, e := secret(getenv, key)
		if e != nil {
			err = errors.Join(err, e)
		}
		return v
	}
	c.Sophos = sophosEnv{
		ClientID:      get("SOPHOS_CLIENT_ID"),
		ClientSecret:  get("SOPHOS_CLIENT_SECRET"),
		OptixAPIKey:   get("OPTIX_API_KEY"),
		AuthURL:       envOr(getenv, "SOPHOS_AUTH_URL", "https://id.sophos.com"),
		APIURL:        envOr(getenv, "SOPHOS_API_URL", "https://api.central.sophos.com"),
		OptixURL:      envOr(getenv, "OPTIX_API_URL", "https://optix.sophos.com"),
		AlertsPath:    envOr(getenv, "OPTIX_ALERTS_PATH", "api/v1/alerts"),
		InventoryPath: envOr(getenv, "OPTIX_INVENTORY_PATH", "api/v1/vms"),
	}
	c.Slack = slackEnv{
		BotToken:      get("SLACK_BOT_TOKEN"),
		AppToken:      get("SLACK_APP_TOKEN"),
		SigningSecret: get("SLACK_SIGNING_SECRET"),
		APIURL:        envOr(getenv, "SLACK_API_URL", "https://slack.com/api/"),
	}
	llmCfg, lerr := loadLLMEnv(getenv, get)
	err = errors.Join(err, lerr)
	c.LLM = llmCfg
	if k := get("OPTIX_BOT_AUDIT_KEY"); k != "" {
		c.AuditKey = []byte(k)
	}
	c.RequestTTL = 72 * time.Hour
	if v := getenv("OPTIX_BOT_REQUEST_TTL"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d < time.Minute {
			err = errors.Join(err, fmt.Errorf("OPTIX_BOT_REQUEST_TTL must be a duration of a minute or more, like 72h"))
		}
		c.RequestTTL = d
	}
	if v := getenv("OPTIX_BOT_LOG_LEVEL"); v != "" {
		var l slog.Level
		if l.UnmarshalText([]byte(v)) != nil {
			err = errors.Join(err, fmt.Errorf("OPTIX_BOT_LOG_LEVEL must be debug, info, warn or error, not %q", v))
		}
	}
	if c.asSet {
		if e := checkUserName(c.As); e != nil {
			err = errors.Join(err, e)
		}
	}
	c.PullTTL = 5 * time.Minute
	if v := getenv("OPTIX_BOT_PULL_TTL"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d < 0 {
			err = errors.Join(err, fmt.Errorf("OPTIX_BOT_PULL_TTL must be a duration, like 5m"))
		}
		c.PullTTL = d
	}
	if c.Source == "" {
		c.Source = "demo"
		if c.Sophos.OptixAPIKey != "" || (c.Sophos.ClientID != "" && c.Sophos.ClientSecret != "") {
			c.Source = "sophos"
		}
	}
	switch {
	case c.Source == "sophos" && c.Sophos.OptixAPIKey == "":
		// A missing credential is the caller's to fix (exit 2), found
		// before anything is opened, not an internal failure.
		err = errors.Join(err, errors.New("--source sophos needs OPTIX_API_KEY (and SOPHOS_CLIENT_ID / SOPHOS_CLIENT_SECRET for Central); see README, Pointing at a real tenant"))
	case c.Source == "demo", c.Source == "sophos", strings.HasPrefix(c.Source, "file:") && len(c.Source) > len("file:"):
	default:
		err = errors.Join(err, fmt.Errorf("--source must be demo, sophos or file:PATH, not %q", c.Source))
	}
	return err
}

// checkUserName refuses console names that could pass for someone else in
// the audit log: every command and decision is recorded under the name, so
// "alice" followed by a zero-width space must not be a second alice.
func checkUserName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("--as needs a user name: every command and decision is recorded under it")
	}
	if len(name) > 64 {
		return errors.New("--as takes a user name of at most 64 characters")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return fmt.Errorf("--as takes a user name of letters, digits and punctuation, without spaces or invisible characters (found %U)", r)
		}
	}
	return nil
}
