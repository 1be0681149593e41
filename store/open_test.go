package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeForeignBolt makes a valid bbolt file that some other program wrote.
func writeForeignBolt(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesWhatIsNotADatabase(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantMsg string // %s is the path
	}{
		{
			name:    "short text file",
			make:    func(t *testing.T, p string) { writeFile(t, p, "db: /var/lib/optix-bot\n") },
			wantMsg: "%s is not an optix-bot database",
		},
		{
			// Large enough that bbolt reads a whole first page and rejects
			// its content rather than its size.
			name:    "long text file",
			make:    func(t *testing.T, p string) { writeFile(t, p, strings.Repeat("finding,severity\n", 2000)) },
			wantMsg: "%s is not an optix-bot database",
		},
		{
			name:    "bbolt file of another program",
			make:    writeForeignBolt,
			wantMsg: "%s is not an optix-bot database",
		},
		{
			name: "directory",
			make: func(t *testing.T, p string) {
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantMsg: "%s is a directory, not an optix-bot database",
		},
		{
			name: "named pipe",
			make: func(t *testing.T, p string) {
				if err := syscall.Mkfifo(p, 0o600); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			},
			wantMsg: "%s is not a regular file, so not an optix-bot database",
		},
	}
	for _, tt := range tests {
		for _, ro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/read-only=%t", tt.name, ro), func(t *testing.T) {
				testRefused(t, tt.make, tt.wantMsg, ro)
			})
		}
	}
}

// testRefused creates the file with mk, opens it and checks the refusal:
// ErrNotDatabase, exactly wantMsg (%s is the path), nothing written.
func testRefused(t *testing.T, mk func(t *testing.T, path string), wantMsg string, readOnly bool) {
	path := filepath.Join(t.TempDir(), "optix.db")
	mk(t, path)
	before := snapshotPath(t, path)
	s, err := Open(path, Options{Logger: quietLogger(), ReadOnly: readOnly})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, ErrNotDatabase) {
		t.Errorf("err = %v, want ErrNotDatabase", err)
	}
	if want := strings.Replace(wantMsg, "%s", path, 1); err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err.Error(), want)
	}
	if after := snapshotPath(t, path); !bytes.Equal(before, after) {
		t.Error("the refused file was changed")
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a lock sidecar was written for a refused file: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshotPath is the content of a regular file, or its mode otherwise, to
// tell whether a refused Open changed it.
func snapshotPath(t *testing.T, path string) []byte {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		return []byte(fi.Mode().String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
