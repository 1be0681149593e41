package sophos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Login kinds, as whoami's idType names them.
const (
	LoginTenant       = "tenant"
	LoginPartner      = "partner"
	LoginOrganization = "organization"
)

// WhoAmI is who the Central credentials belong to.
type WhoAmI struct {
	ID       string `json:"id"`
	IDType   string `json:"idType"` // tenant, partner or organization
	APIHosts struct {
		Global     string `json:"global"`
		DataRegion string `json:"dataRegion"` // tenant logins only
	} `json:"apiHosts"`
}

// Tenant is one Sophos Central tenant the credentials reach.
type Tenant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	DataRegion string `json:"dataRegion"`
	// APIHost is where tenant-scoped calls go, with X-Tenant-ID.
	APIHost string `json:"apiHost"`
}

// WhoAmI asks Central who the credentials belong to.
func (c *Client) WhoAmI(ctx context.Context) (*WhoAmI, error) {
	if c.tokens == nil {
		return nil, fmt.Errorf("whoami: no Sophos Central credentials configured")
	}
	u, _ := parseBase(c.cfg.APIURL)
	var w WhoAmI
	if err := c.getJSON(ctx, serviceCentral, "whoami", u.JoinPath("whoami/v1"), nil, authBearer, &w); err != nil {
		return nil, err
	}
	switch w.IDType {
	case LoginTenant, LoginPartner, LoginOrganization:
	default:
		return nil, fmt.Errorf("whoami: %w: unknown idType %q", ErrMalformedReply, cleanText(w.IDType, 40))
	}
	if w.ID == "" {
		return nil, fmt.Errorf("whoami: %w: no id", ErrMalformedReply)
	}
	return &w, nil
}

// Tenants lists the tenants a login reaches: the login's own tenant (on its
// data region host) for a tenant login, else every tenant of the partner or
// organization.
func (c *Client) Tenants(ctx context.Context, w *WhoAmI) ([]Tenant, error) {
	switch w.IDType {
	case LoginTenant:
		if _, err := parseBase(w.APIHosts.DataRegion); err != nil {
			return nil, fmt.Errorf("whoami: %w: data region host: %w", ErrMalformedReply, err)
		}
		return []Tenant{{ID: w.ID, APIHost: w.APIHosts.DataRegion}}, nil
	case LoginPartner:
		return c.listTenants(ctx, w, "partner/v1/tenants", "X-Partner-ID")
	case LoginOrganization:
		return c.listTenants(ctx, w, "organization/v1/tenants", "X-Organization-ID")
	}
	return nil, fmt.Errorf("list tenants: unknown login kind %q", w.IDType)
}

// numberPage is Central's page-number paging envelope.
type numberPage[T any] struct {
	Items []T `json:"items"`
	Pages struct {
		Current Int `json:"current"`
		Size    Int `json:"size"`
		Total   Int `json:"total"`
		Items   Int `json:"items"`
	} `json:"pages"`
}

func (c *Client) listTenants(ctx context.Context, w *WhoAmI, path, idHeader string) ([]Tenant, error) {
	base := w.APIHosts.Global
	if base == "" {
		base = c.cfg.APIURL
	}
	u, err := parseBase(base)
	if err != nil {
		return nil, fmt.Errorf("whoami: %w: global host: %w", ErrMalformedReply, err)
	}
	hdr := http.Header{idHeader: {w.ID}}
	var out []Tenant
	for page := 1; ; page++ {
		if page > c.cfg.MaxPages {
			return nil, fmt.Errorf("list tenants: %w: more than %d pages", ErrEndlessPaging, c.cfg.MaxPages)
		}
		pu := u.JoinPath(path)
		pu.RawQuery = url.Values{"page": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(min(c.cfg.PageSize, 100))}, "pageTotal": {"true"}}.Encode()
		var p numberPage[Tenant]
		if err := c.getJSON(ctx, serviceCentral, fmt.Sprintf("list tenants page %d", page), pu, hdr, authBearer, &p); err != nil {
			return nil, err
		}
		for _, t := range p.Items {
			if _, err := parseBase(t.APIHost); err != nil {
				return nil, fmt.Errorf("list tenants page %d: %w: tenant %s api host: %w", page, ErrMalformedReply, cleanText(t.ID, 40), err)
			}
		}
		out = append(out, p.Items...)
		// pageTotal=true asks for pages.total; without it, a short or
		// empty page is the last.
		if p.Pages.Total > 0 {
			if page >= int(p.Pages.Total) {
				return out, nil
			}
			if len(p.Items) == 0 {
				return nil, fmt.Errorf("list tenants page %d: %w: empty page before the last (%d)", page, ErrEndlessPaging, p.Pages.Total)
			}
			continue
		}
		if len(p.Items) == 0 || (p.Pages.Size > 0 && len(p.Items) < int(p.Pages.Size)) {
			return out, nil
		}
	}
}

