package list

// Test helper: builds a ruleset.Ruleset from what the real nft 1.0.6
// printed for a ruleset file — the table/chain/set skeleton read from the
// .nft source, the rule expressions, set flags and elements read from
// `nft --debug=netlink -f` output — so the listing is tested on exactly the
// bytecode nft emits, independently of nftgo's compiler. Handles are
// assigned the way the kernel does: one counter per table, in batch order
// (chains, then sets, then rules with their anonymous sets).

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

var (
	reTable = regexp.MustCompile(`^table\s+(\S+)\s+(\S+)\s*\{`)
	reChain = regexp.MustCompile(`^chain\s+(\S+)\s*\{`)
	reSet   = regexp.MustCompile(`^(set|map)\s+(\S+)\s*\{`)
	reObj   = regexp.MustCompile(`^(counter|quota|limit|ct helper|ct timeout|ct expectation|synproxy|secmark)\s+(\S+)\s*\{`)
	reObjLn = regexp.MustCompile(`^table \(null\) name \(null\) use 0 \[ (\S+) ?(.*?) ?\]$`)
	reHook  = regexp.MustCompile(`^type\s+(\S+)\s+hook\s+(\S+)(?:\s+device\s+"?([^"\s]+)"?)?\s+priority\s+([^;]+);(?:\s*policy\s+(\S+);)?`)
	reRule  = regexp.MustCompile(`^(\S+) (\S+) (\S+)$`)
	reExpr  = regexp.MustCompile(`^  \[ (\S+) ?(.*?) ?\]$`)
)

var prioNames = map[string]int32{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}

func parsePrio(s string, fam ruleset.Family) (int32, error) {
	s = strings.TrimSpace(s)
	f := strings.Fields(s)
	base := int32(0)
	if n, err := strconv.Atoi(f[0]); err == nil {
		base = int32(n)
	} else {
		v, ok := prioNames[f[0]]
		if fam == ruleset.FamilyBridge {
			v, ok = map[string]int32{"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}[f[0]]
		}
		if !ok {
			return 0, fmt.Errorf("priority %q", s)
		}
		base = v
	}
	if len(f) == 3 {
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return 0, err
		}
		if f[1] == "-" {
			n = -n
		}
		base += int32(n)
	}
	return base, nil
}

func parseHook(f ruleset.Family, s string) ruleset.Hook {
	switch f {
	case ruleset.FamilyARP:
		return map[string]ruleset.Hook{"input": 0, "output": 1, "forward": 2}[s]
	case ruleset.FamilyNetdev:
		return map[string]ruleset.Hook{"ingress": 0, "egress": 1}[s]
	}
	return map[string]ruleset.Hook{"prerouting": 0, "input": 1, "forward": 2, "output": 3, "postrouting": 4, "ingress": 5}[s]
}

var typeLens = map[string]uint32{"ipv4_addr": 4, "ipv6_addr": 16, "inet_service": 2, "ether_addr": 6, "mark": 4,
	"ifname": 16, "inet_proto": 1, "ether_type": 2, "ct_state": 4, "time": 8, "nf_proto": 1, "iface_index": 4,
	"icmp_type": 1, "icmpv6_type": 1, "tcp_flag": 1, "ct_status": 4, "pkt_type": 1, "dscp": 1, "uid": 4, "gid": 4,
	"integer": 4, "verdict": 4}

func keyLayout(name string) (uint32, []uint32, uint32) {
	var total uint32
	var lens []uint32
	var num uint32
	parts := typesFromName(name)
	for _, p := range strings.Split(name, ".") {
		l := typeLens[strings.TrimSpace(p)]
		if l == 0 {
			l = 4
		}
		lens = append(lens, l)
		total += (l + 3) / 4 * 4
	}
	for _, d := range parts {
		num = num<<6 | d.num
	}
	if len(lens) == 1 {
		total = lens[0]
		lens = nil
	}
	return total, lens, num
}

