package compiler

import (
	"bytes"
	"strings"
	"testing"
)

// TestFlowtableNetlink checks flowtable declarations against the debug
// output of the real nft 1.0.6 (`nft --debug=netlink -c -f`, which prints
// the batch before the kernel of the reference machines refuses flowtables:
// it is built without CONFIG_NF_FLOW_TABLE). The want lines were printed by
// nft; devices come out in reverse order, counter is flag 2 and offload 1,
// the hook is named with the table family's hook names.
func TestFlowtableNetlink(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{
			"table inet t {\n\tflowtable ft {\n\t\thook ingress priority -100; devices = { wan, lan }; counter\n\t}\n}\n",
			"flow table (null) (null) use 0 size 0 flags 2 hook prerouting prio -100  dev {  lan  wan  } \n",
		},
		{
			"table inet t {\n\tflowtable f2 {\n\t\thook ingress priority filter + 5\n\t\tdevices = { lan }\n\t\tcounter\n\t}\n}\n",
			"flow table (null) (null) use 0 size 0 flags 2 hook prerouting prio 5  dev {  lan  } \n",
		},
		{
			"table netdev n {\n\tflowtable f {\n\t\thook ingress priority filter - 7; devices = { b, c, a }; flags offload; counter;\n\t}\n}\n",
			"flow table (null) (null) use 0 size 0 flags 3 hook ingress prio -7  dev {  a  c  b  } \n",
		},
		{
			"table inet t {\n\tflowtable ft {\n\t\thook ingress priority mangle; devices = { lan }\n\t}\n}\n",
			"ruleset.nft:3:16-30: Error: invalid priority expression value.\n",
		},
		{
			"table ip6 x {\n\tflowtable f {\n\t\thook ingress priority 10 + 5; devices = { lo };\n\t}\n}\n",
			"ruleset.nft:3:28-28: Error: syntax error, unexpected +, expecting newline or semicolon\n",
		},
	} {
		c, err := CompileSource("ruleset.nft", []byte(tc.src), Options{})
		var got string
		if err != nil {
			got = strings.SplitAfter(err.Error(), "\n")[0]
		} else {
			var b bytes.Buffer
			if err := c.WriteNetlink(&b); err != nil {
				t.Fatal(err)
			}
			got = b.String()
		}
		if got != tc.want {
			t.Errorf("%s\n got: %q\nwant: %q", tc.src, got, tc.want)
		}
	}
}
