package redact

import (
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzString: String never panics, is idempotent, and Restore gives back
// the input exactly whenever no secret was replaced. The seed corpus (every
// string of testdata/corpus.json plus tricky shapes) runs in plain go test.
func FuzzString(f *testing.F) {
	for _, c := range loadCorpus(f) {
		g, err := decodeGeneric(c.Payload)
		if err != nil {
			f.Fatal(err)
		}
		walkStrings(g, func(s string) { f.Add(s, "acme-finance-pii") })
	}
	for _, s := range []string{
		"", "[", "[ACCOUNT_", "[ACCOUNT_1] 123456789012", "[IP_1.2.3.4]", "::", "::/0", ":::", "a::b::c",
		"arn:aws:s3:::", "arn:aws:s3:::x.", "/subscriptions/", "projects/", "@", "a@b.c", "x@y.com.",
		"-----BEGIN PRIVATE KEY-----", "password=", "password=\"", "token: '", "https://:@x",
		"\xff\xfe123456789012\xff", "bücher-ñ-桶bücher-ñ-桶", "10.0.0.1/33", "1.2.3.4.5", "sg-0123abcd-",
	} {
		f.Add(s, "bücher-ñ-桶")
	}
	f.Fuzz(func(t *testing.T, s, known string) {
		r := New()
		r.Known(KindResource, known)
		out := r.String(s)
		if again := r.String(out); again != out {
			t.Errorf("not idempotent:\n in %q\nout %q\n2nd %q", s, out, again)
		}
		if r.Counts()[KindSecret] == 0 {
			if back := r.Restore(out); back != s {
				t.Errorf("round trip:\n in %q\nout %q\nback %q", s, out, back)
			}
		}
	})
}

// BenchmarkJSON redacts a 20-finding payload as a prompt builder would:
// Known values from the structured fields, then the whole payload.
func BenchmarkJSON(b *testing.B) {
	cases := loadCorpus(b)
	const items = 20
	payload := make([]any, items)
	for i := range payload {
		c := cases[i%len(cases)]
		g, err := decodeGeneric(c.Payload)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := json.Marshal(g)
		payload[i] = map[string]any{"n": fmt.Sprint(i), "finding": json.RawMessage(raw)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := New()
		for _, c := range cases {
			c.register(r)
		}
		if _, err := r.JSON(payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/items, "ns/item")
}
