// Package store keeps optix-bot's durable state in one bbolt file: the
// snapshots of each complete pull, the change requests of the approval
// workflow, and the tamper-evident audit chain that records every decision.
//
// Every write that changes state appends its audit entry in the same bbolt
// transaction, so a state change and its record are durable together or not
// at all. Methods return only after the commit (and its fsync) returned.
package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// One top-level bucket per concern.
var (
	bucketMeta      = []byte("meta")
	bucketAudit     = []byte("audit")
	bucketSnapshots = []byte("snapshots")
	bucketRequests  = []byte("requests")

	// Inside bucketSnapshots: the small metadata, the findings and the id index
	// are kept apart so listing snapshots never decodes findings.
	subSnapMeta     = []byte("meta")
	subSnapFindings = []byte("findings")
	subSnapIDs      = []byte("ids")

	keySchema    = []byte("schema")
	keyAuditHead = []byte("audit_head")
	keyAuditMode = []byte("audit_mode")
	keyAuditKey  = []byte("audit_key_check")
)

const schemaVersion = "1"

// DefaultKeepSnapshots is how many snapshots per source are kept when
// Options.KeepSnapshots is zero.
const DefaultKeepSnapshots = 50

// Errors callers classify with errors.Is.
var (
	// ErrLocked means another process holds the database file. The error
	// returned by Open wraps it in a *LockedError naming the holder.
	ErrLocked = errors.New("the database is in use by another optix-bot process")
	// ErrNotFound means no record has that id.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous means an id prefix matches more than one record.
	ErrAmbiguous = errors.New("ambiguous id prefix")
	// ErrPrefixTooShort means an id prefix is shorter than MinPrefixLen.
	ErrPrefixTooShort = errors.New("id prefix too short")
	// ErrExists means a record with that id already exists.
	ErrExists = errors.New("already exists")
	// ErrIncomplete means a snapshot of a partial pull was offered for saving.
	ErrIncomplete = errors.New("snapshot is not complete")
	// ErrAuditKey means the audit key given to Open is not the one the chain
	// in the file was written with (or one was given and none was used, or
	// the reverse). Appending would produce a chain nobody can verify.
	ErrAuditKey = errors.New("audit key does not match the one the audit chain was written with")
	// ErrChainBroken is matched by every *ChainError.
	ErrChainBroken = errors.New("audit chain broken")
	// ErrReadOnly is returned by every method that writes when the Store was
	// opened with Options.ReadOnly.
	ErrReadOnly = errors.New("the database was opened read-only")
	// ErrNotDatabase means the path given to Open is a directory, some
	// other file, or a bbolt file optix-bot did not write.
	ErrNotDatabase = errors.New("not an optix-bot database")
)

// openError is an Open failure told as one sentence that names the path.
// errors.Is matches its kind; Unwrap gives the underlying cause (bbolt's or
// the OS's), which the sentence leaves out because it would only restate it
// in bbolt's terms.
type openError struct {
	msg   string
	kind  error
	cause error
}

func (e *openError) Error() string        { return e.msg }
func (e *openError) Is(target error) bool { return target == e.kind }
func (e *openError) Unwrap() error        { return e.cause }

func notDatabase(path string, cause error) error {
	return &openError{msg: path + " is not an optix-bot database", kind: ErrNotDatabase, cause: cause}
}

// checkPath refuses, before bbolt opens it, a path that cannot hold a
// database: bbolt would otherwise answer "invalid database" for a directory
// or try to read from a named pipe.
func checkPath(path string, readOnly bool) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && readOnly {
		return &openError{msg: "there is no optix-bot database at " + path, kind: fs.ErrNotExist, cause: err}
	}
	if err != nil {
		// A missing file is created; any other problem is bbolt's to report.
		return nil
	}
	switch {
	case fi.IsDir():
		return &openError{msg: path + " is a directory, not an optix-bot database", kind: ErrNotDatabase}
	case !fi.Mode().IsRegular():
		return &openError{msg: path + " is not a regular file, so not an optix-bot database", kind: ErrNotDatabase}
	case fi.Size() == 0 && readOnly:
		// Read-write, bbolt makes an empty file a new database; read-only it
		// would try to and fail with "bad file descriptor".
		return &openError{msg: path + " is empty, not an optix-bot database", kind: ErrNotDatabase}
	}
	return nil
}