// keyPage is Central's key-based paging envelope (alerts, events).
type keyPage[T any] struct {
	Items []T `json:"items"`
	Pages struct {
		FromKey string `json:"fromKey"`
		NextKey string `json:"nextKey"`
		Size    Int    `json:"size"`
		MaxSize Int    `json:"maxSize"`
	} `json:"pages"`
}

// keyPaged walks a key-paged list: each reply's pages.nextKey is sent back as
// pageFromKey until a reply has none. A key seen before means the list loops
// and the walk stops with ErrEndlessPaging.
func keyPaged[T any](ctx context.Context, c *Client, service, what string, u *url.URL, q url.Values, hdr http.Header, auth authKind) ([]T, error) {
	seen := map[string]bool{}
	var out []T
	key := ""
	for page := 1; ; page++ {
		if page > c.cfg.MaxPages {
			return nil, fmt.Errorf("%s: %w: more than %d pages", what, ErrEndlessPaging, c.cfg.MaxPages)
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		if key != "" {
			pq.Set("pageFromKey", key)
		}
		pu := *u
		pu.RawQuery = pq.Encode()
		var p keyPage[T]
		if err := c.getJSON(ctx, service, fmt.Sprintf("%s page %d", what, page), &pu, hdr, auth, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.Pages.NextKey == "" {
			return out, nil
		}
		if seen[p.Pages.NextKey] || p.Pages.NextKey == key {
			return nil, fmt.Errorf("%s page %d: %w: next key repeats an earlier page", what, page, ErrEndlessPaging)
		}
		seen[p.Pages.NextKey] = true
		key = p.Pages.NextKey
	}
}

// EndpointAlert is one Sophos Central alert (endpoint, firewall, ...) from
// /common/v1/alerts.
type EndpointAlert struct {
	ID           string `json:"id"`
	Category     string `json:"category"`
	Type         string `json:"type"`
	Severity     string `json:"severity"` // low, medium, high
	Description  string `json:"description"`
	Product      string `json:"product"`
	RaisedAt     Time   `json:"raisedAt"`
	ManagedAgent struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"managedAgent"`
	Raw json.RawMessage `json:"-"`
}

type endpointAlertFields EndpointAlert

// UnmarshalJSON keeps a copy of the record in Raw.
func (a *EndpointAlert) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*endpointAlertFields)(a)); err != nil {
		return err
	}
	a.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// EndpointAlerts lists a tenant's Central alerts, key-paged, on the
// tenant's API host with X-Tenant-ID.
func (c *Client) EndpointAlerts(ctx context.Context, t Tenant) ([]EndpointAlert, error) {
	if c.tokens == nil {
		return nil, fmt.Errorf("endpoint alerts: no Sophos Central credentials configured")
	}
	u, err := parseBase(t.APIHost)
	if err != nil {
		return nil, fmt.Errorf("endpoint alerts for tenant %s: %w", t.ID, err)
	}
	q := url.Values{"pageSize": {strconv.Itoa(min(c.cfg.PageSize, 100))}}
	return keyPaged[EndpointAlert](ctx, c, serviceCentral, "list endpoint alerts for tenant "+t.ID,
		u.JoinPath("common/v1/alerts"), q, http.Header{"X-Tenant-ID": {t.ID}}, authBearer)
}
