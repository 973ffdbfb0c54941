package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/nftgo/nftgo/nfttest"
)

const testUsage = `usage: nftgo test [-run REGEX] [-update] [-v] [--junit FILE] [PATH...]

Runs the ruleset tests in PATH (files, or directories searched recursively
for *.nfttest; default "."), each case on a fresh machine, and prints one
line per case. A failing case shows the packet, what was expected, what
happened and the rule trace. Exit status 1 when any case fails.

  -run REGEX    run only the cases whose FILE/CASE name matches
  -update       rewrite the expectations that did not hold with what happened
  -v            print every packet and end expectation with its result
  --junit FILE  also write the results as JUnit XML
See docs/testing.md for the file format.
`

// runTest is `nftgo test [flags] [PATH…]`.
func runTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nftgo test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, testUsage) }
	runRe := fs.String("run", "", "")
	update := fs.Bool("update", false, "")
	verbose := fs.Bool("v", false, "")
	junit := fs.String("junit", "", "")
	// Flags may follow the paths too (`nftgo test dir -run x`).
	var paths []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				return 0
			}
			return 2
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		paths = append(paths, rest[0])
		rest = rest[1:]
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	opt := nfttest.Options{Verbose: *verbose}
	if *runRe != "" {
		re, err := regexp.Compile(*runRe)
		if err != nil {
			fmt.Fprintf(stderr, "nftgo test: -run: %v\n", err)
			return 2
		}
		opt.Run = re
	}
	results, err := nfttest.RunPaths(paths, opt)
	if err != nil {
		fmt.Fprintf(stderr, "nftgo test: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	failed, cases := 0, 0
	for _, fr := range results {
		if fr.Err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %s\n    %v\n", fr.Path, fr.Err)
			continue
		}
		for _, c := range fr.Cases {
			cases++
			if c.Failed() {
				failed++
			}
			nfttest.WriteCase(w, c, *verbose)
		}
		if *update {
			n, err := nfttest.UpdateFile(fr.File, fr.Cases)
			if err != nil {
				fmt.Fprintf(stderr, "nftgo test: %v\n", err)
				return 1
			}
			if n > 0 {
				fmt.Fprintf(w, "updated %s: %d expectation(s) rewritten\n", fr.Path, n)
			}
		}
	}
	if *junit != "" {
		f, err := os.Create(*junit)
		if err == nil {
			err = nfttest.WriteJUnit(f, results)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "nftgo test: --junit: %v\n", err)
			return 1
		}
	}
	switch {
	case len(results) == 0:
		fmt.Fprintf(w, "no test files (*.nfttest) under %v\n", paths)
		return 1
	case failed > 0 && !*update:
		fmt.Fprintf(w, "FAIL: %d of %d cases failed\n", failed, cases)
		return 1
	case failed > 0:
		fmt.Fprintf(w, "%d of %d cases did not match and were updated; run again to check\n", failed, cases)
		return 0
	}
	fmt.Fprintf(w, "ok: %d cases passed\n", cases)
	return 0
}
