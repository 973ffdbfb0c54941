package syntax

import "testing"

// Expected texts come from nft 1.0.6 (`nft -c -f` in a netns) on the same input.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"brace-without-separator", "table ip t {\n  chain c { counter }\n}\n",
			"x.nft:2:21-21: Error: syntax error, unexpected '}', expecting newline or semicolon\n  chain c { counter }\n                    ^"},
		{"block-then-table-brace", "table ip x { chain c { type filter hook input priority 0; } }\n",
			"x.nft:1:61-61: Error: syntax error, unexpected '}', expecting newline or semicolon\ntable ip x { chain c { type filter hook input priority 0; } }\n                                                            ^"},
		{"flags-then-table-brace", "table ip x { flags dormant }\n",
			"x.nft:1:28-28: Error: syntax error, unexpected '}', expecting newline or semicolon\ntable ip x { flags dormant }\n                           ^"},
		{"two-tables-one-line", "table ip x { } table ip y { }\n",
			"x.nft:1:16-20: Error: syntax error, unexpected table, expecting end of file or newline or semicolon\ntable ip x { } table ip y { }\n               ^^^^^"},
		{"keyword-chain-name", "table ip x {\n\tchain fwd {\n\t}\n}\n",
			"x.nft:2:8-10: Error: syntax error, unexpected fwd, expecting string\n\tchain fwd {\n\t      ^^^"},
		{"keyword-set-name", "table ip x {\n\tset lt {\n\t\ttype ipv4_addr\n\t}\n}\n",
			"x.nft:2:6-7: Error: syntax error, unexpected <, expecting string\n\tset lt {\n\t    ^^"},
		{"keyword-table-name", "table ip counter {\n}\n",
			"x.nft:1:10-16: Error: syntax error, unexpected counter, expecting string\ntable ip counter {\n         ^^^^^^^"},
		{"quoted-table-name", "table ip \"x\" {\n}\n",
			"x.nft:1:10-12: Error: syntax error, unexpected quoted string, expecting string\ntable ip \"x\" {\n         ^^^"},
		{"quoted-set-name", "table ip x {\n\tset \"s\" {\n\t\ttype ipv4_addr\n\t}\n}\n",
			"x.nft:2:6-8: Error: syntax error, unexpected quoted string, expecting string\n\tset \"s\" {\n\t    ^^^"},
		{"two-commands-one-line", "add table ip x add table ip y\n",
			"x.nft:1:16-18: Error: syntax error, unexpected add, expecting end of file or newline or semicolon\nadd table ip x add table ip y\n               ^^^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.nft", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	src := "define p = { 22, 80 }\ntable inet f {\n\tset s { type ipv4_addr; flags dynamic; size 10; }\n" +
		"\tchain in {\n\t\ttype filter hook input priority filter + 10; policy drop;\n" +
		"\t\ttcp dport $p ct state new,established counter accept\n\t}\n}\nadd rule inet f in ip saddr 1.2.3.4 drop\n"
	f, err := Parse("x.nft", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 3 || f.Items[0].Define == nil || f.Items[1].Table == nil || f.Items[2].Command == nil {
		t.Fatalf("top items: %+v", f.Items)
	}
	tb := f.Items[1].Table
	if tb.Family != "inet" || tb.Name.Text() != "f" || len(tb.Items) != 2 {
		t.Fatalf("table: %+v", tb)
	}
	ch := tb.Items[1].Chain
	if ch == nil || ch.Items[0].Hook == nil || ch.Items[0].Hook.Priority.Base != "filter" ||
		ch.Items[0].Hook.Priority.Offset != "10" || ch.Items[1].Policy == nil {
		t.Fatalf("chain: %+v", ch)
	}
	r := ch.Items[2].Rule
	if r == nil {
		t.Fatal("no rule")
	}
	terms, err := r.TermList()
	if err != nil || len(terms) != 11 || terms[0].Pos.Line != 6 || terms[0].Pos.Column != 3 || terms[3].Word != "p" || terms[3].Pos.Column != 14 {
		t.Fatalf("rule terms: %v %+v", err, terms)
	}
	// A rule outside a chain block is parsed term by term.
	add := f.Items[2].Command.Rule.Rule
	if add == nil || add.Raw != "" || len(add.Terms) != 4 {
		t.Fatalf("add rule: %+v", add)
	}
}

// The JSON front end writes names nft would scan as keywords quoted.
func TestQuotedNamesOption(t *testing.T) {
	src := []byte("table ip \"counter\" {\n\tchain \"fwd\" {\n\t}\n}\n")
	if _, err := Parse("x.nft", src); err == nil {
		t.Fatal("quoted names accepted without the option")
	}
	f, err := ParseWith("x.nft", src, ParseOptions{QuotedNames: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Items[0].Table.Items[0].Chain.Name.Text(); n != "fwd" {
		t.Fatalf("chain name %q", n)
	}
}
