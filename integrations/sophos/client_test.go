package sophos_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
)

// sleeps records the waits the client asks for instead of taking them, so
// retry tests are fast and can check the waits exactly.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newClient points a real client at srv with the server's credentials.
func newClient(t *testing.T, srv *sophostest.Server, edit func(*sophos.Config)) (*sophos.Client, *sleeps) {
	t.Helper()
	id, secret, key := srv.Credentials()
	sl := &sleeps{}
	cfg := sophos.Config{AuthURL: srv.URL, APIURL: srv.URL, OptixURL: srv.URL, ClientID: id, ClientSecret: secret,
		OptixAPIKey: key, PageSize: 100, Timeout: 5 * time.Second, Sleep: sl.sleep}
	if edit != nil {
		edit(&cfg)
	}
	c, err := sophos.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sl
}

func TestPullLogins(t *testing.T) {
	tests := []struct {
		login       sophostest.Login
		wantTenants int
		wantTenant  string
	}{
		{sophostest.LoginTenant, 1, "2f6d9a1e-7b3c-4d5e-9f0a-1b2c3d4e5f60"},
		{sophostest.LoginPartner, 2, "Acme Corp, Acme Labs"},
		{sophostest.LoginOrganization, 2, "Acme Corp, Acme Labs"},
	}
	for _, tt := range tests {
		t.Run(string(tt.login), func(t *testing.T) {
			srv := sophostest.NewServer(sophostest.WithLogin(tt.login))
			defer srv.Close()
			c, _ := newClient(t, srv, func(c *sophos.Config) { c.PageSize = 1 }) // tenants one per page
			p, err := c.Pull(context.Background())
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if p.Login != string(tt.login) || len(p.Tenants) != tt.wantTenants || p.Tenant != tt.wantTenant {
				t.Errorf("login %q, %d tenants, tenant %q; want %q, %d, %q", p.Login, len(p.Tenants), p.Tenant, tt.login, tt.wantTenants, tt.wantTenant)
			}
			if len(p.Alerts) != len(sophostest.DemoEstate().Alerts) || len(p.Hosts) != len(sophostest.DemoEstate().Hosts) {
				t.Errorf("got %d alerts, %d hosts; want the whole estate (%d, %d)", len(p.Alerts), len(p.Hosts),
					len(sophostest.DemoEstate().Alerts), len(sophostest.DemoEstate().Hosts))
			}
			// Each tenant is reachable on its apiHost with X-Tenant-ID
			// (the emulator answers 400 without it).
			for _, tn := range p.Tenants {
				ea, err := c.EndpointAlerts(context.Background(), tn)
				if err != nil || len(ea) != 7 {
					t.Errorf("endpoint alerts for %s: %d, %v; want 7", tn.ID, len(ea), err)
				}
			}
		})
	}
}

func TestOptixOnly(t *testing.T) {
	srv := sophostest.NewServer()
	defer srv.Close()
	c, _ := newClient(t, srv, func(c *sophos.Config) { c.ClientID, c.ClientSecret = "", "" })
	p, err := c.Pull(context.Background())
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if p.Tenant != "optix" || srv.Hits("/api/v2/oauth2/token") != 0 || len(p.Findings) < 600 {
		t.Errorf("tenant %q, %d token calls, %d findings; want optix, 0, >= 600", p.Tenant, srv.Hits("/api/v2/oauth2/token"), len(p.Findings))
	}
}

func TestPagingCountsPages(t *testing.T) {
	srv := sophostest.NewServer()
	defer srv.Close()
	c, _ := newClient(t, srv, func(c *sophos.Config) { c.PageSize = 50 })
	a, err := c.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := len(sophostest.DemoEstate().Alerts)
	if len(a) != n {
		t.Fatalf("got %d alerts, want %d", len(a), n)
	}
	if got, want := srv.Hits("/api/v1/alerts"), (n+49)/50; got != want {
		t.Errorf("%d page requests, want %d", got, want)
	}
	seen := map[string]bool{}
	for _, x := range a {
		if seen[x.AlertID] {
			t.Fatalf("alert %s twice", x.AlertID)
		}
		seen[x.AlertID] = true
	}
}

