// Package importer reads scanner output files into posture findings: Prowler
// OCSF JSON and AWS Security Hub ASFF, as a {"Findings": [...]} document, a
// bare array, a single finding object or JSON Lines. The format is told from
// the content, never from the file name. Input is streamed; a file is either
// read whole or rejected, never half-imported.
package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// Format names reported in Result.Format.
const (
	FormatProwlerOCSF = "prowler-ocsf"
	FormatASFF        = "asff"
	// FormatEmpty is reported for an empty array ("[]"): a clean scan,
	// with no record to tell the format from. Input with no JSON value at
	// all is not a clean scan but ErrEmptyInput.
	FormatEmpty = "empty"
)

// DefaultLimit caps the bytes read when the caller gives no limit.
const DefaultLimit int64 = 256 << 20

// Errors a caller may want to tell apart with errors.Is.
var (
	// ErrNotRegular: ParseFile was given a directory, a pipe or a device.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge means the input is over the byte limit.
	ErrTooLarge = errors.New("the input is over the size limit")
	// ErrUnknownFormat means a JSON document that is neither format.
	ErrUnknownFormat = errors.New("not Prowler OCSF or Security Hub ASFF (no Findings, finding_info or SchemaVersion field)")
	// ErrEmptyInput means the input holds no JSON value at all (0 bytes, or
	// only whitespace and a byte order mark). That is what a truncated or
	// failed export looks like, so it must not read as a clean scan, which
	// a scanner writes as [] or {"Findings": []}.
	ErrEmptyInput = errors.New("no findings data at all")
	// ErrMixedFormats means one input mixes Prowler OCSF and ASFF records.
	ErrMixedFormats = errors.New("Prowler OCSF and Security Hub ASFF records mixed in one input")
)

// Result is a parsed input: every record, open or not.
type Result struct {
	Format   string            // FormatProwlerOCSF, FormatASFF or FormatEmpty
	Findings []posture.Finding // all parsed, open and not, in input order
	// Open counts findings with StatusOpen; Skipped the rest (passed, muted,
	// manual, resolved or archived), so a reply can say what it left out.
	Open, Skipped int
}

// ParseFile reads the file at path. It is a thin wrapper over Parse with
// DefaultLimit, and the package's only I/O.
func ParseFile(path string, cat *posture.Catalogue) (*Result, error) {
	// Stat first: opening a named pipe blocks until something writes to it,
	// and a device never ends; only a regular file is an export.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		what := "not a regular file"
		if st.IsDir() {
			what = "a directory"
		}
		return nil, fmt.Errorf("import %s: %w", path, notRegularError(what))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, &ioError{"the file could not be opened", err})
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > DefaultLimit {
		return nil, fmt.Errorf("import %s: %w", path, &tooLargeError{st.Size(), DefaultLimit})
	}
	res, err := Parse(f, cat, DefaultLimit)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return res, nil
}

// Parse reads Prowler OCSF or Security Hub ASFF findings from r, reading at
// most limit bytes (DefaultLimit when limit <= 0); more is an error. cat
// resolves check ids (the embedded catalogue when nil). Any error, malformed
// JSON included, returns no result at all: a partial import would make the
// missing findings look fixed.
func Parse(r io.Reader, cat *posture.Catalogue, limit int64) (*Result, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if cat == nil {
		cat = posture.DefaultCatalogue()
	}
	br := bufio.NewReaderSize(r, 4<<10)
	// Windows editors may write a byte order mark, which encoding/json
	// rejects; it carries no data.
	var bom int64
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		bom = 3
	}
	p := &parser{
		pos: newPosReader(br, limit),
		cat: cat,
		res: &Result{},
	}
	p.dec = json.NewDecoder(p.pos)
	if err := p.run(); err != nil {
		return nil, err
	}
	if p.values == 0 {
		what := "the input is empty"
		if n := bom + p.pos.in; n > 0 {
			what = fmt.Sprintf("the input's %d bytes are only whitespace", n)
		}
		return nil, fmt.Errorf("%w (%s); an export with no findings is [] or {\"Findings\": []}", ErrEmptyInput, what)
	}
	if p.res.Format == "" {
		p.res.Format = FormatEmpty
	}
	return p.res, nil
}

type parser struct {
	pos     *posReader
	dec     *json.Decoder
	cat     *posture.Catalogue
	res     *Result
	records int
	values  int // top-level JSON values read
}

