// Package slackemu is a Slack emulator on 127.0.0.1 for optix-bot's tests:
// the Web API methods the adapter calls, a Socket Mode websocket that
// pushes envelopes and expects acks, response_url endpoints, and helpers
// that sign HTTP-mode requests the way Slack does. It checks tokens,
// enforces Block Kit limits (invalid_blocks), can answer 429 with
// Retry-After or a 5xx on request, can drop or stall the socket, and
// records every call for assertions. It is safe for concurrent use.
package slackemu

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default tokens the emulator accepts when Options leaves them empty.
const (
	DefaultBotToken = "xoxb-emu-bot-token"
	DefaultAppToken = "xapp-emu-app-token"
	TeamID          = "T0EMU0001"
	AppID           = "A0EMU0001"
	BotUserID       = "U0EMUBOT1"
)

// Options configures a Server.
type Options struct {
	BotToken string
	AppToken string
	// PingInterval is how often the socket pings the client, as Slack
	// does; the client treats missing pings as a stalled connection.
	// Default 1s.
	PingInterval time.Duration
	// UserGroups maps user-group ids (S…) to their members, for
	// usergroups.list.
	UserGroups map[string][]string
}

// Call is one recorded request.
type Call struct {
	Method string // Web API method, "upload" or "response_url"
	Token  string
	Form   url.Values      // form-encoded bodies
	JSON   json.RawMessage // JSON bodies
	Status int             // HTTP status answered
	Error  string          // Slack error code answered, "" when ok
	At     time.Time
}

// Message is a message as the emulated workspace holds it.
type Message struct {
	Channel string
	TS      string
	Text    string
	Blocks  json.RawMessage
	// User is set for ephemeral messages (chat.postEphemeral).
	User    string
	Updates int
}

// ResponsePost is one POST to a response_url.
type ResponsePost struct {
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
}

// File is a completed upload.
type File struct {
	ID       string
	Filename string
	Title    string
	Channel  string
	Content  []byte
}

// View is a modal opened with views.open.
type View struct {
	ID              string
	TriggerID       string
	CallbackID      string
	PrivateMetadata string
	Raw             json.RawMessage
}

type fault struct {
	status     int
	retryAfter int
}

// Server is a running emulator.
type Server struct {
	// URL is the server's base URL; APIURL is URL + "/api/", the value
	// for the adapter's APIURL.
	URL    string
	APIURL string

	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	calls     []Call
	messages  []*Message
	faults    map[string][]fault
	pending   map[string]pendingUpload
	files     []File
	views     []View
	responses map[string][]ResponsePost
	seq       int

	sock socketState
}

type pendingUpload struct {
	filename string
	length   int
	content  []byte
	uploaded bool
}

// New starts an emulator on 127.0.0.1. Close it when done.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = DefaultBotToken
	}
	if opts.AppToken == "" {
		opts.AppToken = DefaultAppToken
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = time.Second
	}
	s := &Server{
		opts:      opts,
		faults:    map[string][]fault{},
		pending:   map[string]pendingUpload{},
		responses: map[string][]ResponsePost{},
	}
	s.sock.init()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.api)
	mux.HandleFunc("POST /upload/{id}", s.upload)
	mux.HandleFunc("POST /response/{id}", s.response)
	mux.HandleFunc("GET /socket", s.socket)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.APIURL = s.srv.URL + "/api/"
	return s
}

// Close drops every socket and stops the server.
func (s *Server) Close() {
	s.DropSockets()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// BotToken is the bot token the server accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// AppToken is the app-level token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.opts.AppToken }

// RateLimit makes the next n calls to method (a Web API method name,
// "upload" or "response_url") answer 429 with Retry-After in seconds.
func (s *Server) RateLimit(method string, n, retryAfterSeconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: http.StatusTooManyRequests, retryAfter: retryAfterSeconds})
	}
}

// FailNext makes the next n calls to method answer with an HTTP status
// (a 5xx, typically).
func (s *Server) FailNext(method string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: status})
	}
}

// Calls returns the recorded calls to method, or every call for "".
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of the messages in a channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// SeedMessage adds a message as if the bot had posted it earlier (the
// message a button click comes from) and returns its ts.
func (s *Server) SeedMessage(channel, text string, blocks json.RawMessage) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.nextTS()
	s.messages = append(s.messages, &Message{Channel: channel, TS: ts, Text: text, Blocks: blocks})
	return ts
}

// Files returns the completed uploads.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]File(nil), s.files...)
}

// Views returns the modals opened so far.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]View(nil), s.views...)
}

// NewResponseURL returns a fresh response_url, as Slack puts in each
// slash command and interaction payload.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := "R" + strconv.Itoa(s.seq)
	s.responses[id] = nil
	return s.URL + "/response/" + id
}

