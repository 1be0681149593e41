package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketLLMCache holds LLM answers by a key the caller derives from the
// provider, model, prompt version and the redacted input. It is created on
// the first write, not by Open, so a database written before the cache
// existed still opens read-only for audit verify.
var bucketLLMCache = []byte("llm_cache")

// MaxLLMCacheValue is the largest answer the cache keeps; a bigger one is
// not cached (the call still succeeds).
const MaxLLMCacheValue = 256 << 10

// ErrCacheValueTooLarge is returned by PutLLMCache for a value over
// MaxLLMCacheValue.
var ErrCacheValueTooLarge = errors.New("value too large for the LLM cache")

// LLMCache returns the cached value for key if it was stored less than
// maxAge ago (maxAge <= 0 means any age).
func (s *Store) LLMCache(ctx context.Context, key string, maxAge time.Duration, now time.Time) ([]byte, bool, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLLMCache)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if len(v) < 8 {
			return nil
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
		if maxAge > 0 && now.Sub(at) >= maxAge {
			return nil
		}
		// bbolt's slices are only valid inside the transaction.
		out = append([]byte(nil), v[8:]...)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read LLM cache: %w", err)
	}
	return out, out != nil, nil
}

// PutLLMCache stores value under key, stamped with now, and drops entries
// older than keep (keep <= 0 keeps everything) so the cache cannot grow
// without bound on a long-running bot.
func (s *Store) PutLLMCache(ctx context.Context, key string, value []byte, now time.Time, keep time.Duration) error {
	if len(value) > MaxLLMCacheValue {
		return fmt.Errorf("put LLM cache: %w (%d bytes)", ErrCacheValueTooLarge, len(value))
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLLMCache)
		if err != nil {
			return err
		}
		if keep > 0 {
			var stale [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if len(v) < 8 || now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))) >= keep {
					stale = append(stale, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range stale {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		v := make([]byte, 8+len(value))
		binary.BigEndian.PutUint64(v[:8], uint64(now.UnixNano()))
		copy(v[8:], value)
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("put LLM cache: %w", err)
	}
	return nil
}
