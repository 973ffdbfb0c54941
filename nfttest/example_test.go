package nfttest_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/nftgo/nftgo/nfttest"
)

// A Go program runs the same test files from its own tests; each case
// becomes a subtest, and a failure reads as `nftgo test` prints it.
func ExampleRun() {
	_ = func(t *testing.T) {
		nfttest.Run(t, "testdata/firewall.nfttest", "testdata/more-tests/")
	}
}

// RunFile gives the results to inspect or print.
func ExampleRunFile() {
	f, err := nfttest.ParseFile("../testdata/examples/connlimit/ssh-total.nfttest")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range nfttest.RunFile(f, nfttest.Options{Run: regexp.MustCompile("eleventh")}) {
		fmt.Println(r.FullName(), "failed:", r.Failed())
		last := r.Packets[len(r.Packets)-1]
		fmt.Println(last.Got.Packet, "=>", last.Got.Expect)
	}
	// Output:
	// ssh-total/the eleventh connection is dropped by the policy failed: false
	// tcp 198.51.100.9:50000 > 203.0.113.1:22 syn => drop by inet filter input policy ct state new
}
