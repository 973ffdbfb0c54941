package main

import (
	"bytes"
	"testing"
)

// TestRunTestExamples runs `nftgo test testdata/examples` through runTest
// and asserts that every example passes.
func TestRunTestExamples(t *testing.T) {
	var out, errb bytes.Buffer
	if st := runTest([]string{"-v", "../../testdata/examples"}, &out, &errb); st != 0 {
		t.Fatalf("exit %d\n%s%s", st, out.String(), errb.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("ok ")) {
		t.Fatalf("no ok line:\n%s", out.String())
	}
	t.Log(out.String())
}