// buildFromNetlink assembles the IR from a source skeleton and nft's
// debug output.
func buildFromNetlink(src, netlink string) (*ruleset.Ruleset, error) {
	rs := &ruleset.Ruleset{}
	var chains []*ruleset.Chain
	chainTable := map[*ruleset.Chain]*ruleset.Table{}
	var cur *ruleset.Table
	var curChain *ruleset.Chain
	var curSet *ruleset.Set
	var objs []*ruleset.Object
	ruleComments := map[*ruleset.Chain][]string{}
	reComment := regexp.MustCompile(`comment "([^"]*)"\s*;?\s*$`)
	typeofNames := map[string]string{"ip saddr": "ipv4_addr", "ip daddr": "ipv4_addr", "ip6 saddr": "ipv6_addr",
		"ip6 daddr": "ipv6_addr", "tcp dport": "inet_service", "tcp sport": "inet_service", "udp dport": "inet_service",
		"udp sport": "inet_service", "meta mark": "mark", "iifname": "ifname", "oifname": "ifname"}
	objTable := map[*ruleset.Object]*ruleset.Table{}
	curObj := false
	depth := 0
	for _, line := range strings.Split(src, "\n") {
		l := strings.TrimSpace(line)
		if i := strings.Index(l, "#"); i >= 0 && !strings.Contains(l, "\"") {
			l = strings.TrimSpace(l[:i])
		}
		if l == "" {
			continue
		}
		switch {
		case depth == 1 && cur != nil && curChain == nil && curSet == nil && reComment.MatchString(l) && strings.HasPrefix(l, "comment"):
			cur.Comment = reComment.FindStringSubmatch(l)[1]
		case depth == 1 && cur != nil && l == "flags dormant":
			cur.Flags |= 1
		case depth == 2 && curChain != nil && strings.HasPrefix(l, "comment "):
			curChain.Comment = reComment.FindStringSubmatch(l)[1]
		case depth == 2 && curSet != nil && strings.HasPrefix(l, "comment "):
			curSet.Comment = reComment.FindStringSubmatch(l)[1]
		case depth == 2 && curSet != nil && l == "auto-merge":
			curSet.AutoMerge = true
		case depth == 2 && curSet != nil && strings.HasPrefix(l, "typeof "):
			k, d, _ := strings.Cut(strings.TrimPrefix(l, "typeof "), " : ")
			curSet.KeyTypeof = k
			var names []string
			for _, part := range strings.Split(k, " . ") {
				names = append(names, typeofNames[strings.TrimSpace(part)])
			}
			curSet.KeyTypeName = strings.Join(names, " . ")
			curSet.KeyLen, curSet.FieldLens, curSet.KeyType = keyLayout(curSet.KeyTypeName)
			if d != "" {
				curSet.DataTypeof = d
				curSet.DataTypeName = typeofNames[d]
				curSet.DataLen, _, curSet.DataType = keyLayout(curSet.DataTypeName)
			}
		case depth == 2 && curChain != nil && !reHook.MatchString(l) && !strings.HasPrefix(l, "policy ") && !strings.HasSuffix(l, "}"):
			cm := ""
			if m := reComment.FindStringSubmatch(l); m != nil {
				cm = m[1]
			}
			ruleComments[curChain] = append(ruleComments[curChain], cm)
		case depth == 0 && reTable.MatchString(l):
			m := reTable.FindStringSubmatch(l)
			fam, ok := ruleset.ParseFamily(m[1])
			if !ok {
				return nil, fmt.Errorf("family %q", m[1])
			}
			cur = &ruleset.Table{Family: fam, Name: m[2], Handle: uint64(len(rs.Tables) + 1)}
			rs.Tables = append(rs.Tables, cur)
			depth = 1
		case depth == 1 && reChain.MatchString(l):
			curChain = &ruleset.Chain{Name: reChain.FindStringSubmatch(l)[1]}
			cur.Chains = append(cur.Chains, curChain)
			chains = append(chains, curChain)
			chainTable[curChain] = cur
			depth = 2
		case depth == 1 && reObj.MatchString(l):
			m := reObj.FindStringSubmatch(l)
			cur.Objects = append(cur.Objects, &ruleset.Object{Kind: m[1], Name: m[2]})
			objs = append(objs, cur.Objects[len(cur.Objects)-1])
			objTable[cur.Objects[len(cur.Objects)-1]] = cur
			if !strings.HasSuffix(l, "}") {
				depth = 2
				curObj = true
			}
		case depth == 1 && reSet.MatchString(l):
			m := reSet.FindStringSubmatch(l)
			curSet = &ruleset.Set{Name: m[2]}
			if m[1] == "map" {
				curSet.Flags |= ruleset.SetMap
			}
			cur.Sets = append(cur.Sets, curSet)
			depth = 2
			if strings.HasSuffix(l, "}") {
				depth = 1
			}
		case depth == 2 && curChain != nil && reHook.MatchString(l):
			m := reHook.FindStringSubmatch(l)
			prio, err := parsePrio(m[4], cur.Family)
			if err != nil {
				return nil, err
			}
			h := &ruleset.ChainHook{Type: m[1], Hook: parseHook(cur.Family, m[2]), Priority: prio, Policy: ruleset.Verdict{Code: ruleset.VerdictAccept}}
			if m[3] != "" {
				h.Devices = []string{m[3]}
			}
			if m[5] == "drop" {
				h.Policy.Code = ruleset.VerdictDrop
			}
			curChain.Hook = h
		case depth == 2 && curSet != nil && strings.HasPrefix(l, "type "):
			t := strings.TrimSuffix(strings.TrimPrefix(l, "type "), ";")
			k, d, _ := strings.Cut(t, " : ")
			curSet.KeyTypeName = strings.TrimSpace(k)
			curSet.KeyLen, curSet.FieldLens, curSet.KeyType = keyLayout(curSet.KeyTypeName)
			if d != "" {
				curSet.DataTypeName = strings.TrimSpace(d)
				if curSet.DataTypeName == "verdict" {
					curSet.DataType = ruleset.DataVerdict
				} else {
					curSet.DataLen, _, curSet.DataType = keyLayout(curSet.DataTypeName)
				}
			}
		case depth == 2 && curSet != nil && (l == "counter" || strings.HasPrefix(l, "counter;")):
			curSet.Exprs = append(curSet.Exprs, &ruleset.Counter{})
		case curObj && !strings.HasSuffix(l, "}"):
		case strings.HasSuffix(l, "}") && !strings.Contains(l, "{"):
			depth--
			if depth == 1 {
				curChain, curSet, curObj = nil, nil, false
			}
			if depth == 0 {
				cur = nil
			}
		}
	}
	// handles: chains, then sets, then rules, one counter per table
	next := map[*ruleset.Table]uint64{}
	h := func(t *ruleset.Table) uint64 { next[t]++; return next[t] }
	ci, oi := 0, 0
	findTable := func(fam, name string) *ruleset.Table {
		f, _ := ruleset.ParseFamily(fam)
		for _, t := range rs.Tables {
			if t.Family == f && t.Name == name {
				return t
			}
		}
		return nil
	}
	lines := strings.Split(netlink, "\n")
	seenSet := map[string]bool{}
	anonN := 0
	var lastSet *ruleset.Set
	var rule *ruleset.Rule
	var ruleTable *ruleset.Table
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case line == "":
			rule = nil
		case strings.HasPrefix(line, "  userdata = "):
			// rule comments, taken from the source
		case reObjLn.MatchString(line):
			m := reObjLn.FindStringSubmatch(line)
			if oi < len(objs) {
				o := objs[oi]
				oi++
				o.Handle = h(objTable[o])
				if e, err := parseExprBody(m[1], m[2]); err == nil {
					switch e.(type) {
					case *ruleset.Counter, *ruleset.Quota, *ruleset.Limit:
						o.Expr = e
					}
				}
				if m[1] == "ct_helper" {
					o.Attrs = []ruleset.ObjectAttr{{Key: "body", Value: "[ " + m[1] + " " + m[2] + " ]"}}
				}
			}
		case strings.Contains(line, "(null) (null) use"):
			if ci < len(chains) {
				c := chains[ci]
				c.Handle = h(chainTable[c])
				ci++
			}
		case strings.HasPrefix(line, "\telement"):
			if lastSet == nil {
				return nil, fmt.Errorf("elements without set")
			}
			for _, e := range strings.Split(strings.TrimPrefix(line, "\t"), "\t") {
				el, err := parseElement(e)
				if err != nil {
					return nil, err
				}
				lastSet.Elements = append(lastSet.Elements, el)
				if lastSet.Flags&ruleset.SetAnonymous != 0 && lastSet.KeyLen < uint32(len(el.Key)) {
					lastSet.KeyLen = uint32(len(el.Key))
				}
			}
		case strings.HasPrefix(line, "  ["):
			if rule == nil {
				return nil, fmt.Errorf("expression outside a rule: %q", line)
			}
			e, err := parseExpr(line)
			if err != nil {
				return nil, err
			}
			rule.Exprs = append(rule.Exprs, e)
		case reRule.MatchString(line) && !strings.HasPrefix(line, "__") && findTable(reRule.FindStringSubmatch(line)[1], reRule.FindStringSubmatch(line)[2]) != nil && !isSetLine(line):
			m := reRule.FindStringSubmatch(line)
			ruleTable = findTable(m[1], m[2])
			var ch *ruleset.Chain
			for _, c := range ruleTable.Chains {
				if c.Name == m[3] {
					ch = c
				}
			}
			if ch == nil {
				return nil, fmt.Errorf("no chain %q", m[3])
			}
			rule = &ruleset.Rule{Handle: h(ruleTable)}
			ch.Rules = append(ch.Rules, rule)
		default:
			// set line: NAME TABLE FLAGS [timeout Nms] [gc_interval Nms] [policy N] [size N]
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			var t *ruleset.Table
			for _, tt := range rs.Tables {
				if tt.Name == f[1] {
					t = tt
				}
			}
			if t == nil {
				return nil, fmt.Errorf("unparsed line %q", line)
			}
			flags, err := strconv.ParseUint(f[2], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("set line %q: %v", line, err)
			}
			key := t.Name + "/" + f[0]
			anon := strings.HasPrefix(f[0], "__")
			if anon && flags != 0 {
				anonN++
				key = fmt.Sprintf("%s/__anon%d", t.Name, anonN)
			}
			if anon && flags == 0 || !anon && seenSet[key] {
				// element batch header
				if !anon {
					for _, s := range t.Sets {
						if s.Name == f[0] {
							lastSet = s
						}
					}
				}
				continue
			}
			seenSet[key] = true
			var s *ruleset.Set
			for _, ss := range t.Sets {
				if ss.Name == f[0] {
					s = ss
				}
			}
			if s == nil {
				s = &ruleset.Set{Name: strings.Replace(f[0], "%d", strconv.Itoa(anonN-1), 1)}
				if !anon {
					s.Name = f[0]
				}
				t.Sets = append(t.Sets, s)
			}
			s.Flags = uint32(flags)
			s.Handle = h(t)
			s.ID = uint32(len(t.Sets))
			for j := 3; j+1 < len(f); j += 2 {
				n, _ := strconv.ParseUint(strings.TrimSuffix(f[j+1], "ms"), 10, 64)
				switch f[j] {
				case "timeout":
					s.Timeout = n
				case "gc_interval":
					s.GCInterval = uint32(n)
				case "policy":
					s.Policy, s.PolicySet = uint32(n), true
				case "size":
					s.Size, s.SizeSet = uint32(n), true
				}
			}
			lastSet = s
		}
	}
	for ch, cms := range ruleComments {
		for i, r := range ch.Rules {
			if i < len(cms) {
				r.Comment = cms[i]
			}
		}
	}
	// lookups name anonymous sets __set%d: bind them in order
	for _, t := range rs.Tables {
		var anon []*ruleset.Set
		for _, s := range t.Sets {
			if s.Flags&ruleset.SetAnonymous != 0 {
				anon = append(anon, s)
			}
		}
		k := 0
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, e := range r.Exprs {
					switch x := e.(type) {
					case *ruleset.Lookup:
						if strings.HasPrefix(x.Set, "__") && k < len(anon) {
							x.Set = anon[k].Name
							k++
						}
					case *ruleset.Dynset:
						if strings.HasPrefix(x.Set, "__") && k < len(anon) {
							x.Set = anon[k].Name
							k++
						}
					case *ruleset.Objref:
						if strings.HasPrefix(x.SetName, "__") && k < len(anon) {
							x.SetName = anon[k].Name
							k++
						}
					}
				}
			}
		}
	}
	return rs, nil
}

