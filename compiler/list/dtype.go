package list

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// byteorder says how a value sits in a register: packet fields are big
// endian, most meta/ct keys are host order (little endian on the x86 kernel
// the listings are taken from).
//
// Ref: nftables include/expression.h — enum byteorder
type byteorder uint8

const (
	boBig byteorder = iota
	boHost
)

// dkind selects how a datatype prints its values.
type dkind uint8

const (
	kInteger  dkind = iota // decimal
	kHex                   // 0x%0Nx, N = 2 * size in bytes (mark)
	kHexPlain              // 0x%x without padding
	kIPv4
	kIPv6
	kString // quoted in text ("lo")
	kLLAddr // aa:bb:cc
	kSymbol // symbolic names, falling back to the base integer print
	kBitmask
	kVerdict
	kBoolean
	kTCHandle // meta priority: major:minor, root, none
	kIfindex  // 1 prints as "lo"
	kDate     // ns since the epoch, local time
	kHour     // seconds since midnight UTC, local time
	kTime     // relative time in ms: 1m30s
	kLabel    // ct label: a bit number
)

type sym struct {
	name string
	val  uint64
}

// dtype is an nft datatype: the number nft stores in NFTA_SET_KEY_TYPE, its
// name, width and how its values print.
//
// Ref: nftables src/datatype.c — struct datatype and the *_type tables
type dtype struct {
	num    uint32
	name   string
	desc   string
	bits   int
	order  byteorder
	kind   dkind
	syms   []sym
	hexsym bool // symbol fallback prints hex (ether type)
	quote  bool // symbols print quoted (devgroup, realm, day)
	prefix bool // DTYPE_F_PREFIX: masks print as /len
}

