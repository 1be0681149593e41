package importer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

// FuzzParse feeds arbitrary bytes to Parse. It must not panic, and it must
// either fail with no result or return a result whose counts add up.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"prowler-aws.ocsf.json", "securityhub-asff.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", " ", "\n\n\n", "\r\n\t ", "\xef\xbb\xbf", "\xef\xbb\xbf \n", " [ ] ", "[]\n[]",
		"[]", "{}", `{"Findings": []}`, `{"Findings": null}`, "null", "[1]",
		"[" + ocsfFail + "]", ocsfMuted + "\n" + ocsfMuted, asffSuppressed, "[" + asffPublicRDS + "," + asffArchived + "]",
		"[" + ocsfFail + "," + asffPublicRDS + "]", "\xef\xbb\xbf[", `{"metadata": {"event_code": 1}}`,
		`[{"resources": [{"labels": [1, {"Key": null}, "a:b"], "data": [1]}], "finding_info": {}}]`,
	} {
		f.Add([]byte(s))
	}
	cat := posture.DefaultCatalogue()
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := Parse(bytes.NewReader(in), cat, 1<<20)
		// Empty input, and only that, is ErrEmptyInput.
		blank := len(bytes.Trim(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf")), " \t\r\n")) == 0
		if empty := blank && len(in) <= 1<<20; empty != errors.Is(err, ErrEmptyInput) {
			t.Fatalf("input %q: error %v", in, err)
		}
		if err != nil {
			if res != nil {
				t.Fatalf("result returned with error %v", err)
			}
			return
		}
		if res.Open+res.Skipped != len(res.Findings) {
			t.Fatalf("open %d + skipped %d != %d findings", res.Open, res.Skipped, len(res.Findings))
		}
		switch res.Format {
		case FormatProwlerOCSF, FormatASFF, FormatEmpty:
		default:
			t.Fatalf("format %q", res.Format)
		}
		for _, fd := range res.Findings {
			if fd.Check == "" || fd.ID == "" || fd.Status == "" || len(fd.Raw) == 0 {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}
