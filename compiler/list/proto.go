package list

import "github.com/nftgo/nftgo/ruleset"

// field is one header field template: offset and length in bits from the
// start of its header.
type field struct {
	name string
	off  int
	bits int
	dt   *dtype
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
	protoIP = &protoDesc{name: "ip", base: ruleset.BaseNetwork, protoKey: 7, fields: []field{
		{"version", 0, 4, dtInteger}, {"hdrlength", 4, 4, dtInteger}, {"dscp", 8, 6, dtDSCP},
		{"ecn", 14, 2, dtECN}, {"length", 16, 16, dtInteger}, {"id", 32, 16, dtInteger},
		{"frag-off", 48, 16, dtInteger}, {"protocol", 72, 8, dtInetProto}, {"ttl", 64, 8, dtInteger},
		{"checksum", 80, 16, dtInteger}, {"saddr", 96, 32, dtIPv4}, {"daddr", 128, 32, dtIPv4}}}
	protoIP6 = &protoDesc{name: "ip6", base: ruleset.BaseNetwork, protoKey: 5, fields: []field{
		{"version", 0, 4, dtInteger}, {"dscp", 4, 6, dtDSCP}, {"ecn", 10, 2, dtECN},
		{"flowlabel", 12, 20, dtInteger}, {"length", 32, 16, dtInteger}, {"nexthdr", 48, 8, dtInetProto},
		{"hoplimit", 56, 8, dtInteger}, {"saddr", 64, 128, dtIPv6}, {"daddr", 192, 128, dtIPv6}}}
	protoTCP = &protoDesc{name: "tcp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}, {"sequence", 32, 32, dtInteger},
		{"ackseq", 64, 32, dtInteger}, {"doff", 96, 4, dtInteger}, {"reserved", 100, 4, dtInteger},
		{"flags", 104, 8, dtTCPFlag}, {"window", 112, 16, dtInteger}, {"checksum", 128, 16, dtInteger},
		{"urgptr", 144, 16, dtInteger}}}
	protoUDP = &protoDesc{name: "udp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}, {"length", 32, 16, dtInteger},
		{"checksum", 48, 16, dtInteger}}}
	protoUDPLite = &protoDesc{name: "udplite", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}, {"csumcov", 32, 16, dtInteger},
		{"checksum", 48, 16, dtInteger}}}
	protoSCTP = &protoDesc{name: "sctp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}, {"vtag", 32, 32, dtInteger},
		{"checksum", 64, 32, dtInteger}}}
	protoDCCP = &protoDesc{name: "dccp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}}}
	protoICMP = &protoDesc{name: "icmp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"type", 0, 8, dtICMPType}, {"code", 8, 8, dtICMPCode}, {"checksum", 16, 16, dtInteger},
		{"id", 32, 16, dtInteger}, {"sequence", 48, 16, dtInteger}, {"gateway", 32, 32, dtInteger},
		{"mtu", 48, 16, dtInteger}}}
	protoICMP6 = &protoDesc{name: "icmpv6", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"type", 0, 8, dtICMP6Type}, {"code", 8, 8, dtICMP6Code}, {"checksum", 16, 16, dtInteger},
		{"parameter-problem", 32, 32, dtInteger}, {"mtu", 32, 32, dtInteger}, {"id", 32, 16, dtInteger},
		{"sequence", 48, 16, dtInteger}, {"max-delay", 32, 16, dtInteger}}}
	protoIGMP = &protoDesc{name: "igmp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"type", 0, 8, dtIGMP}, {"mrt", 8, 8, dtInteger}, {"checksum", 16, 16, dtInteger},
		{"group", 32, 32, dtInteger}}}
	protoAH = &protoDesc{name: "ah", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"nexthdr", 0, 8, dtInetProto}, {"hdrlength", 8, 8, dtInteger}, {"reserved", 16, 16, dtInteger},
		{"spi", 32, 32, dtInteger}, {"sequence", 64, 32, dtInteger}}}
	protoESP = &protoDesc{name: "esp", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"spi", 0, 32, dtInteger}, {"sequence", 32, 32, dtInteger}}}
	protoComp = &protoDesc{name: "comp", base: ruleset.BaseTransport, protoKey: 0, fields: []field{
		{"nexthdr", 0, 8, dtInetProto}, {"flags", 8, 8, &dtype{name: "integer", kind: kHexPlain}},
		{"cpi", 16, 16, dtInteger}}}
	protoTH = &protoDesc{name: "th", base: ruleset.BaseTransport, protoKey: -1, fields: []field{
		{"sport", 0, 16, dtInetService}, {"dport", 16, 16, dtInetService}}}
	protoEth = &protoDesc{name: "ether", base: ruleset.BaseLink, protoKey: 2, fields: []field{
		{"daddr", 0, 48, dtEtherAddr}, {"saddr", 48, 48, dtEtherAddr}, {"type", 96, 16, dtEtherType}}}
	protoVLAN = &protoDesc{name: "vlan", base: ruleset.BaseLink, protoKey: 4, fields: []field{
		{"pcp", 112, 3, dtInteger}, {"dei", 115, 1, dtInteger}, {"cfi", 115, 1, dtInteger},
		{"id", 116, 12, dtInteger}, {"type", 128, 16, dtEtherType}}}
	protoARP = &protoDesc{name: "arp", base: ruleset.BaseNetwork, protoKey: -1, fields: []field{
		{"htype", 0, 16, dtInteger}, {"ptype", 16, 16, dtEtherType}, {"hlen", 32, 8, dtInteger},
		{"plen", 40, 8, dtInteger}, {"operation", 48, 16, dtArpOp}, {"saddr ether", 64, 48, dtEtherAddr},
		{"saddr ip", 112, 32, dtIPv4}, {"daddr ether", 144, 48, dtEtherAddr}, {"daddr ip", 192, 32, dtIPv4}}}
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
	case 0x8100:
		return protoVLAN
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