// run reads top-level values until the end of input. More than one value
// is JSON Lines (or concatenated documents), handled the same way.
func (p *parser) run() error {
	for {
		start := p.dec.InputOffset()
		tok, err := p.dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.syntax(err, start, 0)
		}
		p.values++
		switch tok {
		case json.Delim('['):
			if err := p.array(); err != nil {
				return err
			}
		case json.Delim('{'):
			if err := p.object(p.dec.InputOffset() - 1); err != nil {
				return err
			}
		default:
			return &placeError{p.where(p.pos.errorAt(start, 0)),
				"top-level " + kind(tok) + " where an array or object of findings belongs", []error{ErrUnknownFormat}}
		}
		p.pos.release(p.dec.InputOffset())
	}
}

// array streams the elements of an array whose '[' was just read: each is
// one finding record.
func (p *parser) array() error {
	var sep byte
	for {
		start := p.dec.InputOffset()
		if !p.dec.More() {
			break
		}
		var raw json.RawMessage
		if err := p.dec.Decode(&raw); err != nil {
			return p.syntax(err, start, sep)
		}
		sep = ','
		end := p.dec.InputOffset()
		if err := p.record(raw, end-int64(len(raw))); err != nil {
			return err
		}
		p.pos.release(end)
	}
	start := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != nil { // the closing ']'
		return p.syntax(err, start, 0)
	}
	return nil
}

// object reads a top-level object whose '{' (at offset open) was just read.
// It is either the {"Findings": [...]} wrapper, streamed element by element,
// or a single finding (one line of JSON Lines, or a one-finding file), which
// is rebuilt from its members. Key order is not fixed, so the decision waits
// for the closing '}'.
func (p *parser) object(open int64) error {
	type member struct {
		key string
		val json.RawMessage
	}
	var members []member
	wrapper := false
	var sep byte
	for {
		start := p.dec.InputOffset()
		if !p.dec.More() {
			break
		}
		tok, err := p.dec.Token()
		if err != nil {
			return p.syntax(err, start, sep)
		}
		sep = ','
		key, _ := tok.(string)
		start = p.dec.InputOffset()
		if key == "Findings" {
			wrapper = true
			if p.res.Format == "" {
				p.res.Format = FormatASFF
			}
			tok, err := p.dec.Token()
			if err != nil {
				return p.syntax(err, start, ':')
			}
			switch tok {
			case json.Delim('['):
				if err := p.array(); err != nil {
					return err
				}
			case nil: // "Findings": null, as Go writes an empty slice
			default:
				return &placeError{p.where(p.pos.errorAt(start, ':')), "Findings is " + withArticle(kind(tok)) + ", not an array", nil}
			}
			continue
		}
		var raw json.RawMessage
		if err := p.dec.Decode(&raw); err != nil {
			return p.syntax(err, start, ':')
		}
		if !wrapper {
			members = append(members, member{key, raw})
		}
	}
	start := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != nil { // the closing '}'
		return p.syntax(err, start, 0)
	}
	if wrapper {
		return nil // other wrapper members (NextToken, ...) are not findings
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m.val)
	}
	buf.WriteByte('}')
	return p.record(buf.Bytes(), open)
}

// probe tells the format of a record from the fields only one format has.
type probe struct {
	FindingInfo   json.RawMessage `json:"finding_info"`
	Metadata      json.RawMessage `json:"metadata"`
	SchemaVersion json.RawMessage `json:"SchemaVersion"`
	GeneratorID   json.RawMessage `json:"GeneratorId"`
	AwsAccountID  json.RawMessage `json:"AwsAccountId"`
}

func present(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }

func detect(raw []byte) (string, error) {
	var pr probe
	if err := json.Unmarshal(raw, &pr); err != nil {
		return "", err
	}
	var meta struct {
		EventCode json.RawMessage `json:"event_code"`
	}
	_ = json.Unmarshal(pr.Metadata, &meta) // absent or odd metadata just says "not OCSF"
	switch {
	case present(pr.FindingInfo) || present(meta.EventCode):
		return FormatProwlerOCSF, nil
	case present(pr.SchemaVersion) || (present(pr.GeneratorID) && present(pr.AwsAccountID)):
		return FormatASFF, nil
	}
	return "", ErrUnknownFormat
}

