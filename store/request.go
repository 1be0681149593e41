package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// State is where a change request is in the approval workflow.
type State string

// Change request states. Only pending requests can change state.
const (
	StatePending  State = "pending"
	StateApproved State = "approved"
	StateRejected State = "rejected"
	StateExpired  State = "expired"
)

// MinPrefixLen is the shortest id prefix Request accepts: 8 hex digits of a
// uuid, 32 bits, enough to be unique among a store's requests in practice
// and short enough to type.
const MinPrefixLen = 8

// ChangeRequest is one drafted remediation awaiting (or past) approval. The
// workflow rules live in the handlers; the store keeps it atomic and audited.
type ChangeRequest struct {
	ID              string   `json:"id"`
	Findings        []string `json:"findings,omitempty"`
	Check           string   `json:"check,omitempty"`
	Provider        string   `json:"provider,omitempty"`
	Account         string   `json:"account,omitempty"`
	Environment     string   `json:"environment,omitempty"`
	Region          string   `json:"region,omitempty"`
	Resource        string   `json:"resource,omitempty"`
	Format          string   `json:"format,omitempty"` // hcl, bash, yaml
	Script          string   `json:"script"`
	ScriptSHA256    string   `json:"script_sha256"`
	TemplateVersion string   `json:"template_version,omitempty"`
	// Tailored names the template slots an LLM changed (resource names,
	// tag values); empty for the vetted script.
	Tailored  []string   `json:"tailored,omitempty"`
	Requester string     `json:"requester"`
	Created   time.Time  `json:"created"`
	Expires   time.Time  `json:"expires,omitzero"`
	State     State      `json:"state"`
	Approvals []Decision `json:"approvals,omitempty"`
	// RequiredApprovals defaults to 1: a request needing none would approve
	// itself.
	RequiredApprovals int       `json:"required_approvals"`
	Rejection         *Decision `json:"rejection,omitempty"`
	// Channel and MessageTS locate the posted message with the buttons, so
	// it can be updated when the request is decided.
	Channel   string `json:"channel,omitempty"`
	MessageTS string `json:"message_ts,omitempty"`
}

