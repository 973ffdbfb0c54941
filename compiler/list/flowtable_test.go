package list_test

import (
	"bytes"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/list"
)

// TestFlowtableListing pins the flowtable listing to nft 1.0.6's printers
// (src/rule.c flowtable_print_declaration, src/json.c flowtable_print_json,
// src/statement.c flow_offload_stmt_print): flowtables come after the sets
// and before the chains, the priority is named as for a netdev ingress hook,
// devices are sorted, offload and counter flags are their own lines. The
// reference kernel refuses flowtables (no CONFIG_NF_FLOW_TABLE), so this
// cannot be recorded from a live `nft list ruleset` here.
func TestFlowtableListing(t *testing.T) {
	src := "table inet t {\n\tflowtable ft {\n\t\thook ingress priority -100; devices = { wan, lan }; counter\n\t}\n" +
		"\tflowtable f2 {\n\t\thook ingress priority filter + 5\n\t\tdevices = { lan }\n\t}\n" +
		"\tchain forward {\n\t\ttype filter hook forward priority 0;\n\t\tmeta l4proto tcp flow add @ft\n\t}\n}\n"
	want := "table inet t {\n\tflowtable ft {\n\t\thook ingress priority -100\n\t\tdevices = { lan, wan }\n\t\tcounter\n\t}\n\n" +
		"\tflowtable f2 {\n\t\thook ingress priority filter + 5\n\t\tdevices = { lan }\n\t}\n\n" +
		"\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tmeta l4proto tcp flow add @ft\n\t}\n}\n"
	wantJSON := `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, ` +
		`{"table": {"family": "inet", "name": "t", "handle": 1}}, ` +
		`{"flowtable": {"family": "inet", "name": "ft", "table": "t", "handle": 2, "hook": "ingress", "prio": -100, "dev": ["lan", "wan"]}}, ` +
		`{"flowtable": {"family": "inet", "name": "f2", "table": "t", "handle": 3, "hook": "ingress", "prio": 5, "dev": "lan"}}, ` +
		`{"chain": {"family": "inet", "table": "t", "name": "forward", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}, ` +
		`{"rule": {"family": "inet", "table": "t", "chain": "forward", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"flow": {"op": "add", "flowtable": "@ft"}}]}}]}`
	c, err := compiler.CompileSource("ruleset.nft", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	if err := list.Text(&text, c.Ruleset, list.Options{}); err != nil {
		t.Fatal(err)
	}
	if text.String() != want {
		t.Errorf("text:\n got: %s\nwant: %s", text.String(), want)
	}
	if err := list.JSON(&js, c.Ruleset, list.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := js.String(); got != wantJSON && got != wantJSON+"\n" {
		t.Errorf("json:\n got: %s\nwant: %s", got, wantJSON)
	}
}
