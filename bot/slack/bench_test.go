package slack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/slack/slackemu"
)

// slowHandler takes 10 s per command unless stop closes first.
type slowHandler struct{ stop chan struct{} }

func (s slowHandler) Handle(ctx context.Context, req bot.Request) bot.Reply {
	select {
	case <-time.After(10 * time.Second):
	case <-s.stop:
	case <-ctx.Done():
	}
	return bot.Reply{OK: true, Summary: "done"}
}

// BenchmarkAckLatency sends 50 concurrent signed slash commands over HTTP
// mode while each command's work takes 10 s, and reports how long the
// acks took. Slack gives up after 3 s.
func BenchmarkAckLatency(b *testing.B) {
	emu := slackemu.New(slackemu.Options{})
	defer emu.Close()
	stop := make(chan struct{})
	a, err := New(Config{BotToken: emu.BotToken(), SigningSecret: testSecret, APIURL: emu.APIURL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, slowHandler{stop: stop})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(a.HTTPHandler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	const concurrent = 50
	var lat []time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for range concurrent {
			c := slackemu.Command{Text: "top-risks", UserID: "U1", ChannelID: "C1", ResponseURL: emu.NewResponseURL()}
			body := []byte(c.Form().Encode())
			wg.Go(func() {
				req, err := slackemu.SignedRequest(context.Background(), srv.URL+"/slack/commands", testSecret, time.Now(), slackemu.FormContentType, body)
				if err != nil {
					b.Error(err)
					return
				}
				start := time.Now()
				resp, err := client.Do(req)
				d := time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop) // let the background work end
	a.Close()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "ack-p50-ms")
	b.ReportMetric(pct(0.99), "ack-p99-ms")
}
