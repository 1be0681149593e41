package importer

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

// Long whitespace runs are squeezed before the JSON decoder sees them (see
// squeezeAfter). Each shape of padding must cost memory bounded by the
// records, not by the padding: before the squeeze, 8 MiB of padding
// allocated about 10 bytes per input byte and took seconds.
func TestWhitespacePaddingAllocations(t *testing.T) {
	const pad = 8 << 20
	rec := strings.ReplaceAll(ocsfFail, "\n", " ")
	tests := []struct {
		name  string
		input []byte
		open  int
	}{
		{"spaces inside an array", paddedEmptyArray(pad), 0},
		{"spaces between records", []byte("[" + rec + "," + strings.Repeat(" ", pad) + rec + "]"), 2},
		{"blank lines between JSON lines", []byte(rec + strings.Repeat("\n", pad) + rec + "\n"), 2},
		{"spaces before and after the document", []byte(strings.Repeat(" ", pad/2) + "[" + rec + "]" + strings.Repeat("\r\n", pad/4)), 1},
		{"spaces inside a record", []byte("[" + strings.Replace(rec, `"severity":`, `"severity":`+strings.Repeat("\t", pad), 1) + "]"), 1},
	}
	cat := posture.DefaultCatalogue()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := Parse(bytes.NewReader(tt.input), cat, 0)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if res.Open != tt.open {
				t.Errorf("open %d, want %d", res.Open, tt.open)
			}
			// Generous: a few records and the decoder's buffers. The input
			// itself is 8 MiB, so anything proportional to it fails.
			const bound = 1 << 20
			if got := after.TotalAlloc - before.TotalAlloc; got > bound {
				t.Errorf("parsing %d bytes allocated %d bytes, want at most %d", len(tt.input), got, bound)
			}
		})
	}
}

// Whitespace inside a string is data, never squeezed, including after an
// escaped quote.
func TestWhitespaceInStringsKept(t *testing.T) {
	msg := "shop" + strings.Repeat(" ", 300) + `\"` + strings.Repeat("\n", 0) + strings.Repeat("\t", 200) + "end"
	in := `[{"metadata": {"event_code": "s3_bucket_public_access"},` + strings.Repeat(" ", 500) +
		`"message": "` + strings.ReplaceAll(msg, "\t", `\t`) + strings.Repeat(" ", 200) + `"}]`
	res, err := Parse(strings.NewReader(in), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "shop" + strings.Repeat(" ", 300) + `"` + strings.Repeat("\t", 200) + "end" + strings.Repeat(" ", 200)
	if got := res.Findings[0].Title; got != want {
		t.Errorf("title %q\nwant  %q", got, want)
	}
}
