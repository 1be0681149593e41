package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/optix-bot/optix-bot/posture"
)

// Snapshot is the result of one pull from one source, kept so later work
// (drift) can compare scans.
type Snapshot struct {
	ID     string // assigned by SaveSnapshot when empty
	Time   time.Time
	Source string // optix, prowler, asff
	Tenant string
	// Complete must be set by the puller only when every page arrived.
	// SaveSnapshot refuses anything else: a partial pull stored as complete
	// would make drift report everything it missed as resolved.
	Complete bool
	Findings []posture.Finding
	// Counts is computed by SaveSnapshot from Findings; what the caller puts
	// here is ignored.
	Counts Counts
}

// Counts summarises a snapshot's findings.
type Counts struct {
	Total    int            `json:"total"`
	ByStatus map[string]int `json:"by_status,omitempty"`
	// BySeverity counts open findings only: what is left to fix.
	BySeverity map[string]int `json:"by_severity,omitempty"`
}

// SnapshotMeta is a snapshot without its findings.
type SnapshotMeta struct {
	ID     string    `json:"id"`
	Seq    uint64    `json:"seq"` // save order, across sources
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Tenant string    `json:"tenant,omitempty"`
	Counts Counts    `json:"counts"`
	// FindingsSHA256 is the hash of the stored findings JSON, also written to
	// the audit entry of the save.
	FindingsSHA256 string `json:"findings_sha256"`
}

func countFindings(fs []posture.Finding) Counts {
	c := Counts{Total: len(fs), ByStatus: map[string]int{}, BySeverity: map[string]int{}}
	for i := range fs {
		c.ByStatus[string(fs[i].Status)]++
		if fs[i].Status == posture.StatusOpen {
			c.BySeverity[fs[i].Severity.String()]++
		}
	}
	return c
}

// SaveSnapshot stores a complete pull, appends a "snapshot.saved" audit
// entry in the same transaction, and drops the oldest snapshots of that
// source beyond Options.KeepSnapshots. It returns ErrIncomplete, writing
// nothing, unless snap.Complete is true.
func (s *Store) SaveSnapshot(ctx context.Context, snap Snapshot) (SnapshotMeta, error) {
	if !snap.Complete {
		return SnapshotMeta{}, fmt.Errorf("save snapshot of %s: %w", snap.Source, ErrIncomplete)
	}
	if snap.Source == "" {
		return SnapshotMeta{}, errors.New("save snapshot: no source")
	}
	if snap.ID == "" {
		snap.ID = uuid.NewString()
	}
	if snap.Time.IsZero() {
		snap.Time = s.now()
	}
	findings := snap.Findings
	if findings == nil {
		findings = []posture.Finding{} // an empty estate is [], not null
	}
	data, err := json.Marshal(findings)
	if err != nil {
		return SnapshotMeta{}, fmt.Errorf("save snapshot %s: encode findings: %w", snap.ID, err)
	}
	sum := sha256.Sum256(data)
	meta := SnapshotMeta{
		ID: snap.ID, Time: snap.Time.UTC(), Source: snap.Source, Tenant: snap.Tenant,
		Counts: countFindings(findings), FindingsSHA256: hex.EncodeToString(sum[:]),
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		mb, fb, ib := b.Bucket(subSnapMeta), b.Bucket(subSnapFindings), b.Bucket(subSnapIDs)
		if ib.Get([]byte(meta.ID)) != nil {
			return fmt.Errorf("snapshot %s: %w", meta.ID, ErrExists)
		}
		seq, err := mb.NextSequence()
		if err != nil {
			return err
		}
		meta.Seq = seq
		mv, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		k := seqKey(seq)
		if err := mb.Put(k, mv); err != nil {
			return err
		}
		if err := fb.Put(k, data); err != nil {
			return err
		}
		if err := ib.Put([]byte(meta.ID), k); err != nil {
			return err
		}
		pruned, err := s.pruneTx(mb, fb, ib, meta.Source)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		metaSum := sha256.Sum256(mv)
		prunedIDs, err := json.Marshal(pruned) // JSON: a caller's snapshot id may hold a comma
		if err != nil {
			return err
		}
		_, err = s.appendTx(tx, AuditRecord{
			Actor: "optix-bot", Action: "snapshot.saved", Subject: meta.ID,
			Details: map[string]string{
				"source":        meta.Source,
				"tenant":        meta.Tenant,
				"findings":      strconv.Itoa(meta.Counts.Total),
				"open":          strconv.Itoa(meta.Counts.ByStatus[string(posture.StatusOpen)]),
				detailFindings:  meta.FindingsSHA256,
				detailSnapMeta:  hex.EncodeToString(metaSum[:]),
				"pruned":        strconv.Itoa(len(pruned)),
				detailPrunedIDs: string(prunedIDs),
			},
		})
		return err
	})
	if err != nil {
		return SnapshotMeta{}, fmt.Errorf("save snapshot %s: %w", meta.ID, err)
	}
	return meta, nil
}

