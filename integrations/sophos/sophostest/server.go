// Package sophostest is an emulator of the Sophos Central and Cloud Optix
// endpoints optix-bot uses, speaking their wire formats over real HTTP on
// 127.0.0.1. It checks credentials and headers as the real services do,
// serves a deterministic demo estate (or one a test gives it), and
// misbehaves on request: 429 with Retry-After, 5xx, slow replies, revoked
// tokens, lists that never end and malformed replies, on any page.
//
// The embedded default of optix-bot runs the real client against it:
//
//	srv := sophostest.NewServer(sophostest.Demo()...)
//	id, secret, key := srv.Credentials()
//	// sophos.Config{AuthURL: srv.URL, APIURL: srv.URL, OptixURL: srv.URL, ...}
package sophostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Login is the kind of Central credentials the emulator pretends to hold.
type Login string

// Login kinds, as whoami's idType names them.
const (
	LoginTenant       Login = "tenant"
	LoginPartner      Login = "partner"
	LoginOrganization Login = "organization"
)

// The emulator's default credentials and identities.
const (
	DefaultClientID     = "optix-bot-demo-client"
	DefaultClientSecret = "demo-secret-not-for-production"
	DefaultAPIKey       = "demo-optix-api-key"
	// PartnerID and OrganizationID are whoami ids for those logins.
	PartnerID      = "5b0f7e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
	OrganizationID = "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
)

// FaultKind is a way the emulator can misbehave.
type FaultKind int

// Fault kinds.
const (
	// FaultStatus answers Status (429, 500, 503, ...) with the service's
	// error body, and Retry-After when RetryAfter is set.
	FaultStatus FaultKind = iota + 1
	// FaultSlow waits Delay (or until the client gives up) before
	// answering normally.
	FaultSlow
	// FaultExpireToken revokes the bearer token the request carries and
	// answers 401, as if it had expired early.
	FaultExpireToken
	// FaultEndless makes a list never end: Optix lists always say
	// hasNext and repeat their last page; key-paged lists repeat their
	// last key.
	FaultEndless
	// FaultMalformed answers 200 with truncated JSON.
	FaultMalformed
)

// Fault is one injected misbehaviour.
type Fault struct {
	Kind FaultKind
	// Path is the URL path prefix it applies to (e.g. "/api/v1/alerts");
	// empty means every path but the token endpoint.
	Path string
	// Page limits it to one page: 1 is the first page of a list (Optix
	// page=0, Central page=1). 0 is every request.
	Page       int
	Status     int
	RetryAfter string // seconds or an HTTP date
	Delay      time.Duration
	// Times is how often it fires before going away; 0 is forever.
	Times int
}

// Option configures a Server.
type Option func(*options)

type options struct {
	login                    Login
	clientID, secret, apiKey string
	estate                   *Estate
	tokenTTL                 time.Duration
	maxPageSize              int
	faults                   []Fault
}

// WithLogin chooses the kind of Central login (tenant by default).
func WithLogin(l Login) Option { return func(o *options) { o.login = l } }

// WithCredentials replaces the accepted client id, secret and Optix key.
func WithCredentials(clientID, secret, apiKey string) Option {
	return func(o *options) { o.clientID, o.secret, o.apiKey = clientID, secret, apiKey }
}

// WithEstate serves e instead of the demo estate.
func WithEstate(e *Estate) Option { return func(o *options) { o.estate = e } }

// WithTokenTTL sets the lifetime of issued tokens (default 3600s, as Sophos).
func WithTokenTTL(d time.Duration) Option { return func(o *options) { o.tokenTTL = d } }

// WithMaxPageSize caps page sizes as the real APIs do (default 500).
func WithMaxPageSize(n int) Option { return func(o *options) { o.maxPageSize = n } }

// WithFault injects a fault from the start.
func WithFault(f Fault) Option { return func(o *options) { o.faults = append(o.faults, f) } }

// Demo is the options of the embedded default: a tenant login serving the
// demo estate with the default credentials.
func Demo() []Option {
	return []Option{WithLogin(LoginTenant), WithEstate(DemoEstate())}
}