func isSetLine(line string) bool {
	f := strings.Fields(line)
	if len(f) != 3 {
		return false
	}
	_, err := strconv.ParseUint(f[2], 16, 32)
	return err == nil && f[0] != "ip" && f[0] != "ip6" && f[0] != "inet" && f[0] != "arp" && f[0] != "bridge" && f[0] != "netdev"
}

func words(ws []string) ([]byte, error) {
	var out []byte
	for _, w := range ws {
		v, err := strconv.ParseUint(strings.TrimPrefix(w, "0x"), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("word %q", w)
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		out = append(out, b[:]...)
	}
	return out, nil
}

func parseVerdict(f []string) (ruleset.Verdict, int, bool) {
	codes := map[string]ruleset.VerdictCode{"accept": ruleset.VerdictAccept, "drop": ruleset.VerdictDrop,
		"return": ruleset.VerdictReturn, "continue": ruleset.VerdictContinue, "jump": ruleset.VerdictJump,
		"goto": ruleset.VerdictGoto, "queue": ruleset.VerdictQueue, "break": ruleset.VerdictBreak}
	if len(f) == 0 {
		return ruleset.Verdict{}, 0, false
	}
	c, ok := codes[f[0]]
	if !ok {
		return ruleset.Verdict{}, 0, false
	}
	if (c == ruleset.VerdictJump || c == ruleset.VerdictGoto) && len(f) >= 3 {
		return ruleset.Verdict{Code: c, Chain: f[2]}, 3, true
	}
	return ruleset.Verdict{Code: c}, 1, true
}

// parseElement reads `element KEY [- END] : DATA FLAGS [end]`.
func parseElement(s string) (*ruleset.Element, error) {
	s = strings.TrimPrefix(s, "element ")
	keyPart, rest, _ := strings.Cut(s, " : ")
	el := &ruleset.Element{}
	kp, ep, hasEnd := strings.Cut(keyPart, " - ")
	var err error
	if el.Key, err = words(strings.Fields(kp)); err != nil {
		return nil, err
	}
	if hasEnd {
		if el.KeyEnd, err = words(strings.Fields(ep)); err != nil {
			return nil, err
		}
	}
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(rest), "[end]"))
	if len(f) == 0 {
		return nil, fmt.Errorf("element %q", s)
	}
	flags, err := strconv.ParseUint(f[len(f)-1], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("element flags %q", s)
	}
	el.Flags = uint32(flags)
	f = f[:len(f)-1]
	if v, _, ok := parseVerdict(f); ok {
		el.Verdict = &v
	} else if len(f) > 0 {
		if el.Data, err = words(f); err != nil {
			return nil, err
		}
	}
	if len(el.Key) == 0 && el.Flags&ruleset.ElemCatchall == 0 {
		el.Key = nil
	}
	return el, nil
}

