package importer

import (
	"errors"
	"fmt"
	"io/fs"
)

// The errors below print as one clause each, in the input's terms: a caller
// puts "import PATH: " in front and shows the result to a person, so no
// wrapper text is stacked up and no Go type or decoder name shows. Each
// still unwraps to the sentinel and the underlying error, for errors.Is and
// errors.As.

// placeError is one thing wrong with the input at one place: "line 3,
// column 5" or "record 2 (line 7)".
type placeError struct {
	where, what string
	errs        []error // sentinels and causes, not printed
}

func (e *placeError) Error() string   { return e.where + ": " + e.what }
func (e *placeError) Unwrap() []error { return e.errs }

// tooLargeError is ErrTooLarge with the figures.
type tooLargeError struct {
	size  int64 // 0 when not known (a stream cut off at the limit)
	limit int64
}

func (e *tooLargeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("the input is %s, over the size limit of %s", byteSize(e.size), byteSize(e.limit))
	}
	return fmt.Sprintf("the input is over the size limit of %s", byteSize(e.limit))
}

func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ioError is a failure to open or read the input, as opposed to a problem
// with its content. The os error's own "open PATH: " is left out: the
// caller has named the path already.
type ioError struct {
	what string // "the file could not be opened"
	err  error
}

func (e *ioError) Error() string {
	reason := e.err.Error()
	var pe *fs.PathError
	if errors.As(e.err, &pe) {
		reason = pe.Err.Error()
	}
	return e.what + " (" + reason + ")"
}

func (e *ioError) Unwrap() error { return e.err }

// formatName is how a message names a format.
func formatName(format string) string {
	switch format {
	case FormatProwlerOCSF:
		return "Prowler OCSF"
	case FormatASFF:
		return "Security Hub ASFF"
	}
	return format
}
