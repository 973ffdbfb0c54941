package vm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// ctLen is the register size of a ct key; dirRequired tells whether the
// key needs a direction attribute. l3 is the table family (tuple address
// keys are 4 bytes in ip, 16 in ip6/inet).
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_init.
func ctLen(k ruleset.CtKey, dir int, fam ruleset.Family) (n int, err error) {
	needDir := false
	switch k {
	case ruleset.CtState, ruleset.CtStatus, ruleset.CtMark, ruleset.CtSecmark, ruleset.CtExpiration, ruleset.CtID:
		n = 4
	case ruleset.CtDirection, ruleset.CtL3Protocol, ruleset.CtProtocol:
		n = 1
	case ruleset.CtHelper, ruleset.CtLabels:
		n = 16
	case ruleset.CtSrc, ruleset.CtDst:
		needDir = true
		switch fam {
		case ruleset.FamilyIPv4:
			n = 4
		case ruleset.FamilyIPv6, ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev:
			n = 16
		default:
			return 0, errAFNoSupport
		}
	case ruleset.CtSrcIP, ruleset.CtDstIP:
		needDir, n = true, 4
	case ruleset.CtSrcIP6, ruleset.CtDstIP6:
		needDir, n = true, 16
	case ruleset.CtProtoSrc, ruleset.CtProtoDst:
		needDir, n = true, 2
	case ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt:
		n = 8
	case ruleset.CtZone:
		n = 2
	default:
		return 0, errNotSupp
	}
	if needDir && dir == ruleset.CtDirUnset {
		return 0, errInval
	}
	if dir != ruleset.CtDirUnset {
		switch k {
		case ruleset.CtSrc, ruleset.CtDst, ruleset.CtSrcIP, ruleset.CtDstIP, ruleset.CtSrcIP6, ruleset.CtDstIP6,
			ruleset.CtProtoSrc, ruleset.CtProtoDst, ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt, ruleset.CtZone:
		default:
			return 0, errInval
		}
	}
	return n, nil
}

// ctGetEval loads a conntrack key. `ct state` never BREAKs; every other key
// BREAKs when no entry is attached.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval.
func (m *machine) ctGetEval(in *insn) {
	d := in.dreg
	c := m.conn
	if ruleset.CtKey(in.key) == ruleset.CtState {
		m.store32(d, m.ctState())
		return
	}
	if c == nil && m.tmpl && ruleset.CtKey(in.key) == ruleset.CtZone {
		m.store16(d, m.zone)
		return
	}
	if c == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	dir := int(in.aux)
	switch ruleset.CtKey(in.key) {
	case ruleset.CtDirection:
		m.store8(d, ct.Direction(m.info))
	case ruleset.CtStatus:
		m.store32(d, c.Status)
	case ruleset.CtMark:
		m.store32(d, c.Mark)
	case ruleset.CtSecmark, ruleset.CtID:
		m.store32(d, 0)
	case ruleset.CtExpiration:
		m.store32(d, c.Expiration(m.now))
	case ruleset.CtHelper:
		name, ok := m.ct.HelperName(c)
		if !ok {
			m.verdict = ruleset.VerdictBreak
			return
		}
		// strncpy to NF_CT_HELPER_NAME_LEN (16) bytes.
		var b [16]byte
		copy(b[:], name)
		m.store(d, b[:])
	case ruleset.CtLabels:
		b := m.ct.Labels(c)
		m.store(d, b[:])
	case ruleset.CtL3Protocol:
		m.store8(d, c.L3Proto())
	case ruleset.CtProtocol:
		m.store8(d, c.Protocol())
	case ruleset.CtSrc, ruleset.CtDst, ruleset.CtSrcIP, ruleset.CtDstIP, ruleset.CtSrcIP6, ruleset.CtDstIP6:
		t := m.ctTuple(c, dir)
		k := ruleset.CtKey(in.key)
		switch k {
		case ruleset.CtSrcIP, ruleset.CtDstIP:
			if t.L3 != packet.NFProtoIPv4 {
				m.verdict = ruleset.VerdictBreak
				return
			}
		case ruleset.CtSrcIP6, ruleset.CtDstIP6:
			if t.L3 != packet.NFProtoIPv6 {
				m.verdict = ruleset.VerdictBreak
				return
			}
		}
		a := &t.Src
		if k == ruleset.CtDst || k == ruleset.CtDstIP || k == ruleset.CtDstIP6 {
			a = &t.Dst
		}
		m.store(d, a[:in.len])
	case ruleset.CtProtoSrc:
		t := m.ctTuple(c, dir)
		m.storeBE16(d, t.SrcPort)
	case ruleset.CtProtoDst:
		t := m.ctTuple(c, dir)
		m.storeBE16(d, t.DstPort)
	case ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt:
		m.store64(d, m.ctCounter(c, ruleset.CtKey(in.key), in.aux2))
	case ruleset.CtZone:
		m.store16(d, c.Zone)
	default:
		m.verdict = ruleset.VerdictBreak
	}
}