// Server is a running emulator.
type Server struct {
	// URL is the base URL of every service (identity, Central, Optix).
	URL string

	srv     *httptest.Server
	opt     options
	tenants []tenant
	alerts  []json.RawMessage
	hosts   map[string][]json.RawMessage // provider (upper case) -> hosts
	central map[string][]json.RawMessage // tenant id -> Central alerts

	mu     sync.Mutex
	tokens map[string]time.Time
	faults []*Fault
	hits   map[string]int
	seq    int
}

type tenant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	DataRegion string `json:"dataRegion"`
	DataGeo    string `json:"dataGeography"`
	Billing    string `json:"billingType"`
	APIHost    string `json:"apiHost"`
}

// NewServer starts an emulator on 127.0.0.1. Close it when done.
func NewServer(opts ...Option) *Server {
	o := options{login: LoginTenant, clientID: DefaultClientID, secret: DefaultClientSecret, apiKey: DefaultAPIKey,
		tokenTTL: time.Hour, maxPageSize: 500}
	for _, f := range opts {
		f(&o)
	}
	if o.estate == nil {
		o.estate = DemoEstate()
	}
	s := &Server{opt: o, tokens: map[string]time.Time{}, hits: map[string]int{}, hosts: map[string][]json.RawMessage{},
		central: map[string][]json.RawMessage{}}
	for i := range o.faults {
		f := o.faults[i]
		s.faults = append(s.faults, &f)
	}
	s.alerts = o.estate.Alerts
	for _, h := range o.estate.Hosts {
		var head struct {
			AccountType string `json:"accountType"`
		}
		_ = json.Unmarshal(h, &head)
		p := strings.ToUpper(head.AccountType)
		s.hosts[p] = append(s.hosts[p], h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/oauth2/token", s.token)
	mux.HandleFunc("/whoami/v1", s.whoami)
	mux.HandleFunc("/partner/v1/tenants", s.listTenants(LoginPartner, "X-Partner-ID", PartnerID))
	mux.HandleFunc("/organization/v1/tenants", s.listTenants(LoginOrganization, "X-Organization-ID", OrganizationID))
	mux.HandleFunc("/common/v1/alerts", s.centralAlerts)
	mux.HandleFunc("/api/v1/alerts", s.optixAlerts)
	mux.HandleFunc("/api/v1/vms", s.optixHosts)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	names := []string{"Acme Corp", "Acme Labs"}
	ids := []string{"2f6d9a1e-7b3c-4d5e-9f0a-1b2c3d4e5f60", "8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"}
	n := 2
	if o.login == LoginTenant {
		n = 1
	}
	for i := range n {
		t := tenant{ID: ids[i], Name: names[i], DataRegion: "eu02", DataGeo: "EU", Billing: "usage", APIHost: s.URL}
		s.tenants = append(s.tenants, t)
		s.central[t.ID] = centralAlerts(t.ID, t.Name, 7)
	}
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Credentials are the Central client id and secret and the Optix API key
// the server accepts.
func (s *Server) Credentials() (clientID, secret, apiKey string) {
	return s.opt.clientID, s.opt.secret, s.opt.apiKey
}

// Tenants are the tenant ids the login reaches, in listing order.
func (s *Server) Tenants() []string {
	out := make([]string, len(s.tenants))
	for i, t := range s.tenants {
		out[i] = t.ID
	}
	return out
}

// Inject adds a fault while the server runs.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// Hits counts requests whose path starts with prefix.
func (s *Server) Hits(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// takeFault finds the first fault for this path and page and uses it up.
func (s *Server) takeFault(path string, page int) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Path == "" && path == "/api/v2/oauth2/token" {
			continue
		}
		if !strings.HasPrefix(path, f.Path) || (f.Page != 0 && f.Page != page) {
			continue
		}
		c := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &c
	}
	return nil
}

func (s *Server) nextRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("9f2c%04x-5d1e-4b7a-8c3f-%012x", s.seq, s.seq*7919)
}

type service int

const (
	identity service = iota
	central
	optix
)

// fail writes the error body each service uses.
func (s *Server) fail(w http.ResponseWriter, svc service, status int, code, msg string) {
	id := s.nextRequestID()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body any
	switch svc {
	case identity:
		body = map[string]any{"errorCode": code, "message": msg, "trackingId": id}
	case central:
		body = map[string]any{"error": code, "message": msg, "requestId": id, "correlationId": id,
			"createdAt": time.Now().UTC().Format(time.RFC3339)}
	default:
		body = map[string]any{"error": code, "message": msg, "requestId": id}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// begin counts the request and applies a fault. It reports whether the
// handler should go on, and the fault when the handler must apply it
// itself (endless lists).
func (s *Server) begin(w http.ResponseWriter, r *http.Request, svc service, page int) (bool, *Fault) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	f := s.takeFault(r.URL.Path, page)
	if f == nil {
		return true, nil
	}
	switch f.Kind {
	case FaultStatus:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		st := f.Status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		code := map[int]string{429: "tooManyRequests", 500: "internalServerError", 502: "badGateway",
			503: "serviceUnavailable", 504: "gatewayTimeout"}[st]
		if code == "" {
			code = strings.ReplaceAll(strings.ToLower(http.StatusText(st)), " ", "")
		}
		s.fail(w, svc, st, code, "Injected fault: "+http.StatusText(st))
		return false, nil
	case FaultSlow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false, nil
		}
		return true, nil
	case FaultExpireToken:
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			s.mu.Lock()
			delete(s.tokens, tok)
			s.mu.Unlock()
		}
		s.fail(w, svc, http.StatusUnauthorized, "unauthorized", "Token expired")
		return false, nil
	case FaultMalformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"alertId":"A-0`))
		return false, nil
	}
	return true, f
}

