package llm

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		wantOK bool
	}{
		{"none", nil, 0, false},
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second, true},
		{"zero", map[string]string{"Retry-After": "0"}, 0, true},
		{"fraction", map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond, true},
		{"capped", map[string]string{"Retry-After": "3600"}, maxRetryAfter, true},
		{"huge", map[string]string{"Retry-After": "1e300"}, maxRetryAfter, true},
		{"negative", map[string]string{"Retry-After": "-1"}, 0, false},
		{"NaN", map[string]string{"Retry-After": "NaN"}, 0, false},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
		{"past date", map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0, true},
		{"milliseconds win", map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, true},
		{"milliseconds capped", map[string]string{"Retry-After-Ms": "99999999"}, maxRetryAfter, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Header
			if tt.header != nil {
				h = http.Header{}
				for k, v := range tt.header {
					h.Set(k, v)
				}
			}
			got, ok := retryAfter(h)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDefaultBackoffIsCappedAndGrows(t *testing.T) {
	for n := 1; n <= 10; n++ {
		d := defaultBackoff(n)
		full := min(500*time.Millisecond<<min(n-1, 4), 8*time.Second)
		if d < full/2 || d > full {
			t.Errorf("attempt %d: %v outside [%v, %v]", n, d, full/2, full)
		}
	}
}

func TestOneLine(t *testing.T) {
	long := ""
	for range 300 {
		long += "x"
	}
	tests := []struct{ in, key, want string }{
		{"a\nb\r\n\tc", "", "a b c"},
		{"  lead and trail  ", "", "lead and trail"},
		{"key sk-1 here", "sk-1", "key [redacted] here"},
		{"bad \xff byte", "", "bad byte"},
		{long, "", long[:maxMsg] + "…"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in, tt.key); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
