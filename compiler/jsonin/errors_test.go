package jsonin

import (
	"strings"
	"testing"

	"github.com/nftgo/nftgo/compiler"
)

// TestErrors checks that a bad document is rejected with the JSON path of
// the object at fault.
func TestErrors(t *testing.T) {
	const tbl = `{"table": {"family": "inet", "name": "t"}}, {"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not json", `{"nftables": [`, "invalid JSON"},
		{"no array", `{"foo": 1}`, "no 'nftables' array"},
		{"unknown object", `{"nftables": [{"bogus": {}}]}`, "nftables[0].bogus: Unknown object 'bogus'"},
		{"bad family", `{"nftables": [{"table": {"family": "ipx", "name": "t"}}]}`, "nftables[0].table.family: Invalid family"},
		{"table without name", `{"nftables": [{"add": {"table": {"family": "ip"}}}]}`, "nftables[0].add.table: Object has no 'name' property"},
		{"unknown statement", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"accept": null}, {"frobnicate": 1}]}}]}`,
			"nftables[2].rule.expr[1].frobnicate: Unknown statement object"},
		{"bad op", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "~", "left": {"meta": {"key": "mark"}}, "right": 1}}]}}]}`,
			"nftables[2].rule.expr[0].match.op: Unknown relational op '~'"},
		{"unknown expression", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"quux": {}}, "right": 1}}]}}]}`,
			"nftables[2].rule.expr[0].match.left.quux: Unknown expression type"},
		{"xt", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"xt": {"type": "match", "name": "conntrack"}}]}}]}`,
			"nftables[2].rule.expr[0].xt: xt statements"},
		{"map statement", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"map": {"op": "add", "elem": 1, "data": 2, "map": "@m"}}]}}]}`,
			"nftables[2].rule.expr[0].map: Unknown statement object 'map'"},
		// evaluation errors come back from the compiler with the path of
		// the statement they are about
		{"no such chain", `{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"rule": {"family": "ip", "table": "t", "chain": "nope", "expr": [{"accept": null}]}}]}`,
			"nftables[1].rule: No such file or directory"},
		{"bad value", `{"nftables": [` + tbl + `, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"counter": null}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "no-such-service"}}]}}]}`,
			"nftables[2].rule.expr[1]: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := CompileJSON("x.json", []byte(tc.doc), compiler.Options{})
			if err == nil {
				t.Fatalf("accepted (%v), want error containing %q", c != nil, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// translateCases pin the nft text of statements for forms the round-trip
// rulesets do not contain. TestLiveTranslate checks each against nft
// 1.0.6: the JSON (nft --debug=netlink -c -j -f) and the text (-c -f) must
// compile to the same batch.
var translateCases = []struct{ stmt, want string }{
	{`{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}`, "ct state established,related"},
	{`{"match": {"op": "==", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}}, ["fin", "syn", "rst", "ack"]]}, "right": "syn"}}`, "tcp flags & (fin | syn | rst | ack) == syn"},
	{`{"match": {"op": "==", "left": {"ct": {"key": "ip saddr", "dir": "original"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}`, "ct original ip saddr == 10.0.0.0/8"},
	{`{"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr", "iif"]}}, "right": "local"}}`, "fib daddr . iif type == local"},
	{`{"match": {"op": "==", "left": {"exthdr": {"name": "frag"}}, "right": true}}`, "exthdr frag exists"},
	{`{"match": {"op": "==", "left": {"tcp option": {"name": "sack-perm"}}, "right": false}}`, "tcp option sack-perm missing"},
	{`{"match": {"op": ">=", "left": {"payload": {"base": "nh", "offset": 64, "len": 8}}, "right": 3}}`, "@nh,64,8 >= 3"},
	{`{"match": {"op": "==", "left": {"socket": {"key": "transparent"}}, "right": 1}}`, "socket transparent == 1"},
	{`{"match": {"op": "==", "left": {"osf": {"key": "name", "ttl": "loose"}}, "right": "Linux"}}`, "osf ttl loose name == Linux"},
	{`{"match": {"op": "==", "left": {"rt": {"key": "nexthop", "family": "ip"}}, "right": "192.0.2.1"}}`, "rt ip nexthop == 192.0.2.1"},
	{`{"snat": {"family": "ip6", "addr": "2001:db8::1", "port": {"range": [1000, 2000]}, "flags": ["random", "persistent"]}}`, "snat ip6 to [2001:db8::1]:1000-2000 random,persistent"},
	{`{"dnat": {"family": "ip", "addr": {"map": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[80, "10.0.0.1"], [443, "10.0.0.2"]]}}}}}`, "dnat ip to tcp dport map { 80 : 10.0.0.1, 443 : 10.0.0.2 }"},
	{`{"masquerade": {"port": {"range": [1024, 65535]}, "flags": "fully-random"}}`, "masquerade to :1024-65535 fully-random"},
	{`{"redirect": {"port": 8080}}`, "redirect to :8080"},
	{`{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}`, "reject with icmpx type admin-prohibited"},
	{`{"reject": {"type": "tcp reset"}}`, "reject with tcp reset"},
	{`{"limit": {"rate": 10, "burst": 5, "per": "minute"}}`, "limit rate 10/minute burst 5 packets"},
	{`{"limit": {"rate": 1, "rate_unit": "mbytes", "per": "second", "burst": 2, "burst_unit": "mbytes", "inv": true}}`, "limit rate over 1 mbytes/second burst 2 mbytes"},
	{`{"quota": {"val": 25, "val_unit": "mbytes", "used": 1, "used_unit": "kbytes", "inv": true}}`, "quota over 25 mbytes used 1 kbytes"},
	{`{"log": {"prefix": "in: ", "level": "info", "flags": ["tcp sequence", "tcp options", "skuid"]}}`, `log prefix "in: " level info flags skuid flags tcp sequence,options`},
	{`{"log": {"group": 2, "snaplen": 64, "queue-threshold": 10}}`, "log group 2 snaplen 64 queue-threshold 10"},
	{`{"ct count": {"val": 4, "inv": true}}`, "ct count over 4"},
	{`{"set": {"op": "update", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@meters", "stmt": [{"limit": {"rate": 5, "per": "second"}}]}}`, "update @meters { ip saddr limit rate 5/second }"},
	{`{"vmap": {"key": {"meta": {"key": "l4proto"}}, "data": {"set": [["tcp", {"jump": {"target": "tcp_in"}}], ["udp", {"goto": {"target": "udp_in"}}], ["icmp", {"accept": null}]]}}}`, "meta l4proto vmap { tcp : jump tcp_in, udp : goto udp_in, icmp : accept }"},
	{`{"mangle": {"key": {"payload": {"protocol": "ip", "field": "ttl"}}, "value": 64}}`, "ip ttl set 64"},
	{`{"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 16]}}}`, "ct mark set meta mark | 16"},
	{`{"counter": "web"}`, `counter name "web"`},
	{`{"counter": {"packets": 3, "bytes": 120}}`, "counter packets 3 bytes 120"},
	{`{"notrack": null}`, "notrack"},
	{`{"ct helper": "ftp-std"}`, `ct helper set "ftp-std"`},
	{`{"jump": {"target": "other"}}`, "jump other"},
	{`{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": {"set": ["counter", "lo"]}}}`, `meta oifname != { "counter", "lo" }`},
	{`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth*"}}`, `meta iifname == "eth*"`},
	{`{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "right": {"set": [{"concat": ["10.0.0.1", 22]}, {"elem": {"val": {"concat": ["10.0.0.2", 80]}, "comment": "x"}}]}}}`,
		`ip saddr . tcp dport == { 10.0.0.1 . 22, 10.0.0.2 . 80 comment "x" }`},
	{`{"match": {"op": "==", "left": {"jhash": {"mod": 4, "seed": 4660, "expr": {"payload": {"protocol": "ip", "field": "saddr"}}}}, "right": 0}}`, "jhash ip saddr mod 4 seed 4660 == 0"},
	{`{"match": {"op": "==", "left": {"numgen": {"mode": "inc", "mod": 3, "offset": 7}}, "right": 8}}`, "numgen inc mod 3 offset 7 == 8"},
}

func TestTranslate(t *testing.T) {
	for _, tc := range translateCases {
		var v any
		if err := jsonUnmarshal([]byte(tc.stmt), &v); err != nil {
			t.Fatalf("%s: %v", tc.stmt, err)
		}
		got, err := stmt(v, "s")
		if err != nil {
			t.Errorf("%s: %v", tc.stmt, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.stmt, got, tc.want)
		}
	}
}

// A JSON ruleset may name a table or chain with a word nft's text grammar
// scans as a keyword; nft -j (1.0.6) accepts it (checked in a netns).
func TestReservedNamesFromJSON(t *testing.T) {
	src := `{"nftables":[{"table":{"family":"ip","name":"counter"}},` +
		`{"chain":{"family":"ip","table":"counter","name":"fwd","type":"filter","hook":"forward","prio":0,"policy":"accept"}},` +
		`{"chain":{"family":"ip","table":"counter","name":"c"}},` +
		`{"rule":{"family":"ip","table":"counter","chain":"c","expr":[{"jump":{"target":"fwd"}}]}}]}`
	c, err := CompileJSON("x.json", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tb := c.Ruleset.Tables[0]; tb.Name != "counter" || tb.Chains[0].Name != "fwd" {
		t.Fatalf("table %q chain %q", tb.Name, tb.Chains[0].Name)
	}
}