// token is POST /api/v2/oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if ok, _ := s.begin(w, r, identity, 0); !ok {
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, identity, http.StatusMethodNotAllowed, "oauth.method_not_allowed", "Use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, identity, http.StatusBadRequest, "oauth.invalid_request", "Cannot read the form")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "token" {
		s.fail(w, identity, http.StatusBadRequest, "oauth.invalid_grant", "grant_type must be client_credentials and scope token")
		return
	}
	if id != s.opt.clientID || secret != s.opt.secret {
		s.fail(w, identity, http.StatusUnauthorized, "oauth.invalid_client_secret", "Invalid client credentials")
		return
	}
	tok := fmt.Sprintf("eyJemu.%s.%d", s.nextRequestID(), time.Now().UnixNano())
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.opt.tokenTTL)
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "errorCode": "success", "expires_in": int(s.opt.tokenTTL.Seconds()),
		"message": "OK", "refresh_token": "unused", "token_type": "bearer", "trackingId": s.nextRequestID()})
}

// authorized checks the bearer token.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		s.fail(w, central, http.StatusUnauthorized, "unauthorized", "Invalid or expired token")
		return false
	}
	return true
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	if ok, _ := s.begin(w, r, central, 0); !ok || !s.authorized(w, r) {
		return
	}
	hosts := map[string]string{"global": s.URL}
	var id string
	switch s.opt.login {
	case LoginPartner:
		id = PartnerID
	case LoginOrganization:
		id = OrganizationID
	default:
		id = s.tenants[0].ID
		hosts["dataRegion"] = s.URL
	}
	writeJSON(w, map[string]any{"id": id, "idType": string(s.opt.login), "apiHosts": hosts})
}

func intParam(q url.Values, name string, def int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

func (s *Server) listTenants(login Login, header, id string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, okPage := intParam(q, "page", 1)
		if ok, _ := s.begin(w, r, central, page); !ok || !s.authorized(w, r) {
			return
		}
		size, okSize := intParam(q, "pageSize", 50)
		if !okPage || !okSize || page < 1 || size < 1 {
			s.fail(w, central, http.StatusBadRequest, "badRequest", "page and pageSize must be positive integers")
			return
		}
		if s.opt.login != login {
			s.fail(w, central, http.StatusForbidden, "forbidden", "These credentials are not a "+string(login)+" login")
			return
		}
		if r.Header.Get(header) != id {
			s.fail(w, central, http.StatusBadRequest, "badRequest", "Missing or wrong "+header+" header")
			return
		}
		size = min(size, 100)
		total := (len(s.tenants) + size - 1) / size
		lo := min((page-1)*size, len(s.tenants))
		hi := min(lo+size, len(s.tenants))
		pages := map[string]any{"current": page, "size": size, "maxSize": 100}
		if q.Get("pageTotal") == "true" {
			pages["total"], pages["items"] = total, len(s.tenants)
		}
		writeJSON(w, map[string]any{"items": s.tenants[lo:hi], "pages": pages})
	}
}