// isOSError tells an I/O or permission failure (worth showing as is) from
// bbolt refusing the file's content, which means it is not a bbolt file.
func isOSError(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock (default 1s). A second
	// process gets ErrLocked after it rather than hanging.
	Timeout time.Duration
	// ReadOnly opens an existing database without writing to it, so a file
	// the process may only read (another user's, a 0444 copy) can still be
	// verified and inspected. bbolt then takes a shared lock: read-only
	// opens coexist, but one still waits (up to Timeout) for a writer to
	// finish and fails with ErrLocked naming it. No bucket is created, no
	// lock sidecar written, and every writing method returns ErrReadOnly.
	// A missing file is an error (fs.ErrNotExist), not a new database.
	ReadOnly bool
	// AuditKey, when set, makes every audit hash an HMAC-SHA-256 with this
	// key, so someone who can edit the file cannot recompute the chain
	// without it. Nil means plain SHA-256 (tamper-evident against accidents
	// and partial edits only).
	AuditKey []byte
	// KeepSnapshots is how many snapshots per source are kept (default 50).
	KeepSnapshots int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives open/close, pruning and expiry events (default
	// slog.Default()).
	Logger *slog.Logger
}

// Store is an open optix-bot database. Its methods are safe for concurrent
// use: bbolt serializes writers and readers see consistent snapshots.
type Store struct {
	db       *bolt.DB
	path     string
	lockPath string
	key      []byte
	readOnly bool
	keep     int
	now      func() time.Time
	log      *slog.Logger
}

// LockedError is returned by Open when another process holds the file.
type LockedError struct {
	Path string
	// PID and Command name the holder when its sidecar lock file could be
	// read; zero and empty otherwise.
	PID     int
	Command string
}

// Error names the holder where it is known.
func (e *LockedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrLocked.Error())
	if e.PID > 0 {
		fmt.Fprintf(&b, " (pid %d", e.PID)
		if e.Command != "" {
			fmt.Fprintf(&b, ", %q", e.Command)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ": %s", e.Path)
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockInfo is the content of the sidecar "<path>.lock" file. bbolt's flock
// tells a second process only that the file is held, not by whom; the
// sidecar lets the error name the holder. It is advisory: the flock is what
// excludes.
type lockInfo struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// Open opens (creating if needed) the database at path. It waits at most
// opt.Timeout for the file lock and then fails with a *LockedError.
func Open(path string, opt Options) (*Store, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	if opt.KeepSnapshots <= 0 {
		opt.KeepSnapshots = DefaultKeepSnapshots
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Store{
		path:     path,
		lockPath: path + ".lock",
		key:      bytes.Clone(opt.AuditKey),
		readOnly: opt.ReadOnly,
		keep:     opt.KeepSnapshots,
		now:      opt.Now,
		log:      opt.Logger,
	}
	if err := checkPath(path, opt.ReadOnly); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout, ReadOnly: opt.ReadOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		le := &LockedError{Path: path}
		if info, ok := readLockInfo(s.lockPath); ok {
			le.PID, le.Command = info.PID, info.Command
		}
		return nil, le
	}
	if err != nil {
		if isOSError(err) {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
		return nil, notDatabase(path, err)
	}
	s.db = db
	if opt.ReadOnly {
		err = db.View(s.checkTx)
	} else {
		err = db.Update(s.initTx)
	}
	if err != nil {
		_ = db.Close()
		var oe *openError
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, fmt.Errorf("initialise database %s: %w", path, err)
	}
	if !opt.ReadOnly {
		s.writeLockInfo()
	}
	s.log.Info("store opened", "path", path, "audit", s.mode(), "read_only", opt.ReadOnly)
	return s, nil
}

// Close releases the file. The sidecar lock file is removed if it is still
// ours (a read-only Store never wrote one, and leaves a writer's alone).
func (s *Store) Close() error {
	if info, ok := readLockInfo(s.lockPath); ok && !s.readOnly && info.PID == os.Getpid() {
		_ = os.Remove(s.lockPath)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", s.path, err)
	}
	return nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// ReadOnly tells whether the Store was opened with Options.ReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }

func (s *Store) initTx(tx *bolt.Tx) error {
	// A fresh file has no buckets; one with buckets but not ours was written
	// by some other program and must not be mixed into.
	if tx.Bucket(bucketMeta) == nil {
		foreign := tx.ForEach(func([]byte, *bolt.Bucket) error { return ErrNotDatabase })
		if foreign != nil {
			return notDatabase(s.path, nil)
		}
	}
	for _, name := range [][]byte{bucketMeta, bucketAudit, bucketSnapshots, bucketRequests} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	snaps := tx.Bucket(bucketSnapshots)
	for _, name := range [][]byte{subSnapMeta, subSnapFindings, subSnapIDs} {
		if _, err := snaps.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket snapshots/%s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
			return err
		}
	}
	// Record which hash the chain uses, and a check value for the key (an
	// HMAC of a fixed text, which reveals nothing about the key), so a
	// misconfigured key is caught at start-up instead of producing entries
	// that fail verification later.
	if meta.Get(keyAuditMode) == nil {
		if err := meta.Put(keyAuditMode, []byte(s.mode())); err != nil {
			return err
		}
		if err := meta.Put(keyAuditKey, []byte(s.keyCheck())); err != nil {
			return err
		}
	}
	return s.checkTx(tx)
}

// checkTx checks, without writing, that the file holds every bucket this
// build uses, its schema version, and a chain written with this Store's key.
// Every read-write Open creates all of them in one transaction, so a file
// that lacks one was not written by optix-bot.
func (s *Store) checkTx(tx *bolt.Tx) error {
	meta, snaps := tx.Bucket(bucketMeta), tx.Bucket(bucketSnapshots)
	if meta == nil || snaps == nil || tx.Bucket(bucketAudit) == nil || tx.Bucket(bucketRequests) == nil ||
		snaps.Bucket(subSnapMeta) == nil || snaps.Bucket(subSnapFindings) == nil || snaps.Bucket(subSnapIDs) == nil {
		return notDatabase(s.path, nil)
	}
	v := meta.Get(keySchema)
	if v == nil {
		return notDatabase(s.path, nil)
	}
	if string(v) != schemaVersion {
		return fmt.Errorf("schema version %q, this build reads %q", v, schemaVersion)
	}
	oldMode := meta.Get(keyAuditMode)
	if oldMode == nil {
		return notDatabase(s.path, nil)
	}
	return s.checkAuditKey(oldMode, meta.Get(keyAuditKey))
}

// checkAuditKey compares the hash mode and key check recorded in the file
// with this Store's key. The messages name OPTIX_BOT_AUDIT_KEY although this
// package never reads the environment: that variable (or its _FILE form) is
// what an operator sets to supply Options.AuditKey, so it is the thing to
// fix.
func (s *Store) checkAuditKey(oldMode, oldCheck []byte) error {
	if string(oldMode) == s.mode() && hmac.Equal(oldCheck, []byte(s.keyCheck())) {
		return nil
	}
	var msg string
	switch {
	case string(oldMode) == "sha256":
		msg = "was written without OPTIX_BOT_AUDIT_KEY; unset it to open this database"
	case string(oldMode) == "hmac-sha256" && s.key == nil:
		msg = "was written with OPTIX_BOT_AUDIT_KEY set; set the same key to open this database"
	case string(oldMode) == "hmac-sha256":
		msg = "was written with a different OPTIX_BOT_AUDIT_KEY; set the key it was written with"
	default:
		msg = fmt.Sprintf("uses the hash %q, which this build cannot verify", truncate(string(oldMode), 40))
	}
	return &openError{msg: "the audit chain in " + s.path + " " + msg, kind: ErrAuditKey}
}

func (s *Store) mode() string {
	if s.key != nil {
		return "hmac-sha256"
	}
	return "sha256"
}

func (s *Store) keyCheck() string {
	if s.key == nil {
		return ""
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("optix-bot audit key check"))
	return hex.EncodeToString(m.Sum(nil))
}

// writeLockInfo records who holds the file. Only the program name and the
// first non-flag argument (the subcommand) are written: flags can carry
// tokens, and the sidecar is readable by anyone who can see the directory.
func (s *Store) writeLockInfo() {
	cmd := filepath.Base(os.Args[0])
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			cmd += " " + a
			break
		}
	}
	b, err := json.Marshal(lockInfo{PID: os.Getpid(), Command: cmd, Since: s.now().UTC()})
	if err == nil {
		err = os.WriteFile(s.lockPath, b, 0o600)
	}
	if err != nil {
		// The sidecar only improves an error message; a read-only directory
		// must not stop the bot.
		s.log.Warn("cannot write lock sidecar", "path", s.lockPath, "err", err)
	}
}

func readLockInfo(path string) (lockInfo, bool) {
	var info lockInfo
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return info, false
	}
	if json.Unmarshal(b, &info) != nil || info.PID <= 0 {
		return info, false
	}
	if len(info.Command) > 200 {
		info.Command = info.Command[:200]
	}
	return info, true
}

// update runs fn in one read-write transaction after checking ctx. bbolt
// cannot abandon a transaction midway, so ctx is honoured only before it
// starts.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}
