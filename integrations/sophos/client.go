// Package sophos is optix-bot's client for Sophos Central and Cloud Optix:
// OAuth2 client credentials against the Sophos identity service, whoami and
// tenant discovery for tenant, partner and organization logins, and the
// Cloud Optix alert and inventory lists, with retries, token refresh,
// bounded paging and capped replies. Normalize turns what it pulls into
// posture.Findings.
//
// What is verified against public documentation and what is assumed:
//   - Verified (developer.sophos.com getting-started guides, as summarised by
//     several public clients): the token call (POST /api/v2/oauth2/token,
//     form grant_type=client_credentials, client_id, client_secret,
//     scope=token; reply access_token, expires_in, errorCode, trackingId),
//     GET /whoami/v1 ({id, idType, apiHosts{global, dataRegion}}), tenant
//     lists under /partner/v1/tenants and /organization/v1/tenants with
//     X-Partner-ID / X-Organization-ID and page-number paging, X-Tenant-ID
//     on tenant-scoped calls to the tenant's apiHost, key-based paging
//     (pageFromKey, pages.nextKey) on /common/v1/alerts, and Central's error
//     shape ({error, message, requestId, correlationId}).
//   - Verified (Cloud Optix webhook payload table, docs.sophos.com/pcg/optix):
//     alert fields accountId, alertId (A-000001), score 0-100 with the
//     critical/high/medium/low cut-offs, alertSummary, alertType.
//   - Assumed, hence configurable and decoded leniently: the Optix base URL
//     and the "Authorization: ApiKey <key>" header, the alert list path
//     (api/v1/alerts) and its {data, hasNext} page with page/size
//     parameters (as the inventory list api/v1/vms uses), the alert fields
//     ruleNumber, affectedResources[{resourceInfo, state}], severity,
//     provider, region, resourceType and timestamps, the inventory's
//     moreInfo.securityGroupList rule shape, and the Optix error body
//     (taken to be Central-like).
package sophos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/optix-bot/optix-bot/posture"
)

// Service names used in errors and logs.
const (
	serviceIdentity = "Sophos identity service"
	serviceCentral  = "Sophos Central"
	serviceOptix    = "Cloud Optix"
)

// Config is everything the client needs. main.go fills it from flags and
// the environment; the package reads neither.
type Config struct {
	AuthURL      string // default https://id.sophos.com
	APIURL       string // global Central API, default https://api.central.sophos.com
	OptixURL     string // default https://optix.sophos.com
	ClientID     string // Central API credentials; both empty = skip Central
	ClientSecret string
	OptixAPIKey  string // required
	// AlertsPath and InventoryPath are relative to OptixURL.
	AlertsPath    string // default "api/v1/alerts"
	InventoryPath string // default "api/v1/vms"
	PageSize      int    // default 200
	HTTPClient    *http.Client
	// Timeout bounds each HTTP attempt (default 30s); the caller's context
	// bounds the whole pull.
	Timeout time.Duration
	// MaxRetries is how many times a 429, 5xx or network failure is
	// retried (default 4; negative = none).
	MaxRetries int
	// MaxBackoff caps one wait between attempts, including a server's
	// Retry-After (default 30s).
	MaxBackoff time.Duration
	// MaxPages stops a list that never ends (default 5000 pages).
	MaxPages int
	// MaxBodyBytes caps one reply (default 32 MiB).
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Catalogue resolves rule numbers; nil = posture.DefaultCatalogue().
	Catalogue *posture.Catalogue
	// Sleep waits between attempts; nil = a real timer. Tests use it to see
	// the waits without taking them.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to Sophos Central and Cloud Optix. It is safe for
// concurrent use.
type Client struct {
	cfg    Config
	hc     *http.Client
	log    *slog.Logger
	tokens *tokenSource // nil when no Central credentials were given
	optix  *url.URL
	sleep  func(ctx context.Context, d time.Duration) error
}

// New checks cfg, fills defaults and returns a client. It does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.AuthURL == "" {
		cfg.AuthURL = "https://id.sophos.com"
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.central.sophos.com"
	}
	if cfg.OptixURL == "" {
		cfg.OptixURL = "https://optix.sophos.com"
	}
	if cfg.AlertsPath == "" {
		cfg.AlertsPath = "api/v1/alerts"
	}
	if cfg.InventoryPath == "" {
		cfg.InventoryPath = "api/v1/vms"
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 200
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 5000
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Catalogue == nil {
		cfg.Catalogue = posture.DefaultCatalogue()
	}
	if cfg.OptixAPIKey == "" {
		return nil, errors.New("sophos: a Cloud Optix API key is required")
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return nil, errors.New("sophos: give both the Central client id and secret, or neither")
	}
	for name, u := range map[string]string{"auth": cfg.AuthURL, "api": cfg.APIURL, "optix": cfg.OptixURL} {
		if _, err := parseBase(u); err != nil {
			return nil, fmt.Errorf("sophos: %s URL: %w", name, err)
		}
	}
	optix, _ := parseBase(cfg.OptixURL)
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, log: cfg.Logger, optix: optix, sleep: cfg.Sleep}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if cfg.ClientID != "" {
		c.tokens = &tokenSource{c: c}
	}
	return c, nil
}