var metaKeys = map[string]ruleset.MetaKey{"len": 0, "protocol": 1, "priority": 2, "mark": 3, "iif": 4, "oif": 5,
	"iifname": 6, "oifname": 7, "iiftype": 8, "oiftype": 9, "skuid": 10, "skgid": 11, "nftrace": 12,
	"rtclassid": 13, "secmark": 14, "nfproto": 15, "l4proto": 16, "bri_iifname": 17, "bri_oifname": 18,
	"pkttype": 19, "cpu": 20, "iifgroup": 21, "oifgroup": 22, "cgroup": 23, "prandom": 24, "secpath": 25,
	"iifkind": 26, "oifkind": 27, "bri_iifpvid": 28, "bri_iifvproto": 29, "time": 30, "day": 31, "hour": 32,
	"sdif": 33, "sdifname": 34}

var ctKeys = map[string]ruleset.CtKey{"state": 0, "direction": 1, "status": 2, "mark": 3, "secmark": 4,
	"expiration": 5, "helper": 6, "l3protocol": 7, "src": 8, "dst": 9, "protocol": 10, "proto_src": 11,
	"proto_dst": 12, "label": 13, "packets": 14, "bytes": 15, "avgpkt": 16, "zone": 17, "event": 18,
	"src_ip": 19, "dst_ip": 20, "src_ip6": 21, "dst_ip6": 22, "id": 23}

