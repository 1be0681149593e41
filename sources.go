package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/optix-bot/optix-bot/handlers"
	"github.com/optix-bot/optix-bot/integrations/importer"
	"github.com/optix-bot/optix-bot/integrations/sophos"
	"github.com/optix-bot/optix-bot/integrations/sophos/sophostest"
	"github.com/optix-bot/optix-bot/posture"
)

// pullTimeout bounds one whole pull; each HTTP attempt has its own, shorter
// deadline inside the client.
const pullTimeout = 2 * time.Minute

// source is a configured finding source and what it needs at shutdown.
type source struct {
	puller         handlers.Puller
	close          func()
	defaultContext []byte // the context file to use when none is given
}

func newSource(_ context.Context, c config, log *slog.Logger) (*source, error) {
	switch {
	case c.Source == "demo":
		return demoSource(log)
	case c.Source == "sophos":
		if c.Sophos.OptixAPIKey == "" {
			return nil, fmt.Errorf("--source sophos needs OPTIX_API_KEY (and SOPHOS_CLIENT_ID / SOPHOS_CLIENT_SECRET for Central); see README, Pointing at a real tenant")
		}
		cl, err := sophos.New(sophos.Config{
			AuthURL: c.Sophos.AuthURL, APIURL: c.Sophos.APIURL, OptixURL: c.Sophos.OptixURL,
			ClientID: c.Sophos.ClientID, ClientSecret: c.Sophos.ClientSecret, OptixAPIKey: c.Sophos.OptixAPIKey,
			AlertsPath: c.Sophos.AlertsPath, InventoryPath: c.Sophos.InventoryPath, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("sophos client: %w", err)
		}
		return &source{puller: sophosPuller(cl, "sophos"), close: func() {}}, nil
	case strings.HasPrefix(c.Source, "file:"):
		path := strings.TrimPrefix(c.Source, "file:")
		return &source{puller: handlers.PullFunc(func(ctx context.Context) (*handlers.Pull, error) {
			start := time.Now().UTC()
			res, err := importer.ParseFile(path, posture.DefaultCatalogue())
			if err != nil {
				// The importer's errors start with "import PATH: "; say it once.
				msg := err.Error()
				var pe *fs.PathError
				if errors.As(err, &pe) {
					msg = pe.Err.Error()
				} else {
					msg = strings.TrimPrefix(msg, "import "+path+": ")
				}
				return nil, &handlers.SourceError{User: "the file " + path + " could not be imported: " + msg, Err: err}
			}
			return &handlers.Pull{Source: "file:" + path, Tenant: res.Format, Started: start, Finished: time.Now().UTC(), Findings: res.Findings}, nil
		}), close: func() {}}, nil
	}
	return nil, fmt.Errorf("unknown source %q", c.Source)
}

// demoSource starts the Sophos emulator on 127.0.0.1 with the demo estate
// and points the real client at it: the embedded default exercises the
// same code a real tenant does, with no credentials and no network.
func demoSource(log *slog.Logger) (*source, error) {
	srv := sophostest.NewServer(sophostest.Demo()...)
	id, secret, key := srv.Credentials()
	cl, err := sophos.New(sophos.Config{
		AuthURL: srv.URL, APIURL: srv.URL, OptixURL: srv.URL,
		ClientID: id, ClientSecret: secret, OptixAPIKey: key, Logger: log,
	})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo client: %w", err)
	}
	return &source{puller: sophosPuller(cl, "demo"), close: srv.Close, defaultContext: sophostest.DemoContext()}, nil
}

func sophosPuller(cl *sophos.Client, name string) handlers.Puller {
	return handlers.PullFunc(func(ctx context.Context) (*handlers.Pull, error) {
		ctx, cancel := context.WithTimeout(ctx, pullTimeout)
		defer cancel()
		p, err := cl.Pull(ctx)
		if err != nil {
			return nil, &handlers.SourceError{User: sophos.UserMessage(err), Err: err}
		}
		return &handlers.Pull{Source: name, Tenant: p.Tenant, Started: p.Started, Finished: p.Finished, Findings: p.Findings}, nil
	})
}