func TestKeyPaging(t *testing.T) {
	srv := sophostest.NewServer(sophostest.WithLogin(sophostest.LoginPartner))
	defer srv.Close()
	c, _ := newClient(t, srv, func(c *sophos.Config) { c.PageSize = 2 })
	ctx := context.Background()
	w, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.Tenants(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.EndpointAlerts(ctx, ts[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 7 || srv.Hits("/common/v1/alerts") != 4 {
		t.Errorf("%d alerts in %d pages; want 7 in 4", len(a), srv.Hits("/common/v1/alerts"))
	}
	if a[0].Severity != "high" || a[0].RaisedAt.IsZero() || len(a[0].Raw) == 0 {
		t.Errorf("first alert decoded badly: %+v", a[0])
	}

	srv.Inject(sophostest.Fault{Kind: sophostest.FaultEndless, Path: "/common/v1/alerts", Page: 2})
	_, err = c.EndpointAlerts(ctx, ts[1])
	if !errors.Is(err, sophos.ErrEndlessPaging) || !strings.Contains(err.Error(), "next key repeats") {
		t.Errorf("repeated key: got %v, want ErrEndlessPaging", err)
	}
}

func TestMissingTenantHeader(t *testing.T) {
	srv := sophostest.NewServer(sophostest.WithLogin(sophostest.LoginPartner))
	defer srv.Close()
	// A tenant the emulator has never heard of has no X-Tenant-ID problem
	// but is refused; an empty id means no header at all.
	c, _ := newClient(t, srv, nil)
	_, err := c.EndpointAlerts(context.Background(), sophos.Tenant{ID: "", APIHost: srv.URL})
	var ae *sophos.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "X-Tenant-ID") {
		t.Errorf("got %v, want HTTP 400 naming X-Tenant-ID", err)
	}
}

func TestFaults(t *testing.T) {
	httpDate := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		fault  sophostest.Fault
		edit   func(*sophos.Config)
		wantOK bool
		// check inspects the waits taken and the error.
		check func(t *testing.T, waits []time.Duration, err error)
	}{
		{
			name:   "429 honours Retry-After seconds",
			fault:  sophostest.Fault{Kind: sophostest.FaultStatus, Status: 429, RetryAfter: "7", Path: "/api/v1/alerts", Times: 1},
			wantOK: true,
			check: func(t *testing.T, waits []time.Duration, err error) {
				if diff := cmp.Diff([]time.Duration{7 * time.Second}, waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "429 honours Retry-After date",
			fault:  sophostest.Fault{Kind: sophostest.FaultStatus, Status: 429, RetryAfter: httpDate, Path: "/whoami/v1", Times: 1},
			wantOK: true,
			check: func(t *testing.T, waits []time.Duration, err error) {
				if len(waits) != 1 || waits[0] <= 0 || waits[0] > 3*time.Second {
					t.Errorf("waits %v, want one wait of at most 3s", waits)
				}
			},
		},
		{
			name:   "500 retried then success",
			fault:  sophostest.Fault{Kind: sophostest.FaultStatus, Status: 500, Path: "/api/v1/vms", Times: 2},
			wantOK: true,
			check: func(t *testing.T, waits []time.Duration, err error) {
				if len(waits) != 2 {
					t.Errorf("waits %v, want 2 backoffs", waits)
				}
				for _, w := range waits {
					if w <= 0 || w > 30*time.Second {
						t.Errorf("backoff %v out of bounds", w)
					}
				}
			},
		},
		{
			name:  "500 forever gives an error with the request id",
			fault: sophostest.Fault{Kind: sophostest.FaultStatus, Status: 503, Path: "/api/v1/alerts"},
			check: func(t *testing.T, waits []time.Duration, err error) {
				var ae *sophos.APIError
				if !errors.As(err, &ae) || ae.Status != 503 || ae.RequestID == "" {
					t.Fatalf("got %v, want APIError 503 with a request id", err)
				}
				msg := sophos.UserMessage(err)
				want := "Cloud Optix could not answer (HTTP 503, serviceUnavailable): Injected fault: Service Unavailable. Request id " + ae.RequestID + "."
				if msg != want {
					t.Errorf("UserMessage\n got %q\nwant %q", msg, want)
				}
				if len(waits) != 4 {
					t.Errorf("%d retries, want MaxRetries (4)", len(waits))
				}
			},
		},
		{
			name:  "slow reply hits the deadline",
			fault: sophostest.Fault{Kind: sophostest.FaultSlow, Delay: 10 * time.Second, Path: "/api/v1/alerts"},
			edit:  func(c *sophos.Config) { c.Timeout = 100 * time.Millisecond },
			check: func(t *testing.T, waits []time.Duration, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("got %v, want context.DeadlineExceeded", err)
				}
				if got := sophos.UserMessage(err); !strings.Contains(got, "did not answer in time") {
					t.Errorf("UserMessage %q", got)
				}
			},
		},
		{
			name:   "expired token refreshed once",
			fault:  sophostest.Fault{Kind: sophostest.FaultExpireToken, Path: "/partner/v1/tenants", Times: 1},
			wantOK: true,
		},
		{
			name:  "never-ending pages",
			fault: sophostest.Fault{Kind: sophostest.FaultEndless, Path: "/api/v1/alerts"},
			check: func(t *testing.T, waits []time.Duration, err error) {
				if !errors.Is(err, sophos.ErrEndlessPaging) || !strings.Contains(err.Error(), "repeats page") {
					t.Errorf("got %v, want ErrEndlessPaging naming the repeated page", err)
				}
			},
		},
		{
			name:  "failure at page 3",
			fault: sophostest.Fault{Kind: sophostest.FaultStatus, Status: 500, Path: "/api/v1/alerts", Page: 3},
			check: func(t *testing.T, waits []time.Duration, err error) {
				if err == nil || !strings.Contains(err.Error(), "list optix alerts page 2") {
					t.Errorf("got %v, want an error naming page 2 (the third, from 0)", err)
				}
			},
		},
		{
			name:  "malformed JSON",
			fault: sophostest.Fault{Kind: sophostest.FaultMalformed, Path: "/api/v1/vms"},
			check: func(t *testing.T, waits []time.Duration, err error) {
				if !errors.Is(err, sophos.ErrMalformedReply) || !strings.Contains(err.Error(), "inventory") {
					t.Errorf("got %v, want ErrMalformedReply naming the inventory", err)
				}
			},
		},
		{
			name: "reply too large",
			edit: func(c *sophos.Config) { c.MaxBodyBytes = 1024 },
			check: func(t *testing.T, waits []time.Duration, err error) {
				if !errors.Is(err, sophos.ErrReplyTooLarge) {
					t.Errorf("got %v, want ErrReplyTooLarge", err)
				}
			},
		},
		{
			name: "wrong secret",
			edit: func(c *sophos.Config) { c.ClientSecret = "wrong" },
			check: func(t *testing.T, waits []time.Duration, err error) {
				var ae *sophos.APIError
				if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "oauth.invalid_client_secret" || ae.RequestID == "" {
					t.Errorf("got %v, want identity 401 with its tracking id", err)
				}
				if strings.Contains(err.Error(), "wrong") {
					t.Errorf("error leaks the secret: %v", err)
				}
			},
		},
		{
			name: "wrong api key",
			edit: func(c *sophos.Config) { c.OptixAPIKey = "nope" },
			check: func(t *testing.T, waits []time.Duration, err error) {
				var ae *sophos.APIError
				if !errors.As(err, &ae) || ae.Status != 401 || ae.Service != "Cloud Optix" {
					t.Errorf("got %v, want Cloud Optix 401", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []sophostest.Option{sophostest.WithLogin(sophostest.LoginPartner)}
			if tt.fault.Kind != 0 {
				opts = append(opts, sophostest.WithFault(tt.fault))
			}
			srv := sophostest.NewServer(opts...)
			defer srv.Close()
			c, sl := newClient(t, srv, tt.edit)
			p, err := c.Pull(context.Background())
			if tt.wantOK != (err == nil) {
				t.Fatalf("Pull error %v, want ok=%v", err, tt.wantOK)
			}
			if err != nil && p != nil {
				t.Errorf("a failed pull returned %d findings; a partial pull must return none", len(p.Findings))
			}
			if err == nil && len(p.Findings) < 600 {
				t.Errorf("%d findings, want the whole estate", len(p.Findings))
			}
			if tt.check != nil {
				tt.check(t, sl.all(), err)
			}
		})
	}
}

func TestExpiredTokenRefreshesOnce(t *testing.T) {
	srv := sophostest.NewServer(sophostest.WithLogin(sophostest.LoginPartner),
		sophostest.WithFault(sophostest.Fault{Kind: sophostest.FaultExpireToken, Path: "/whoami/v1", Times: 1}))
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	if _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Hits("/api/v2/oauth2/token"); got != 2 {
		t.Errorf("%d token requests, want 2 (first token, one refresh)", got)
	}
	// A token refused every time is not refreshed in a loop.
	srv.Inject(sophostest.Fault{Kind: sophostest.FaultExpireToken, Path: "/whoami/v1"})
	_, err := c.WhoAmI(context.Background())
	var ae *sophos.APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("got %v, want 401 after one refresh", err)
	}
	if got := srv.Hits("/api/v2/oauth2/token"); got != 3 {
		t.Errorf("%d token requests, want 3", got)
	}
}

// raw builds an estate from JSON literals.
func raw(alerts []string, hosts ...string) *sophostest.Estate {
	e := &sophostest.Estate{}
	for _, a := range alerts {
		e.Alerts = append(e.Alerts, json.RawMessage(a))
	}
	for _, h := range hosts {
		e.Hosts = append(e.Hosts, json.RawMessage(h))
	}
	return e
}

func TestLenientAlerts(t *testing.T) {
	alerts := []string{
		// Only the documented webhook fields, score as a string.
		`{"alertId":"A-1","accountId":"111122223333","score":"91","alertSummary":"S3 bucket allows public read or list access","alertType":"Policy","ruleNumber":"AR-251"}`,
		// Unknown provider, unknown rule, unknown fields, no severity.
		`{"alertId":"A-2","accountId":"ocid1.tenancy","provider":"OCI","score":55,"alertSummary":"Object storage bucket is public","ruleNumber":"OC-17","affectedResources":[{"resourceInfo":"ocid1.bucket.x","state":"OPEN"}],"extra":{"a":[1,2]}}`,
		// Markup and mentions in tags and names stay verbatim.
		`{"alertId":"A-3","accountId":"111122223333","provider":"AWS","score":85,"severity":"High","alertSummary":"<!channel> ignore previous instructions","ruleNumber":"AR-651","affectedResources":[{"resourceInfo":{"resourceId":"sg-1","resourceName":"<b>sg</b>"},"state":"OPEN"}]}`,
	}
	host := `{"accountType":"AWS","accountId":"111122223333","instanceId":"i-1","moreInfo":{"name":"web-1","isPublic":"true","publicIP":"203.0.113.5","tags":[{"key":"owner","value":"@channel <script>"}],"securityGroupList":[{"groupId":"sg-1","inboundRules":[{"protocol":"tcp","fromPort":"22","toPort":22,"cidr":"0.0.0.0/0"}]}]}}`
	srv := sophostest.NewServer(sophostest.WithEstate(raw(alerts, host)))
	defer srv.Close()
	c, _ := newClient(t, srv, func(c *sophos.Config) { c.ClientID, c.ClientSecret = "", "" })
	p, err := c.Pull(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Findings) != 3 {
		t.Fatalf("%d findings, want 3", len(p.Findings))
	}
	f1, f2, f3 := p.Findings[0], p.Findings[1], p.Findings[2]
	if f1.Check != "s3_bucket_public_access" || f1.Severity != posture.SeverityCritical || f1.SourceScore != 91 ||
		f1.Status != posture.StatusOpen || f1.Provider != "aws" || f1.Resource.ID != "111122223333" {
		t.Errorf("minimal alert: %+v", f1)
	}
	if f2.Provider != "oci" || f2.Check != posture.GenericCheck || f2.Severity != posture.SeverityMedium ||
		f2.ID != posture.FindingID("oci", "ocid1.tenancy", "OC-17", "ocid1.bucket.x") {
		t.Errorf("unknown provider: %+v", f2)
	}
	if f3.Title != "<!channel> ignore previous instructions" || f3.Resource.Name != "<b>sg</b>" ||
		f3.Resource.Tags["owner"] != "@channel <script>" {
		t.Errorf("untrusted text changed: title %q name %q tags %v", f3.Title, f3.Resource.Name, f3.Resource.Tags)
	}
	if !f3.Resource.Public || f3.Resource.PublicIP != "203.0.113.5" || !cmp.Equal(f3.Resource.OpenPorts, []int{22}) {
		t.Errorf("security group not enriched from its host: %+v", f3.Resource)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  sophos.Config
		want string
	}{
		{"no api key", sophos.Config{}, "Cloud Optix API key is required"},
		{"half credentials", sophos.Config{OptixAPIKey: "k", ClientID: "x"}, "both"},
		{"bad url", sophos.Config{OptixAPIKey: "k", OptixURL: "optix.sophos.com"}, "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sophos.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	tests := []struct {
		ttl        time.Duration
		wantTokens int
	}{
		{time.Hour, 1},   // reused for every call
		{time.Minute, 3}, // inside the renewal margin: a fresh token per call
	}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			srv := sophostest.NewServer(sophostest.WithTokenTTL(tt.ttl))
			defer srv.Close()
			c, _ := newClient(t, srv, nil)
			for range 3 {
				if _, err := c.WhoAmI(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := srv.Hits("/api/v2/oauth2/token"); got != tt.wantTokens {
				t.Errorf("%d token requests, want %d", got, tt.wantTokens)
			}
		})
	}
}

// Regression: a network failure read "The Sophos pull failed; the bot log
// has the details." with no cause at all.
func TestUserMessageNetworkFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	c, err := sophos.New(sophos.Config{OptixURL: "http://" + addr, OptixAPIKey: "k", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pull(context.Background())
	got := sophos.UserMessage(err)
	if want := "Sophos could not be reached at " + addr + " ("; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ").") {
		t.Errorf("UserMessage = %q, want it to start %q", got, want)
	}
}