var bases = map[string]ruleset.PayloadBase{"link": 0, "network": 1, "transport": 2, "inner": 3}

var cmpOps = map[string]ruleset.CmpOp{"eq": 0, "neq": 1, "lt": 2, "lte": 3, "gt": 4, "gte": 5}

// parseExpr reads one `  [ name body ]` line of libnftnl's debug output.
func parseExpr(line string) (ruleset.Expr, error) {
	m := reExpr.FindStringSubmatch(line)
	if m == nil {
		return nil, fmt.Errorf("expr line %q", line)
	}
	return parseExprBody(m[1], m[2])
}

func parseExprBody(name, body string) (e ruleset.Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("cannot parse [ %s %s ]: %v", name, body, r)
		}
	}()
	f := strings.Fields(body)
	bad := func() (ruleset.Expr, error) { return nil, fmt.Errorf("cannot parse [ %s %s ]", name, body) }
	switch name {
	case "payload":
		if len(f) >= 8 && f[0] == "load" {
			n, _ := strconv.Atoi(strings.TrimSuffix(f[1], "b"))
			off, _ := strconv.Atoi(f[6])
			return &ruleset.Payload{Base: bases[f[3]], Offset: uint32(off), Len: uint32(n), DReg: reg(f[9])}, nil
		}
		if len(f) >= 14 && f[0] == "write" {
			n, _ := strconv.Atoi(strings.TrimSuffix(f[4], "b"))
			off, _ := strconv.Atoi(f[9])
			ct, _ := strconv.Atoi(f[11])
			co, _ := strconv.Atoi(f[13])
			cf, _ := strconv.ParseUint(strings.TrimPrefix(f[15], "0x"), 16, 32)
			return &ruleset.PayloadWrite{Base: bases[f[6]], Offset: uint32(off), Len: uint32(n), SReg: reg(f[2]),
				CsumType: uint32(ct), CsumOffset: uint32(co), CsumFlags: uint32(cf)}, nil
		}
	case "cmp":
		d, err := words(f[3:])
		if err != nil {
			return nil, err
		}
		return &ruleset.Cmp{Op: cmpOps[f[0]], SReg: reg(f[2]), Data: d}, nil
	case "range":
		d, err := words(f[3:])
		if err != nil {
			return nil, err
		}
		h := len(d) / 2
		return &ruleset.Range{Op: cmpOps[f[0]], SReg: reg(f[2]), From: d[:h], To: d[h:]}, nil
	case "bitwise":
		// reg D = ( reg S & M ) ^ X   |   reg D = ( reg S << N )
		b := &ruleset.Bitwise{DReg: reg(f[1]), SReg: reg(f[5])}
		if f[6] == "&" {
			i := 7
			var mw, xw []string
			for ; f[i] != ")"; i++ {
				mw = append(mw, f[i])
			}
			xw = f[i+2:]
			b.Mask, _ = words(mw)
			b.Xor, _ = words(xw)
			b.Len = uint32(len(b.Mask))
			return b, nil
		}
		b.Op = ruleset.BitwiseLshift
		if f[6] == ">>" {
			b.Op = ruleset.BitwiseRshift
		}
		d, _ := words(f[7:8])
		b.Shift = binary.LittleEndian.Uint32(d)
		return b, nil
	case "byteorder":
		// reg 1 = hton(reg 1, 4, 4)
		s := strings.NewReplacer("(", " ", ")", " ", ",", " ").Replace(body)
		g := strings.Fields(s)
		size, _ := strconv.Atoi(g[6])
		n, _ := strconv.Atoi(g[7])
		op := ruleset.NtoH
		if g[3] == "hton" {
			op = ruleset.HtoN
		}
		return &ruleset.Byteorder{Op: op, DReg: reg(g[1]), SReg: reg(g[5]), Size: uint32(size), Len: uint32(n)}, nil
	case "immediate":
		r := reg(f[1])
		if r == 0 {
			v, _, ok := parseVerdict(f[2:])
			if !ok {
				return bad()
			}
			return &ruleset.Immediate{DReg: 0, Verdict: v}, nil
		}
		d, err := words(f[2:])
		if err != nil {
			return nil, err
		}
		return &ruleset.Immediate{DReg: r, Data: d}, nil
	case "meta":
		if f[0] == "load" {
			return &ruleset.Meta{Key: metaKeys[f[1]], DReg: reg(f[4])}, nil
		}
		return &ruleset.Meta{Key: metaKeys[f[1]], Set: true, SReg: reg(f[4])}, nil
	case "ct":
		dir := ruleset.CtDirUnset
		for i := range f {
			if f[i] == "dir" && i+1 < len(f) {
				dir = map[string]int{"original": 0, "reply": 1}[f[i+1]]
			}
		}
		if f[0] == "load" {
			return &ruleset.Ct{Key: ctKeys[f[1]], DReg: reg(f[4]), Direction: dir}, nil
		}
		return &ruleset.Ct{Key: ctKeys[f[1]], Set: true, SReg: reg(f[4]), Direction: dir}, nil
	case "lookup":
		l := &ruleset.Lookup{SReg: reg(f[1]), Set: f[3]}
		for i := 4; i < len(f); i++ {
			if f[i] == "dreg" {
				l.DReg, l.HasDReg = reg(f[i+1]), true
				i++
			} else if strings.HasPrefix(f[i], "0x") {
				v, _ := strconv.ParseUint(f[i][2:], 16, 32)
				l.Flags = uint32(v)
			}
		}
		return l, nil
	case "dynset":
		d := &ruleset.Dynset{Op: map[string]ruleset.DynsetOp{"add": 0, "update": 1, "delete": 2}[f[0]], SRegKey: reg(f[2]), Set: f[4]}
		rest := strings.Join(f[5:], " ")
		for rest != "" {
			g := strings.Fields(rest)
			switch g[0] {
			case "sreg_data":
				d.SRegData, d.HasData = reg(g[1]), true
				rest = strings.Join(g[2:], " ")
			case "timeout":
				n, _ := strconv.ParseUint(strings.TrimSuffix(g[1], "ms"), 10, 64)
				d.Timeout = n
				rest = strings.Join(g[2:], " ")
			case "expr":
				in := strings.TrimPrefix(rest, "expr [ ")
				j := strings.LastIndex(in, "]")
				if j < 0 {
					return bad()
				}
				inner := strings.TrimSpace(in[:j])
				nm, bd, _ := strings.Cut(inner, " ")
				e, err := parseExprBody(nm, bd)
				if err != nil {
					return nil, err
				}
				d.Exprs = append(d.Exprs, e)
				rest = strings.TrimSpace(in[j+1:])
			default:
				return bad()
			}
		}
		return d, nil
	case "counter":
		p, _ := strconv.ParseUint(f[1], 10, 64)
		b, _ := strconv.ParseUint(f[3], 10, 64)
		return &ruleset.Counter{Packets: p, Bytes: b}, nil
	case "connlimit":
		n, _ := strconv.ParseUint(f[1], 10, 32)
		fl, _ := strconv.ParseUint(f[3], 16, 32)
		return &ruleset.Connlimit{Count: uint32(n), Flags: uint32(fl)}, nil
	case "limit":
		// rate N/unit burst B type packets flags 0xF
		rate, unit, _ := strings.Cut(f[1], "/")
		r, _ := strconv.ParseUint(rate, 10, 64)
		u := map[string]uint64{"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}[unit]
		b, _ := strconv.ParseUint(f[3], 10, 32)
		fl, _ := strconv.ParseUint(strings.TrimPrefix(f[7], "0x"), 16, 32)
		t := uint32(ruleset.LimitPackets)
		if f[5] == "bytes" {
			t = ruleset.LimitBytes
		}
		return &ruleset.Limit{Rate: r, Unit: u, Burst: uint32(b), Type: t, Flags: uint32(fl)}, nil
	case "quota":
		q := &ruleset.Quota{}
		for i := 0; i+1 < len(f); i++ {
			n, _ := strconv.ParseUint(f[i+1], 10, 64)
			switch f[i] {
			case "bytes":
				q.Bytes = n
			case "consumed":
				q.Consumed = n
			case "flags":
				q.Flags = uint32(n)
			}
		}
		return q, nil
	case "log":
		l := &ruleset.Log{}
		rest := body
		if strings.HasPrefix(rest, "prefix ") {
			// prefix runs up to the next known keyword
			p := strings.TrimPrefix(rest, "prefix ")
			end := len(p)
			for _, kw := range []string{" level ", " group "} {
				if i := strings.Index(p, kw); i >= 0 && i < end {
					end = i
				}
			}
			l.Prefix, l.HasPrefix = p[:end], true
			rest = p[end:]
		}
		g := strings.Fields(rest)
		for i := 0; i < len(g); i++ {
			switch g[i] {
			case "level":
				n, _ := strconv.Atoi(g[i+1])
				l.Level, l.HasLevel = uint32(n), true
				i++
			case "group":
				n, _ := strconv.Atoi(g[i+1])
				l.Group, l.HasGroup = uint16(n), true
				i++
			case "snaplen":
				n, _ := strconv.Atoi(g[i+1])
				l.Snaplen, l.HasSnaplen = uint32(n), n != 0
				i++
			case "qthreshold":
				n, _ := strconv.Atoi(g[i+1])
				l.Qthreshold, l.HasQthresh = uint16(n), n != 0
				i++
			case "tcpseq":
				l.Flags |= 1
			case "tcpopt":
				l.Flags |= 2
			case "ipopt":
				l.Flags |= 4
			case "uid":
				l.Flags |= 8
			case "macdecode":
				l.Flags |= 0x20
			}
		}
		return l, nil
	case "reject":
		t, _ := strconv.Atoi(f[1])
		c, _ := strconv.Atoi(f[3])
		return &ruleset.Reject{Type: uint32(t), Code: uint8(c)}, nil
	case "nat":
		n := &ruleset.NAT{}
		if f[0] == "dnat" {
			n.Type = ruleset.NATDnat
		}
		n.Family, _ = ruleset.ParseFamily(f[1])
		for i := 2; i+1 < len(f); i++ {
			switch f[i] {
			case "addr_min":
				n.AddrMin = reg(f[i+2])
			case "addr_max":
				n.AddrMax = reg(f[i+2])
			case "proto_min":
				n.ProtoMin = reg(f[i+2])
			case "proto_max":
				n.ProtoMax = reg(f[i+2])
			case "flags":
				v, _ := strconv.ParseUint(strings.TrimPrefix(f[i+1], "0x"), 16, 32)
				n.Flags, n.HasFlags = uint32(v), true
			}
		}
		return n, nil
	case "masq", "redir":
		var pmin, pmax ruleset.Register
		var fl uint32
		has := false
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "proto_min":
				pmin = reg(f[i+2])
			case "proto_max":
				pmax = reg(f[i+2])
			case "flags":
				v, _ := strconv.ParseUint(strings.TrimPrefix(f[i+1], "0x"), 16, 32)
				fl, has = uint32(v), true
			}
		}
		if name == "masq" {
			return &ruleset.Masq{ProtoMin: pmin, ProtoMax: pmax, Flags: fl, HasFlags: has}, nil
		}
		return &ruleset.Redir{ProtoMin: pmin, ProtoMax: pmax, Flags: fl, HasFlags: has}, nil
	case "notrack":
		return &ruleset.Notrack{}, nil
	case "exthdr", "rt", "socket", "fib", "hash", "numgen", "objref", "dup", "fwd":
		return parseGenericBody(name, body)
	}
	return &ruleset.Generic{Kind: name, Body: body}, nil
}