// ResponsePosts returns what was posted to a response_url.
func (s *Server) ResponsePosts(responseURL string) []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResponsePost(nil), s.responses[path1(responseURL)]...)
}

func path1(u string) string {
	i := strings.LastIndexByte(u, '/')
	return u[i+1:]
}

func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq)
}

// takeFault pops the next injected fault for method. Callers hold mu.
func (s *Server) takeFault(method string) (fault, bool) {
	q := s.faults[method]
	if len(q) == 0 {
		return fault{}, false
	}
	s.faults[method] = q[1:]
	return q[0], true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return ""
}

// api answers one Web API method.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_body"})
		return
	}
	call := Call{Method: method, Token: bearer(r), At: time.Now(), Status: http.StatusOK}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var js map[string]json.RawMessage
	if ct == "application/json" {
		call.JSON = body
		if len(body) > 0 {
			if err := json.Unmarshal(body, &js); err != nil {
				call.Error = "invalid_json"
			}
		}
	} else {
		call.Form, _ = url.ParseQuery(string(body))
		if call.Token == "" {
			call.Token = call.Form.Get("token")
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(status int, resp map[string]any) {
		call.Status = status
		if ok, _ := resp["ok"].(bool); !ok {
			call.Error, _ = resp["error"].(string)
		}
		s.calls = append(s.calls, call)
		writeJSON(w, status, resp)
	}
	fail := func(code string) { answer(http.StatusOK, map[string]any{"ok": false, "error": code}) }

	if f, ok := s.takeFault(method); ok {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		answer(f.status, map[string]any{"ok": false, "error": http.StatusText(f.status)})
		return
	}
	if call.Error == "invalid_json" {
		fail("invalid_json")
		return
	}
	wantToken := s.opts.BotToken
	if method == "apps.connections.open" {
		wantToken = s.opts.AppToken
	}
	switch {
	case call.Token == "":
		fail("not_authed")
		return
	case call.Token != wantToken:
		fail("invalid_auth")
		return
	}
	get := func(k string) string {
		if js != nil {
			var v string
			if json.Unmarshal(js[k], &v) == nil {
				return v
			}
			return string(js[k])
		}
		return call.Form.Get(k)
	}

	switch method {
	case "auth.test":
		answer(http.StatusOK, map[string]any{"ok": true, "url": "https://emu.slack.com/", "team": "Emulated", "user": "optix-bot",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": "B0EMU0001"})
	case "chat.postMessage", "chat.postEphemeral", "chat.update":
		channel, text, blocks := get("channel"), get("text"), get("blocks")
		if channel == "" {
			fail("channel_not_found")
			return
		}
		if text == "" && blocks == "" {
			fail("no_text")
			return
		}
		if len(text) > 0 && len([]rune(text)) > MaxMessageText {
			fail("msg_too_long")
			return
		}
		if err := ValidateBlocks([]byte(blocks)); err != nil {
			answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}})
			return
		}
		switch method {
		case "chat.update":
			ts := get("ts")
			for _, m := range s.messages {
				if m.Channel == channel && m.TS == ts && m.User == "" {
					m.Text, m.Blocks = text, json.RawMessage(blocks)
					m.Updates++
					answer(http.StatusOK, map[string]any{"ok": true, "channel": channel, "ts": ts, "text": text})
					return
				}
			}
			fail("message_not_found")
		case "chat.postEphemeral":
			user := get("user")
			if user == "" {
				fail("user_not_in_channel")
				return
			}
			ts := s.nextTS()
			s.messages = append(s.messages, &Message{Channel: channel, TS: ts, Text: text, Blocks: json.RawMessage(blocks), User: user})
			answer(http.StatusOK, map[string]any{"ok": true, "message_ts": ts})
		default:
			ts := s.nextTS()
			s.messages = append(s.messages, &Message{Channel: channel, TS: ts, Text: text, Blocks: json.RawMessage(blocks)})
			answer(http.StatusOK, map[string]any{"ok": true, "channel": channel, "ts": ts})
		}
	case "usergroups.list":
		var groups []map[string]any
		ids := make([]string, 0, len(s.opts.UserGroups))
		for id := range s.opts.UserGroups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			g := map[string]any{"id": id, "team_id": TeamID, "handle": strings.ToLower(id)}
			if get("include_users") == "true" {
				g["users"] = s.opts.UserGroups[id]
			}
			groups = append(groups, g)
		}
		answer(http.StatusOK, map[string]any{"ok": true, "usergroups": groups})
	case "views.open":
		trigger := get("trigger_id")
		if trigger == "" {
			fail("invalid_trigger_id")
			return
		}
		var v struct {
			Type            string          `json:"type"`
			CallbackID      string          `json:"callback_id"`
			PrivateMetadata string          `json:"private_metadata"`
			Blocks          json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(js["view"], &v); err != nil || v.Type != "modal" {
			fail("invalid_arguments")
			return
		}
		if len(v.PrivateMetadata) > 3000 {
			fail("invalid_arguments")
			return
		}
		if err := ValidateBlocks(v.Blocks); err != nil {
			answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}})
			return
		}
		s.seq++
		id := "V" + strconv.Itoa(s.seq)
		s.views = append(s.views, View{ID: id, TriggerID: trigger, CallbackID: v.CallbackID, PrivateMetadata: v.PrivateMetadata, Raw: js["view"]})
		answer(http.StatusOK, map[string]any{"ok": true, "view": map[string]any{"id": id, "type": "modal", "callback_id": v.CallbackID}})
	case "files.getUploadURLExternal":
		length, err := strconv.Atoi(get("length"))
		if get("filename") == "" || err != nil || length <= 0 {
			fail("invalid_arguments")
			return
		}
		s.seq++
		id := "F" + strconv.Itoa(s.seq)
		s.pending[id] = pendingUpload{filename: get("filename"), length: length}
		answer(http.StatusOK, map[string]any{"ok": true, "upload_url": s.URL + "/upload/" + id, "file_id": id})
	case "files.completeUploadExternal":
		var files []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal([]byte(get("files")), &files); err != nil || len(files) == 0 {
			fail("invalid_arguments")
			return
		}
		var done []map[string]any
		for _, f := range files {
			p, ok := s.pending[f.ID]
			if !ok || !p.uploaded {
				fail("file_not_found")
				return
			}
			if len(p.content) != p.length {
				fail("file_upload_size_mismatch")
				return
			}
			delete(s.pending, f.ID)
			s.files = append(s.files, File{ID: f.ID, Filename: p.filename, Title: f.Title, Channel: get("channel_id"), Content: p.content})
			done = append(done, map[string]any{"id": f.ID, "title": f.Title})
		}
		answer(http.StatusOK, map[string]any{"ok": true, "files": done})
	case "apps.connections.open":
		s.seq++
		u := strings.Replace(s.URL, "http://", "ws://", 1) + "/socket?ticket=" + strconv.Itoa(s.seq)
		answer(http.StatusOK, map[string]any{"ok": true, "url": u})
	default:
		fail("unknown_method")
	}
}