// parseBase accepts an absolute http(s) URL and makes sure its path ends
// in "/" so that relative paths resolve under it.
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type authKind int

const (
	authNone authKind = iota
	authBearer
	authAPIKey
)

// request is one logical API call; do may send it several times.
type request struct {
	service string
	method  string
	url     string // absolute, query included
	header  http.Header
	form    url.Values // POST body, form-encoded
	auth    authKind
	what    string // for errors and logs, e.g. "list optix alerts page 3"
}

// do sends r with retries and decodes a 2xx reply into out. 429 and 5xx
// replies and network failures are retried up to MaxRetries times,
// honouring Retry-After; a 401 on a Central token refreshes it once.
func (c *Client) do(ctx context.Context, r request, out any) error {
	refreshed := false
	for attempt := 0; ; attempt++ {
		status, hdr, body, err := c.once(ctx, r)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrReplyTooLarge) || attempt >= c.cfg.MaxRetries {
				return fmt.Errorf("%s: %w", r.what, err)
			}
			c.log.Warn("sophos call failed, retrying", "call", r.what, "attempt", attempt+1, "err", err)
			if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
				return fmt.Errorf("%s: %w", r.what, err)
			}
			continue
		}
		switch {
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("%s: %w: %s sent a reply that is not the expected JSON: %w", r.what, ErrMalformedReply, r.service, err)
			}
			return nil
		case status == http.StatusUnauthorized && r.auth == authBearer && !refreshed && c.tokens != nil:
			// A token can be revoked or expire early (clock skew):
			// fetch a new one, once.
			refreshed = true
			c.tokens.invalidate()
			c.log.Info("sophos token refused, refreshing", "call", r.what)
			attempt--
			continue
		case (status == http.StatusTooManyRequests || status >= 500) && attempt < c.cfg.MaxRetries:
			wait, ok := retryAfter(hdr.Get("Retry-After"), time.Now())
			if !ok {
				wait = c.backoff(attempt)
			}
			wait = min(wait, c.cfg.MaxBackoff)
			c.log.Warn("sophos call retried", "call", r.what, "status", status, "attempt", attempt+1, "wait", wait)
			if err := c.sleep(ctx, wait); err != nil {
				return fmt.Errorf("%s: %w", r.what, err)
			}
			continue
		}
		return fmt.Errorf("%s: %w", r.what, parseAPIError(r.service, status, hdr, body))
	}
}

