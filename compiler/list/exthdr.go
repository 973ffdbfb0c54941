package list

import (
	"fmt"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// exthdrDesc is one IPv6 extension header, TCP option, IPv4 option or
// SCTP chunk: its type number and field templates (offsets in bits from
// the start of the header/option).
//
// Ref: nftables src/exthdr.c, src/tcpopt.c, src/ipopt.c, src/sctp_chunk.c
type exthdrDesc struct {
	name   string
	typ    uint8
	fields []field
}

func tf(name string, off, bits int) field { return field{name, off, bits, dtInteger, 0} }

var dtMHType = &dtype{num: 17, name: "mh_type", bits: 8, kind: kSymbol, syms: []sym{
	{"binding-refresh-request", 0}, {"home-test-init", 1}, {"careof-test-init", 2}, {"home-test", 3},
	{"careof-test", 4}, {"binding-update", 5}, {"binding-acknowledgement", 6}, {"binding-error", 7},
	{"fast-binding-update", 8}, {"fast-binding-acknowledgement", 9}, {"fast-binding-advertisement", 10},
	{"experimental-mobility-header", 11}, {"home-agent-switch-message", 12}}}

var tcpOptions = []*exthdrDesc{
	{"eol", 0, []field{tf("kind", 0, 8)}},
	{"nop", 1, []field{tf("kind", 0, 8)}},
	{"maxseg", 2, []field{tf("kind", 0, 8), tf("length", 8, 8), tf("size", 16, 16)}},
	{"window", 3, []field{tf("kind", 0, 8), tf("length", 8, 8), tf("count", 16, 8)}},
	{"sack-perm", 4, []field{tf("kind", 0, 8), tf("length", 8, 8)}},
	{"sack", 5, []field{tf("kind", 0, 8), tf("length", 8, 8), tf("left", 16, 32), tf("right", 48, 32),
		tf("left", 80, 32), tf("right", 112, 32), tf("left", 144, 32), tf("right", 176, 32),
		tf("left", 208, 32), tf("right", 240, 32)}},
	{"timestamp", 8, []field{tf("kind", 0, 8), tf("length", 8, 8), tf("tsval", 16, 32), tf("tsecr", 48, 32)}},
	{"md5sig", 19, []field{tf("kind", 0, 8), tf("length", 8, 8)}},
	{"mptcp", 30, []field{tf("kind", 0, 8), tf("length", 8, 8), tf("subtype", 16, 4)}},
	{"fastopen", 34, []field{tf("kind", 0, 8), tf("length", 8, 8)}},
}

func ip6f(name string, off, bits int, dt *dtype) field { return field{name, off, bits, dt, 0} }

var ipv6Exthdrs = []*exthdrDesc{
	{"hbh", 0, []field{ip6f("nexthdr", 0, 8, dtInetProto), ip6f("hdrlength", 8, 8, dtInteger)}},
	{"rt", 43, []field{ip6f("nexthdr", 0, 8, dtInetProto), ip6f("hdrlength", 8, 8, dtInteger),
		ip6f("type", 16, 8, dtInteger), ip6f("seg-left", 24, 8, dtInteger)}},
	{"srh", 43, []field{ip6f("last-entry", 32, 8, dtInteger), ip6f("flags", 40, 8, dtInteger),
		ip6f("tag", 48, 16, dtInteger), ip6f("sid[1]", 64, 128, dtIPv6), ip6f("sid[2]", 192, 128, dtIPv6)}},
	{"rt0", 43, []field{ip6f("reserved", 32, 32, dtInteger), ip6f("addr[1]", 64, 128, dtIPv6),
		ip6f("addr[2]", 192, 128, dtIPv6)}},
	{"rt2", 43, nil},
	{"frag", 44, []field{ip6f("nexthdr", 0, 8, dtInetProto), ip6f("reserved", 8, 8, dtInteger),
		ip6f("frag-off", 16, 13, dtInteger), ip6f("reserved2", 29, 2, dtInteger),
		ip6f("more-fragments", 31, 1, dtInteger), ip6f("id", 32, 32, dtInteger)}},
	{"dst", 60, []field{ip6f("nexthdr", 0, 8, dtInetProto), ip6f("hdrlength", 8, 8, dtInteger)}},
	{"mh", 135, []field{ip6f("nexthdr", 0, 8, dtInetProto), ip6f("hdrlength", 8, 8, dtInteger),
		ip6f("type", 16, 8, dtMHType), ip6f("reserved", 24, 8, dtInteger), ip6f("checksum", 32, 16, dtInteger)}},
}

var ipOptions = []*exthdrDesc{
	{"lsrr", 131, []field{tf("type", 0, 8), tf("length", 8, 8), tf("ptr", 16, 8), tf("addr", 24, 32)}},
	{"rr", 7, []field{tf("type", 0, 8), tf("length", 8, 8), tf("ptr", 16, 8), tf("addr", 24, 32)}},
	{"ssrr", 137, []field{tf("type", 0, 8), tf("length", 8, 8), tf("ptr", 16, 8), tf("addr", 24, 32)}},
	{"ra", 148, []field{tf("type", 0, 8), tf("length", 8, 8), tf("value", 16, 16)}},
}

var sctpCommon = []field{tf("type", 0, 8), tf("flags", 8, 8), tf("length", 16, 16)}

func sctpChunk(name string, typ uint8, extra ...field) *exthdrDesc {
	return &exthdrDesc{name, typ, append(append([]field(nil), sctpCommon...), extra...)}
}

var sctpChunks = []*exthdrDesc{
	sctpChunk("data", 0, tf("tsn", 32, 32), tf("stream", 64, 16), tf("ssn", 80, 16), tf("ppid", 96, 32)),
	sctpChunk("init", 1, tf("init-tag", 32, 32), tf("a-rwnd", 64, 32), tf("num-outbound-streams", 96, 16),
		tf("num-inbound-streams", 112, 16), tf("initial-tsn", 128, 32)),
	sctpChunk("init-ack", 2, tf("init-tag", 32, 32), tf("a-rwnd", 64, 32), tf("num-outbound-streams", 96, 16),
		tf("num-inbound-streams", 112, 16), tf("initial-tsn", 128, 32)),
	sctpChunk("sack", 3, tf("cum-tsn-ack", 32, 32), tf("a-rwnd", 64, 32), tf("num-gap-ack-blocks", 96, 16),
		tf("num-dup-tsns", 112, 16)),
	sctpChunk("heartbeat", 4), sctpChunk("heartbeat-ack", 5), sctpChunk("abort", 6),
	sctpChunk("shutdown", 7, tf("cum-tsn-ack", 32, 32)), sctpChunk("shutdown-ack", 8),
	sctpChunk("error", 9), sctpChunk("cookie-echo", 10), sctpChunk("cookie-ack", 11),
	sctpChunk("ecne", 12, tf("lowest-tsn", 32, 32)), sctpChunk("cwr", 13, tf("lowest-tsn", 32, 32)),
	sctpChunk("shutdown-complete", 14), sctpChunk("asconf-ack", 128, tf("seqno", 32, 32)),
	sctpChunk("forward-tsn", 192, tf("new-cum-tsn", 32, 32)), sctpChunk("asconf", 193, tf("seqno", 32, 32)),
}

// exthdrExpr is an extension header / option field, or with present the
// header's existence (`exthdr hbh exists`, `tcp option sack-perm`).
//
// Ref: nftables src/exthdr.c — exthdr_expr_print; src/json.c —
// exthdr_expr_json
type exthdrExpr struct {
	op      uint32
	typ     uint8
	desc    *exthdrDesc
	tdesc   *exthdrDesc // the type's description even when no template matched
	f       *field
	off     int // bits
	bits    int
	present bool
}

func (e *exthdrExpr) dtype() *dtype {
	if e.present {
		return dtBoolean
	}
	if e.f != nil {
		return e.f.dt
	}
	if e.op == ruleset.ExthdrOpTCPOpt {
		return dtInteger
	}
	return dtRawHex
}

func (e *exthdrExpr) text(b *strings.Builder) {
	name := "unknown-exthdr"
	if e.desc != nil {
		name = e.desc.name
	}
	tok := "unknown"
	if e.f != nil {
		tok = e.f.name
	}
	switch e.op {
	case ruleset.ExthdrOpTCPOpt:
		if e.desc == nil {
			if e.off == 0 && e.present {
				fmt.Fprintf(b, "tcp option %d", e.typ)
				return
			}
			fmt.Fprintf(b, "tcp option @%d,%d,%d", e.typ, e.off, e.bits)
			return
		}
		b.WriteString("tcp option " + name)
		if e.present {
			return
		}
		if n := e.off / 64; n != 0 {
			fmt.Fprintf(b, "%d", n)
		}
		b.WriteString(" " + tok)
	case ruleset.ExthdrOpIPv4:
		b.WriteString("ip option " + name)
		if !e.present {
			b.WriteString(" " + tok)
		}
	case ruleset.ExthdrOpSCTP:
		b.WriteString("sctp chunk " + name)
		if !e.present {
			b.WriteString(" " + tok)
		}
	default:
		if e.present {
			b.WriteString("exthdr " + name)
		} else {
			b.WriteString(name + " " + tok)
		}
	}
}

func (e *exthdrExpr) json() any {
	name := ""
	if e.desc != nil {
		name = e.desc.name
	}
	tok := "unknown"
	if e.f != nil {
		tok = e.f.name
	}
	if e.op == ruleset.ExthdrOpTCPOpt {
		if e.desc == nil {
			return jobj{{"tcp option", jobj{{"base", int(e.typ)}, {"offset", e.off}, {"len", e.bits}}}}
		}
		if n := e.off / 64; n > 0 && n < 4 {
			name += fmt.Sprint(n)
		}
		o := jobj{{"name", name}}
		if !e.present {
			o = append(o, jkv{"field", tok})
		}
		return jobj{{"tcp option", o}}
	}
	o := jobj{{"name", name}}
	if !e.present {
		o = append(o, jkv{"field", tok})
	}
	switch e.op {
	case ruleset.ExthdrOpIPv4:
		return jobj{{"ip option", o}}
	case ruleset.ExthdrOpSCTP:
		return jobj{{"sctp chunk", o}}
	}
	return jobj{{"exthdr", o}}
}

func exthdrTable(op uint32) []*exthdrDesc {
	switch op {
	case ruleset.ExthdrOpTCPOpt:
		return tcpOptions
	case ruleset.ExthdrOpIPv4:
		return ipOptions
	case ruleset.ExthdrOpSCTP:
		return sctpChunks
	case ruleset.ExthdrOpIPv6:
		return ipv6Exthdrs
	}
	return nil
}

// newExthdr resolves (op, type, offset, length) to a template the way
// exthdr_init_raw does: the type's description, the template at that
// offset and length; for IPv6 routing headers rt, rt0, rt2 and srh are
// tried in turn. off and nbits are in bits.
//
// Ref: nftables src/exthdr.c — exthdr_init_raw, exthdr_rt_find;
// src/tcpopt.c — tcpopt_init_raw
func newExthdr(op uint32, typ uint8, off, nbits int, present bool) *exthdrExpr {
	e := &exthdrExpr{op: op, typ: typ, off: off, bits: nbits, present: present}
	for _, d := range exthdrTable(op) {
		if d.typ != typ {
			continue
		}
		if e.desc == nil {
			e.desc, e.tdesc = d, d
		}
		if present {
			break
		}
		for i := range d.fields {
			f := &d.fields[i]
			if f.off == off && f.bits == nbits {
				e.desc, e.f = d, f
				return e
			}
		}
	}
	if present && e.desc != nil {
		if len(e.desc.fields) > 0 {
			e.f = &e.desc.fields[0]
		}
		return e
	}
	if op == ruleset.ExthdrOpTCPOpt && !present {
		e.desc = nil
	}
	return e
}

// subExthdr maps a masked exthdr load onto a sub-byte template
// (`frag frag-off`, `frag more-fragments`).
func subExthdr(e *exthdrExpr, mask []byte) (*exthdrExpr, int, bool) {
	if e.tdesc == nil {
		return nil, 0, false
	}
	mask = trim(mask, e.bits)
	lead, ones, i := 0, 0, 0
	for ; i < e.bits && mask[i/8]&(0x80>>uint(i%8)) == 0; i++ {
		lead++
	}
	for ; i < e.bits && mask[i/8]&(0x80>>uint(i%8)) != 0; i++ {
		ones++
	}
	for ; i < e.bits; i++ {
		if mask[i/8]&(0x80>>uint(i%8)) != 0 {
			return nil, 0, false
		}
	}
	if ones == 0 || ones == e.bits {
		return nil, 0, false
	}
	for j := range e.tdesc.fields {
		f := &e.tdesc.fields[j]
		if f.off == e.off+lead && f.bits == ones {
			n := *e
			n.desc, n.f, n.off, n.bits = e.tdesc, f, f.off, f.bits
			return &n, e.bits - lead - ones, true
		}
	}
	return nil, 0, false
}
