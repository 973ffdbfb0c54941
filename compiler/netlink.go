package compiler

// The `nft --debug=netlink` notation of a batch. nft 1.0.6 prints each
// message as libnftnl 1.2.4 formats it while building the batch.
// Ref: libnftnl src/rule.c — nftnl_rule_snprintf_default; src/expr/*.c —
// the *_snprintf functions; src/set.c, src/set_elem.c, src/chain.c,
// src/object.c — the default snprintf of each object.

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// msgKind is the kind of one batch message.
type msgKind int

const (
	msgChain msgKind = iota
	msgObject
	msgSet
	msgElems
	msgRule
	msgFlowtable
)

// msg is one netlink message of the batch, in the order nft sends it.
type msg struct {
	kind  msgKind
	table *ruleset.Table
	chain *ruleset.Chain
	set   *ruleset.Set
	elems []*ruleset.Element
	obj   *ruleset.Object
	rule  *ruleset.Rule
}

// WriteNetlink writes the batch as `nft --debug=netlink -c -f` prints it.
func (c *Compiled) WriteNetlink(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var b strings.Builder
	for _, m := range c.batch {
		b.Reset()
		writeMsg(&b, m, c.openEnd)
		bw.WriteString(b.String())
	}
	return bw.Flush()
}

func writeMsg(b *strings.Builder, m msg, openEnd map[*ruleset.Element]bool) {
	fam := m.table.Family.String()
	switch m.kind {
	case msgChain:
		b.WriteString(fam)
		b.WriteString(" (null) (null) use 0")
		if h := m.chain.Hook; h != nil {
			fmt.Fprintf(b, " type %s hook %s prio %d packets 0 bytes 0", h.Type, hookName(m.table.Family, h.Hook), h.Priority)
			if len(h.Devices) == 1 {
				fmt.Fprintf(b, " dev %s ", h.Devices[0])
			} else if len(h.Devices) > 1 {
				b.WriteString(" dev { ")
				for _, d := range h.Devices {
					fmt.Fprintf(b, " %s ", d)
				}
				b.WriteString(" } ")
			}
		}
		b.WriteByte('\n')
	case msgObject:
		b.WriteString("table (null) name (null) use 0 ")
		writeObjectBody(b, m.obj)
		b.WriteByte('\n')
	case msgFlowtable:
		// libnftnl names the hook number (ingress, 0) with the table
		// family's hook names: prerouting in ip/ip6/inet.
		prio, flags, devs := "0", "0", []string{}
		for _, a := range m.obj.Attrs {
			switch a.Key {
			case "flags":
				flags = a.Value
			case "priority":
				prio = a.Value
			case "device":
				devs = append(devs, a.Value)
			}
		}
		fmt.Fprintf(b, "flow table (null) (null) use 0 size 0 flags %s hook %s prio %s ", flags, ruleset.HookName(m.table.Family, 0), prio)
		if len(devs) > 0 {
			b.WriteString(" dev { ")
			for _, d := range devs {
				fmt.Fprintf(b, " %s ", d)
			}
			b.WriteString(" } ")
		}
		b.WriteByte('\n')
	case msgSet:
		s := m.set
		fmt.Fprintf(b, "%s %s %x", setName(s), m.table.Name, s.Flags)
		if s.Timeout != 0 {
			fmt.Fprintf(b, " timeout %dms", s.Timeout)
		}
		if s.GCInterval != 0 {
			fmt.Fprintf(b, " gc_interval %dms", s.GCInterval)
		}
		if s.PolicySet {
			fmt.Fprintf(b, " policy %d", s.Policy)
		}
		if s.SizeSet {
			fmt.Fprintf(b, " size %d", s.Size)
		}
		b.WriteByte('\n')
	case msgElems:
		fmt.Fprintf(b, "%s %s 0\n", setName(m.set), m.table.Name)
		for _, e := range m.elems {
			writeElem(b, m.set, e)
			if openEnd[e] {
				b.WriteString("  userdata = { \\x01\\x04\\x01\\x00\\x00\\x00 }")
			}
		}
		if len(m.elems) > 0 {
			b.WriteByte('\n')
		}
	case msgRule:
		fmt.Fprintf(b, "%s %s %s\n", fam, m.table.Name, m.chain.Name)
		for _, e := range m.rule.Exprs {
			b.WriteString("  [ ")
			b.WriteString(e.Name())
			b.WriteByte(' ')
			writeExprBody(b, e)
			b.WriteString("]\n")
		}
		if m.rule.Comment != "" {
			// NFTNL_UDATA_RULE_COMMENT: type 0, length, the NUL-terminated text.
			ud := append([]byte{0, byte(len(m.rule.Comment) + 1)}, m.rule.Comment...)
			ud = append(ud, 0)
			b.WriteString("  userdata = { ")
			for _, c := range ud {
				if c >= 0x20 && c < 0x7f {
					b.WriteByte(c)
				} else {
					fmt.Fprintf(b, "\\x%02x", c)
				}
			}
			b.WriteString(" }\n")
		} else {
			b.WriteByte('\n')
		}
	}
}

