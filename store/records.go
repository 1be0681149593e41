package store

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Kinds of stored record named by ChainError.Record.
const (
	RecordRequest  = "change request"
	RecordSnapshot = "snapshot"
)

// recordWitness is what the chain says about the stored records, gathered
// while Verify walks it. The chain is verified first, so everything here
// was written by the store (or by someone holding the audit key).
type recordWitness struct {
	// requests maps a request id to the last entry that wrote it: one
	// whose action starts with "request.", whose details name it as
	// "request", and that carries request_sha256 (or, written before that
	// key existed, "state" or the action request.created). Refusals and
	// other entries written with Append name the request only as their
	// Subject, or lack those keys, so they are not counted.
	requests map[string]AuditEntry
	// digested is the same, counting only entries with request_sha256: once
	// a request has one, an older-looking entry after it (which only Append
	// could write) must not turn its check back into the weaker one.
	digested map[string]AuditEntry
	// snapshots maps a snapshot id to its "snapshot.saved" entry.
	snapshots map[string]AuditEntry
	// pruned holds the snapshot ids a later save reports it pruned.
	pruned map[string]bool
	// legacyPrune is the last save that pruned snapshots without naming
	// them (written before pruned_ids existed): a snapshot saved before it
	// may have been pruned, so its absence proves nothing.
	legacyPrune uint64
}

func newRecordWitness() *recordWitness {
	return &recordWitness{requests: map[string]AuditEntry{}, digested: map[string]AuditEntry{}, snapshots: map[string]AuditEntry{}, pruned: map[string]bool{}}
}

func (w *recordWitness) observe(e AuditEntry) {
	switch {
	case strings.HasPrefix(e.Action, "request.") && e.Details[detailRequest] != "":
		id := e.Details[detailRequest]
		_, digest := e.Details[detailRecord]
		_, state := e.Details[detailState]
		if digest {
			w.digested[id] = e
		}
		if digest || state || e.Action == "request.created" {
			w.requests[id] = e
		}
	case e.Action == "snapshot.saved":
		w.snapshots[e.Subject] = e
		ids, ok := e.Details[detailPrunedIDs]
		if !ok {
			if n := e.Details["pruned"]; n != "" && n != "0" {
				w.legacyPrune = e.Seq
			}
			return
		}
		var list []string
		if json.Unmarshal([]byte(ids), &list) != nil {
			// Unreadable: treat like a legacy prune rather than accuse a
			// snapshot of having been deleted.
			w.legacyPrune = e.Seq
			return
		}
		for _, id := range list {
			w.pruned[id] = true
		}
	}
}

func recordError(kind, id string, seq uint64, format string, args ...any) *ChainError {
	return &ChainError{Seq: seq, Record: kind, ID: id, Reason: kind + " " + id + ": " + fmt.Sprintf(format, args...)}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func digestEqual(recorded string, b []byte) bool {
	return hmac.Equal([]byte(strings.ToLower(recorded)), []byte(sha256Hex(b)))
}

// verifyRecords checks the stored change requests and snapshots against the
// verified chain:
//
//   - every stored request has an entry that wrote it, and the last one's
//     request_sha256 is the SHA-256 of the request's stored bytes, so any
//     edit of the record (state, approvals, script, hash, anything) is
//     caught;
//   - every request an entry wrote is still stored;
//   - every stored snapshot has its "snapshot.saved" entry, whose
//     findings_sha256 and meta_sha256 are the SHA-256 of the stored
//     findings and metadata;
//   - every saved snapshot is still stored unless a later save pruned it.
//
// Databases written before these digests existed: an entry without
// request_sha256 is checked only for the state it recorded ("state", or
// pending for request.created), so on such a request an edit that keeps the
// state (an added approval, a changed script) goes unnoticed until the
// request is next written; a snapshot.saved entry without meta_sha256 skips
// the metadata check; and a snapshot saved before a save that pruned
// without pruned_ids may be missing. findings_sha256 was recorded from the
// start.
func verifyRecords(tx *bolt.Tx, w *recordWitness) error {
	stored := map[string]bool{}
	err := tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
		id := validUTF8(string(k))
		stored[id] = true
		e, ok := w.digested[id]
		if !ok {
			e, ok = w.requests[id]
		}
		if !ok {
			return recordError(RecordRequest, id, 0, "no audit entry records it")
		}
		if want, ok := e.Details[detailRecord]; ok {
			if !digestEqual(want, v) {
				return recordError(RecordRequest, id, e.Seq, "its stored record does not match audit entry %d", e.Seq)
			}
			return nil
		}
		// Written before request_sha256: the state is all the entry holds.
		want, ok := e.Details[detailState]
		if !ok && e.Action == "request.created" {
			want, ok = string(StatePending), true
		}
		if !ok {
			return nil
		}
		var cr ChangeRequest
		if err := json.Unmarshal(v, &cr); err != nil {
			return recordError(RecordRequest, id, e.Seq, "its stored record is unreadable")
		}
		if string(cr.State) != want {
			return recordError(RecordRequest, id, e.Seq, "its stored state is %s but audit entry %d recorded %s",
				truncate(string(cr.State), 40), e.Seq, truncate(want, 40))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := firstMissing(RecordRequest, w.requests, func(id string, _ AuditEntry) bool { return stored[id] }); err != nil {
		return err
	}

	b := tx.Bucket(bucketSnapshots)
	mb, fb := b.Bucket(subSnapMeta), b.Bucket(subSnapFindings)
	storedSnaps := map[string]bool{}
	c := mb.Cursor()
	for k, mv := c.First(); k != nil; k, mv = c.Next() {
		var m SnapshotMeta
		if err := json.Unmarshal(mv, &m); err != nil {
			return &ChainError{Record: RecordSnapshot, Reason: fmt.Sprintf("snapshot %x: its stored metadata is unreadable", k)}
		}
		id := validUTF8(m.ID)
		storedSnaps[id] = true
		e, ok := w.snapshots[id]
		if !ok {
			return recordError(RecordSnapshot, id, 0, "no audit entry records it")
		}
		if want, ok := e.Details[detailSnapMeta]; ok && !digestEqual(want, mv) {
			return recordError(RecordSnapshot, id, e.Seq, "its stored metadata does not match audit entry %d", e.Seq)
		}
		if !digestEqual(e.Details[detailFindings], fb.Get(k)) {
			return recordError(RecordSnapshot, id, e.Seq, "its stored findings do not match audit entry %d", e.Seq)
		}
	}
	return firstMissing(RecordSnapshot, w.snapshots, func(id string, e AuditEntry) bool {
		return storedSnaps[id] || w.pruned[id] || e.Seq < w.legacyPrune
	})
}

// firstMissing reports, of the records the chain wrote, the one whose last
// entry comes first among those for which present is false.
func firstMissing(kind string, written map[string]AuditEntry, present func(string, AuditEntry) bool) error {
	var missing []AuditEntry
	for id, e := range written {
		if !present(id, e) {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	e := slices.MinFunc(missing, func(a, b AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	id := e.Subject
	if kind == RecordRequest {
		id = e.Details[detailRequest]
	}
	return recordError(kind, id, e.Seq, "audit entry %d records it but it is not stored", e.Seq)
}
