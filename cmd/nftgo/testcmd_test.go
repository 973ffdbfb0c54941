package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunTestExamples: `nftgo test testdata/examples` passes, one ok line
// per case.
func TestRunTestExamples(t *testing.T) {
	var out, errb bytes.Buffer
	if st := runTest([]string{"../../testdata/examples"}, &out, &errb); st != 0 {
		t.Fatalf("exit %d\n%s%s", st, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 10 || !strings.HasPrefix(lines[len(lines)-1], "ok: ") {
		t.Fatalf("want one ok line per case and a summary:\n%s", out.String())
	}
	for _, ln := range lines[:len(lines)-1] {
		if !strings.HasPrefix(ln, "ok   ") || !strings.HasSuffix(ln, ")") {
			t.Errorf("line %q: want `ok   FILE/CASE (TIME)`", ln)
		}
	}
}

// TestRunTestFailure: a changed rule makes the command exit 1, print the
// failure, write it into the JUnit file; -run narrows the cases; -update
// rewrites the file so that the next run passes.
func TestRunTestFailure(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"ruleset.nft", "server.nfttest"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/examples/server", n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "ruleset.nft" {
			b = bytes.Replace(b, []byte("ip saddr @blocklist counter drop"), []byte("ip saddr @blocklist counter accept"), 1)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	junit := filepath.Join(dir, "report.xml")
	var out, errb bytes.Buffer
	st := runTest([]string{dir, "-run", "blocklist|everything", "--junit", junit}, &out, &errb)
	if st != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", st, out.String(), errb.String())
	}
	o := out.String()
	for _, want := range []string{
		"FAIL server/the blocklist wins",
		"ok   server/everything else is dropped",
		"packet:   tcp 192.0.2.77:40000 > 203.0.113.1:22 syn\n",
		"expected: drop\n",
		"got:      accept by inet filter input rule 0\n",
		"input: inet filter input rule 0 (handle",
		"FAIL: 1 of 2 cases failed",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "SSH") {
		t.Errorf("-run did not narrow the cases:\n%s", o)
	}
	x, err := os.ReadFile(junit)
	if err != nil || !bytes.Contains(x, []byte(`failures="1"`)) || !bytes.Contains(x, []byte("got:      accept by inet filter input rule 0")) {
		t.Errorf("junit file (%v):\n%s", err, x)
	}
	out.Reset()
	if st := runTest([]string{"-update", dir}, &out, &errb); st != 0 {
		t.Fatalf("-update: exit %d\n%s", st, out.String())
	}
	out.Reset()
	if st := runTest([]string{dir}, &out, &errb); st != 0 {
		t.Fatalf("after -update: exit %d\n%s", st, out.String())
	}
}

// TestRunTestBadFile: a file that does not parse fails with file:line.
func TestRunTestBadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.nfttest")
	os.WriteFile(p, []byte("ruleset x.nft\nlocal 203.0.113.1\ncase a\n  tcp 198.51.100.2:1 > 203.0.113.1:22 => accept\n"), 0o644)
	var out, errb bytes.Buffer
	if st := runTest([]string{dir}, &out, &errb); st != 1 {
		t.Fatalf("exit %d, want 1", st)
	}
	if !strings.Contains(out.String(), "bad.nfttest:4: tcp needs its flags") {
		t.Errorf("output:\n%s", out.String())
	}
}
