package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/optix-bot/optix-bot/bot"
)

// GenesisHash is the prev_hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditRecord is what a caller asks to record; the store adds the sequence
// number, the time and the hashes.
type AuditRecord struct {
	Actor   string
	Action  string // e.g. request.created, request.approved, snapshot.saved
	Subject string // the id the entry is about
	Details map[string]string
}

// AuditEntry is one link of the chain as stored.
type AuditEntry struct {
	Seq      uint64
	Time     time.Time
	Actor    string
	Action   string
	Subject  string
	Details  map[string]string
	PrevHash string
	Hash     string
}

// ChainError says where verification found the chain broken, or found a
// stored record that disagrees with it. Seq is the first entry that fails;
// Reason is a sentence naming it.
type ChainError struct {
	Seq    uint64
	Reason string
	// Record and ID are set when the chain itself is intact but a stored
	// record is not what it recorded: Record is RecordRequest or
	// RecordSnapshot, ID the record's id, and Seq the entry it disagrees
	// with (0 when no entry records it at all).
	Record string
	ID     string
}

// Error is the reason, e.g. "entry 17: hash does not match its content" or
// "change request 3f2a9c1e-…: its stored record does not match audit entry
// 17".
func (e *ChainError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrChainBroken) true.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// VerifyResult is a verified chain's length and head hash. Publishing the
// head elsewhere (a chat message, a ticket) lets a later Verify prove the
// chain was not rewritten wholesale since.
type VerifyResult struct {
	Count uint64
	Head  string
}