// Detail keys of a "snapshot.saved" entry that Verify checks against the
// stored snapshot (see verifyRecords). Entries written before the last two
// existed lack them.
const (
	detailFindings = "findings_sha256" // hex SHA-256 of the stored findings JSON
	// detailSnapMeta is the hex SHA-256 of the stored SnapshotMeta JSON.
	detailSnapMeta = "meta_sha256"
	// detailPrunedIDs lists, as a JSON array of strings, the snapshots this
	// save pruned, so Verify can tell a pruned snapshot from a deleted one.
	detailPrunedIDs = "pruned_ids"
)

// pruneTx deletes the snapshots of source older than the newest s.keep and
// returns their ids.
func (s *Store) pruneTx(mb, fb, ib *bolt.Bucket, source string) ([]string, error) {
	var doomed []SnapshotMeta
	kept := 0
	c := mb.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		var m SnapshotMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("decode snapshot %x: %w", k, err)
		}
		if m.Source != source {
			continue
		}
		if kept < s.keep {
			kept++
			continue
		}
		doomed = append(doomed, m)
	}
	// Deleting while a cursor walks the bucket skips keys; delete afterwards.
	ids := make([]string, 0, len(doomed))
	for _, m := range doomed {
		k := seqKey(m.Seq)
		if err := mb.Delete(k); err != nil {
			return nil, err
		}
		if err := fb.Delete(k); err != nil {
			return nil, err
		}
		if err := ib.Delete([]byte(m.ID)); err != nil {
			return nil, err
		}
		ids = append(ids, m.ID)
	}
	if len(doomed) > 0 {
		s.log.Info("pruned snapshots", "source", source, "count", len(doomed), "keep", s.keep)
	}
	return ids, nil
}

// Snapshots lists snapshots newest first, without findings. limit <= 0
// lists all.
func (s *Store) Snapshots(ctx context.Context, limit int) ([]SnapshotMeta, error) {
	var out []SnapshotMeta
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSnapshots).Bucket(subSnapMeta).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var m SnapshotMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode snapshot %x: %w", k, err)
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return out, nil
}

// LatestSnapshot returns the newest snapshot of source, or ErrNotFound.
func (s *Store) LatestSnapshot(ctx context.Context, source string) (*Snapshot, error) {
	var meta SnapshotMeta
	var data []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		c := b.Bucket(subSnapMeta).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if err := json.Unmarshal(v, &meta); err != nil {
				return fmt.Errorf("decode snapshot %x: %w", k, err)
			}
			if meta.Source == source {
				// bbolt's memory is valid only inside the transaction.
				data = bytes.Clone(b.Bucket(subSnapFindings).Get(k))
				return nil
			}
		}
		return ErrNotFound
	})
	if err != nil {
		return nil, fmt.Errorf("latest snapshot of %s: %w", source, err)
	}
	return decodeSnapshot(meta, data)
}

// Snapshot returns one snapshot by id, or ErrNotFound.
func (s *Store) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	var meta SnapshotMeta
	var data []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		k := b.Bucket(subSnapIDs).Get([]byte(id))
		if len(k) != 8 {
			return ErrNotFound
		}
		if err := json.Unmarshal(b.Bucket(subSnapMeta).Get(k), &meta); err != nil {
			return fmt.Errorf("decode snapshot meta: %w", err)
		}
		data = bytes.Clone(b.Bucket(subSnapFindings).Get(k))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return decodeSnapshot(meta, data)
}

func decodeSnapshot(m SnapshotMeta, data []byte) (*Snapshot, error) {
	snap := &Snapshot{ID: m.ID, Time: m.Time, Source: m.Source, Tenant: m.Tenant, Complete: true, Counts: m.Counts}
	if err := json.Unmarshal(data, &snap.Findings); err != nil {
		return nil, fmt.Errorf("decode findings of snapshot %s: %w", m.ID, err)
	}
	return snap, nil
}