var (
	dtInvalid   = &dtype{num: 0, name: "invalid", kind: kInteger}
	dtVerdict   = &dtype{num: 1, name: "verdict", kind: kVerdict}
	dtNfproto   = &dtype{num: 2, name: "nf_proto", bits: 8, order: boHost, kind: kSymbol, syms: []sym{{"ipv4", 2}, {"ipv6", 10}}}
	dtBitmask   = &dtype{num: 3, name: "bitmask", kind: kBitmask}
	dtInteger   = &dtype{num: 4, name: "integer", kind: kInteger}
	dtString    = &dtype{num: 5, name: "string", kind: kString}
	dtLLAddr    = &dtype{num: 6, name: "ll_addr", kind: kLLAddr}
	dtIPv4      = &dtype{num: 7, name: "ipv4_addr", bits: 32, kind: kIPv4, prefix: true}
	dtIPv6      = &dtype{num: 8, name: "ipv6_addr", bits: 128, kind: kIPv6, prefix: true}
	dtEtherAddr = &dtype{num: 9, name: "ether_addr", bits: 48, kind: kLLAddr}
	dtEtherType = &dtype{num: 10, name: "ether_type", bits: 16, order: boBig, kind: kSymbol, hexsym: true,
		syms: []sym{{"ip", 0x0800}, {"arp", 0x0806}, {"ip6", 0x86dd}, {"8021q", 0x8100}, {"8021ad", 0x88a8}, {"vlan", 0x8100}}}
	dtArpOp = &dtype{num: 11, name: "arp_op", bits: 16, kind: kSymbol, syms: []sym{{"request", 1}, {"reply", 2},
		{"rrequest", 3}, {"rreply", 4}, {"inrequest", 8}, {"inreply", 9}, {"nak", 10}}}
	dtInetProto   = &dtype{num: 12, name: "inet_proto", bits: 8, kind: kSymbol, syms: protocolSyms}
	dtInetService = &dtype{num: 13, name: "inet_service", bits: 16, kind: kInteger}
	dtICMPType    = &dtype{num: 14, name: "icmp_type", bits: 8, kind: kSymbol, syms: []sym{
		{"echo-reply", 0}, {"destination-unreachable", 3}, {"source-quench", 4}, {"redirect", 5},
		{"echo-request", 8}, {"router-advertisement", 9}, {"router-solicitation", 10}, {"time-exceeded", 11},
		{"parameter-problem", 12}, {"timestamp-request", 13}, {"timestamp-reply", 14}, {"info-request", 15},
		{"info-reply", 16}, {"address-mask-request", 17}, {"address-mask-reply", 18}}}
	dtTCPFlag = &dtype{num: 15, name: "tcp_flag", bits: 8, kind: kBitmask, syms: []sym{
		{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08}, {"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80}}}
	dtDCCPType = &dtype{num: 16, name: "dccp_pkttype", bits: 4, kind: kSymbol, syms: []sym{
		{"request", 0}, {"response", 1}, {"data", 2}, {"ack", 3}, {"dataack", 4}, {"closereq", 5},
		{"close", 6}, {"reset", 7}, {"sync", 8}, {"syncack", 9}}}
	dtTime    = &dtype{num: 18, name: "time", bits: 64, order: boHost, kind: kTime}
	dtMark    = &dtype{num: 19, name: "mark", bits: 32, order: boHost, kind: kHex, prefix: true}
	dtIfindex = &dtype{num: 20, name: "iface_index", bits: 32, order: boHost, kind: kIfindex}
	dtArphrd  = &dtype{num: 21, name: "iface_type", bits: 16, order: boHost, kind: kSymbol, syms: []sym{
		{"ether", 1}, {"ppp", 512}, {"ipip", 768}, {"ipip6", 769}, {"loopback", 772}, {"sit", 776}, {"ipgre", 778}}}
	dtRealm   = &dtype{num: 22, name: "realm", bits: 32, order: boHost, kind: kSymbol, quote: true, prefix: true, syms: []sym{{"cosmos", 0}}}
	dtClassid = &dtype{num: 23, name: "classid", bits: 32, order: boHost, kind: kTCHandle}
	dtUID     = &dtype{num: 24, name: "uid", bits: 32, order: boHost, kind: kInteger}
	dtGID     = &dtype{num: 25, name: "gid", bits: 32, order: boHost, kind: kInteger}
	dtCtState = &dtype{num: 26, name: "ct_state", bits: 32, order: boHost, kind: kBitmask, syms: []sym{
		{"invalid", 1}, {"established", 2}, {"related", 4}, {"new", 8}, {"untracked", 64}}}
	dtCtDir    = &dtype{num: 27, name: "ct_dir", bits: 8, order: boHost, kind: kSymbol, syms: []sym{{"original", 0}, {"reply", 1}}}
	dtCtStatus = &dtype{num: 28, name: "ct_status", bits: 32, order: boHost, kind: kBitmask, syms: []sym{
		{"expected", 1}, {"seen-reply", 2}, {"assured", 4}, {"confirmed", 8}, {"snat", 16}, {"dnat", 32}, {"dying", 512}}}
	dtICMP6Type = &dtype{num: 29, name: "icmpv6_type", bits: 8, kind: kSymbol, syms: []sym{
		{"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3}, {"parameter-problem", 4},
		{"echo-request", 128}, {"echo-reply", 129}, {"mld-listener-query", 130}, {"mld-listener-report", 131},
		{"mld-listener-done", 132}, {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},
		{"nd-router-advert", 134}, {"nd-neighbor-solicit", 135}, {"nd-neighbor-advert", 136},
		{"nd-redirect", 137}, {"router-renumbering", 138}, {"ind-neighbor-solicit", 141},
		{"ind-neighbor-advert", 142}, {"mld2-listener-report", 143}}}
	dtCtLabel = &dtype{num: 30, name: "ct_label", bits: 128, order: boHost, kind: kLabel}
	dtPkttype = &dtype{num: 31, name: "pkt_type", bits: 8, order: boHost, kind: kSymbol, syms: []sym{
		{"host", 0}, {"unicast", 0}, {"broadcast", 1}, {"multicast", 2}, {"other", 3}}}
	dtICMPCode = &dtype{num: 32, name: "icmp_code", bits: 8, kind: kSymbol, syms: []sym{
		{"net-unreachable", 0}, {"host-unreachable", 1}, {"prot-unreachable", 2}, {"port-unreachable", 3},
		{"frag-needed", 4}, {"net-prohibited", 9}, {"host-prohibited", 10}, {"admin-prohibited", 13}}}
	dtICMP6Code = &dtype{num: 33, name: "icmpv6_code", bits: 8, kind: kSymbol, syms: []sym{
		{"no-route", 0}, {"admin-prohibited", 1}, {"addr-unreachable", 3}, {"port-unreachable", 4},
		{"policy-fail", 5}, {"reject-route", 6}}}
	dtICMPXCode = &dtype{num: 34, name: "icmpx_code", bits: 8, kind: kSymbol, syms: []sym{
		{"no-route", 0}, {"port-unreachable", 1}, {"host-unreachable", 2}, {"admin-prohibited", 3}}}
	dtDevgroup = &dtype{num: 35, name: "devgroup", bits: 32, order: boHost, kind: kSymbol, quote: true, prefix: true, syms: []sym{{"default", 0}}}
	dtDSCP     = &dtype{num: 36, name: "dscp", bits: 6, kind: kSymbol, hexsym: true, syms: []sym{
		{"cs0", 0}, {"cs1", 8}, {"cs2", 16}, {"cs3", 24}, {"cs4", 32}, {"cs5", 40}, {"cs6", 48}, {"cs7", 56},
		{"df", 0}, {"be", 0}, {"lephb", 1}, {"af11", 10}, {"af12", 12}, {"af13", 14}, {"af21", 18}, {"af22", 20},
		{"af23", 22}, {"af31", 26}, {"af32", 28}, {"af33", 30}, {"af41", 34}, {"af42", 36}, {"af43", 38},
		{"va", 44}, {"ef", 46}}}
	dtECN = &dtype{num: 37, name: "ecn", bits: 2, kind: kSymbol, hexsym: true, syms: []sym{
		{"not-ect", 0}, {"ect1", 1}, {"ect0", 2}, {"ce", 3}}}
	dtBoolean = &dtype{num: 39, name: "boolean", bits: 1, kind: kBoolean}
	dtCtEvent = &dtype{num: 40, name: "ct_event", bits: 32, order: boHost, kind: kBitmask, syms: []sym{
		{"new", 1}, {"related", 2}, {"destroy", 4}, {"reply", 8}, {"assured", 16}, {"protoinfo", 32},
		{"helper", 64}, {"mark", 128}, {"seqadj", 256}, {"secmark", 512}, {"label", 1024}}}
	dtIfname = &dtype{num: 41, name: "ifname", bits: 128, order: boHost, kind: kString}
	dtIGMP   = &dtype{num: 42, name: "igmp_type", bits: 8, kind: kSymbol, syms: []sym{
		{"membership-query", 0x11}, {"membership-report-v1", 0x12}, {"membership-report-v2", 0x16},
		{"membership-report-v3", 0x22}, {"leave-group", 0x17}}}
	dtDate = &dtype{num: 43, name: "time", bits: 64, order: boHost, kind: kDate}
	dtHour = &dtype{num: 44, name: "hour", bits: 32, order: boHost, kind: kHour}
	dtDay  = &dtype{num: 45, name: "day", bits: 8, order: boHost, kind: kSymbol, quote: true, syms: []sym{
		{"Sunday", 0}, {"Monday", 1}, {"Tuesday", 2}, {"Wednesday", 3}, {"Thursday", 4}, {"Friday", 5}, {"Saturday", 6}}}
)

var dtByNum = map[uint32]*dtype{}
var dtByName = map[string]*dtype{}

func init() {
	for _, d := range []*dtype{dtInvalid, dtVerdict, dtNfproto, dtBitmask, dtInteger, dtString, dtLLAddr,
		dtIPv4, dtIPv6, dtEtherAddr, dtEtherType, dtArpOp, dtInetProto, dtInetService, dtICMPType,
		dtTCPFlag, dtMark, dtIfindex, dtArphrd, dtRealm, dtClassid, dtUID, dtGID, dtCtState, dtCtDir,
		dtCtStatus, dtICMP6Type, dtCtLabel, dtPkttype, dtICMPCode, dtICMP6Code, dtICMPXCode, dtDevgroup,
		dtDSCP, dtECN, dtBoolean, dtIfname, dtIGMP, dtDCCPType, dtTime, dtCtEvent, dtDate, dtHour, dtDay} {
		dtByNum[d.num] = d
		dtByName[d.name] = d
	}
}

// protocolSyms are the /etc/protocols names nft 1.0.6 prints through
// getprotobynumber (Debian netbase).
var protocolSyms = []sym{
	{"ip", 0}, {"icmp", 1}, {"igmp", 2}, {"ggp", 3}, {"ipencap", 4}, {"st", 5}, {"tcp", 6}, {"egp", 8},
	{"igp", 9}, {"pup", 12}, {"udp", 17}, {"hmp", 20}, {"xns-idp", 22}, {"rdp", 27}, {"iso-tp4", 29},
	{"dccp", 33}, {"xtp", 36}, {"ddp", 37}, {"idpr-cmtp", 38}, {"ipv6", 41}, {"ipv6-route", 43},
	{"ipv6-frag", 44}, {"idrp", 45}, {"rsvp", 46}, {"gre", 47}, {"esp", 50}, {"ah", 51}, {"skip", 57},
	{"ipv6-icmp", 58}, {"ipv6-nonxt", 59}, {"ipv6-opts", 60}, {"rspf", 73}, {"vmtp", 81}, {"eigrp", 88},
	{"ospf", 89}, {"ax.25", 93}, {"ipip", 94}, {"etherip", 97}, {"encap", 98}, {"pim", 103},
	{"ipcomp", 108}, {"vrrp", 112}, {"l2tp", 115}, {"isis", 124}, {"sctp", 132}, {"fc", 133},
	{"mobility-header", 135}, {"udplite", 136}, {"mpls-in-ip", 137}, {"manet", 138}, {"hip", 139},
	{"shim6", 140}, {"wesp", 141}, {"rohc", 142}, {"ethernet", 143},
}

// concatType is the datatype of a concatenation key: its parts in order.
type concatType struct{ parts []*dtype }

// typeFromName resolves a set key/data type spelling ("ipv4_addr",
// "ipv4_addr . inet_service"). Unknown names become integers.
func typesFromName(s string) []*dtype {
	var out []*dtype
	for _, p := range strings.Split(s, ".") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if d, ok := dtByName[p]; ok {
			out = append(out, d)
		} else {
			out = append(out, &dtype{name: p, kind: kInteger})
		}
	}
	return out
}

// typesFromNum unpacks a kernel key type: concatenations pack each part's
// type in 6 bits, first part in the highest bits.
//
// Ref: nftables src/datatype.c — concat_type_alloc (TYPE_BITS 6)
func typesFromNum(n uint32, nparts int) []*dtype {
	if nparts <= 1 {
		if d, ok := dtByNum[n]; ok {
			return []*dtype{d}
		}
		return []*dtype{dtInteger}
	}
	out := make([]*dtype, nparts)
	for i := nparts - 1; i >= 0; i-- {
		d, ok := dtByNum[n&0x3f]
		if !ok {
			d = dtInteger
		}
		out[i] = d
		n >>= 6
	}
	return out
}

// toUint reads up to 8 bytes of register data as a number in the given
// byte order.
func toUint(b []byte, o byteorder) uint64 {
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var buf [8]byte
	if o == boHost {
		copy(buf[:], b)
		return binary.LittleEndian.Uint64(buf[:])
	}
	copy(buf[8-len(b):], b)
	return binary.BigEndian.Uint64(buf[:])
}

func symName(syms []sym, v uint64) (string, bool) {
	for _, s := range syms {
		if s.val == v {
			return s.name, true
		}
	}
	return "", false
}

// bitNames splits a bitmask value into its flag names, lowest bit first;
// ok is false when a bit has no name.
func bitNames(d *dtype, v uint64) ([]string, bool) {
	var names []string
	ss := append([]sym(nil), d.syms...)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].val < ss[j].val })
	rest := v
	for _, s := range ss {
		if s.val != 0 && v&s.val == s.val && rest&s.val != 0 {
			names = append(names, s.name)
			rest &^= s.val
		}
	}
	return names, rest == 0
}