func setName(s *ruleset.Set) string {
	if s.Flags&ruleset.SetAnonymous != 0 && strings.HasPrefix(s.Name, "__") {
		switch {
		case strings.HasPrefix(s.Name, "__map"):
			return "__map%d"
		case strings.HasPrefix(s.Name, "__objmap"):
			return "__objmap%d"
		}
		return "__set%d"
	}
	return s.Name
}

func writeElem(b *strings.Builder, s *ruleset.Set, e *ruleset.Element) {
	b.WriteString("\telement ")
	writeWords(b, e.Key)
	if e.KeyEnd != nil {
		b.WriteString(" - ")
		writeWords(b, e.KeyEnd)
	}
	b.WriteString(" : ")
	switch {
	case e.Verdict != nil:
		b.WriteString(e.Verdict.Code.String())
		b.WriteByte(' ')
		if e.Verdict.Code == ruleset.VerdictJump || e.Verdict.Code == ruleset.VerdictGoto {
			b.WriteString("-> ")
			b.WriteString(e.Verdict.Chain)
			b.WriteByte(' ')
		}
	case e.Data != nil:
		writeWords(b, e.Data)
	}
	fmt.Fprintf(b, "%d [end]", e.Flags)
}

// writeWords prints data as libnftnl does: each 32-bit word as a
// little-endian host integer, "%.8x ".
func writeWords(b *strings.Builder, d []byte) {
	for i := 0; i < len(d); i += 4 {
		var w uint32
		for j := 3; j >= 0; j-- {
			w <<= 8
			if i+j < len(d) {
				w |= uint32(d[i+j])
			}
		}
		fmt.Fprintf(b, "%.8x ", w)
	}
}

func writeData(b *strings.Builder, d []byte) {
	for i := 0; i < len(d); i += 4 {
		var w uint32
		for j := 3; j >= 0; j-- {
			w <<= 8
			if i+j < len(d) {
				w |= uint32(d[i+j])
			}
		}
		fmt.Fprintf(b, "0x%.8x ", w)
	}
}

// hookName is the hook as libnftnl 1.2.4 prints it in a chain line: it
// knows no netdev egress and prints "unknown" there.
func hookName(f ruleset.Family, h ruleset.Hook) string {
	if f == ruleset.FamilyNetdev && h == ruleset.HookNetdevEgress {
		return "unknown"
	}
	return ruleset.HookName(f, h)
}

var baseNames = [...]string{"link", "network", "transport", "inner"}

func writeVerdict(b *strings.Builder, v ruleset.Verdict) {
	b.WriteString(v.Code.String())
	b.WriteByte(' ')
	if v.Code == ruleset.VerdictJump || v.Code == ruleset.VerdictGoto {
		b.WriteString("-> ")
		b.WriteString(v.Chain)
		b.WriteByte(' ')
	}
}

