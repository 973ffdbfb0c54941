package list

import "github.com/nftgo/nftgo/ruleset"

// field is one header field template: offset and length in bits from the
// start of its header.
type field struct {
	name string
	off  int
	bits int
	dt   *dtype
	// dep is the ICMP/ICMPv6 type this field only exists for (id and
	// sequence need echo, mtu needs unreachable/packet-too-big …), 0 for
	// none.
	dep int
}

// protoDesc is a protocol header description: its base, its fields, and the
// protocol numbers of the headers that may follow it.
//
// Ref: nftables src/proto.c — struct proto_desc, proto_ip, proto_ip6,
// proto_tcp, proto_udp, proto_icmp, proto_icmp6, proto_eth, proto_th
type protoDesc struct {
	name   string
	base   ruleset.PayloadBase
	fields []field
	// protoKey is the index of the field that selects the upper
	// protocol (ip protocol, ip6 nexthdr, ether type), -1 if none.
	protoKey int
}

var (
	protoIP = &protoDesc{name: "ip", base: ruleset.BaseNetwork, protoKey: 8, fields: []field{
		{"version", 0, 4, dtInteger, 0}, {"hdrlength", 4, 4, dtInteger, 0}, {"dscp", 8, 6, dtDSCP, 0},
		{"ecn", 14, 2, dtECN, 0}, {"length", 16, 16, dtInteger, 0}, {"id", 32, 16, dtInteger, 0},
		{"frag-off", 48, 16, dtInteger, 0}, {"ttl", 64, 8, dtInteger, 0}, {"protocol", 72, 8, dtInetProto, 0},
		{"checksum", 80, 16, dtInteger, 0}, {"saddr", 96, 32, dtIPv4, 0}, {"daddr", 128, 32, dtIPv4, 0}}}
	protoIP6 = &protoDesc{name: "ip6", base: ruleset.BaseNetwork, protoKey: 5, fields: []field{
		{"version", 0, 4, dtInteger, 0}, {"dscp", 4, 6, dtDSCP, 0}, {"ecn", 10, 2, dtECN, 0},
		{"flowlabel", 12, 20, dtInteger, 0}, {"length", 32, 16, dtInteger, 0}, {"nexthdr", 48, 8, dtInetProto, 0},
		{"hoplimit", 56, 8, dtInteger, 0}, {"saddr", 64, 128, dtIPv6, 0}, {"daddr", 192, 128, dtIPv6, 0}}}
	protoTCP = &protoDesc{name: "tcp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}, {"sequence", 32, 32, dtInteger, 0},
		{"ackseq", 64, 32, dtInteger, 0}, {"doff", 96, 4, dtInteger, 0}, {"reserved", 100, 4, dtInteger, 0},
		{"flags", 104, 8, dtTCPFlag, 0}, {"window", 112, 16, dtInteger, 0}, {"checksum", 128, 16, dtInteger, 0},
		{"urgptr", 144, 16, dtInteger, 0}}}
	protoUDP = &protoDesc{name: "udp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}, {"length", 32, 16, dtInteger, 0},
		{"checksum", 48, 16, dtInteger, 0}}}
	protoUDPLite = &protoDesc{name: "udplite", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}, {"csumcov", 32, 16, dtInteger, 0},
		{"checksum", 48, 16, dtInteger, 0}}}
	protoSCTP = &protoDesc{name: "sctp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}, {"vtag", 32, 32, dtInteger, 0},
		{"checksum", 64, 32, dtInteger, 0}}}
	protoDCCP = &protoDesc{name: "dccp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}, {"type", 67, 4, dtDCCPType, 0}}}
	protoICMP = &protoDesc{name: "icmp", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"type", 0, 8, dtICMPType, 0}, {"code", 8, 8, dtICMPCode, 0}, {"checksum", 16, 16, dtInteger, 0},
		{"id", 32, 16, dtInteger, 8}, {"sequence", 48, 16, dtInteger, 8}, {"gateway", 32, 32, dtInteger, 5},
		{"mtu", 48, 16, dtInteger, 3}}}
	protoICMP6 = &protoDesc{name: "icmpv6", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"type", 0, 8, dtICMP6Type, 0}, {"code", 8, 8, dtICMP6Code, 0}, {"checksum", 16, 16, dtInteger, 0},
		{"parameter-problem", 32, 32, dtInteger, 4}, {"mtu", 32, 32, dtInteger, 2}, {"id", 32, 16, dtInteger, 128},
		{"sequence", 48, 16, dtInteger, 128}, {"max-delay", 32, 16, dtInteger, 130}}}
	protoIGMP = &protoDesc{name: "igmp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"type", 0, 8, dtIGMP, 0}, {"mrt", 8, 8, dtInteger, 0}, {"checksum", 16, 16, dtInteger, 0},
		{"group", 32, 32, dtInteger, 0}}}
	protoAH = &protoDesc{name: "ah", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"nexthdr", 0, 8, dtInetProto, 0}, {"hdrlength", 8, 8, dtInteger, 0}, {"reserved", 16, 16, dtInteger, 0},
		{"spi", 32, 32, dtInteger, 0}, {"sequence", 64, 32, dtInteger, 0}}}
	protoESP = &protoDesc{name: "esp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"spi", 0, 32, dtInteger, 0}, {"sequence", 32, 32, dtInteger, 0}}}
	protoComp = &protoDesc{name: "comp", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"nexthdr", 0, 8, dtInetProto, 0}, {"flags", 8, 8, &dtype{name: "integer", kind: kHexPlain}, 0},
		{"cpi", 16, 16, dtInteger, 0}}}
	protoTH = &protoDesc{name: "th", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService, 0}, {"dport", 16, 16, dtInetService, 0}}}
	protoEth = &protoDesc{name: "ether", base: ruleset.BaseLink, protoKey: 2, fields: []field{
		{"daddr", 0, 48, dtEtherAddr, 0}, {"saddr", 48, 48, dtEtherAddr, 0}, {"type", 96, 16, dtEtherType, 0}}}
	protoVLAN = &protoDesc{name: "vlan", base: ruleset.BaseLink, protoKey: 4, fields: []field{
		{"pcp", 112, 3, dtInteger, 0}, {"dei", 115, 1, dtInteger, 0}, {"cfi", 115, 1, dtInteger, 0},
		{"id", 116, 12, dtInteger, 0}, {"type", 128, 16, dtEtherType, 0}}}
	protoARP = &protoDesc{name: "arp", base: ruleset.BaseNetwork, protoKey: -1, fields: []field{
		{"htype", 0, 16, dtInteger, 0}, {"ptype", 16, 16, dtEtherType, 0}, {"hlen", 32, 8, dtInteger, 0},
		{"plen", 40, 8, dtInteger, 0}, {"operation", 48, 16, dtArpOp, 0}, {"saddr ether", 64, 48, dtEtherAddr, 0},
		{"saddr ip", 112, 32, dtIPv4, 0}, {"daddr ether", 144, 48, dtEtherAddr, 0}, {"daddr ip", 192, 32, dtIPv4, 0}}}
)

