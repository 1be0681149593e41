package sophos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/optix-bot/optix-bot/posture"
)

// Pull is one complete read of the estate. A Pull is only ever returned
// whole: any failed page fails the pull.
type Pull struct {
	// Tenant names who was pulled: the tenant id for a tenant login, the
	// tenant names (else ids) for a partner or organization, "optix" when
	// only an Optix API key was configured.
	Tenant            string
	Login             string   // tenant, partner, organization, or "" without Central
	Tenants           []Tenant // tenants reached through Central
	Started, Finished time.Time
	Alerts            []Alert
	Hosts             []Host
	Findings          []posture.Finding
}

// Pull reads who the Central credentials belong to and their tenants (when
// given), then every Optix alert and the AWS, Azure and GCP inventory
// concurrently, and normalizes them into findings.
func (c *Client) Pull(ctx context.Context) (*Pull, error) {
	p := &Pull{Started: time.Now().UTC(), Tenant: "optix"}
	if c.tokens != nil {
		w, err := c.WhoAmI(ctx)
		if err != nil {
			return nil, fmt.Errorf("pull: %w", err)
		}
		ts, err := c.Tenants(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("pull: %w", err)
		}
		p.Login, p.Tenants = w.IDType, ts
		names := make([]string, 0, len(ts))
		for _, t := range ts {
			if t.Name != "" {
				names = append(names, t.Name)
			} else {
				names = append(names, t.ID)
			}
		}
		if len(names) > 0 {
			p.Tenant = strings.Join(names, ", ")
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		a, err := c.Alerts(gctx)
		p.Alerts = a
		return err
	})
	hosts := make([][]Host, len(Providers))
	for i, prov := range Providers {
		g.Go(func() error {
			h, err := c.Hosts(gctx, prov)
			hosts[i] = h
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	for _, h := range hosts {
		p.Hosts = append(p.Hosts, h...)
	}
	p.Findings = Normalize(p.Alerts, p.Hosts, c.cfg.Catalogue)
	p.Finished = time.Now().UTC()
	c.log.Info("sophos pull done", "tenant", p.Tenant, "alerts", len(p.Alerts), "hosts", len(p.Hosts),
		"findings", len(p.Findings), "took", p.Finished.Sub(p.Started))
	return p, nil
}
