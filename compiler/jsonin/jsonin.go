package jsonin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/syntax"
)

// CompileFile is what `nft -j -f FILE` does with FILE: a document that is
// valid JSON is read as libnftables JSON, anything else falls back to the
// nft text parser (nft_run_cmd_from_filename tries the JSON parser first
// and falls back on -EINVAL; observed: invalid JSON reports text syntax
// errors). "-" reads standard input.
func CompileFile(path string, opt compiler.Options) (*compiler.Compiled, error) {
	var src []byte
	var err error
	name := path
	if path == "-" {
		name = "/dev/stdin"
		src, err = io.ReadAll(os.Stdin)
	} else {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		if path != "-" {
			return compiler.CompileFile(path, opt) // nft's "Could not open file" error
		}
		return nil, err
	}
	return Compile(name, src, opt)
}

// Compile reads src as JSON when it is valid JSON, else as nft text.
func Compile(name string, src []byte, opt compiler.Options) (*compiler.Compiled, error) {
	if json.Valid(src) {
		return CompileJSON(name, src, opt)
	}
	return compiler.CompileSource(name, src, opt)
}

// CompileJSON compiles a libnftables JSON document. name is used in error
// messages. Errors name the JSON path of the object at fault.
func CompileJSON(name string, src []byte, opt compiler.Options) (c *compiler.Compiled, err error) {
	defer func() {
		// Nothing may panic on bad input; a bug becomes an error instead.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%s: Error: internal error: %v", name, r)
		}
	}()
	text, lines, err := Translate(src)
	if err != nil {
		return nil, fmt.Errorf("%s: Error: %w", name, err)
	}
	opt.QuotedNames = true
	c, err = compiler.CompileSource(name, text, opt)
	if err != nil {
		return nil, relocate(name, err, lines)
	}
	return c, nil
}

// Line records where one generated nft line came from: the JSON path of
// the command and, by column, of each statement on it.
type Line struct {
	Path  string
	Spans []Span
}

// Span is a statement starting at column Col (1-based) of a line.
type Span struct {
	Col  int
	Path string
}

// pathAt is the most specific JSON path for column col of the line.
func (l Line) pathAt(col int) string {
	p := l.Path
	for _, s := range l.Spans {
		if s.Col <= col {
			p = s.Path
		}
	}
	return p
}

// relocate rewrites compiler errors located in the generated text so they
// name the JSON object; the nft line stays as the quoted source.
func relocate(name string, err error, lines []Line) error {
	var list syntax.Errors
	if !errors.As(err, &list) {
		list = syntax.Errors{err}
	}
	out := make(syntax.Errors, 0, len(list))
	for _, e := range list {
		var se *syntax.Error
		if errors.As(e, &se) {
			cp := *se
			if l := cp.Pos.Line; l >= 1 && l <= len(lines) {
				cp.Msg = lines[l-1].pathAt(cp.Pos.Column) + ": " + cp.Msg
			}
			cp.Pos.Filename = name + " (as nft)"
			out = append(out, &cp)
			continue
		}
		out = append(out, e)
	}
	return out
}

// Translate turns a libnftables JSON document into nft text, one command a
// line, and the JSON origin of each line.
func Translate(src []byte) ([]byte, []Line, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, nil, errors.New("invalid JSON: data after the top-level object")
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, errors.New("$: Malformed object (no nftables object found)")
	}
	items, ok := root["nftables"].([]any)
	if !ok {
		return nil, nil, errors.New("$: Object has no 'nftables' array")
	}
	w := &writer{}
	for i, it := range items {
		path := fmt.Sprintf("nftables[%d]", i)
		if err := w.command(it, path); err != nil {
			return nil, nil, err
		}
	}
	return w.buf.Bytes(), w.lines, nil
}

// writer accumulates generated lines.
type writer struct {
	buf   bytes.Buffer
	lines []Line
	cur   strings.Builder
	spans []Span
}

func (w *writer) emit(path string) {
	w.buf.WriteString(w.cur.String())
	w.buf.WriteByte('\n')
	w.lines = append(w.lines, Line{Path: path, Spans: w.spans})
	w.cur.Reset()
	w.spans = nil
}

// errAt is a translation error naming a JSON path.
func errAt(path, format string, a ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...))
}
