package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Expected messages were produced by nft 1.0.6 (`nft -c -f x.nft` in a netns)
// on the same inputs.
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"unknown-set", "ip saddr @nope drop",
			"x.nft:3:12-16: Error: No such file or directory\n\t\tip saddr @nope drop\n\t\t         ^^^^^"},
		{"unknown-chain", "jump nowhere",
			"x.nft:3:8-14: Error: Could not process rule: No such file or directory\n\t\tjump nowhere\n\t\t     ^^^^^^^"},
		{"unknown-identifier", "tcp dport $y accept",
			"x.nft:3:14-14: Error: unknown identifier 'y'\n\t\ttcp dport $y accept\n\t\t           ^"},
		{"nfproto-outside-inet", "meta nfproto ipv4",
			"x.nft:3:3-14: Error: meta nfproto is only useful in the inet family\n\t\tmeta nfproto ipv4\n\t\t^^^^^^^^^^^^"},
		{"terminal", "accept counter",
			"x.nft:3:10-16: Error: Statement after terminal statement has no effect\n\t\taccept counter\n\t\t~~~~~~ ^^^^^^^"},
		{"conflict", "ip6 saddr ::1",
			"x.nft:3:3-11: Error: conflicting protocols specified: ip vs. ip6\n\t\tip6 saddr ::1\n\t\t^^^^^^^^^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "table ip t {\n\tchain c {\n\t\t" + tt.rule + "\n\t}\n}\n"
			_, err := CompileSource("x.nft", []byte(src), Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestIncludeAndDefines(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "defs.nft")
	if err := os.WriteFile(inc, []byte("define PORTS = { 22, 80 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "include \"defs.nft\"\ntable inet t {\n\tchain c {\n\t\ttcp dport $PORTS accept\n\t}\n}\n"
	c, err := CompileSource("x.nft", []byte(src), Options{IncludePaths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	tbl := c.Ruleset.Tables[0]
	if len(tbl.Sets) != 1 || tbl.Sets[0].Name != "__set0" || len(tbl.Sets[0].Elements) != 2 {
		t.Fatalf("anonymous set: %+v", tbl.Sets)
	}
	// Without the include path nft searches only /etc: "File not found".
	_, err = CompileSource("x.nft", []byte(src), Options{IncludePaths: []string{t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "File not found: defs.nft") {
		t.Fatalf("got %v", err)
	}
}

func TestInsertPrepends(t *testing.T) {
	src := "table ip t {\n\tchain c {\n\t\tcounter\n\t}\n}\ninsert rule ip t c drop\nadd rule ip t c accept\n"
	c, err := CompileSource("x.nft", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules := c.Ruleset.Tables[0].Chains[0].Rules
	if len(rules) != 3 || rules[0].Exprs[0].Name() != "immediate" || rules[1].Exprs[0].Name() != "counter" {
		t.Fatalf("rule order wrong: %d rules", len(rules))
	}
	// Handles follow the batch order, not the chain position.
	if rules[0].Handle != 3 || rules[1].Handle != 2 || rules[2].Handle != 4 {
		t.Fatalf("handles %d %d %d", rules[0].Handle, rules[1].Handle, rules[2].Handle)
	}
}