// centralAlerts is the tenant-scoped, key-paged GET /common/v1/alerts.
func (s *Server) centralAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from := 0
	if k := q.Get("pageFromKey"); k != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(k, "k"))
		if err != nil || !strings.HasPrefix(k, "k") {
			s.fail(w, central, http.StatusBadRequest, "badRequest", "Invalid pageFromKey")
			return
		}
		from = n
	}
	size, okSize := intParam(q, "pageSize", 50)
	size = max(min(size, 100), 1)
	ok, f := s.begin(w, r, central, from/size+1)
	if !ok || !s.authorized(w, r) {
		return
	}
	if !okSize {
		s.fail(w, central, http.StatusBadRequest, "badRequest", "pageSize must be an integer")
		return
	}
	tid := r.Header.Get("X-Tenant-ID")
	if tid == "" {
		s.fail(w, central, http.StatusBadRequest, "badRequest", "Missing X-Tenant-ID header")
		return
	}
	items, known := s.central[tid]
	if !known {
		s.fail(w, central, http.StatusForbidden, "forbidden", "Access denied to this tenant")
		return
	}
	lo := min(from, len(items))
	hi := min(lo+size, len(items))
	pages := map[string]any{"fromKey": q.Get("pageFromKey"), "size": hi - lo, "maxSize": 100}
	switch {
	case f != nil && f.Kind == FaultEndless:
		pages["nextKey"] = "k" + strconv.Itoa(lo) // the same page again
	case hi < len(items):
		pages["nextKey"] = "k" + strconv.Itoa(hi)
	}
	writeJSON(w, map[string]any{"items": items[lo:hi], "pages": pages})
}

// optixAuthorized checks "Authorization: ApiKey <key>".
func (s *Server) optixAuthorized(w http.ResponseWriter, r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "ApiKey ")
	if !ok || key != s.opt.apiKey {
		s.fail(w, optix, http.StatusUnauthorized, "Unauthorized", "Invalid API key")
		return false
	}
	return true
}

// optixList serves a {data, hasNext} page of items.
func (s *Server) optixList(w http.ResponseWriter, r *http.Request, items func() ([]json.RawMessage, bool)) {
	q := r.URL.Query()
	page, okPage := intParam(q, "page", 0)
	ok, f := s.begin(w, r, optix, page+1)
	if !ok || !s.optixAuthorized(w, r) {
		return
	}
	size, okSize := intParam(q, "size", 50)
	if !okPage || !okSize || size < 1 {
		s.fail(w, optix, http.StatusBadRequest, "Bad Request", "page and size must be non-negative integers, size at least 1")
		return
	}
	all, valid := items()
	if !valid {
		s.fail(w, optix, http.StatusBadRequest, "Bad Request", "provider must be AWS, Azure or GCP")
		return
	}
	size = min(size, s.opt.maxPageSize)
	lo := min(page*size, len(all))
	hi := min(lo+size, len(all))
	hasNext := hi < len(all)
	if f != nil && f.Kind == FaultEndless {
		if lo == hi && len(all) > 0 {
			lo = max(0, len(all)-size) // past the end: the last page again
			hi = len(all)
		}
		hasNext = true
	}
	data := all[lo:hi]
	if data == nil {
		data = []json.RawMessage{}
	}
	writeJSON(w, map[string]any{"data": data, "hasNext": hasNext})
}

func (s *Server) optixAlerts(w http.ResponseWriter, r *http.Request) {
	s.optixList(w, r, func() ([]json.RawMessage, bool) { return s.alerts, true })
}

func (s *Server) optixHosts(w http.ResponseWriter, r *http.Request) {
	s.optixList(w, r, func() ([]json.RawMessage, bool) {
		p := strings.ToUpper(r.URL.Query().Get("provider"))
		switch p {
		case "AWS", "AZURE", "GCP":
			return s.hosts[p], true
		}
		return nil, false
	})
}
