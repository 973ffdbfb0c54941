package compiler

// Protocol header templates. Ref: nftables src/proto.c — proto_ip,
// proto_ip6, proto_tcp, … (field offsets and lengths in bits, datatypes);
// the dependency each protocol needs comes from its base layer.

import "github.com/nftgo/nftgo/ruleset"

type field struct {
	off, bits int
	dt        *dtype
}

type protoDesc struct {
	name   string
	base   ruleset.PayloadBase
	layer  int    // 2 link, 3 network, 4 transport
	num    uint64 // protocol number in the layer below (l4: IP protocol, l3: ethertype)
	fields map[string]field
}

func f(off, bits int, dt *dtype) field { return field{off, bits, dt} }

var protos = map[string]*protoDesc{
	"ether": {name: "ether", base: ruleset.BaseLink, layer: 2, fields: map[string]field{
		"daddr": f(0, 48, tEther), "saddr": f(48, 48, tEther), "type": f(96, 16, tEthertype)}},
	"vlan": {name: "vlan", base: ruleset.BaseLink, layer: 25, num: 0x8100, fields: map[string]field{
		"pcp": f(112, 3, tInteger), "dei": f(115, 1, tInteger), "cfi": f(115, 1, tInteger), "id": f(116, 12, tInteger), "type": f(128, 16, tEthertype)}},
	"arp": {name: "arp", base: ruleset.BaseNetwork, layer: 3, num: 0x0806, fields: map[string]field{
		"htype": f(0, 16, tInteger), "ptype": f(16, 16, tEthertype), "hlen": f(32, 8, tInteger), "plen": f(40, 8, tInteger),
		"operation": f(48, 16, tARPOp)}},
	"ip": {name: "ip", base: ruleset.BaseNetwork, layer: 3, num: 0x0800, fields: map[string]field{
		"version": f(0, 4, tInteger), "hdrlength": f(4, 4, tInteger), "dscp": f(8, 6, tDSCP), "ecn": f(14, 2, tECN),
		"length": f(16, 16, tInteger), "id": f(32, 16, tInteger), "frag-off": f(48, 16, tInteger), "ttl": f(64, 8, tInteger),
		"protocol": f(72, 8, tInetProto), "checksum": f(80, 16, tInteger), "saddr": f(96, 32, tIPv4), "daddr": f(128, 32, tIPv4)}},
	"ip6": {name: "ip6", base: ruleset.BaseNetwork, layer: 3, num: 0x86dd, fields: map[string]field{
		"version": f(0, 4, tInteger), "dscp": f(4, 6, tDSCP), "ecn": f(10, 2, tECN), "flowlabel": f(12, 20, tInteger),
		"length": f(32, 16, tInteger), "nexthdr": f(48, 8, tInetProto), "hoplimit": f(56, 8, tInteger),
		"saddr": f(64, 128, tIPv6), "daddr": f(192, 128, tIPv6)}},
	"icmp": {name: "icmp", base: ruleset.BaseTransport, layer: 4, num: 1, fields: map[string]field{
		"type": f(0, 8, tICMPType), "code": f(8, 8, tICMPCode), "checksum": f(16, 16, tInteger), "id": f(32, 16, tInteger),
		"sequence": f(48, 16, tInteger), "gateway": f(32, 32, tInteger), "mtu": f(48, 16, tInteger)}},
	"igmp": {name: "igmp", base: ruleset.BaseTransport, layer: 4, num: 2, fields: map[string]field{
		"type": f(0, 8, tIGMPType), "mrt": f(8, 8, tInteger), "checksum": f(16, 16, tInteger), "group": f(32, 32, tInteger)}},
	"icmpv6": {name: "icmpv6", base: ruleset.BaseTransport, layer: 4, num: 58, fields: map[string]field{
		"type": f(0, 8, tICMP6Type), "code": f(8, 8, tICMP6Code), "checksum": f(16, 16, tInteger),
		"parameter-problem": f(32, 32, tInteger), "packet-too-big": f(32, 32, tInteger), "id": f(32, 16, tInteger),
		"sequence": f(48, 16, tInteger), "max-delay": f(32, 16, tInteger), "mtu": f(32, 32, tInteger)}},
	"tcp": {name: "tcp", base: ruleset.BaseTransport, layer: 4, num: 6, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService), "sequence": f(32, 32, tInteger),
		"ackseq": f(64, 32, tInteger), "doff": f(96, 4, tInteger), "reserved": f(100, 4, tInteger),
		"flags": f(104, 8, tTCPFlag), "window": f(112, 16, tInteger), "checksum": f(128, 16, tInteger),
		"urgptr": f(144, 16, tInteger)}},
	"udp": {name: "udp", base: ruleset.BaseTransport, layer: 4, num: 17, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService), "length": f(32, 16, tInteger), "checksum": f(48, 16, tInteger)}},
	"udplite": {name: "udplite", base: ruleset.BaseTransport, layer: 4, num: 136, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService), "csumcov": f(32, 16, tInteger), "checksum": f(48, 16, tInteger)}},
	"sctp": {name: "sctp", base: ruleset.BaseTransport, layer: 4, num: 132, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService), "vtag": f(32, 32, tInteger), "checksum": f(64, 32, tInteger)}},
	"dccp": {name: "dccp", base: ruleset.BaseTransport, layer: 4, num: 33, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService), "type": f(67, 4, tDCCPType)}},
	"ah": {name: "ah", base: ruleset.BaseTransport, layer: 4, num: 51, fields: map[string]field{
		"nexthdr": f(0, 8, tInetProto), "hdrlength": f(8, 8, tInteger), "reserved": f(16, 16, tInteger),
		"spi": f(32, 32, tInteger), "sequence": f(64, 32, tInteger)}},
	"esp": {name: "esp", base: ruleset.BaseTransport, layer: 4, num: 50, fields: map[string]field{
		"spi": f(0, 32, tInteger), "sequence": f(32, 32, tInteger)}},
	"comp": {name: "comp", base: ruleset.BaseTransport, layer: 4, num: 108, fields: map[string]field{
		"nexthdr": f(0, 8, tInetProto), "flags": f(8, 8, tInteger), "cpi": f(16, 16, tInteger)}},
	"th": {name: "th", base: ruleset.BaseTransport, layer: 0, fields: map[string]field{
		"sport": f(0, 16, tService), "dport": f(16, 16, tService)}},
}

