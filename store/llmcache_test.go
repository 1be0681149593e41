package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestLLMCache(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

	if _, ok, err := s.LLMCache(ctx, "k1", time.Hour, t0); err != nil || ok {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	if err := s.PutLLMCache(ctx, "k1", []byte(`{"a":1}`), t0, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string
		maxAge time.Duration
		at     time.Time
		want   []byte
	}{
		{"fresh hit", "k1", time.Hour, t0.Add(59 * time.Minute), []byte(`{"a":1}`)},
		{"too old", "k1", time.Hour, t0.Add(time.Hour), nil},
		{"any age", "k1", 0, t0.Add(1000 * time.Hour), []byte(`{"a":1}`)},
		{"other key", "k2", 0, t0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.LLMCache(ctx, tt.key, tt.maxAge, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != nil) || !bytes.Equal(got, tt.want) {
				t.Errorf("LLMCache = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}

	// A later put prunes entries older than keep, and overwrites its own key.
	if err := s.PutLLMCache(ctx, "k2", []byte("two"), t0.Add(48*time.Hour), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LLMCache(ctx, "k1", 0, t0.Add(48*time.Hour)); ok {
		t.Error("k1 survived pruning")
	}
	if v, ok, _ := s.LLMCache(ctx, "k2", 0, t0.Add(48*time.Hour)); !ok || string(v) != "two" {
		t.Errorf("k2 = %q, %v", v, ok)
	}

	big := make([]byte, MaxLLMCacheValue+1)
	if err := s.PutLLMCache(ctx, "big", big, t0, 0); !errors.Is(err, ErrCacheValueTooLarge) {
		t.Errorf("oversized put: %v", err)
	}
}

// A database written before the cache existed has no cache bucket; it still
// opens read-only, and reads miss instead of failing.
func TestLLMCacheReadOnlyWithoutBucket(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "optix.db")
	s := openTest(t, path, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro := openTest(t, path, Options{ReadOnly: true})
	if _, ok, err := ro.LLMCache(ctx, "k", 0, time.Now()); err != nil || ok {
		t.Errorf("read-only miss: ok=%v err=%v", ok, err)
	}
}