func writeExprBody(b *strings.Builder, e ruleset.Expr) {
	switch x := e.(type) {
	case *ruleset.Payload:
		fmt.Fprintf(b, "load %db @ %s header + %d => reg %d ", x.Len, baseNames[x.Base&3], x.Offset, x.DReg)
	case *ruleset.PayloadWrite:
		fmt.Fprintf(b, "write reg %d => %db @ %s header + %d csum_type %d csum_off %d csum_flags 0x%x ",
			x.SReg, x.Len, baseNames[x.Base&3], x.Offset, x.CsumType, x.CsumOffset, x.CsumFlags)
	case *ruleset.Cmp:
		fmt.Fprintf(b, "%s reg %d ", x.Op, x.SReg)
		writeData(b, x.Data)
	case *ruleset.Range:
		fmt.Fprintf(b, "%s reg %d ", x.Op, x.SReg)
		writeData(b, x.From)
		writeData(b, x.To)
	case *ruleset.Bitwise:
		switch x.Op {
		case ruleset.BitwiseMaskXor:
			fmt.Fprintf(b, "reg %d = ( reg %d & ", x.DReg, x.SReg)
			writeData(b, x.Mask)
			b.WriteString(") ^ ")
			writeData(b, x.Xor)
		default:
			op := "<<"
			if x.Op == ruleset.BitwiseRshift {
				op = ">>"
			}
			fmt.Fprintf(b, "reg %d = ( reg %d %s 0x%.8x ) ", x.DReg, x.SReg, op, x.Shift)
		}
	case *ruleset.Byteorder:
		op := "ntoh"
		if x.Op == ruleset.HtoN {
			op = "hton"
		}
		fmt.Fprintf(b, "reg %d = %s(reg %d, %d, %d) ", x.DReg, op, x.SReg, x.Size, x.Len)
	case *ruleset.Immediate:
		fmt.Fprintf(b, "reg %d ", x.DReg)
		if x.DReg == 0 {
			writeVerdict(b, x.Verdict)
		} else {
			writeData(b, x.Data)
		}
	case *ruleset.Meta:
		if x.Set {
			fmt.Fprintf(b, "set %s with reg %d ", metaKeyName(x.Key), x.SReg)
		} else {
			fmt.Fprintf(b, "load %s => reg %d ", metaKeyName(x.Key), x.DReg)
		}
	case *ruleset.Ct:
		if x.Set {
			fmt.Fprintf(b, "set %s with reg %d ", ctKeyName(x.Key), x.SReg)
		} else {
			fmt.Fprintf(b, "load %s => reg %d ", ctKeyName(x.Key), x.DReg)
		}
		switch x.Direction {
		case ruleset.CtDirOriginal:
			b.WriteString(", dir original ")
		case ruleset.CtDirReply:
			b.WriteString(", dir reply ")
		}
	case *ruleset.Lookup:
		fmt.Fprintf(b, "reg %d set %s ", x.SReg, lookupSetName(x.Set))
		if x.HasDReg {
			fmt.Fprintf(b, "dreg %d ", x.DReg)
		}
		if x.Flags != 0 {
			fmt.Fprintf(b, "0x%x ", x.Flags)
		}
	case *ruleset.Dynset:
		ops := [...]string{"add", "update", "delete"}
		fmt.Fprintf(b, "%s reg_key %d set %s ", ops[x.Op%3], x.SRegKey, lookupSetName(x.Set))
		if x.HasData {
			fmt.Fprintf(b, "sreg_data %d ", x.SRegData)
		}
		if x.Timeout != 0 {
			fmt.Fprintf(b, "timeout %dms ", x.Timeout)
		}
		for _, se := range x.Exprs {
			b.WriteString("expr [ ")
			b.WriteString(se.Name())
			b.WriteByte(' ')
			writeExprBody(b, se)
			b.WriteString("] ")
		}
	case *ruleset.Connlimit:
		fmt.Fprintf(b, "count %d flags %x ", x.Count, x.Flags)
	case *ruleset.Counter:
		fmt.Fprintf(b, "pkts %d bytes %d ", x.Packets, x.Bytes)
	case *ruleset.Limit:
		typ := "packets"
		if x.Type == ruleset.LimitBytes {
			typ = "bytes"
		}
		fmt.Fprintf(b, "rate %d/%s burst %d type %s flags 0x%x ", x.Rate, x.UnitName(), x.Burst, typ, x.Flags)
	case *ruleset.Quota:
		fmt.Fprintf(b, "bytes %d consumed %d flags %d ", x.Bytes, x.Consumed, x.Flags)
	case *ruleset.Log:
		if x.HasPrefix {
			fmt.Fprintf(b, "prefix %s ", x.Prefix)
		}
		if x.HasGroup {
			fmt.Fprintf(b, "group %d snaplen %d qthreshold %d ", x.Group, x.Snaplen, x.Qthreshold)
		} else {
			if x.HasLevel {
				fmt.Fprintf(b, "level %d ", x.Level)
			}
			for i, n := range []string{"tcpseq", "tcpopt", "ipopt", "uid", "", "macdecode"} {
				if n != "" && x.Flags&(1<<i) != 0 {
					b.WriteString(n)
					b.WriteByte(' ')
				}
			}
		}
	case *ruleset.Reject:
		fmt.Fprintf(b, "type %d code %d ", x.Type, x.Code)
	case *ruleset.NAT:
		t := "snat"
		if x.Type == ruleset.NATDnat {
			t = "dnat"
		}
		fmt.Fprintf(b, "%s %s ", t, x.Family)
		writeNATRegs(b, x.AddrMin, x.AddrMax, x.ProtoMin, x.ProtoMax, x.Flags, x.HasFlags)
	case *ruleset.Masq:
		writeNATRegs(b, 0, 0, x.ProtoMin, x.ProtoMax, x.Flags, x.HasFlags)
	case *ruleset.Redir:
		writeNATRegs(b, 0, 0, x.ProtoMin, x.ProtoMax, x.Flags, x.HasFlags)
	case *ruleset.Notrack:
	case *ruleset.Queue:
		if x.SRegNum != 0 {
			fmt.Fprintf(b, "sreg_qnum %d ", x.SRegNum)
		} else {
			fmt.Fprintf(b, "num %d", x.Num)
			if x.Total > 1 {
				fmt.Fprintf(b, "-%d", x.Num+x.Total-1)
			}
			b.WriteByte(' ')
		}
		if x.Flags&1 != 0 {
			b.WriteString("bypass ")
		}
		if x.Flags&2 != 0 {
			b.WriteString("fanout ")
		}
	case *ruleset.Exthdr:
		writeExthdr(b, x)
	case *ruleset.Objref:
		writeObjref(b, x)
	case *ruleset.Numgen, *ruleset.Hash:
		writeMisc(b, x)
	case *ruleset.Fib, *ruleset.Rt, *ruleset.Socket, *ruleset.Dup, *ruleset.Fwd:
		writeExt(b, x)
	case *ruleset.Generic:
		writeGenericBody(b, x)
	}
}