// record maps one finding record, raw being its exact bytes starting at
// stream offset at.
func (p *parser) record(raw []byte, at int64) error {
	p.records++
	line, _ := p.pos.lineCol(at)
	where := fmt.Sprintf("record %d (line %d)", p.records, line)
	fail := func(what string, errs ...error) error { return &placeError{where, what, errs} }
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return fail(kindOf(t)+", not a finding object", ErrUnknownFormat)
	}
	// Raw is kept compact: pretty-printed scanner output is mostly
	// indentation. Compact writes a fresh buffer, so nothing aliases the
	// decoder's.
	var cb bytes.Buffer
	cb.Grow(len(raw))
	if err := json.Compact(&cb, raw); err != nil {
		return fail("not valid JSON", err) // the decoder let it through, so this is not expected
	}
	compact := json.RawMessage(cb.Bytes())

	format := p.res.Format
	if format == "" || format == FormatEmpty {
		f, err := detect(compact)
		if err != nil {
			return fail(ErrUnknownFormat.Error(), err)
		}
		format = f
		p.res.Format = f
	}
	f, err := p.mapRecord(format, compact)
	if err != nil {
		// Find out whether this record is of the other format before
		// blaming its fields.
		if other, derr := detect(compact); derr != nil {
			return fail(ErrUnknownFormat.Error(), derr)
		} else if other != format {
			return fail(fmt.Sprintf("a %s record among %s ones; one input holds one format", formatName(other), formatName(format)),
				ErrMixedFormats)
		}
		return fail(describe(err, format), err)
	}
	p.res.Findings = append(p.res.Findings, f)
	if f.Status == posture.StatusOpen {
		p.res.Open++
	} else {
		p.res.Skipped++
	}
	return nil
}

var errWrongShape = errors.New("record lacks the fields of its format")

func (p *parser) mapRecord(format string, raw json.RawMessage) (posture.Finding, error) {
	switch format {
	case FormatProwlerOCSF:
		var f ocsfFinding
		if err := json.Unmarshal(raw, &f); err != nil {
			return posture.Finding{}, err
		}
		if !f.looksRight() {
			return posture.Finding{}, errWrongShape
		}
		return f.toFinding(p.cat, raw), nil
	case FormatASFF:
		var f asffFinding
		if err := json.Unmarshal(raw, &f); err != nil {
			return posture.Finding{}, err
		}
		if !f.looksRight() {
			return posture.Finding{}, errWrongShape
		}
		return f.toFinding(p.cat, raw), nil
	}
	return posture.Finding{}, ErrUnknownFormat
}

// where names decoder offset off as a line and column of the input.
func (p *parser) where(off int64) string {
	line, col := p.pos.lineCol(off)
	return fmt.Sprintf("line %d, column %d", line, col)
}

// syntax turns a decoder error into one that says where the input broke.
func (p *parser) syntax(err error, start int64, sep byte) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, new(*ioError)):
		return err
	case errors.As(err, &se):
		what := se.Error()
		// The decoder names no context for a bad byte where an object's
		// first key belongs.
		if !strings.Contains(what, " looking for ") && !strings.Contains(what, " after ") {
			what += " looking for beginning of object key string"
		}
		return &placeError{p.where(p.pos.errorAt(start, sep)), what, []error{err}}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &placeError{p.where(p.pos.n), "the input ends inside a JSON value, as a cut-off file does",
			[]error{io.ErrUnexpectedEOF}}
	}
	return err
}

// describe says why a record of format could not be mapped, in the input's
// terms rather than the Go types it is read into.
func describe(err error, format string) string {
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &ute) && ute.Field != "":
		return fmt.Sprintf("field %s is %s, which %s does not allow there", ute.Field, withArticle(ute.Value), formatName(format))
	case errors.Is(err, errWrongShape):
		return "a " + formatName(format) + " record whose identifying fields are all empty"
	}
	return "the record does not fit the " + formatName(format) + " format"
}

func withArticle(w string) string {
	switch w {
	case "null":
		return w
	case "array", "object":
		return "an " + w
	}
	return "a " + w
}

func kind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	}
	return "value"
}

func kindOf(b []byte) string {
	if len(b) == 0 {
		return "empty value"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// notRegularError says what the path is instead of a file.
type notRegularError string

func (e notRegularError) Error() string { return "it is " + string(e) + ", not an exported JSON file" }

// Is makes errors.Is(err, ErrNotRegular) true.
func (e notRegularError) Is(target error) bool { return target == ErrNotRegular }
