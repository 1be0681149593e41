package sophos

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Providers whose inventory Pull fetches, in the spelling the Optix
// inventory's provider parameter takes.
var Providers = []string{"AWS", "Azure", "GCP"}

// optixPage is the Cloud Optix list envelope.
type optixPage[T any] struct {
	Data    []T  `json:"data"`
	HasNext Bool `json:"hasNext"`
}

// optixPaged walks a {data, hasNext} list from page 0. A list that claims
// more pages but sends an empty one, sends a page whose first record
// starts an earlier page, or exceeds MaxPages is stopped with
// ErrEndlessPaging: the caller never gets a silently shortened list.
func optixPaged[T any](ctx context.Context, c *Client, what, path string, q url.Values, keyOf func(*T) string) ([]T, error) {
	firsts := map[string]int{}
	var out []T
	for page := 0; ; page++ {
		if page >= c.cfg.MaxPages {
			return nil, fmt.Errorf("%s: %w: more than %d pages", what, ErrEndlessPaging, c.cfg.MaxPages)
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("page", strconv.Itoa(page))
		pq.Set("size", strconv.Itoa(c.cfg.PageSize))
		u := c.optix.JoinPath(strings.TrimPrefix(path, "/"))
		u.RawQuery = pq.Encode()
		var p optixPage[T]
		if err := c.getJSON(ctx, serviceOptix, fmt.Sprintf("%s page %d", what, page), u, nil, authAPIKey, &p); err != nil {
			return nil, err
		}
		if len(p.Data) == 0 {
			if p.HasNext {
				return nil, fmt.Errorf("%s page %d: %w: empty page says more follow", what, page, ErrEndlessPaging)
			}
			return out, nil
		}
		if k := keyOf(&p.Data[0]); k != "" {
			if prev, dup := firsts[k]; dup {
				return nil, fmt.Errorf("%s page %d: %w: it repeats page %d", what, page, ErrEndlessPaging, prev)
			}
			firsts[k] = page
		}
		out = append(out, p.Data...)
		if !p.HasNext {
			return out, nil
		}
	}
}

// Alerts lists every Cloud Optix alert.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	return optixPaged(ctx, c, "list optix alerts", c.cfg.AlertsPath, nil, func(a *Alert) string { return a.AlertID })
}

// Hosts lists the Cloud Optix VM inventory of one provider (AWS, Azure or
// GCP).
func (c *Client) Hosts(ctx context.Context, provider string) ([]Host, error) {
	return optixPaged(ctx, c, "list optix "+provider+" inventory", c.cfg.InventoryPath, url.Values{"provider": {provider}},
		func(h *Host) string { return h.AccountID + "/" + h.InstanceID })
}