// pmode carries the output flags that change how constants print.
type pmode struct {
	numeric bool // NFT_CTX_OUTPUT_NUMERIC_ALL (inside ranges)
	orList  bool // bitmask values as `syn | ack` (set elements, masks)
	// commaList: bitmask values as `new,related` (statement arguments)
	commaList bool
}

// valueText prints one constant of datatype d as nft list does.
//
// Ref: nftables src/datatype.c — integer_type_print, ipaddr_type_print,
// ip6addr_type_print, symbolic_constant_print, string_type_print,
// time_print; src/meta.c — tchandle_type_print, date_type_print,
// hour_type_print
func valueText(d *dtype, data []byte, o byteorder, bits int, m pmode) string {
	switch d.kind {
	case kIPv4:
		if len(data) >= 4 {
			a, _ := netip.AddrFromSlice(data[:4])
			return a.String()
		}
	case kIPv6:
		if len(data) >= 16 {
			return ip6String(data[:16])
		}
	case kString:
		return stringText(data)
	case kLLAddr:
		parts := make([]string, len(data))
		for i, c := range data {
			parts[i] = fmt.Sprintf("%02x", c)
		}
		return strings.Join(parts, ":")
	case kHex:
		w := (bits + 3) / 4
		if w == 0 {
			w = 2 * len(data)
		}
		return fmt.Sprintf("0x%0*x", w, toUint(data, o))
	case kHexPlain:
		if len(data) > 8 {
			return bigHex(data, o)
		}
		return fmt.Sprintf("0x%x", toUint(data, o))
	case kLabel:
		if n, ok := singleBit(data, o); ok {
			return strconv.Itoa(n)
		}
		return bigHex(data, o)
	case kSymbol:
		v := toUint(data, o)
		if n, ok := symName(d.syms, v); ok && !m.numeric {
			if d.quote {
				return "\"" + n + "\""
			}
			return n
		}
		if d.hexsym {
			return fmt.Sprintf("0x%0*x", (bits+3)/4, v)
		}
		return strconv.FormatUint(v, 10)
	case kBitmask:
		v := toUint(data, o)
		if n, ok := symName(d.syms, v); ok {
			return n
		}
		if names, ok := bitNames(d, v); ok && len(names) > 0 && m.orList {
			return strings.Join(names, " | ")
		}
		if names, ok := bitNames(d, v); ok && len(names) > 0 && m.commaList {
			return strings.Join(names, ",")
		}
		return fmt.Sprintf("0x%x", v)
	case kBoolean:
		if toUint(data, o) != 0 {
			return "exists"
		}
		return "missing"
	case kTCHandle:
		v := uint32(toUint(data, o))
		switch v {
		case 0xffffffff:
			return "root"
		case 0:
			return "none"
		}
		return fmt.Sprintf("%x:%x", v>>16, v&0xffff)
	case kIfindex:
		v := toUint(data, o)
		if v == 1 && !m.numeric {
			return "\"lo\""
		}
		return strconv.FormatUint(v, 10)
	case kDate:
		ns := toUint(data, o)
		t := time.Unix(int64(ns/1e9), 0).In(localZone())
		return "\"" + t.Format("2006-01-02 15:04:05") + "\""
	case kHour:
		s := toUint(data, o)
		_, off := time.Now().In(localZone()).Zone()
		s = uint64((int64(s) + int64(off)) % 86400)
		if int64(s) < 0 {
			s += 86400
		}
		r := fmt.Sprintf("\"%02d:%02d", s/3600, s/60%60)
		if s%60 != 0 {
			r += fmt.Sprintf(":%02d", s%60)
		}
		return r + "\""
	case kTime:
		if m.numeric {
			return strconv.FormatUint(toUint(data, o)/1000, 10) + "s"
		}
		return timeText(toUint(data, o))
	}
	if len(data) > 8 {
		return bigHex(data, o)
	}
	return strconv.FormatUint(toUint(data, o), 10)
}

