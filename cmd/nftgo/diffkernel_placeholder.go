package main

// TEMPORARY placeholder for diffkernel.go, which the owner of the
// diff-kernel subcommand adds to this directory: delete this file in the
// same commit that adds the real runDiffKernel (same signature), so the
// package never has two definitions.

import (
	"fmt"
	"io"
)

// runDiffKernel is dispatched for `nftgo diff-kernel ARGS…`.
func runDiffKernel(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "diff-kernel: not available in this build")
	return 2
}
