package syntax

// Error records in nft's shape. Ref: nftables src/erec.c — erec_print,
// print_location.

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Error is one located error: FILE:LINE:COL-ENDCOL: Error: MSG, then the
// source line and a caret marker.
type Error struct {
	Pos    lexer.Position
	EndCol int
	Msg    string
	Src    []byte // the file the position points into
	// Included lists "In file included from …" lines, outermost last.
	Included []string
	// Context is a secondary location on the same line, underlined with
	// '~' (nft's second location record, e.g. the terminal statement).
	Context *Span
}

// Span is a column range on the error's line.
type Span struct{ Col, EndCol int }

func (e *Error) Error() string {
	var b strings.Builder
	for _, inc := range e.Included {
		b.WriteString(inc)
		b.WriteByte('\n')
	}
	line, col, end := e.Pos.Line, e.Pos.Column, e.EndCol
	if col < 1 {
		col = 1
	}
	if end < col {
		end = col
	}
	fmt.Fprintf(&b, "%s:%d:%d-%d: Error: %s\n", e.Pos.Filename, line, col, end, e.Msg)
	src := sourceLine(e.Src, line)
	if src == nil {
		return strings.TrimSuffix(b.String(), "\n")
	}
	b.Write(src)
	b.WriteByte('\n')
	last := end
	if e.Context != nil && e.Context.EndCol > last {
		last = e.Context.EndCol
	}
	for i := 1; i <= last; i++ {
		switch {
		case i >= col && i <= end:
			b.WriteByte('^')
		case e.Context != nil && i >= e.Context.Col && i <= e.Context.EndCol:
			b.WriteByte('~')
		case i-1 < len(src) && src[i-1] == '\t':
			b.WriteByte('\t')
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// sourceLine returns line n (1-based) of src; past the end, nft prints the
// last line.
func sourceLine(src []byte, n int) []byte {
	if src == nil {
		return nil
	}
	lines := bytes.Split(bytes.TrimSuffix(src, []byte("\n")), []byte("\n"))
	if n < 1 {
		n = 1
	}
	if n > len(lines) {
		n = len(lines)
	}
	return bytes.TrimSuffix(lines[n-1], []byte("\r"))
}

// Errors is several error records, printed one after the other.
type Errors []error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}
