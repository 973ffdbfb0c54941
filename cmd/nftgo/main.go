// Command nftgo is an nftables-compatible ruleset compiler and VM: it
// checks and compiles rulesets as nft 1.0.6 does (`-c`, `--debug=netlink`,
// `list ruleset`) and replays captures through them (`--replay`) to tell
// what Linux would do with each packet.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/jsonin"
	"github.com/nftgo/nftgo/compiler/list"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/vm"
)

// gcPercent is the GOGC nftgo runs with unless GOGC is set. Compiling is
// one burst of allocation that stays live to the end, so at the default 100
// the collector re-marks the growing AST and ruleset again and again (a
// quarter of the CPU on a 50k-rule file); the replay allocates nothing per
// packet, so the higher target costs it nothing. It is set here, not in the
// compiler, because it is process-wide.
const gcPercent = 300

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, returning the exit status (0 ok, 1 error as
// nft's NFT_EXIT_FAILURE).
func run(args []string, stdout, stderr io.Writer) (status int) {
	if len(args) > 0 && args[0] == "diff-kernel" {
		return runDiffKernel(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "test" {
		return runTest(args[1:], stdout, stderr)
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	defer func() {
		if err := bw.Flush(); err != nil && status == 0 {
			fmt.Fprintf(stderr, "nftgo: %v\n", err)
			status = 1
		}
	}()
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo: %v\n%s", err, "Try `nftgo --help' for more information.\n")
		return 1
	}
	if o.help {
		fmt.Fprint(bw, usage)
		return 0
	}
	if o.version {
		fmt.Fprintln(bw, "nftgo (nftables v1.0.6 compatible)")
		return 0
	}
	if o.file == "" {
		if len(o.cmd) > 0 {
			fmt.Fprintln(stderr, "nftgo: there is no kernel ruleset to list: give the ruleset with -f FILE")
		} else {
			fmt.Fprint(stderr, usage)
		}
		return 1
	}
	c, err := compile(o)
	if c != nil && o.debugNetlink() {
		if werr := c.WriteNetlink(bw); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		if ferr := bw.Flush(); ferr != nil {
			fmt.Fprintf(stderr, "nftgo: %v\n", ferr)
		}
		msg := err.Error()
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		io.WriteString(stderr, msg)
		return 1
	}
	if o.check {
		// nft -c (1.0.6) sends the batch but aborts before the commit, so
		// commit-time validation (jump depth, loops) does not run.
		return 0
	}
	if o.replay == "" {
		// Without -c, nft commits the batch and the kernel validates it:
		// load it into a vm for the same checks. An expression nftgo cannot
		// run is not a kernel error; a listing still prints it.
		if _, err := vm.New(c.Ruleset, vm.Config{CT: ct.DefaultConfig()}); err != nil {
			var le *vm.LoadError
			if errors.As(err, &le) && le.Unsupported() {
				err = nil
			} else if kerr := placeLoadError(c, err); kerr != nil {
				err = kerr
			}
			if err != nil {
				msg := err.Error()
				if !strings.HasSuffix(msg, "\n") {
					msg += "\n"
				}
				io.WriteString(stderr, msg)
				return 1
			}
		}
	}
	if o.replay != "" {
		return runReplay(o, c, bw, stdout, stderr)
	}
	if len(o.cmd) > 0 {
		if err := command(bw, o, c.Ruleset); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return 0
}

func compile(o *options) (*compiler.Compiled, error) {
	opt := compiler.Options{IncludePaths: o.includes}
	if o.json {
		// -j -f reads libnftables JSON (text that is not JSON falls back to
		// the text parser, as nft does); "-" is stdin there too.
		return jsonin.CompileFile(o.file, opt)
	}
	if o.file == "-" {
		src, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, err
		}
		return compiler.CompileSource("/dev/stdin", src, opt)
	}
	return compiler.CompileFile(o.file, opt)
}

// command runs the trailing COMMAND words over rs (the compiled ruleset, or
// the machine's snapshot after a replay).
func command(w io.Writer, o *options, rs *ruleset.Ruleset) error {
	words := o.cmd
	if len(words) == 0 {
		return nil
	}
	bad := func() error {
		return fmt.Errorf("Error: syntax error, unsupported command: %s", strings.Join(words, " "))
	}
	if words[0] != "list" || len(words) < 2 {
		return bad()
	}
	var sel *ruleset.Ruleset
	switch words[1] {
	case "ruleset":
		switch len(words) {
		case 2:
			sel = rs
		case 3:
			fam, ok := ruleset.ParseFamily(words[2])
			if !ok {
				return bad()
			}
			sel = &ruleset.Ruleset{}
			for _, t := range rs.Tables {
				if t.Family == fam {
					sel.Tables = append(sel.Tables, t)
				}
			}
		default:
			return bad()
		}
	case "table":
		fam, name, err := famName(words[2:], 2)
		if err != nil {
			return bad()
		}
		t := findTable(rs, fam, name)
		if t == nil {
			return fmt.Errorf("Error: No such file or directory\nlist table %s %s", fam, name)
		}
		sel = &ruleset.Ruleset{Tables: []*ruleset.Table{t}}
	case "set", "map":
		fam, tname, err := famName(words[2:], 3)
		if err != nil {
			return bad()
		}
		sname := words[len(words)-1]
		t := findTable(rs, fam, tname)
		if t == nil {
			return fmt.Errorf("Error: No such file or directory\nlist %s %s %s %s", words[1], fam, tname, sname)
		}
		var found *ruleset.Set
		for _, s := range t.Sets {
			if s.Name == sname {
				found = s
			}
		}
		if found == nil {
			return fmt.Errorf("Error: No such file or directory\nlist %s %s %s %s", words[1], fam, tname, sname)
		}
		cp := *t
		cp.Chains, cp.Objects, cp.Sets = nil, nil, []*ruleset.Set{found}
		sel = &ruleset.Ruleset{Tables: []*ruleset.Table{&cp}}
	default:
		return bad()
	}
	lo := list.Options{Handles: o.handles}
	if o.json {
		return list.JSON(w, sel, lo)
	}
	return list.Text(w, sel, lo)
}

// famName reads "[FAMILY] NAME…" (n words with the family, whose default is
// ip as in nft) and returns the family and the table name.
func famName(w []string, n int) (ruleset.Family, string, error) {
	if len(w) == n {
		f, ok := ruleset.ParseFamily(w[0])
		if !ok {
			return 0, "", fmt.Errorf("bad family %q", w[0])
		}
		return f, w[1], nil
	}
	if len(w) == n-1 {
		return ruleset.FamilyIPv4, w[0], nil
	}
	return 0, "", fmt.Errorf("wrong number of words")
}

func findTable(rs *ruleset.Ruleset, f ruleset.Family, name string) *ruleset.Table {
	for _, t := range rs.Tables {
		if t.Family == f && t.Name == name {
			return t
		}
	}
	return nil
}

// isDevNull reports whether w is /dev/null: a replay then skips formatting
// the per-packet lines nobody reads (as GNU tar skips reading archive
// members it would write to /dev/null); the summary is still written.
func isDevNull(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(a, b)
}

// placeLoadError is the kernel's refusal of a ruleset the vm would not
// load (commit-time checks), placed at the blamed statement as nft prints
// it; nil when err is not such a refusal (nothing to place, or an
// expression nftgo cannot run).
func placeLoadError(c *compiler.Compiled, err error) error {
	var le *vm.LoadError
	if !errors.As(err, &le) || le.Unsupported() {
		return nil
	}
	if le.Object != "" {
		return c.ObjectError(le.Family, le.Table, le.Object, le.Error())
	}
	return c.KernelError(le.Family, le.Table, le.Chain, le.Handle, le.Expr, le.Error())
}
