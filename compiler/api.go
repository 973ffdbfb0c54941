// Package compiler turns nft ruleset text into kernel expressions exactly as
// nft 1.0.6 does: evaluation with nft's datatypes and byte orders, implicit
// protocol dependencies, linearisation with nft's register allocation, and
// the `nft --debug=netlink` notation of the resulting batch.
package compiler

// CONTRACT (filled in by the compiler owner; cmd/nftgo compiles against it).

import (
	"io"

	"github.com/nftgo/nftgo/ruleset"
)

// Options configures compilation.
type Options struct {
	// IncludePaths are searched for `include` files that do not start with
	// "/", "./" or "../" (nft's -I; the default is /etc).
	IncludePaths []string
}

// Compiled is the result of compiling one file: the ruleset the kernel would
// hold after the commit, and the batch in the order nft sends it.
type Compiled struct {
	Ruleset *ruleset.Ruleset
}

// CompileFile reads, parses, evaluates and linearises the file at path. Its
// error, if any, prints in nft's shape (file:line:col-col: Error: …, the
// line, a caret underline), one block per error.
func CompileFile(path string, opt Options) (*Compiled, error) { panic("compiler: not implemented") }

// CompileSource is CompileFile for text already in memory; name is used in
// error locations.
func CompileSource(name string, src []byte, opt Options) (*Compiled, error) {
	panic("compiler: not implemented")
}

// WriteNetlink writes the batch as `nft --debug=netlink -c -f` prints it.
func (c *Compiled) WriteNetlink(w io.Writer) error { panic("compiler: not implemented") }
