package syntax

// reservedNames are the words nft 1.0.6 scans as keyword tokens where a
// table, chain, set or object name is expected, so that `chain fwd { }`
// is "syntax error, unexpected fwd, expecting string". A quoted name is no
// way out in nft's text: those positions take a bare word only ("unexpected
// quoted string, expecting string"); nft's JSON input has no such limit. The list was measured with the real nft 1.0.6: every word of the
// conformance corpus, the rulesets under testdata and the compiler's own
// vocabulary, declared as a chain name in `nft -c`; a table or set name
// gives the same answer. Operator words are named by their symbol.
var reservedNames = map[string]string{
	"accept": "", "add": "", "ah": "", "all": "", "arp": "", "auto-merge": "", "bridge": "",
	"cgroup": "", "chain": "", "comment": "", "comp": "", "constant": "", "continue": "",
	"counter": "", "cpu": "", "create": "", "ct": "", "day": "", "dccp": "", "define": "",
	"delete": "", "describe": "", "device": "", "devices": "", "dnat": "", "drop": "", "dst": "",
	"dup": "", "dynamic": "", "ecn": "", "elements": "", "esp": "", "ether": "", "exists": "",
	"expires": "", "export": "", "exthdr": "", "fib": "", "flags": "", "flow": "", "flowtable": "",
	"flush": "", "frag": "", "fwd": "", "gc-interval": "", "get": "", "goto": "", "handle": "",
	"hbh": "", "hook": "", "hour": "", "ibriport": "", "ibrname": "", "icmp": "", "icmpv6": "",
	"igmp": "", "iif": "", "iifgroup": "", "iifname": "", "iiftype": "", "import": "", "include": "",
	"index": "", "inet": "", "insert": "", "interval": "", "ip": "", "ip6": "", "ipsec": "",
	"jhash": "", "jump": "", "limit": "", "list": "", "log": "", "map": "", "mark": "",
	"masquerade": "", "meta": "", "meter": "", "mh": "", "missing": "", "monitor": "", "netdev": "",
	"nftrace": "", "notrack": "", "numgen": "", "obriport": "", "obrname": "", "offload": "",
	"oif": "", "oifgroup": "", "oifname": "", "oiftype": "", "osf": "", "pkttype": "", "policy": "",
	"position": "", "priority": "", "queue": "", "quota": "", "random": "", "redefine": "",
	"redirect": "", "reject": "", "rename": "", "replace": "", "reset": "", "return": "", "rt": "",
	"rt0": "", "rt2": "", "rtclassid": "", "rule": "", "ruleset": "", "sctp": "", "secmark": "",
	"set": "", "size": "", "skgid": "", "skuid": "", "snat": "", "socket": "", "srh": "",
	"symhash": "", "synproxy": "", "table": "", "tcp": "", "th": "", "time": "", "timeout": "",
	"tproxy": "", "type": "", "typeof": "", "udp": "", "udplite": "", "undefine": "", "update": "",
	"vlan": "", "vmap": "",
	"and":    "&",
	"eq":     "==",
	"ge":     ">=",
	"gt":     ">",
	"le":     "<=",
	"lshift": "<<",
	"lt":     "<",
	"ne":     "!=",
	"or":     "'|'",
	"rshift": ">>",
	"xor":    "^",
}

// reservedName reports the first table, chain, set or object name of f
// (in file order) that nft would have scanned as a keyword, or, unless
// quoted names are allowed, as a quoted string.
func reservedName(f *File, src []byte, quotedOK bool) error {
	var first *Name
	see := func(n *Name) {
		if n == nil {
			return
		}
		if n.Word == "" {
			if n.Quoted == "" || quotedOK {
				return
			}
		} else if _, ok := reservedNames[n.Word]; !ok {
			return
		}
		if first == nil || n.Pos.Offset < first.Pos.Offset {
			first = n
		}
	}
	spec := func(s *Spec) {
		if s != nil {
			see(s.Table)
			see(s.Object)
		}
	}
	tableItems := func(items []*TableItem) {
		for _, it := range items {
			switch {
			case it.Chain != nil:
				see(it.Chain.Name)
			case it.Set != nil:
				see(it.Set.Name)
			case it.Flowtable != nil:
				see(it.Flowtable.Name)
			case it.CtObject != nil:
				see(it.CtObject.Name)
			case it.Object != nil:
				see(it.Object.Name)
			}
		}
	}
	for _, it := range f.Items {
		switch {
		case it.Table != nil:
			see(it.Table.Name)
			tableItems(it.Table.Items)
		case it.Command != nil:
			c := it.Command
			switch {
			case c.Table != nil:
				see(c.Table.Name)
				tableItems(c.Table.Items)
			case c.Chain != nil:
				spec(c.Chain.Spec)
			case c.Rule != nil:
				spec(c.Rule.Spec)
			case c.Set != nil:
				spec(c.Set.Spec)
			case c.Element != nil:
				spec(c.Element.Spec)
			}
		}
	}
	if first == nil {
		return nil
	}
	if first.Word == "" {
		return &Error{Pos: first.Pos, EndCol: first.Pos.Column + len(first.Quoted) - 1,
			Msg: "syntax error, unexpected quoted string, expecting string", Src: src}
	}
	tok := reservedNames[first.Word]
	if tok == "" {
		tok = first.Word
	}
	return &Error{Pos: first.Pos, EndCol: first.Pos.Column + len(first.Word) - 1,
		Msg: "syntax error, unexpected " + tok + ", expecting string", Src: src}
}

// Reserved reports whether nft 1.0.6 scans word as a keyword where a name
// is expected (see reservedNames).
func Reserved(word string) bool {
	_, ok := reservedNames[word]
	return ok
}