// Canonical bytes of an entry, which anyone can recompute:
//
//	{"seq":N,"time":"T","actor":"A","action":"B","subject":"S","details":{"k1":"v1",...},"prev_hash":"P"}
//
// in exactly this field order, with no spaces; details keys sorted by their
// UTF-8 bytes (an empty map is {}); T is the UTC time in RFC 3339 with
// nanoseconds and trailing zeros dropped (Go's time.RFC3339Nano). Strings are
// valid UTF-8 (the store replaces invalid bytes with U+FFFD before hashing)
// and are escaped like Python's json.dumps(ensure_ascii=False): backslash,
// double quote, \b \f \n \r \t by their short forms, other bytes below 0x20
// as \u00xx in lower-case hex, everything else verbatim.
//
// hash = hex(SHA-256(P || canonical)), or hex(HMAC-SHA-256(key, P ||
// canonical)) with an audit key, where P is the previous entry's hash in
// lower-case hex (GenesisHash for the first). The stored value is the
// canonical bytes with ,"hash":"H" inserted before the final brace. In
// Python:
//
//	e = json.loads(value); h = e.pop("hash")
//	e["details"] = dict(sorted(e["details"].items()))
//	msg = e["prev_hash"].encode() + json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
//	assert hashlib.sha256(msg).hexdigest() == h
//
// The entry format is the same for every action; what ties the chain to the
// other buckets is details. Each entry that writes a change request carries
// "request" (its id), "state", "script_sha256" and "request_sha256", the
// hex SHA-256 of the exact value written under the id in the requests
// bucket; each "snapshot.saved" carries "findings_sha256" and "meta_sha256"
// (of the values under its key in snapshots/findings and snapshots/meta) and
// "pruned_ids" (a JSON array). Entries written before request_sha256,
// meta_sha256 and pruned_ids existed lack them; Verify says what it checks
// instead (see verifyRecords).
func canonical(e *AuditEntry) []byte {
	var b bytes.Buffer
	b.WriteString(`{"seq":`)
	b.WriteString(strconv.FormatUint(e.Seq, 10))
	b.WriteString(`,"time":`)
	writeString(&b, e.Time.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"actor":`)
	writeString(&b, e.Actor)
	b.WriteString(`,"action":`)
	writeString(&b, e.Action)
	b.WriteString(`,"subject":`)
	writeString(&b, e.Subject)
	b.WriteString(`,"details":{`)
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, k)
		b.WriteByte(':')
		writeString(&b, e.Details[k])
	}
	b.WriteString(`},"prev_hash":`)
	writeString(&b, e.PrevHash)
	b.WriteByte('}')
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

func (s *Store) hash(prev string, canon []byte) string {
	var h = sha256.New()
	if s.key != nil {
		h = hmac.New(sha256.New, s.key)
	}
	h.Write([]byte(prev))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// encodeEntry is the stored value: canonical bytes plus the hash.
func encodeEntry(canon []byte, hash string) []byte {
	out := make([]byte, 0, len(canon)+len(hash)+10)
	out = append(out, canon[:len(canon)-1]...)
	out = append(out, `,"hash":"`...)
	out = append(out, hash...)
	out = append(out, `"}`...)
	return out
}

// wireEntry decodes a stored value.
type wireEntry struct {
	Seq      uint64            `json:"seq"`
	Time     string            `json:"time"`
	Actor    string            `json:"actor"`
	Action   string            `json:"action"`
	Subject  string            `json:"subject"`
	Details  map[string]string `json:"details"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

func decodeEntry(v []byte) (AuditEntry, error) {
	var w wireEntry
	if err := json.Unmarshal(v, &w); err != nil {
		return AuditEntry{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("time: %w", err)
	}
	if w.Details == nil {
		w.Details = map[string]string{}
	}
	return AuditEntry{Seq: w.Seq, Time: t.UTC(), Actor: w.Actor, Action: w.Action, Subject: w.Subject,
		Details: w.Details, PrevHash: w.PrevHash, Hash: w.Hash}, nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// head is the last appended entry, kept in the meta bucket so that deleting
// the last entries is detected too: value is 8 bytes of big-endian seq
// followed by the hex hash.
func readHead(tx *bolt.Tx) (uint64, string, error) {
	v := tx.Bucket(bucketMeta).Get(keyAuditHead)
	if v == nil {
		return 0, GenesisHash, nil
	}
	if len(v) < 8 {
		return 0, "", errors.New("audit head record is malformed")
	}
	return binary.BigEndian.Uint64(v[:8]), string(v[8:]), nil
}

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// appendTx appends one entry inside tx. Callers that change state call it in
// the same transaction as the change.
func (s *Store) appendTx(tx *bolt.Tx, r AuditRecord) (AuditEntry, error) {
	if r.Action == "" {
		return AuditEntry{}, errors.New("audit record has no action")
	}
	seq, prev, err := readHead(tx)
	if err != nil {
		return AuditEntry{}, err
	}
	e := AuditEntry{
		Seq:      seq + 1,
		Time:     s.now().UTC(),
		Actor:    validUTF8(r.Actor),
		Action:   validUTF8(r.Action),
		Subject:  validUTF8(r.Subject),
		Details:  make(map[string]string, len(r.Details)),
		PrevHash: prev,
	}
	for k, v := range r.Details {
		e.Details[validUTF8(k)] = validUTF8(v)
	}
	canon := canonical(&e)
	e.Hash = s.hash(prev, canon)
	if err := tx.Bucket(bucketAudit).Put(seqKey(e.Seq), encodeEntry(canon, e.Hash)); err != nil {
		return AuditEntry{}, fmt.Errorf("write audit entry %d: %w", e.Seq, err)
	}
	head := append(seqKey(e.Seq), e.Hash...)
	if err := tx.Bucket(bucketMeta).Put(keyAuditHead, head); err != nil {
		return AuditEntry{}, fmt.Errorf("write audit head: %w", err)
	}
	return e, nil
}

// Append adds one entry to the chain and returns it once it is durable.
//
// The detail keys request_sha256 and meta_sha256 are the store's own (they
// witness the records it writes) and are refused here.
func (s *Store) Append(ctx context.Context, r AuditRecord) (AuditEntry, error) {
	for _, k := range []string{detailRecord, detailSnapMeta} {
		if _, ok := r.Details[k]; ok {
			return AuditEntry{}, fmt.Errorf("append audit %s: detail %q is the store's to fill", r.Action, k)
		}
	}
	var e AuditEntry
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		e, err = s.appendTx(tx, r)
		return err
	})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s: %w", r.Action, err)
	}
	return e, nil
}

// Record lets *Store serve as the router's bot.Auditor.
func (s *Store) Record(ctx context.Context, e bot.AuditEvent) error {
	_, err := s.Append(ctx, AuditRecord{Actor: e.Actor, Action: e.Action, Subject: e.Subject, Details: e.Details})
	return err
}

var _ bot.Auditor = (*Store)(nil)

// Verify recomputes the whole chain and checks it against the stored head,
// then checks the stored change requests and snapshots against the entries
// that wrote them (see verifyRecords). A broken chain gives a *ChainError
// naming the first bad entry, a record that disagrees with it a *ChainError
// naming the record too; other errors are I/O.
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	err := s.view(ctx, func(tx *bolt.Tx) error {
		headSeq, headHash, err := readHead(tx)
		if err != nil {
			return &ChainError{Seq: 0, Reason: err.Error()}
		}
		prev, want := GenesisHash, uint64(1)
		witness := newRecordWitness()
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return &ChainError{Seq: want, Reason: fmt.Sprintf("entry %d: a malformed key follows entry %d", want, want-1)}
			}
			seq := binary.BigEndian.Uint64(k)
			if seq != want {
				return &ChainError{Seq: want, Reason: fmt.Sprintf("entry %d missing", want)}
			}
			if seq > headSeq {
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("entry %d is beyond the recorded head %d", seq, headSeq)}
			}
			e, err := decodeEntry(v)
			if err != nil {
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("entry %d: unreadable: %v", seq, err)}
			}
			if e.Seq != seq {
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("entry %d out of order (it holds entry %d)", seq, e.Seq)}
			}
			if !hmac.Equal([]byte(s.hash(e.PrevHash, canonical(&e))), []byte(e.Hash)) {
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("entry %d: hash does not match its content", seq)}
			}
			if e.PrevHash != prev {
				return &ChainError{Seq: seq, Reason: fmt.Sprintf("entry %d: prev_hash does not match entry %d", seq, seq-1)}
			}
			witness.observe(e)
			prev, want = e.Hash, want+1
		}
		last := want - 1
		if last < headSeq {
			return &ChainError{Seq: want, Reason: fmt.Sprintf("entry %d missing", want)}
		}
		if last > 0 && prev != headHash {
			return &ChainError{Seq: last, Reason: fmt.Sprintf("entry %d: hash does not match the recorded head", last)}
		}
		if err := verifyRecords(tx, witness); err != nil {
			return err
		}
		res = VerifyResult{Count: last, Head: prev}
		return nil
	})
	if err != nil {
		var ce *ChainError
		if errors.As(err, &ce) {
			return VerifyResult{}, err
		}
		return VerifyResult{}, fmt.Errorf("verify audit chain: %w", err)
	}
	return res, nil
}

// AuditTail returns the last n entries, oldest first.
func (s *Store) AuditTail(ctx context.Context, n int) ([]AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeEntry(v) // decoding copies out of bbolt's memory
			if err != nil {
				return fmt.Errorf("decode audit entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit tail: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// AuditFor returns, oldest first, the entries about one subject: those whose
// Subject is it or whose details name it as "request".
func (s *Store) AuditFor(ctx context.Context, subject string) ([]AuditEntry, error) {
	var out []AuditEntry
	needle := []byte(subject)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			// Cheap filter before decoding: a subject that is stored unescaped
			// must occur in the raw bytes.
			if !needsEscape(subject) && !bytes.Contains(v, needle) {
				return nil
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("decode audit entry %x: %w", k, err)
			}
			if e.Subject == subject || e.Details["request"] == subject {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read audit for %q: %w", subject, err)
	}
	return out, nil
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == '"' || s[i] == '\\' {
			return true
		}
	}
	return !utf8.ValidString(s)
}
