package importer

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

// synthetic builds an input of n records of one format, pretty-printed the
// way the scanners write them.
func synthetic(format string, n int) []byte {
	var b bytes.Buffer
	if format == FormatASFF {
		b.WriteString("{\n  \"Findings\": [\n")
	} else {
		b.WriteString("[\n")
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		rec := ocsfFail
		if format == FormatASFF {
			rec = asffPublicRDS
		}
		// Vary the resource so ids differ, as in a real estate.
		b.WriteString(strings.Replace(strings.Replace(rec, "shop-assets", fmt.Sprintf("bucket-%d", i), -1),
			"db:orders", fmt.Sprintf("db:orders-%d", i), -1))
	}
	b.WriteString("\n]")
	if format == FormatASFF {
		b.WriteString("\n}")
	}
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	cat := posture.DefaultCatalogue()
	for _, format := range []string{FormatProwlerOCSF, FormatASFF} {
		in := synthetic(format, 10000)
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var kept int
			for b.Loop() {
				res, err := Parse(bytes.NewReader(in), cat, 0)
				if err != nil || len(res.Findings) != 10000 {
					b.Fatalf("%v %d", err, len(res.Findings))
				}
				kept = 0
				for _, f := range res.Findings {
					kept += len(f.Raw)
				}
			}
			b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "findings/s")
			// Raw is compacted: what the result holds of the input.
			b.ReportMetric(float64(kept)/float64(len(in)), "raw/input")
		})
	}
}

// BenchmarkParseSmallLines checks that many small JSON Lines records cost
// linear time: the bytes kept for error positions are not re-copied per
// record.
func BenchmarkParseSmallLines(b *testing.B) {
	cat := posture.DefaultCatalogue()
	in := []byte(strings.Repeat(`{"metadata": {"event_code": "iam_root_mfa_enabled"}, "status_code": "FAIL"}`+"\n", 100000))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Parse(bytes.NewReader(in), cat, 0)
		if err != nil || len(res.Findings) != 100000 {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "findings/s")
}

// BenchmarkParseWhitespace parses 32 MiB of whitespace inside an array (an
// empty scan padded out). encoding/json's Decoder re-scans a whitespace run
// on every refill, so without squeezing this cost quadratic time.
func BenchmarkParseWhitespace(b *testing.B) {
	cat := posture.DefaultCatalogue()
	in := paddedEmptyArray(32 << 20)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Parse(bytes.NewReader(in), cat, 0)
		if err != nil || len(res.Findings) != 0 {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(len(in))*float64(b.N)/(1<<20)/b.Elapsed().Seconds(), "MB/s")
}

// paddedEmptyArray is "[", n bytes of mixed whitespace, "]".
func paddedEmptyArray(n int) []byte {
	in := make([]byte, 0, n+2)
	in = append(in, '[')
	pad := []byte("  \t \r\n\n   ")
	for len(in) < n+1 {
		in = append(in, pad[:min(len(pad), n+1-len(in))]...)
	}
	return append(in, ']')
}