// transportByNum maps an IP protocol number to its header description.
func transportByNum(n uint64) *protoDesc {
	switch n {
	case 6:
		return protoTCP
	case 17:
		return protoUDP
	case 136:
		return protoUDPLite
	case 132:
		return protoSCTP
	case 33:
		return protoDCCP
	case 1:
		return protoICMP
	case 58:
		return protoICMP6
	case 2:
		return protoIGMP
	case 51:
		return protoAH
	case 50:
		return protoESP
	case 108:
		return protoComp
	}
	return nil
}

// networkByEtherType maps an ether type / meta protocol value.
func networkByEtherType(n uint64) *protoDesc {
	switch n {
	case 0x0800:
		return protoIP
	case 0x86dd:
		return protoIP6
	case 0x0806:
		return protoARP
	case 0x8100, 0x88a8:
		return protoVLAN
	}
	return nil
}

// findField returns the template exactly at [off, off+bits) that the ICMP
// type context allows (icmpType < 0: unknown).
//
// Ref: nftables src/payload.c — payload_expr_complete
func (d *protoDesc) complete(off, bits, icmpType int) *field {
	for i := range d.fields {
		f := &d.fields[i]
		if f.off != off || f.bits != bits {
			continue
		}
		if f.dep != 0 && icmpType >= 0 && f.dep != icmpType {
			continue
		}
		return f
	}
	return nil
}

// findField returns the field of d exactly at [off, off+bits), preferring
// the first template entry as nft does.
func (d *protoDesc) findField(off, bits int) *field {
	for i := range d.fields {
		f := &d.fields[i]
		if f.off == off && f.bits == bits {
			return f
		}
	}
	return nil
}