// ctTuple copies one direction's tuple: TupleDir does not allocate, where
// Tuple(1) must build the reply tuple of an entry without NAT.
func (m *machine) ctTuple(c *ct.Conn, dir int) ct.Tuple {
	return c.TupleDir(uint8(dir))
}

// ctCounter reads the accounting extension: one direction, or both summed
// when the expression has none (dir 2); 0 without accounting.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval_counter.
func (m *machine) ctCounter(c *ct.Conn, k ruleset.CtKey, dir uint8) uint64 {
	var pk, by uint64
	for d := uint8(0); d < 2; d++ {
		if dir != 2 && d != dir {
			continue
		}
		p, b, ok := m.ct.Counters(c, d)
		if !ok {
			return 0
		}
		pk += p
		by += b
	}
	switch k {
	case ruleset.CtPkts:
		return pk
	case ruleset.CtBytes:
		return by
	}
	if pk == 0 {
		return 0
	}
	return by / pk
}

// ctSetEval writes the entry's mark, labels or event mask (which only
// filters `conntrack -E` output); templates and untracked packets are
// left alone. It also runs ct
// objects (in.key has ctObjKey).
//
// Ref: net/netfilter/nft_ct.c — nft_ct_set_eval.
func (m *machine) ctSetEval(in *insn) {
	if in.key&ctObjKey != 0 {
		m.ctObjEval(in.idx)
		return
	}
	if ruleset.CtKey(in.key) == ruleset.CtZone {
		m.ctSetZoneEval(in)
		return
	}
	c := m.conn
	if c == nil {
		return
	}
	switch ruleset.CtKey(in.key) {
	case ruleset.CtMark:
		c.SetMark(m.load32(in.sreg))
	case ruleset.CtLabels:
		m.ct.SetLabels(c, m.regs[in.sreg:int(in.sreg)+16])
	case ruleset.CtEventmask:
		m.ct.SetEventMask(c, m.load32(in.sreg))
	}
}

// ctSetZoneEval attaches a conntrack template with the zone, before
// conntrack runs; a packet that already has an entry keeps it.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_set_zone_eval.
func (m *machine) ctSetZoneEval(in *insn) {
	if m.conn != nil || m.untracked {
		return
	}
	m.tmpl = true
	m.zone = uint16(m.load32(in.sreg))
}

// ctState is the `ct state` bitmask of the packet: it never BREAKs.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval (NFT_CT_STATE).
func (m *machine) ctState() uint32 {
	c := m.conn
	info := m.info
	if c == nil && m.untracked {
		info = ct.Untracked
	}
	if c == nil && m.tmpl {
		// A template is an attached ct with ctinfo NEW; there is no
		// template check in nft_ct_get_eval.
		return 1 << (uint32(ct.New)%3 + 1)
	}
	return ct.StateBits(c, info)
}

// Conntrack object types (NFT_OBJECT_CT_HELPER, _CT_TIMEOUT, _CT_EXPECT).
const (
	objCtHelper  = 3
	objCtTimeout = 7
	objCtExpect  = 9
)

// ctObjKey marks an opCtSet instruction that runs a ct object: key is
// ctObjKey|type and idx the object's index in machine.ctObjs.
const ctObjKey = 0x100