// bigHex prints a value wider than 64 bits as 0x… without leading zeros.
func bigHex(data []byte, o byteorder) string {
	if o == boHost {
		data = reverse(data)
	}
	h := strings.TrimLeft(fmt.Sprintf("%x", data), "0")
	if h == "" {
		h = "0"
	}
	return "0x" + h
}

// localZone is the zone nft's localtime() would use: Go ignores POSIX TZ
// strings such as the corpus's TZ=UTC-2, so those are parsed here (the
// sign is inverted: UTC-2 is two hours east).
func localZone() *time.Location {
	tz := os.Getenv("TZ")
	if tz == "" {
		return time.Local
	}
	if l, err := time.LoadLocation(tz); err == nil {
		return l
	}
	i := 0
	for i < len(tz) && (tz[i] >= 'A' && tz[i] <= 'Z' || tz[i] >= 'a' && tz[i] <= 'z') {
		i++
	}
	if i < 3 || i == len(tz) {
		return time.Local
	}
	sign := 1
	rest := tz[i:]
	switch rest[0] {
	case '-':
		sign = -1
		rest = rest[1:]
	case '+':
		rest = rest[1:]
	}
	secs, mul := 0, 3600
	for _, part := range strings.SplitN(rest, ":", 3) {
		j := 0
		for j < len(part) && part[j] >= '0' && part[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(part[:j])
		if err != nil {
			return time.Local
		}
		secs += n * mul
		mul /= 60
		if j < len(part) {
			break
		}
	}
	return time.FixedZone(tz[:i], -sign*secs)
}

// stringText prints an interface name: NUL-padded, `*` for a prefix
// match is added by the caller, a literal `*` is escaped.
func stringText(data []byte) string {
	s := string(data)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return "\"" + strings.ReplaceAll(s, "*", "\\*") + "\""
}

// valueJSON is the libnftables JSON form of one constant: numbers for
// integer types, names or strings otherwise.
//
// Ref: nftables src/json.c — datatype_json, symbolic_constant_json
func valueJSON(d *dtype, data []byte, o byteorder, bits int, m pmode) any {
	switch d.kind {
	case kDate, kHour:
		return strings.Trim(valueText(d, data, o, bits, m), "\"")
	case kIfindex:
		// iface_index has a print function: JSON gets its text
		return strings.Trim(valueText(d, data, o, bits, m), "\"")
	case kInteger, kHex, kHexPlain, kTime:
		if d.kind == kTime {
			return toUint(data, o) / 1000
		}
		if len(data) <= 8 {
			return toUint(data, o)
		}
	case kSymbol:
		v := toUint(data, o)
		if n, ok := symName(d.syms, v); ok && !(m.numeric && d == dtInetProto) {
			return n
		}
		return v
	case kLabel:
		if n, ok := singleBit(data, o); ok {
			return n
		}
		return bigHex(data, o)
	case kBitmask:
		v := toUint(data, o)
		if n, ok := symName(d.syms, v); ok {
			return n
		}
		if names, ok := bitNames(d, v); ok && len(names) > 0 && m.orList {
			// a binop tree: {"|": [{"|": [a, b]}, c]}
			var t any = names[0]
			for _, n := range names[1:] {
				t = jobj{{"|", []any{t, n}}}
			}
			return t
		}
		if names, ok := bitNames(d, v); ok && len(names) > 0 && m.commaList {
			out := make([]any, len(names))
			for i, n := range names {
				out[i] = n
			}
			return out
		}
		return v
	case kString:
		s := string(data)
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return strings.ReplaceAll(s, "*", "\\*")
	case kBoolean:
		return toUint(data, o) != 0
	}
	return strings.Trim(valueText(d, data, o, bits, m), "\"")
}

// ip6String formats like glibc inet_ntop: the longest run of zero words
// becomes ::, and an address with six leading zero words (or five and
// ffff) keeps a dotted IPv4 tail.
func ip6String(b []byte) string {
	var w [8]uint16
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	best, bestLen := -1, 0
	for i := 0; i < 8; {
		if w[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && w[j] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j
	}
	if bestLen < 2 {
		best = -1
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if best >= 0 && i >= best && i < best+bestLen {
			if i == best {
				sb.WriteByte(':')
			}
			continue
		}
		if i != 0 {
			sb.WriteByte(':')
		}
		if i == 6 && best == 0 && (bestLen == 6 || bestLen == 5 && w[5] == 0xffff) {
			fmt.Fprintf(&sb, "%d.%d.%d.%d", b[12], b[13], b[14], b[15])
			break
		}
		fmt.Fprintf(&sb, "%x", w[i])
	}
	if best >= 0 && best+bestLen == 8 {
		sb.WriteByte(':')
	}
	return sb.String()
}

// singleBit returns the index of the only set bit of a value read in its
// byte order.
func singleBit(data []byte, o byteorder) (int, bool) {
	idx := -1
	for i, c := range data {
		for b := 0; b < 8; b++ {
			if c&(1<<uint(b)) == 0 {
				continue
			}
			if idx >= 0 {
				return 0, false
			}
			if o == boHost {
				idx = i*8 + b
			} else {
				idx = (len(data)-1-i)*8 + b
			}
		}
	}
	return idx, idx >= 0
}
