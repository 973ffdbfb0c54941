//go:build !linux

package main

import "os"

// isTerminal reports false off Linux: no progress bar there.
func isTerminal(*os.File) bool { return false }