func isCtObject(typ uint32) bool {
	return typ == objCtHelper || typ == objCtTimeout || typ == objCtExpect
}

// ctObject is a loaded ct helper, ct timeout or ct expectation object.
type ctObject struct {
	typ uint32
	// helper: the helper per family (helper4, helper6), nil where the
	// object's family excludes it.
	helper4, helper6 *ct.Helper
	// timeout policy.
	policy *ct.TimeoutPolicy
	// expectation: family (NFPROTO_*; 1 = the entry's), protocol,
	// destination port, timeout in jiffies, size.
	l3, l4  uint8
	dport   uint16
	timeout uint32
	size    uint8
}

// ctObjInsn is the instruction that runs ct object tgt.
func ctObjInsn(tgt objTarget) insn {
	return insn{op: opCtSet, key: ctObjKey | tgt.typ, idx: tgt.idx}
}

// objAttr returns an object attribute ("" when absent).
func objAttr(o *ruleset.Object, k string) string {
	for _, a := range o.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// objProto is the number of a protocol attribute (tcp, udp, …).
func objProto(v string) (uint8, bool) {
	switch v {
	case "tcp":
		return packet.ProtoTCP, true
	case "udp":
		return packet.ProtoUDP, true
	case "udplite":
		return packet.ProtoUDPLite, true
	case "sctp":
		return packet.ProtoSCTP, true
	case "dccp":
		return 33, true
	case "icmp":
		return packet.ProtoICMP, true
	case "icmpv6":
		return packet.ProtoICMPv6, true
	case "gre":
		return packet.ProtoGRE, true
	}
	n, err := strconv.ParseUint(v, 10, 8)
	return uint8(n), err == nil
}

// objFamily resolves an object's l3proto attribute against the table's
// family: NFPROTO_IPV4 (2), _IPV6 (10) or _INET (1).
func objFamily(o *ruleset.Object, fam ruleset.Family) (uint8, error) {
	tf := uint8(fam)
	switch fam {
	case ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev:
		tf = 1
	}
	l3 := tf
	switch objAttr(o, "l3proto") {
	case "":
	case "ip":
		l3 = 2
	case "ip6":
		l3 = 10
	case "inet", "bridge", "netdev":
		l3 = 1
	default:
		return 0, errAFNoSupport
	}
	if (l3 == 2 && tf == 10) || (l3 == 10 && tf == 2) {
		return 0, errInval
	}
	if tf != 1 && tf != 2 && tf != 10 {
		return 0, errAFNoSupport
	}
	return l3, nil
}

// loadCtObject is the object's init: nft_ct_helper_obj_init,
// nft_ct_timeout_obj_init, nft_ct_expect_obj_init. Each takes a
// conntrack reference, so conntrack runs while the object exists.
func (l *loader) loadCtObject(o *ruleset.Object, typ uint32) (int32, error) {
	m := l.m
	l.takeConntrack()
	ob := ctObject{typ: typ}
	l3, err := objFamily(o, l.t.Family)
	if err != nil {
		return -1, err
	}
	l4, ok := objProto(objAttr(o, "protocol"))
	if !ok {
		return -1, errInval
	}
	switch typ {
	case objCtHelper:
		if l4 == 0 {
			return -1, errNoEnt
		}
		name := strings.Trim(objAttr(o, "type"), `"`)
		h, _ := ct.LookupHelper(name, l4)
		if h == nil {
			return -1, errNoEnt
		}
		if !h.Modelled() {
			m.note(fmt.Sprintf("conntrack helper %q (ct helper %s) is attached but not modelled: it creates no expectations, so no connection becomes RELATED through it", name, o.Name))
		}
		if l3 != 10 {
			ob.helper4 = h
		}
		if l3 != 2 {
			ob.helper6 = h
		}
	case objCtTimeout:
		if l4 == 0 {
			return -1, errNotSupp
		}
		vals, err := timeoutPolicy(objAttr(o, "policy"), objAttr(o, "body"))
		if err != nil {
			return -1, err
		}
		if ob.policy, err = ct.NewTimeoutPolicy(m.cfg.CT, l4, vals); err != nil {
			return -1, fmt.Errorf("%w: %v", errNotImpl, err)
		}
	case objCtExpect:
		switch l4 {
		case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoUDPLite, packet.ProtoSCTP, 33:
		default:
			return -1, errNotSupp
		}
		port, err1 := strconv.ParseUint(objAttr(o, "dport"), 10, 16)
		size, err2 := strconv.ParseUint(objAttr(o, "size"), 10, 8)
		ms, err3 := parseObjTime(objAttr(o, "timeout"))
		if err1 != nil || err2 != nil || err3 != nil {
			return -1, errInval
		}
		// The kernel multiplies the attribute (milliseconds, as nft
		// sends it) by HZ: the expectation lives that many seconds.
		ob.l3, ob.l4, ob.dport, ob.size = l3, l4, uint16(port), uint8(size)
		ob.timeout = uint32(min(ms*250, 1<<31-1))
	}
	m.ctObjs = append(m.ctObjs, ob)
	return int32(len(m.ctObjs) - 1), nil
}

// timeoutPolicy reads the policy of a ct timeout object, in seconds per
// state: the policy attribute ("established : 10, close : 5") or else the
// netlink debug text ("policy = {ESTABLISHED = 10,CLOSE = 5,}").
func timeoutPolicy(policy, body string) (map[string]uint32, error) {
	rest, sep := policy, ":"
	if rest == "" {
		var ok bool
		if _, rest, ok = strings.Cut(body, "policy = {"); !ok {
			return nil, errInval
		}
		rest, _, _ = strings.Cut(rest, "}")
		sep = "="
	}
	vals := map[string]uint32{}
	for _, f := range strings.Split(rest, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		k, v, _ := strings.Cut(f, sep)
		v = strings.TrimSpace(v)
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			// A value with a unit ("9s", as JSON input gives it).
			ms, terr := parseObjTime(v)
			if terr != nil || ms/1000 > 1<<32-1 {
				return nil, fmt.Errorf("%w: ct timeout policy value %q", errInval, f)
			}
			n = ms / 1000
		}
		vals[strings.ToLower(strings.TrimSpace(k))] = uint32(n)
	}
	return vals, nil
}