// metaKeys maps nft meta key names to the kernel key, datatype, width and
// byte order. Ref: nftables src/meta.c — meta_templates.
type metaTmpl struct {
	key   ruleset.MetaKey
	dt    *dtype
	bits  int
	order byteOrder
}

var metaKeys = map[string]metaTmpl{
	"length":    {ruleset.MetaLen, tInteger, 32, hostEndian},
	"protocol":  {ruleset.MetaProtocol, tEthertype, 16, bigEndian},
	"priority":  {ruleset.MetaPriority, tClassid, 32, hostEndian},
	"mark":      {ruleset.MetaMark, tMark, 32, hostEndian},
	"iif":       {ruleset.MetaIif, tIfindex, 32, hostEndian},
	"iifname":   {ruleset.MetaIifname, tIfname, 128, hostEndian},
	"iiftype":   {ruleset.MetaIiftype, tArphrd, 16, hostEndian},
	"oif":       {ruleset.MetaOif, tIfindex, 32, hostEndian},
	"oifname":   {ruleset.MetaOifname, tIfname, 128, hostEndian},
	"oiftype":   {ruleset.MetaOiftype, tArphrd, 16, hostEndian},
	"skuid":     {ruleset.MetaSkuid, tUID, 32, hostEndian},
	"skgid":     {ruleset.MetaSkgid, tGID, 32, hostEndian},
	"nftrace":   {ruleset.MetaNftrace, tInteger, 1, hostEndian},
	"rtclassid": {ruleset.MetaRtclassid, tRealm, 32, hostEndian},
	"secmark":   {ruleset.MetaSecmark, tInteger, 32, hostEndian},
	"nfproto":   {ruleset.MetaNfproto, tNfproto, 8, hostEndian},
	"l4proto":   {ruleset.MetaL4proto, tInetProto, 8, hostEndian},
	"pkttype":   {ruleset.MetaPkttype, tPkttype, 8, hostEndian},
	"cpu":       {ruleset.MetaCPU, tInteger, 32, hostEndian},
	"iifgroup":  {ruleset.MetaIifgroup, tDevgroup, 32, hostEndian},
	"oifgroup":  {ruleset.MetaOifgroup, tDevgroup, 32, hostEndian},
	"cgroup":    {ruleset.MetaCgroup, tInteger, 32, hostEndian},
	"random":    {ruleset.MetaPrandom, tInteger, 32, bigEndian},
	"ipsec":     {ruleset.MetaSecpath, tBool, 8, hostEndian},
	"secpath":   {ruleset.MetaSecpath, tBool, 8, hostEndian},
	"iifkind":   {ruleset.MetaIifkind, tIfname, 128, hostEndian},
	"oifkind":   {ruleset.MetaOifkind, tIfname, 128, hostEndian},
	"ibrpvid":   {ruleset.MetaBriIifpvid, tInteger, 16, hostEndian},
	"ibrvproto": {ruleset.MetaBriIifvproto, tEthertype, 16, bigEndian},
	"ibrname":   {ruleset.MetaBriIifname, tIfname, 128, hostEndian},
	"obrname":   {ruleset.MetaBriOifname, tIfname, 128, hostEndian},
	"ibriport":  {ruleset.MetaBriIifname, tIfname, 128, hostEndian},
	"obriport":  {ruleset.MetaBriOifname, tIfname, 128, hostEndian},
	"time":      {ruleset.MetaTimeNS, tDate, 64, hostEndian},
	"day":       {ruleset.MetaTimeDay, tDay, 8, hostEndian},
	"hour":      {ruleset.MetaTimeHour, tHour, 32, hostEndian},
	"sdif":      {ruleset.MetaSdif, tIfindex, 32, hostEndian},
	"sdifname":  {ruleset.MetaSdifname, tIfname, 128, hostEndian},
	"broute":    {ruleset.MetaBriBroute, tBool, 8, hostEndian},
}

