package main

import (
	"os"
	"syscall"
	"unsafe"
)

// isTerminal is isatty(3): TCGETS succeeds only on a terminal.
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return e == 0
}