// parseObjTime reads an expectation's timeout as milliseconds: a plain
// number is milliseconds (the kernel attribute), else an nft time ("10s",
// "1m30s", "500ms").
func parseObjTime(s string) (uint64, error) {
	if s == "" {
		return 0, errInval
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	var ms uint64
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			return 0, errInval
		}
		s = s[i:]
		j := 0
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		var unit uint64
		switch s[:j] {
		case "ms":
			unit = 1
		case "s":
			unit = 1000
		case "m":
			unit = 60_000
		case "h":
			unit = 3_600_000
		case "d":
			unit = 86_400_000
		default:
			return 0, errInval
		}
		ms += n * unit
		s = s[j:]
	}
	return ms, nil
}

// ctObjEval runs a ct object on the packet.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_helper_obj_eval,
// nft_ct_timeout_obj_eval, nft_ct_expect_obj_eval
func (m *machine) ctObjEval(idx int32) {
	ob := &m.ctObjs[idx]
	c := m.conn
	switch ob.typ {
	case objCtHelper:
		m.res.Shared = true
		if c == nil {
			return
		}
		h := ob.helper4
		if c.L3Proto() == packet.NFProtoIPv6 {
			h = ob.helper6
		}
		m.ct.AssignHelper(c, h)
	case objCtTimeout:
		if c == nil || m.pkt.L4Proto != ob.policy.L4 {
			return
		}
		m.ct.SetTimeout(c, m.pkt.L4Proto, ob.policy)
	case objCtExpect:
		m.res.Shared = true
		switch m.ct.Expect(c, m.info, ob.l3, ob.l4, ob.dport, ob.timeout, ob.size, m.now) {
		case ct.ExpectBreak:
			m.verdict = ruleset.VerdictBreak
		case ct.ExpectDrop:
			m.verdict = ruleset.VerdictDrop
		}
	}
}
