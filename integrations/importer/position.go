package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxChunk bounds each read handed to the JSON decoder, so that what the
// decoder has read ahead of the value it is working on stays small and the
// bytes kept for error positions stay close to one record's size.
const maxChunk = 32 << 10

// posReader sits between the input and the JSON decoder. It enforces the
// byte limit, and keeps the bytes read since the last release so that an
// error at any offset the decoder has not moved past can be turned into a
// line and column. encoding/json only reports byte offsets, and those are
// relative to the value being scanned, not to the stream.
type posReader struct {
	r     io.Reader
	limit int64
	n     int64 // bytes handed to the decoder so far
	err   error // sticky: the limit or a read error

	base      int64  // stream offset of the first byte still needed
	baseLine  int    // 1-based line of the byte at base
	lineStart int64  // stream offset where that line starts
	keptFrom  int64  // stream offset of kept[0], at or before base
	kept      []byte // bytes [keptFrom, n)
}

// since returns the kept bytes from stream offset off (at or after base).
func (p *posReader) since(off int64) []byte { return p.kept[off-p.keptFrom:] }

func newPosReader(r io.Reader, limit int64) *posReader {
	return &posReader{r: r, limit: limit, baseLine: 1}
}

// Read implements io.Reader for the decoder.
func (p *posReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if len(b) > maxChunk {
		b = b[:maxChunk]
	}
	// Read one byte past the limit at most: enough to know it was exceeded
	// without pulling in the rest of a huge file.
	if room := p.limit + 1 - p.n; int64(len(b)) > room {
		b = b[:room]
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > p.limit {
		p.err = ErrTooLarge
		return 0, p.err
	}
	p.kept = append(p.kept, b[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		p.err = fmt.Errorf("read input: %w", err)
		return n, p.err
	}
	return n, err
}

// release forgets the bytes before off: the caller will never ask for a
// position before it again.
func (p *posReader) release(off int64) {
	if off <= p.base {
		return
	}
	if off > p.n {
		off = p.n
	}
	done := p.since(p.base)[:off-p.base]
	if i := bytes.LastIndexByte(done, '\n'); i >= 0 {
		p.baseLine += bytes.Count(done, []byte{'\n'})
		p.lineStart = p.base + int64(i) + 1
	}
	p.base = off
	// Move the live bytes down only once the dead prefix outweighs them, so
	// that many small records in one read cost linear time, not quadratic.
	if dead := p.base - p.keptFrom; dead > int64(len(p.kept))/2 {
		n := copy(p.kept, p.kept[dead:])
		p.kept = p.kept[:n]
		p.keptFrom = p.base
	}
}

// lineCol turns a stream offset at or after the last release into a
// 1-based line and byte column.
func (p *posReader) lineCol(off int64) (line, col int) {
	if off < p.base {
		off = p.base
	}
	if off > p.n {
		off = p.n
	}
	seen := p.since(p.base)[:off-p.base]
	line = p.baseLine + bytes.Count(seen, []byte{'\n'})
	start := p.lineStart
	if i := bytes.LastIndexByte(seen, '\n'); i >= 0 {
		start = p.base + int64(i) + 1
	}
	return line, int(off-start) + 1
}

// errorAt finds where a decoder call that started at stream offset start
// failed. sep is the separator the decoder expected first (',' between array
// elements and object members, ':' after a key, 0 for none). Instead of
// trusting the decoder's own offset, whose origin depends on which internal
// path raised it, the kept bytes are re-scanned with a fresh decoder.
func (p *posReader) errorAt(start int64, sep byte) int64 {
	if start < p.base {
		start = p.base
	}
	b := p.since(start)
	j := 0
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if sep != 0 {
		if j >= len(b) {
			return p.n
		}
		if b[j] != sep {
			return start + int64(j)
		}
		j++
		for j < len(b) && isSpace(b[j]) {
			j++
		}
	}
	var raw json.RawMessage
	err := json.NewDecoder(bytes.NewReader(b[j:])).Decode(&raw)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read including the bad one.
		off := start + int64(j) + se.Offset - 1
		if off < start+int64(j) {
			off = start + int64(j)
		}
		return off
	case err == nil:
		// The value itself is well formed; the decoder rejected it where it
		// stands (say a number where an object key belongs).
		return start + int64(j)
	}
	return p.n // ran out of input
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