// shortMeta are the meta keys usable without the `meta` keyword.
var shortMeta = map[string]bool{"mark": true, "iif": true, "iifname": true, "iiftype": true, "oif": true,
	"oifname": true, "oiftype": true, "skuid": true, "skgid": true, "nftrace": true, "rtclassid": true,
	"ibriport": true, "obriport": true, "ibrname": true, "obrname": true, "pkttype": true, "cpu": true,
	"iifgroup": true, "oifgroup": true, "cgroup": true, "ipsec": true, "time": true, "day": true, "hour": true,
	"priority": true}

// ctKeys: key, datatype, width, order, whether a direction is allowed/required.
type ctTmpl struct {
	key   ruleset.CtKey
	dt    *dtype
	bits  int
	order byteOrder
	dir   int // 0 no direction, 1 optional, 2 required
}

var ctKeys = map[string]ctTmpl{
	"state":      {ruleset.CtState, tCtState, 32, hostEndian, 0},
	"direction":  {ruleset.CtDirection, tCtDir, 8, hostEndian, 0},
	"status":     {ruleset.CtStatus, tCtStatus, 32, hostEndian, 0},
	"mark":       {ruleset.CtMark, tMark, 32, hostEndian, 0},
	"secmark":    {ruleset.CtSecmark, tInteger, 32, hostEndian, 0},
	"expiration": {ruleset.CtExpiration, tTime, 32, hostEndian, 0},
	"helper":     {ruleset.CtHelper, tString, 128, hostEndian, 0},
	"l3proto":    {ruleset.CtL3Protocol, tNfproto, 8, hostEndian, 1},
	"saddr":      {ruleset.CtSrc, tIPv4, 32, bigEndian, 2},
	"daddr":      {ruleset.CtDst, tIPv4, 32, bigEndian, 2},
	"protocol":   {ruleset.CtProtocol, tInetProto, 8, bigEndian, 1},
	"proto-src":  {ruleset.CtProtoSrc, tInteger, 16, bigEndian, 2},
	"proto-dst":  {ruleset.CtProtoDst, tInteger, 16, bigEndian, 2},
	"label":      {ruleset.CtLabels, tCtLabel, 128, hostEndian, 0},
	"packets":    {ruleset.CtPkts, tInteger, 64, hostEndian, 1},
	"bytes":      {ruleset.CtBytes, tInteger, 64, hostEndian, 1},
	"avgpkt":     {ruleset.CtAvgpkt, tInteger, 64, hostEndian, 1},
	"zone":       {ruleset.CtZone, tInteger, 16, hostEndian, 1},
	"event":      {ruleset.CtEventmask, tCtEvent, 32, hostEndian, 0},
	"id":         {ruleset.CtID, tInteger, 32, bigEndian, 0},
}