// Decision is one approval or the rejection of a request.
type Decision struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
	// ScriptSHA256 is the hash of the script the decider saw, so an approval
	// cannot be carried over to a different script.
	ScriptSHA256 string `json:"script_sha256,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// RequestFilter selects change requests. Zero fields match everything.
type RequestFilter struct {
	State     State
	Requester string
	Limit     int // <= 0: no limit
}

// ScriptHash is the hex SHA-256 of a script, as stored in ScriptSHA256.
func ScriptHash(script string) string {
	sum := sha256.Sum256([]byte(script))
	return hex.EncodeToString(sum[:])
}

// CreateRequest stores a new pending request and its "request.created"
// audit entry in one transaction. It fills ID (a new uuid), Created, State
// (pending), ScriptSHA256 and RequiredApprovals (1) when they are empty, and
// refuses a ScriptSHA256 that is not the script's hash or a State other than
// pending.
func (s *Store) CreateRequest(ctx context.Context, cr *ChangeRequest, actor string) error {
	if cr.ID == "" {
		cr.ID = uuid.NewString()
	} else {
		u, err := uuid.Parse(cr.ID)
		if err != nil {
			return fmt.Errorf("create request: id %q: %w", cr.ID, err)
		}
		cr.ID = u.String()
	}
	if cr.Created.IsZero() {
		cr.Created = s.now().UTC()
	}
	if cr.State == "" {
		cr.State = StatePending
	}
	if cr.State != StatePending {
		return fmt.Errorf("create request %s: state %q, want pending", cr.ID, cr.State)
	}
	if cr.RequiredApprovals < 1 {
		cr.RequiredApprovals = 1
	}
	if err := checkScriptHash(cr); err != nil {
		return fmt.Errorf("create request %s: %w", cr.ID, err)
	}
	v, err := json.Marshal(cr)
	if err != nil {
		return fmt.Errorf("create request %s: encode: %w", cr.ID, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRequests)
		if b.Get([]byte(cr.ID)) != nil {
			return ErrExists
		}
		if err := b.Put([]byte(cr.ID), v); err != nil {
			return err
		}
		details := map[string]string{
			"check":              cr.Check,
			"provider":           cr.Provider,
			"account":            cr.Account,
			"environment":        cr.Environment,
			"region":             cr.Region,
			"resource":           cr.Resource,
			"format":             cr.Format,
			"template_version":   cr.TemplateVersion,
			"requester":          cr.Requester,
			"required_approvals": strconv.Itoa(cr.RequiredApprovals),
			"findings":           strings.Join(cr.Findings, ","),
		}
		if !cr.Expires.IsZero() {
			details["expires"] = cr.Expires.UTC().Format(time.RFC3339)
		}
		if len(cr.Tailored) > 0 {
			details["tailored"] = strings.Join(cr.Tailored, ",")
		}
		rec, err := requestAudit(cr, v, AuditRecord{Actor: actor, Action: "request.created", Subject: cr.ID, Details: details})
		if err != nil {
			return err
		}
		_, err = s.appendTx(tx, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", cr.ID, err)
	}
	return nil
}

// Detail keys the store fills in every audit entry that writes a change
// request, so Verify can later prove the stored request is the one the chain
// recorded (see verifyRecords).
const (
	detailRequest = "request"       // the request id
	detailState   = "state"         // its state after the write
	detailScript  = "script_sha256" // its ScriptSHA256 after the write
	// detailRecord is the hex SHA-256 of the exact JSON bytes written to the
	// requests bucket. Entries written before it existed lack it.
	detailRecord = "request_sha256"
)

// requestAudit returns rec with the store's request details filled from cr
// and its stored bytes v. A caller's value for request, state or
// script_sha256 that disagrees with what is written is refused rather than
// overwritten: the entry would record something that did not happen.
func requestAudit(cr *ChangeRequest, v []byte, rec AuditRecord) (AuditRecord, error) {
	rec.Details = maps.Clone(rec.Details)
	if rec.Details == nil {
		rec.Details = map[string]string{}
	}
	if _, ok := rec.Details[detailRecord]; ok {
		return AuditRecord{}, fmt.Errorf("audit detail %q is the store's to fill", detailRecord)
	}
	for k, want := range map[string]string{detailRequest: cr.ID, detailState: string(cr.State), detailScript: cr.ScriptSHA256} {
		if got, ok := rec.Details[k]; ok && !strings.EqualFold(got, want) {
			return AuditRecord{}, fmt.Errorf("audit detail %s=%q disagrees with the request written (%q)", k, truncate(got, 80), want)
		}
		rec.Details[k] = want
	}
	sum := sha256.Sum256(v)
	rec.Details[detailRecord] = hex.EncodeToString(sum[:])
	return rec, nil
}

func checkScriptHash(cr *ChangeRequest) error {
	sum := ScriptHash(cr.Script)
	if cr.ScriptSHA256 == "" {
		cr.ScriptSHA256 = sum
	}
	if !strings.EqualFold(cr.ScriptSHA256, sum) {
		return fmt.Errorf("script_sha256 %s is not the hash of the script (%s)", cr.ScriptSHA256, sum)
	}
	cr.ScriptSHA256 = sum
	return nil
}

// Request finds a request by its full id or a unique prefix of at least
// MinPrefixLen characters. It returns ErrPrefixTooShort, ErrNotFound or
// ErrAmbiguous (naming the matches).
func (s *Store) Request(ctx context.Context, idOrPrefix string) (*ChangeRequest, error) {
	var cr *ChangeRequest
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		cr, _, err = findRequest(tx.Bucket(bucketRequests), idOrPrefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("request %q: %w", truncate(idOrPrefix, 40), err)
	}
	return cr, nil
}

// findRequest resolves an id or prefix inside a transaction, decoding (and
// so copying) the value.
func findRequest(b *bolt.Bucket, idOrPrefix string) (*ChangeRequest, []byte, error) {
	p := strings.ToLower(strings.TrimSpace(idOrPrefix))
	if len(p) < MinPrefixLen {
		return nil, nil, fmt.Errorf("%w: give at least %d characters of the id", ErrPrefixTooShort, MinPrefixLen)
	}
	key := []byte(p)
	v := b.Get(key)
	if v == nil {
		var matches []string
		c := b.Cursor()
		for k, kv := c.Seek(key); k != nil && strings.HasPrefix(string(k), p); k, kv = c.Next() {
			matches = append(matches, string(k))
			key, v = []byte(string(k)), kv
		}
		switch len(matches) {
		case 0:
			return nil, nil, ErrNotFound
		case 1:
		default:
			shown := matches
			if len(shown) > 5 {
				shown = shown[:5]
			}
			return nil, nil, fmt.Errorf("%w: it matches %d requests (%s)", ErrAmbiguous, len(matches), strings.Join(shown, ", "))
		}
	}
	cr := new(ChangeRequest)
	if err := json.Unmarshal(v, cr); err != nil {
		return nil, nil, fmt.Errorf("decode request %s: %w", key, err)
	}
	return cr, key, nil
}

// UpdateRequest loads the request (full id or unique prefix) inside one
// read-write transaction and calls fn, which applies the workflow rules by
// mutating cr and returns the audit record of what it did, or an error to
// refuse. On success the request and the audit entry are written in that
// transaction, and UpdateRequest returns the new request only after the
// commit is on disk. If fn fails nothing is written; the caller audits the
// refusal with Append. The store fills the entry's request, state,
// script_sha256 and request_sha256 details from what it writes, and refuses
// a record whose own values for them disagree.
//
// fn runs while the store's single writer lock is held: it must be quick and
// must not call the Store (that would deadlock).
func (s *Store) UpdateRequest(ctx context.Context, id string, fn func(cr *ChangeRequest) (AuditRecord, error)) (*ChangeRequest, error) {
	var out *ChangeRequest
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRequests)
		cr, key, err := findRequest(b, id)
		if err != nil {
			return err
		}
		rec, err := fn(cr)
		if err != nil {
			return err
		}
		if cr.ID != string(key) {
			return fmt.Errorf("the update changed the request id to %q", cr.ID)
		}
		if err := checkScriptHash(cr); err != nil {
			return err
		}
		if rec.Action == "" {
			return errors.New("the update returned no audit action")
		}
		if rec.Subject == "" {
			rec.Subject = cr.ID
		}
		v, err := json.Marshal(cr)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if rec, err = requestAudit(cr, v, rec); err != nil {
			return err
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		if _, err := s.appendTx(tx, rec); err != nil {
			return err
		}
		out = cr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update request %q: %w", truncate(id, 40), err)
	}
	return out, nil
}

// SetMessage records where the request's buttons were posted, with a
// "request.posted" audit entry.
func (s *Store) SetMessage(ctx context.Context, id, channel, ts string) error {
	_, err := s.UpdateRequest(ctx, id, func(cr *ChangeRequest) (AuditRecord, error) {
		cr.Channel, cr.MessageTS = channel, ts
		return AuditRecord{Actor: "optix-bot", Action: "request.posted",
			Details: map[string]string{"channel": channel, "message_ts": ts}}, nil
	})
	return err
}

// Requests lists requests matching f, newest first.
func (s *Store) Requests(ctx context.Context, f RequestFilter) ([]*ChangeRequest, error) {
	var out []*ChangeRequest
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			cr := new(ChangeRequest)
			if err := json.Unmarshal(v, cr); err != nil {
				return fmt.Errorf("decode request %s: %w", k, err)
			}
			if (f.State == "" || cr.State == f.State) && (f.Requester == "" || cr.Requester == f.Requester) {
				out = append(out, cr)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	slices.SortFunc(out, func(a, b *ChangeRequest) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// ExpireDue flips every pending request whose Expires is before now to
// expired, each with a "request.expired" audit entry, in one transaction.
// It returns how many it expired.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketRequests)
		var due []*ChangeRequest
		err := b.ForEach(func(k, v []byte) error {
			cr := new(ChangeRequest)
			if err := json.Unmarshal(v, cr); err != nil {
				return fmt.Errorf("decode request %s: %w", k, err)
			}
			if cr.State == StatePending && !cr.Expires.IsZero() && now.After(cr.Expires) {
				due = append(due, cr)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Written after the walk: bbolt forbids changing a bucket inside its
		// own ForEach.
		for _, cr := range due {
			cr.State = StateExpired
			v, err := json.Marshal(cr)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(cr.ID), v); err != nil {
				return err
			}
			rec, err := requestAudit(cr, v, AuditRecord{Actor: "optix-bot", Action: "request.expired", Subject: cr.ID,
				Details: map[string]string{"expires": cr.Expires.UTC().Format(time.RFC3339)}})
			if err != nil {
				return err
			}
			if _, err := s.appendTx(tx, rec); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire due requests: %w", err)
	}
	if n > 0 {
		s.log.Info("expired change requests", "count", n)
	}
	return n, nil
}

// truncate shortens user input quoted in an error, at a rune boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