// once sends one attempt under its own deadline and reads the capped body.
func (c *Client) once(ctx context.Context, r request) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch r.auth {
	case authBearer:
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case authAPIKey:
		req.Header.Set("Authorization", "ApiKey "+c.cfg.OptixAPIKey)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read reply: %w", err)
	}
	if int64(len(b)) > c.cfg.MaxBodyBytes {
		return 0, nil, nil, fmt.Errorf("%w: %s sent more than %d bytes", ErrReplyTooLarge, r.service, c.cfg.MaxBodyBytes)
	}
	// Only the method, path and status are logged: never headers or
	// bodies, which carry secrets and tokens.
	c.log.Debug("sophos call", "call", r.what, "method", r.method, "path", req.URL.Path,
		"status", resp.StatusCode, "bytes", len(b), "took", time.Since(start))
	return resp.StatusCode, resp.Header, b, nil
}

// backoff is capped exponential backoff with full jitter: 250ms, 500ms,
// 1s, ... up to MaxBackoff, each wait a random part of that.
func (c *Client) backoff(attempt int) time.Duration {
	ceil := 250 * time.Millisecond << min(attempt, 16)
	ceil = min(ceil, c.cfg.MaxBackoff)
	return ceil/2 + rand.N(ceil/2+1)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// tokenSource holds the Central access token, fetching a new one shortly
// before it expires or when the API refuses it.
// tokenSource holds the Central access token. It is this small rather than
// golang.org/x/oauth2/clientcredentials because the token call must share
// what every other call here has: retries on 429 and 5xx with Retry-After,
// the per-attempt deadline, the body cap, and the identity service's error
// body (errorCode, trackingId), including its 200-with-errorCode answers,
// none of which x/oauth2 does without wrapping its transport.
type tokenSource struct {
	c       *Client
	mu      sync.Mutex
	tok     string
	expires time.Time
}

// tokenReply is the identity service's answer.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   Int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
	ErrorCode   string `json:"errorCode"`
	Message     string `json:"message"`
	TrackingID  string `json:"trackingId"`
}

// refreshMargin renews a token this long before it expires so a call never
// starts with a token about to lapse.
const refreshMargin = 2 * time.Minute

func (t *tokenSource) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && time.Until(t.expires) > refreshMargin {
		return t.tok, nil
	}
	u, _ := parseBase(t.c.cfg.AuthURL)
	var rep tokenReply
	err := t.c.do(ctx, request{
		service: serviceIdentity,
		method:  http.MethodPost,
		url:     u.JoinPath("api/v2/oauth2/token").String(),
		form: url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {t.c.cfg.ClientID},
			"client_secret": {t.c.cfg.ClientSecret},
			"scope":         {"token"},
		},
		what: "get Sophos Central token",
	}, &rep)
	if err != nil {
		return "", err
	}
	if rep.AccessToken == "" {
		// The identity service can answer 200 with an errorCode.
		ae := &APIError{Service: serviceIdentity, Status: http.StatusOK, Code: cleanText(rep.ErrorCode, 60),
			Message: cleanText(rep.Message, 200), TrackingID: cleanText(rep.TrackingID, 80)}
		ae.RequestID = ae.TrackingID
		if ae.Message == "" {
			ae.Message = "no access token in the reply"
		}
		return "", fmt.Errorf("get Sophos Central token: %w", ae)
	}
	ttl := time.Duration(rep.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour // the documented lifetime
	}
	t.tok, t.expires = rep.AccessToken, time.Now().Add(ttl)
	return t.tok, nil
}

func (t *tokenSource) invalidate() {
	t.mu.Lock()
	t.tok = ""
	t.mu.Unlock()
}

// getJSON is a GET with the given auth and headers.
func (c *Client) getJSON(ctx context.Context, service, what string, u *url.URL, hdr http.Header, auth authKind, out any) error {
	return c.do(ctx, request{service: service, method: http.MethodGet, url: u.String(), header: hdr, auth: auth, what: what}, out)
}
