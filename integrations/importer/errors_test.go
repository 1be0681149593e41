package importer

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// ParseFile's errors are shown to people after "import PATH: ". What follows
// must be one clause in the input's terms: at most one position, then one
// statement with no further "x: y" chain, no second "import", no repeated
// path and no Go or decoder names. The sentinels and causes must still be
// reachable with errors.Is and errors.As.
func TestParseFileErrorsReadAsOneClause(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(DefaultLimit + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	if err := os.Mkdir(filepath.Join(dir, "adir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, content string // content is written to bad.json unless path is set
		path          string
		want          string // the whole message after the prefix
		is            error
		as            any // a pointer to a target type for errors.As
	}{
		{name: "empty", content: "", is: ErrEmptyInput,
			want: `no findings data at all (the input is empty); an export with no findings is [] or {"Findings": []}`},
		{name: "syntax", content: "[\n{]", as: new(*json.SyntaxError),
			want: "line 2, column 2: invalid character ']' looking for beginning of object key string"},
		{name: "bad first key", content: "{1: 2}", as: new(*json.SyntaxError),
			want: "line 1, column 2: invalid character '1' looking for beginning of object key string"},
		{name: "truncated", content: "[\n{\"metadata\": {", is: io.ErrUnexpectedEOF,
			want: "line 2, column 15: the input ends inside a JSON value, as a cut-off file does"},
		{name: "top-level scalar", content: "42", is: ErrUnknownFormat,
			want: "line 1, column 1: top-level number where an array or object of findings belongs"},
		{name: "neither format", content: `{"foo": 1}`, is: ErrUnknownFormat,
			want: "record 1 (line 1): not Prowler OCSF or Security Hub ASFF (no Findings, finding_info or SchemaVersion field)"},
		{name: "not an object", content: "[1]", is: ErrUnknownFormat, want: "record 1 (line 1): a number, not a finding object"},
		{name: "wrong field type", content: `[{"metadata": {"event_code": "a"}, "resources": [{"uid": 5}]}]`, as: new(*json.UnmarshalTypeError),
			want: "record 1 (line 1): field resources.uid is a number, which Prowler OCSF does not allow there"},
		{name: "empty identifying fields", content: `{"SchemaVersion": ""}`,
			want: "record 1 (line 1): a Security Hub ASFF record whose identifying fields are all empty"},
		{name: "mixed", content: "[" + ocsfFail + ",\n" + asffPublicRDS + "]", is: ErrMixedFormats,
			want: "record 2 (line 8): a Security Hub ASFF record among Prowler OCSF ones; one input holds one format"},
		{name: "Findings not an array", content: `{"Findings": 3}`, want: "line 1, column 14: Findings is a number, not an array"},
		{name: "over the limit", path: big, is: ErrTooLarge, want: "the input is 268435457 bytes, over the size limit of 256 MiB"},
		{name: "missing", path: filepath.Join(dir, "missing.json"), is: os.ErrNotExist, as: new(*fs.PathError),
			want: "the file could not be opened (no such file or directory)"},
		{name: "a directory", path: filepath.Join(dir, "adir.json"), is: ErrNotRegular,
			want: "it is a directory, not an exported JSON file"},
	}
	position := regexp.MustCompile(`^(line \d+, column \d+|record \d+ \(line \d+\)): `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "bad.json")
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := ParseFile(path, nil)
			if err == nil {
				t.Fatalf("no error, result %+v", res)
			}
			msg, ok := strings.CutPrefix(err.Error(), "import "+path+": ")
			if !ok {
				t.Fatalf("error %q lacks the prefix %q", err, "import "+path+": ")
			}
			if msg != tt.want {
				t.Errorf("after the prefix:\n got %q\nwant %q", msg, tt.want)
			}
			// The shape rules hold for any wording.
			clause := strings.ReplaceAll(position.ReplaceAllString(msg, ""), `{"Findings": []}`, "")
			if strings.Contains(clause, ": ") {
				t.Errorf("%q is a chain of clauses", msg)
			}
			for _, bad := range []string{"import", filepath.Base(path), "json:", "json.", "importer.", "Go ", "*", "EOF"} {
				if strings.Contains(msg, bad) {
					t.Errorf("%q contains %q", msg, bad)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v) is false", tt.is)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("errors.As(%T) is false", tt.as)
			}
		})
	}
}

// Regression: a named pipe as --source file: blocked in open until the
// pull's deadline, two minutes later.
func TestParseFileRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for path, want := range map[string]string{
		fifo: "import " + fifo + ": it is not a regular file, not an exported JSON file",
		dir:  "import " + dir + ": it is a directory, not an exported JSON file",
	} {
		_, err := ParseFile(path, nil)
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotRegular) {
			t.Errorf("ParseFile(%s) = %v, want %q", path, err, want)
		}
	}
}
