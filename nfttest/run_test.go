package nfttest

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// updateFiles rewrites, with -update, the expectations of the test files
// under paths that do not hold, as `nftgo test -update` does.
func updateFiles(t *testing.T, paths ...string) {
	t.Helper()
	res, err := RunPaths(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range res {
		if fr.Err != nil {
			t.Fatal(fr.Err)
		}
		n, err := UpdateFile(fr.File, fr.Cases)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Logf("%s: %d expectation(s) rewritten", fr.Path, n)
		}
	}
}

// TestRunExamples runs every example under testdata/examples, as
// `nftgo test testdata/examples` does, through Run (with -update, after
// rewriting what does not hold).
func TestRunExamples(t *testing.T) {
	if *update {
		updateFiles(t, "../testdata/examples")
	}
	Run(t, "../testdata/examples")
}

// copyExample copies an example directory to a temporary one.
func copyExample(t *testing.T, dir string) string {
	t.Helper()
	tmp := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestChangedRuleFails: loosening the server's SSH limit from 3 to 4
// connections per source makes its test fail, and the message names the
// packet, what was expected, what happened, the rule that decided and the
// trace that led there.
func TestChangedRuleFails(t *testing.T) {
	dir := copyExample(t, "../testdata/examples/server")
	edit(t, filepath.Join(dir, "ruleset.nft"), "ct count over 3", "ct count over 4")
	f, err := ParseFile(filepath.Join(dir, "server.nfttest"))
	if err != nil {
		t.Fatal(err)
	}
	var failed []*CaseResult
	for _, r := range RunFile(f, Options{}) {
		if r.Failed() {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 || failed[0].Case.Name != "three SSH connections per source, the fourth is dropped" {
		t.Fatalf("want exactly the SSH limit case to fail, failed: %d", len(failed))
	}
	var b strings.Builder
	WriteCase(&b, failed[0], false)
	msg := b.String()
	t.Logf("\n%s", msg)
	for _, want := range []string{
		"FAIL server/three SSH connections per source, the fourth is dropped",
		"server.nfttest:7\n",
		"packet:   tcp 198.51.100.2:40003 > 203.0.113.1:22 syn\n",
		"expected: drop by inet filter input rule 3\n",
		"got:      accept by inet filter input rule 4\n",
		"input: inet filter input rule 4 (handle",
		"server.nfttest:10\n", // the counter of the connlimit rule
		"expected: expect counter inet filter input rule 3 packets 1",
		"got:      expect counter inet filter input rule 3 packets 0",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message lacks %q", want)
		}
	}
}

// TestUpdate: -update fills in missing expectations and rewrites wrong ones
// from what happened, keeps right ones, comments and layout, and the
// rewritten file passes.
func TestUpdate(t *testing.T) {
	dir := copyExample(t, "../testdata/examples/connlimit")
	path := filepath.Join(dir, "u.nfttest")
	src := `ruleset per-source.nft   # the ruleset under test
iface wan 198.51.100.254/24
iface lan 203.0.113.254/24
route default wan

case update me
  tcp 198.51.100.2:40000 > 203.0.113.10:80 syn => accept   # right, kept as written
  2x tcp 198.51.100.2:40001 > 203.0.113.10:80 syn          # none: filled in
  handshake 198.51.100.3:1000 > 203.0.113.10:80 => drop    # wrong: rewritten
  expect conntrack count 99
  expect counter inet filter forward rule 0 packets 0 bytes 0
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := RunFile(f, Options{})
	if !res[0].Failed() {
		t.Fatal("the case should fail before the update")
	}
	n, err := UpdateFile(f, res)
	if err != nil || n != 4 {
		t.Fatalf("UpdateFile: %d rewritten, %v; want 4", n, err)
	}
	b, _ := os.ReadFile(path)
	want := `ruleset per-source.nft   # the ruleset under test
iface wan 198.51.100.254/24
iface lan 203.0.113.254/24
route default wan

case update me
  tcp 198.51.100.2:40000 > 203.0.113.10:80 syn => accept   # right, kept as written
  2x tcp 198.51.100.2:40001 > 203.0.113.10:80 syn => accept by inet filter forward policy, drop by inet filter forward rule 0          # none: filled in
  handshake 198.51.100.3:1000 > 203.0.113.10:80 => accept by inet filter forward policy    # wrong: rewritten
  expect conntrack count 3
  expect counter inet filter forward rule 0 packets 1 bytes 40
`
	if string(b) != want {
		t.Fatalf("updated file:\n%s\nwant:\n%s", b, want)
	}
	f, err = ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range RunFile(f, Options{}) {
		if r.Failed() {
			var m strings.Builder
			WriteFailure(&m, r)
			t.Errorf("updated file fails:\n%s", m.String())
		}
	}
}

// TestCompileErrorFailsCase: a ruleset nft would refuse fails every case
// with nft's error report, and a missing ruleset says which file.
func TestCompileErrorFailsCase(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.nft"), []byte("table inet t {\n  chain c {\n    tcp dport 22 acept\n  }\n}\n"), 0o644)
	src := "ruleset bad.nft\nlocal 203.0.113.1\ncase a\n  udp 198.51.100.2:1 > 203.0.113.1:53 => accept\ncase b\n  +1s\n"
	f, err := Parse(filepath.Join(dir, "t.nfttest"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := RunFile(f, Options{})
	if len(res) != 2 || !res[0].Failed() || !res[1].Failed() {
		t.Fatalf("both cases should fail")
	}
	var b strings.Builder
	WriteFailure(&b, res[0])
	msg := b.String()
	for _, want := range []string{"t.nfttest:1: ruleset bad.nft:", "bad.nft:3:", "Error: syntax error", "^^^"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	f.Ruleset = "missing.nft"
	if r := RunCase(f, f.Cases[0]); r.Err == nil || !strings.Contains(r.Err.Error(), "missing.nft") {
		t.Errorf("missing ruleset: %v", r.Err)
	}
}

// TestRunSelects: Options.Run selects cases by FILE/CASE.
func TestRunSelects(t *testing.T) {
	res, err := RunPaths([]string{"../testdata/examples/connlimit"}, Options{Run: mustRe(t, "per-source/.*closed")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fr := range res {
		for _, c := range fr.Cases {
			n++
			if c.FullName() != "per-source/a closed connection frees its slot" {
				t.Errorf("selected %q", c.FullName())
			}
		}
	}
	if n != 1 {
		t.Errorf("selected %d cases, want 1", n)
	}
}

// TestJUnit: the XML parses back with one suite per file, the failure
// counted and its message carried.
func TestJUnit(t *testing.T) {
	dir := copyExample(t, "../testdata/examples/server")
	edit(t, filepath.Join(dir, "ruleset.nft"), "tcp dport 22 accept", "tcp dport 22 drop")
	res, err := RunPaths([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJUnit(&b, res); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Tests != 6 || doc.Suites[0].Failures != 2 {
		t.Fatalf("suites %+v: want 1 suite, 6 tests, 2 failures", doc.Suites)
	}
	found := false
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil && strings.Contains(c.Failure.Text, "got:      drop by inet filter input rule 4") {
			found = true
		}
	}
	if !found {
		t.Errorf("no failure names the dropping rule:\n%s", b.String())
	}
}

func mustRe(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