func writeNATRegs(b *strings.Builder, amin, amax, pmin, pmax ruleset.Register, flags uint32, hasFlags bool) {
	if amin != 0 {
		fmt.Fprintf(b, "addr_min reg %d ", amin)
	}
	if amax != 0 {
		fmt.Fprintf(b, "addr_max reg %d ", amax)
	}
	if pmin != 0 {
		fmt.Fprintf(b, "proto_min reg %d ", pmin)
	}
	if pmax != 0 {
		fmt.Fprintf(b, "proto_max reg %d ", pmax)
	}
	if hasFlags {
		fmt.Fprintf(b, "flags 0x%x ", flags)
	}
}

func lookupSetName(n string) string {
	for _, p := range []string{"__set", "__map", "__objmap"} {
		if strings.HasPrefix(n, p) {
			if _, err := strconv.Atoi(n[len(p):]); err == nil {
				return p + "%d"
			}
		}
	}
	return n
}

func writeObjectBody(b *strings.Builder, o *ruleset.Object) {
	if o.Expr != nil {
		writeObjectExpr(b, o.Expr)
		return
	}
	for _, a := range o.Attrs {
		if a.Key == "body" {
			b.WriteString(a.Value)
		}
	}
}

var metaNames = map[ruleset.MetaKey]string{
	ruleset.MetaLen: "len", ruleset.MetaProtocol: "protocol", ruleset.MetaPriority: "priority",
	ruleset.MetaMark: "mark", ruleset.MetaIif: "iif", ruleset.MetaOif: "oif", ruleset.MetaIifname: "iifname",
	ruleset.MetaOifname: "oifname", ruleset.MetaIiftype: "iiftype", ruleset.MetaOiftype: "oiftype",
	ruleset.MetaSkuid: "skuid", ruleset.MetaSkgid: "skgid", ruleset.MetaNftrace: "nftrace",
	ruleset.MetaRtclassid: "rtclassid", ruleset.MetaSecmark: "secmark", ruleset.MetaNfproto: "nfproto",
	ruleset.MetaL4proto: "l4proto", ruleset.MetaBriIifname: "bri_iifname", ruleset.MetaBriOifname: "bri_oifname",
	ruleset.MetaPkttype: "pkttype", ruleset.MetaCPU: "cpu", ruleset.MetaIifgroup: "iifgroup",
	ruleset.MetaOifgroup: "oifgroup", ruleset.MetaCgroup: "cgroup", ruleset.MetaPrandom: "prandom",
	ruleset.MetaSecpath: "secpath", ruleset.MetaIifkind: "iifkind", ruleset.MetaOifkind: "oifkind",
	ruleset.MetaBriIifpvid: "bri_iifpvid", ruleset.MetaBriIifvproto: "bri_iifvproto", ruleset.MetaTimeNS: "time",
	ruleset.MetaTimeDay: "day", ruleset.MetaTimeHour: "hour", ruleset.MetaSdif: "sdif", ruleset.MetaSdifname: "sdifname",
	ruleset.MetaBriBroute: "broute",
}

