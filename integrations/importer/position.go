package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// maxChunk bounds each read handed to the JSON decoder, so that what the
// decoder has read ahead of the value it is working on stays small and the
// bytes kept for error positions stay close to one record's size.
const maxChunk = 32 << 10

// squeezeAfter is how many bytes of one whitespace run (outside a string)
// reach the decoder; the rest of the run is dropped. encoding/json's Decoder
// does not move past whitespace while it waits for more input: each refill
// keeps the run from its start and scans it again, so a long run (a file of
// spaces, a padded array, thousands of blank lines) cost time quadratic in
// its length and memory linear in it. JSON gives no meaning to how long a
// run is, so the decoder never sees more than a short one. The dropped bytes
// are remembered as gaps, so that positions still count every input byte.
const squeezeAfter = 64

// gap is a stretch of whitespace the decoder did not see.
type gap struct {
	at        int64 // decoder offset of the byte that follows the dropped ones
	n         int64 // input bytes dropped
	lines     int   // newlines among them
	lineStart int64 // input offset just after the last of those newlines
}

// posReader sits between the input and the JSON decoder. It enforces the
// byte limit, squeezes long whitespace runs, and keeps the bytes handed to
// the decoder since the last release so that an error at any offset the
// decoder has not moved past can be turned into a line and column.
// encoding/json only reports byte offsets, and those are relative to the
// value being scanned, not to the stream.
//
// Two kinds of offset meet here: decoder offsets (what the decoder was
// given, after squeezing; all methods take these) and input offsets (every
// byte read; lines and columns are in these).
type posReader struct {
	r     io.Reader
	limit int64
	in    int64 // input bytes read so far (the limit counts these)
	n     int64 // bytes handed to the decoder so far
	err   error // sticky: the limit or a read error

	// Squeezing state, carried across reads.
	inString, escaped bool
	run               int // length of the current whitespace run

	base        int64  // decoder offset of the first byte still needed
	baseLine    int    // 1-based line of the byte at base
	lineStart   int64  // input offset where that line starts
	baseDropped int64  // input bytes dropped before base
	gaps        []gap  // gaps at or after base, in order
	keptFrom    int64  // decoder offset of kept[0], at or before base
	kept        []byte // decoder bytes [keptFrom, n)
}

// since returns the kept bytes from decoder offset off (at or after base).
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
	for {
		chunk := b
		// Read one byte past the limit at most: enough to know it was
		// exceeded without pulling in the rest of a huge file.
		if room := p.limit + 1 - p.in; int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		n, err := p.r.Read(chunk)
		from := p.in
		p.in += int64(n)
		if p.in > p.limit {
			p.err = &tooLargeError{limit: p.limit}
			return 0, p.err
		}
		out := p.squeeze(chunk[:n], from)
		p.kept = append(p.kept, b[:out]...)
		p.n += int64(out)
		if err != nil && !errors.Is(err, io.EOF) {
			p.err = &ioError{"the input could not be read", err}
			return out, p.err
		}
		// A chunk that was all dropped whitespace gives the decoder
		// nothing; read on rather than return an empty read.
		if out > 0 || err != nil {
			return out, err
		}
	}
}

// squeeze drops, in place, the whitespace of buf (read from input offset
// from) beyond the first squeezeAfter bytes of each run outside a string,
// and returns how many bytes are left.
func (p *posReader) squeeze(buf []byte, from int64) int {
	w := 0
	for i, c := range buf {
		switch {
		case p.inString:
			switch {
			case p.escaped:
				p.escaped = false
			case c == '\\':
				p.escaped = true
			case c == '"':
				p.inString = false
			}
		case isSpace(c):
			p.run++
			if p.run > squeezeAfter {
				p.drop(c, from+int64(i), p.n+int64(w))
				continue
			}
		default:
			p.run = 0
			p.inString = c == '"'
		}
		buf[w] = c
		w++
	}
	return w
}

// drop records that the whitespace byte c at input offset off was not
// handed to the decoder, where its next byte will be at decoder offset at.
func (p *posReader) drop(c byte, off, at int64) {
	if k := len(p.gaps); k == 0 || p.gaps[k-1].at != at {
		p.gaps = append(p.gaps, gap{at: at})
	}
	g := &p.gaps[len(p.gaps)-1]
	g.n++
	if c == '\n' {
		g.lines++
		g.lineStart = off + 1
	}
}

// walk follows the kept bytes and gaps from base up to decoder offset to
// (base <= to <= n) and returns the line there, the input offset where that
// line starts, the input bytes dropped before to, and how many gaps lie
// before to.
func (p *posReader) walk(to int64) (line int, lineStart, dropped int64, gaps int) {
	line, lineStart, dropped = p.baseLine, p.lineStart, p.baseDropped
	cur := p.base
	upTo := func(end int64) {
		seen := p.since(cur)[:end-cur]
		if i := bytes.LastIndexByte(seen, '\n'); i >= 0 {
			line += bytes.Count(seen, []byte{'\n'})
			lineStart = cur + int64(i) + 1 + dropped
		}
		cur = end
	}
	for ; gaps < len(p.gaps) && p.gaps[gaps].at <= to; gaps++ {
		g := p.gaps[gaps]
		upTo(g.at)
		dropped += g.n
		if g.lines > 0 {
			line += g.lines
			lineStart = g.lineStart
		}
	}
	upTo(to)
	return line, lineStart, dropped, gaps
}

// release forgets the bytes before decoder offset off: the caller will
// never ask for a position before it again.
func (p *posReader) release(off int64) {
	if off <= p.base {
		return
	}
	if off > p.n {
		off = p.n
	}
	line, lineStart, dropped, gaps := p.walk(off)
	p.baseLine, p.lineStart, p.baseDropped = line, lineStart, dropped
	p.gaps = append(p.gaps[:0], p.gaps[gaps:]...)
	p.base = off
	// Move the live bytes down only once the dead prefix outweighs them, so
	// that many small records in one read cost linear time, not quadratic.
	if dead := p.base - p.keptFrom; dead > int64(len(p.kept))/2 {
		n := copy(p.kept, p.kept[dead:])
		p.kept = p.kept[:n]
		p.keptFrom = p.base
	}
}

// lineCol turns a decoder offset at or after the last release into a
// 1-based line and byte column of the input.
func (p *posReader) lineCol(off int64) (line, col int) {
	if off < p.base {
		off = p.base
	}
	if off > p.n {
		off = p.n
	}
	line, lineStart, dropped, _ := p.walk(off)
	return line, int(off+dropped-lineStart) + 1
}

// errorAt finds where a decoder call that started at decoder offset start
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