// upload receives the bytes for files.getUploadURLExternal's URL.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	call := Call{Method: "upload", Token: bearer(r), At: time.Now(), Status: http.StatusOK}
	var content []byte
	if f, _, err := r.FormFile("file"); err == nil {
		content, _ = io.ReadAll(f)
		_ = f.Close()
	} else {
		content, _ = io.ReadAll(r.Body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.takeFault("upload"); ok {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		call.Status = f.status
		s.calls = append(s.calls, call)
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	p, ok := s.pending[id]
	if !ok {
		call.Status, call.Error = http.StatusNotFound, "file_not_found"
		s.calls = append(s.calls, call)
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	p.content, p.uploaded = content, true
	s.pending[id] = p
	s.calls = append(s.calls, call)
	_, _ = fmt.Fprintf(w, "OK - %d", len(content))
}

// response answers a response_url POST.
func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	call := Call{Method: "response_url", JSON: body, At: time.Now(), Status: http.StatusOK}
	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(status int, code string) {
		call.Status, call.Error = status, code
		s.calls = append(s.calls, call)
		if code == "" {
			writeJSON(w, status, map[string]any{"ok": true})
			return
		}
		writeJSON(w, status, map[string]any{"ok": false, "error": code})
	}
	if f, ok := s.takeFault("response_url"); ok {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		answer(f.status, http.StatusText(f.status))
		return
	}
	posts, ok := s.responses[id]
	if !ok {
		answer(http.StatusNotFound, "expired_url")
		return
	}
	// Slack allows five uses of one response_url.
	if len(posts) >= 5 {
		answer(http.StatusNotFound, "used_url")
		return
	}
	var p ResponsePost
	if err := json.Unmarshal(body, &p); err != nil {
		answer(http.StatusBadRequest, "invalid_payload")
		return
	}
	if p.Text == "" && len(p.Blocks) == 0 {
		answer(http.StatusBadRequest, "no_text")
		return
	}
	if err := ValidateBlocks(p.Blocks); err != nil {
		answer(http.StatusBadRequest, "invalid_blocks")
		return
	}
	s.responses[id] = append(posts, p)
	answer(http.StatusOK, "")
}
