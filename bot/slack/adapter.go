// Package slack is optix-bot's Slack adapter: it receives slash commands
// and button clicks over Socket Mode or signed HTTP, acknowledges each at
// once, runs the work on a bounded pool, and renders bot.Reply to Block
// Kit within Slack's limits. Handlers never see Slack types; escaping and
// size limits live only here.
package slack

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/optix-bot/optix-bot/bot"
)

// Handler answers one request; *bot.Router satisfies it.
type Handler interface {
	Handle(ctx context.Context, req bot.Request) bot.Reply
}

// GroupResolver returns the user groups of a Slack user (for example from
// usergroups.users.list) so that roles granted by group apply. Slack
// payloads do not carry groups.
type GroupResolver interface {
	UserGroups(ctx context.Context, userID string) ([]string, error)
}

// Config is everything the adapter needs; main fills it from flags and
// the environment.
type Config struct {
	BotToken      string // xoxb-…, for the Web API
	AppToken      string // xapp-…, for Socket Mode
	SigningSecret string // for HTTP mode
	// APIURL is the Web API base (SLACK_API_URL); default
	// https://slack.com/api/.
	APIURL     string
	Workers    int // concurrent handlers, default 8
	QueueSize  int // requests waiting for a worker, default 64
	Logger     *slog.Logger
	HTTPClient *http.Client
	Now        func() time.Time

	// Groups fills bot.User.Groups before the handler runs, so that roles
	// granted to a user group apply; default: usergroups.list, cached.
	Groups GroupResolver
	// PingTimeout is how long Socket Mode may go without a ping from
	// Slack before the connection counts as stalled; default 30s.
	PingTimeout time.Duration
	// MaxRetries bounds retries of one Web API or response_url call on
	// 429 and 5xx; default 4.
	MaxRetries int
	// MaxRetryWait caps one Retry-After wait; default 30s.
	MaxRetryWait time.Duration
}

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Adapter connects a Handler to Slack.
type Adapter struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	api    *slack.Client
	pool   *pool
	seen   *dedupe
	locks  keyedMutex
	side   sync.WaitGroup // modal openers and busy notices
	closed atomic.Bool

	socketStarted atomic.Bool
	connected     atomic.Bool
}

// Timing of duplicate suppression. Slack retries an undelivered event
// for up to about an hour; a double click lands within a second or two.
const (
	deliveryTTL = time.Hour
	clickWindow = 10 * time.Second
	dedupeMax   = 8192
)

// New checks the configuration and builds an adapter. It starts the
// worker pool but opens no connection: call RunSocket or serve
// HTTPHandler.
func New(cfg Config, h Handler) (*Adapter, error) {
	if h == nil {
		return nil, errors.New("slack adapter: no handler")
	}
	if !strings.HasPrefix(cfg.BotToken, "xoxb-") {
		return nil, errors.New("slack adapter: the bot token must be an xoxb- token")
	}
	if cfg.AppToken != "" && !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, errors.New("slack adapter: the app token must be an xapp- token")
	}
	if cfg.AppToken == "" && cfg.SigningSecret == "" {
		return nil, errors.New("slack adapter: need an app token (Socket Mode) or a signing secret (HTTP mode)")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		// slack-go appends method names directly to the base.
		cfg.APIURL += "/"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 30 * time.Second
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 4
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 30 * time.Second
	}
	a := &Adapter{
		cfg:  cfg,
		h:    h,
		log:  cfg.Logger.With("adapter", "slack"),
		pool: newPool(cfg.Workers, cfg.QueueSize),
		seen: newDedupe(dedupeMax, cfg.Now),
	}
	a.api = slack.New(cfg.BotToken,
		slack.OptionAPIURL(cfg.APIURL),
		slack.OptionHTTPClient(cfg.HTTPClient),
		slack.OptionAppLevelToken(cfg.AppToken),
	)
	if a.cfg.Groups == nil {
		a.cfg.Groups = &userGroups{api: a.api, now: cfg.Now}
	}
	return a, nil
}

// Connected reports whether the Socket Mode websocket is up, for
// /healthz. An adapter that only serves HTTP mode (RunSocket never
// called) has no connection to lose and reports true.
func (a *Adapter) Connected() bool {
	if !a.socketStarted.Load() {
		return !a.closed.Load()
	}
	return a.connected.Load()
}

// Close stops taking work and waits for queued and running work to
// finish, including its replies.
func (a *Adapter) Close() {
	a.closed.Store(true)
	a.pool.close()
	a.side.Wait()
}

// busyText is the whole answer when the queue is full.
const busyText = "optix-bot is busy, try again in a minute."

// job is one unit of work for the pool.
type job func(ctx context.Context)

// pool is a fixed set of workers behind a bounded queue. submit never
// blocks: a full queue is reported to the caller, who answers "busy".
type pool struct {
	q      chan job
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
}

func newPool(workers, queue int) *pool {
	p := &pool{q: make(chan job, queue)}
	for range workers {
		p.wg.Go(func() {
			for j := range p.q {
				j(context.Background())
			}
		})
	}
	return p
}

func (p *pool) submit(j job) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false
	}
	select {
	case p.q <- j:
		return true
	default:
		return false
	}
}

func (p *pool) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.q)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// dedupe remembers recent delivery keys, each for its own time, and at
// most max of them (oldest forgotten first), so a flood cannot grow it.
type dedupe struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	until map[string]time.Time
	order []string
}

func newDedupe(max int, now func() time.Time) *dedupe {
	return &dedupe{max: max, now: now, until: map[string]time.Time{}}
}

// firstTime records every key and reports whether none of them was
// already live: only then may the work run.
func (d *dedupe) firstTime(ttl time.Duration, keys ...string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	fresh := true
	for _, k := range keys {
		if k == "" {
			continue
		}
		if t, ok := d.until[k]; ok && now.Before(t) {
			fresh = false
		}
	}
	if !fresh {
		return false
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if _, ok := d.until[k]; !ok {
			d.order = append(d.order, k)
		}
		d.until[k] = now.Add(ttl)
	}
	for len(d.order) > d.max {
		delete(d.until, d.order[0])
		d.order = d.order[1:]
	}
	return true
}

// forget drops keys, so that Slack's retry of work refused as busy may
// run later.
func (d *dedupe) forget(keys ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.until, k)
	}
}

// keyedMutex serializes work per key (a channel), so the messages of one
// reply, and replies in one channel, keep their order even while one of
// them waits out a rate limit.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// The router is the handler main wires in.
var _ Handler = (*bot.Router)(nil)
