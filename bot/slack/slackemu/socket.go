package slackemu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Ack is a client's acknowledgement of one envelope.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	At         time.Time       `json:"-"`
}

type wsConn struct {
	c       *websocket.Conn
	writeMu sync.Mutex
	stalled chan struct{} // closed when the connection should go silent
	stall   sync.Once
}

func (w *wsConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return w.c.WriteMessage(websocket.TextMessage, b)
}

type socketState struct {
	mu          sync.Mutex
	conns       []*wsConn
	connections int // hello sent so far, over the server's life
	acks        map[string]Ack
	changed     chan struct{} // closed and replaced on every ack or connect
	envSeq      int
}

func (st *socketState) init() {
	st.acks = map[string]Ack{}
	st.changed = make(chan struct{})
}

// notify wakes every waiter. Callers hold st.mu.
func (st *socketState) notify() {
	close(st.changed)
	st.changed = make(chan struct{})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ticket") == "" {
		http.Error(w, "no ticket", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := &wsConn{c: c, stalled: make(chan struct{})}
	st := &s.sock
	st.mu.Lock()
	st.conns = append(st.conns, conn)
	st.connections++
	n := st.connections
	st.mu.Unlock()

	_ = conn.write(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": AppID},
		"debug_info":      map[string]any{"host": "slackemu", "approximate_connection_time": 3600}})
	st.mu.Lock()
	st.notify()
	st.mu.Unlock()
	_ = n

	done := make(chan struct{})
	go s.pinger(conn, done)
	defer func() {
		close(done)
		_ = c.Close()
		st.mu.Lock()
		for i, x := range st.conns {
			if x == conn {
				st.conns = append(st.conns[:i], st.conns[i+1:]...)
				break
			}
		}
		st.notify()
		st.mu.Unlock()
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		select {
		case <-conn.stalled:
			continue // a stalled Slack drops what it gets
		default:
		}
		var a Ack
		if json.Unmarshal(msg, &a) != nil || a.EnvelopeID == "" {
			continue
		}
		a.At = time.Now()
		st.mu.Lock()
		if _, dup := st.acks[a.EnvelopeID]; !dup {
			st.acks[a.EnvelopeID] = a
		}
		st.notify()
		st.mu.Unlock()
	}
}

// pinger pings the client like Slack does, until the connection stalls
// or ends.
func (s *Server) pinger(conn *wsConn, done <-chan struct{}) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-conn.stalled:
			return
		case <-t.C:
			if err := conn.c.WriteControl(websocket.PingMessage, []byte("emu"), time.Now().Add(time.Second)); err != nil {
				return
			}
		}
	}
}

// ErrNoSocket is returned by Push when no client is connected.
var ErrNoSocket = errors.New("slackemu: no socket mode client is connected")

// Push sends an envelope of type typ ("slash_commands", "interactive",
// "events_api") to the newest connection and returns its envelope id.
func (s *Server) Push(typ string, payload any) (string, error) {
	st := &s.sock
	st.mu.Lock()
	st.envSeq++
	id := "env-" + strconv.Itoa(st.envSeq)
	st.mu.Unlock()
	return id, s.PushEnvelope(id, typ, payload, 0)
}

// PushEnvelope sends an envelope with a chosen id; a retryAttempt above
// zero models Slack redelivering an envelope it saw no ack for.
func (s *Server) PushEnvelope(envelopeID, typ string, payload any, retryAttempt int) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	st := &s.sock
	st.mu.Lock()
	var conn *wsConn
	if len(st.conns) > 0 {
		conn = st.conns[len(st.conns)-1]
	}
	st.mu.Unlock()
	if conn == nil {
		return ErrNoSocket
	}
	env := map[string]any{"envelope_id": envelopeID, "type": typ, "payload": json.RawMessage(raw),
		"accepts_response_payload": typ == "slash_commands", "retry_attempt": retryAttempt}
	if retryAttempt > 0 {
		env["retry_reason"] = "timeout"
	}
	return conn.write(env)
}

// WaitAck waits for the ack of an envelope.
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (Ack, error) {
	st := &s.sock
	for {
		st.mu.Lock()
		a, ok := st.acks[envelopeID]
		ch := st.changed
		st.mu.Unlock()
		if ok {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return Ack{}, ctx.Err()
		case <-ch:
		}
	}
}

// WaitConnections waits until at least n connections have been opened
// over the server's life and one is open now.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	st := &s.sock
	for {
		st.mu.Lock()
		ok := st.connections >= n && len(st.conns) > 0
		ch := st.changed
		st.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Connections is how many socket connections have been opened so far.
func (s *Server) Connections() int {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.connections
}

// DropSockets closes every socket abruptly, without a close frame, as a
// network failure would.
func (s *Server) DropSockets() {
	st := &s.sock
	st.mu.Lock()
	conns := append([]*wsConn(nil), st.conns...)
	st.mu.Unlock()
	for _, c := range conns {
		_ = c.c.NetConn().Close()
	}
}

// StallSockets makes every open socket go silent (no pings, acks
// ignored) while the TCP connection stays up: the client must notice
// by itself and reconnect.
func (s *Server) StallSockets() {
	st := &s.sock
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, c := range st.conns {
		c.stall.Do(func() { close(c.stalled) })
	}
}