func metaKeyName(k ruleset.MetaKey) string {
	if n, ok := metaNames[k]; ok {
		return n
	}
	return "unknown"
}

var ctNames = [...]string{"state", "direction", "status", "mark", "secmark", "expiration", "helper",
	"l3protocol", "src", "dst", "protocol", "proto_src", "proto_dst", "label", "packets", "bytes",
	"avgpkt", "zone", "event", "src_ip", "dst_ip", "src_ip6", "dst_ip6", "id"}

func ctKeyName(k ruleset.CtKey) string {
	if int(k) < len(ctNames) {
		return ctNames[k]
	}
	return "unknown"
}

// writeGenericBody prints a Generic expression's body as libnftnl does: osf
// and synproxy carry attributes the kernel gets (osf ttl and flags, synproxy
// flags) that libnftnl's snprintf leaves out.
//
// Ref: libnftnl src/expr/osf.c — nftnl_expr_osf_snprintf; src/expr/synproxy.c
func writeGenericBody(b *strings.Builder, x *ruleset.Generic) {
	var hidden []string
	switch x.Kind {
	case "osf":
		hidden = []string{"ttl", "flags"}
	case "synproxy":
		hidden = []string{"flags"}
	default:
		b.WriteString(x.Body)
		return
	}
	f := strings.Fields(x.Body)
next:
	for i := 0; i < len(f); i++ {
		for _, h := range hidden {
			if f[i] == h && i+1 < len(f) {
				i++
				continue next
			}
		}
		b.WriteString(f[i])
		b.WriteByte(' ')
	}
}
