package compiler

// nft datatypes: how a symbol or number becomes bytes for a given key.
// Ref: nftables src/datatype.c, src/proto.c, src/meta.c, src/ct.c — the
// datatype tables (symbol_table, byte order, size, basetype).

import (
	"bufio"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

type byteOrder int

const (
	bigEndian byteOrder = iota
	hostEndian
)

type dkind int

const (
	kInt dkind = iota
	kString
	kIPv4
	kIPv6
	kEther
	kVerdict
	kBitmask
	kTime
	kBool
)

// dtype is one nft datatype (struct datatype).
type dtype struct {
	name  string
	id    uint32 // enum datatypes TYPE_*
	bits  int
	order byteOrder
	kind  dkind
	syms  map[string]uint64
	// symsOrder keeps bitmask names in bit order for error messages.
	desc string
}

func symtab(pairs ...any) map[string]uint64 {
	m := make(map[string]uint64, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i].(string)] = uint64(pairs[i+1].(int))
	}
	return m
}

var (
	tInteger   = &dtype{name: "integer", id: 4, order: hostEndian, kind: kInt}
	tIPv4      = &dtype{name: "ipv4_addr", id: 7, bits: 32, kind: kIPv4, desc: "IPv4 address"}
	tIPv6      = &dtype{name: "ipv6_addr", id: 8, bits: 128, kind: kIPv6, desc: "IPv6 address"}
	tEther     = &dtype{name: "ether_addr", id: 9, bits: 48, kind: kEther, desc: "Ethernet address"}
	tLLAddr    = &dtype{name: "ll_addr", id: 6, kind: kEther}
	tString    = &dtype{name: "string", id: 5, kind: kString}
	tIfname    = &dtype{name: "ifname", id: 41, bits: 128, kind: kString, desc: "network interface name"}
	tVerdict   = &dtype{name: "verdict", id: 1, kind: kVerdict}
	tMark      = &dtype{name: "mark", id: 19, bits: 32, order: hostEndian, kind: kInt, desc: "packet mark"}
	tTime      = &dtype{name: "time", id: 18, bits: 64, order: hostEndian, kind: kTime}
	tBool      = &dtype{name: "boolean", id: 39, bits: 1, order: hostEndian, kind: kBool, syms: symtab("exists", 1, "missing", 0, "true", 1, "false", 0)}
	tInetProto = &dtype{name: "inet_proto", id: 12, bits: 8, kind: kInt, desc: "Internet protocol"}
	tService   = &dtype{name: "inet_service", id: 13, bits: 16, kind: kInt, desc: "internet network service"}
	tNfproto   = &dtype{name: "nf_proto", id: 2, bits: 8, order: hostEndian, kind: kInt, syms: symtab("ipv4", 2, "ipv6", 10), desc: "netfilter protocol"}
	tEthertype = &dtype{name: "ether_type", id: 10, bits: 16, kind: kInt,
		syms: symtab("ip", 0x0800, "arp", 0x0806, "ip6", 0x86dd, "8021q", 0x8100, "8021ad", 0x88a8, "vlan", 0x8100), desc: "Ethernet protocol"}
	tCtState = &dtype{name: "ct_state", id: 26, bits: 32, order: hostEndian, kind: kBitmask,
		syms: symtab("invalid", 1, "established", 2, "related", 4, "new", 8, "untracked", 64), desc: "conntrack state"}
	tCtStatus = &dtype{name: "ct_status", id: 28, bits: 32, order: hostEndian, kind: kBitmask,
		syms: symtab("expected", 1, "seen-reply", 2, "assured", 4, "confirmed", 8, "snat", 0x10, "dnat", 0x20, "dying", 0x200), desc: "conntrack status"}
	tCtDir   = &dtype{name: "ct_dir", id: 27, bits: 8, order: hostEndian, kind: kInt, syms: symtab("original", 0, "reply", 1), desc: "conntrack direction"}
	tCtEvent = &dtype{name: "ct_event", id: 40, bits: 32, order: hostEndian, kind: kBitmask,
		syms: symtab("new", 1, "related", 2, "destroy", 4, "reply", 8, "assured", 16, "protoinfo", 32, "helper", 64, "mark", 128, "seqadj", 256, "secmark", 512, "label", 1024)}
	tCtLabel = &dtype{name: "ct_label", id: 30, bits: 128, order: hostEndian, kind: kBitmask}
	tTCPFlag = &dtype{name: "tcp_flag", id: 15, bits: 8, kind: kBitmask,
		syms: symtab("fin", 1, "syn", 2, "rst", 4, "psh", 8, "ack", 16, "urg", 32, "ecn", 64, "cwr", 128), desc: "TCP flag"}
	tICMPType = &dtype{name: "icmp_type", id: 14, bits: 8, kind: kInt, desc: "ICMP type",
		syms: symtab("echo-reply", 0, "destination-unreachable", 3, "source-quench", 4, "redirect", 5, "echo-request", 8,
			"router-advertisement", 9, "router-solicitation", 10, "time-exceeded", 11, "parameter-problem", 12,
			"timestamp-request", 13, "timestamp-reply", 14, "info-request", 15, "info-reply", 16,
			"address-mask-request", 17, "address-mask-reply", 18)}
	tICMP6Type = &dtype{name: "icmpv6_type", id: 29, bits: 8, kind: kInt, desc: "ICMPv6 type",
		syms: symtab("destination-unreachable", 1, "packet-too-big", 2, "time-exceeded", 3, "parameter-problem", 4,
			"echo-request", 128, "echo-reply", 129, "mld-listener-query", 130, "mld-listener-report", 131,
			"mld-listener-done", 132, "mld-listener-reduction", 132, "nd-router-solicit", 133, "nd-router-advert", 134,
			"nd-neighbor-solicit", 135, "nd-neighbor-advert", 136, "nd-redirect", 137, "router-renumbering", 138,
			"ind-neighbor-solicit", 141, "ind-neighbor-advert", 142, "mld2-listener-report", 143)}
	tICMPCode = &dtype{name: "icmp_code", id: 32, bits: 8, kind: kInt,
		syms: symtab("net-unreachable", 0, "host-unreachable", 1, "prot-unreachable", 2, "port-unreachable", 3,
			"frag-needed", 4, "net-prohibited", 9, "host-prohibited", 10, "admin-prohibited", 13), desc: "icmp code"}
	tICMP6Code = &dtype{name: "icmpv6_code", id: 33, bits: 8, kind: kInt,
		syms: symtab("no-route", 0, "admin-prohibited", 1, "addr-unreachable", 3, "port-unreachable", 4,
			"policy-fail", 5, "reject-route", 6), desc: "icmpv6 code"}
	tICMPXCode = &dtype{name: "icmpx_code", id: 34, bits: 8, kind: kInt,
		syms: symtab("no-route", 0, "port-unreachable", 1, "host-unreachable", 2, "admin-prohibited", 3), desc: "icmpx code"}
	tPkttype = &dtype{name: "pkt_type", id: 31, bits: 8, order: hostEndian, kind: kInt,
		syms: symtab("host", 0, "unicast", 0, "broadcast", 1, "multicast", 2, "other", 3), desc: "packet type"}
	tArphrd = &dtype{name: "iface_type", id: 21, bits: 16, order: hostEndian, kind: kInt,
		syms: symtab("ether", 1, "ppp", 512, "ipip", 768, "ipip6", 769, "loopback", 772, "sit", 776, "ipgre", 778), desc: "interface type"}
	tIfindex  = &dtype{name: "iface_index", id: 20, bits: 32, order: hostEndian, kind: kInt}
	tUID      = &dtype{name: "uid", id: 24, bits: 32, order: hostEndian, kind: kInt}
	tGID      = &dtype{name: "gid", id: 25, bits: 32, order: hostEndian, kind: kInt}
	tRealm    = &dtype{name: "realm", id: 22, bits: 32, order: hostEndian, kind: kInt, syms: symtab("default", 0, "cosmos", 0)}
	tClassid  = &dtype{name: "classid", id: 23, bits: 32, order: hostEndian, kind: kInt}
	tDevgroup = &dtype{name: "devgroup", id: 35, bits: 32, order: hostEndian, kind: kInt, syms: symtab("default", 0)}
	tDSCP     = &dtype{name: "dscp", id: 36, bits: 6, kind: kInt,
		syms: symtab("cs0", 0, "cs1", 8, "cs2", 16, "cs3", 24, "cs4", 32, "cs5", 40, "cs6", 48, "cs7", 56, "df", 0,
			"be", 0, "lephb", 1, "af11", 10, "af12", 12, "af13", 14, "af21", 18, "af22", 20, "af23", 22, "af31", 26,
			"af32", 28, "af33", 30, "af41", 34, "af42", 36, "af43", 38, "va", 44, "ef", 46)}
	tECN = &dtype{name: "ecn", id: 37, bits: 2, kind: kInt,
		syms: symtab("not-ect", 0, "ect1", 1, "ect0", 2, "ce", 3)}
	tARPOp = &dtype{name: "arp_op", id: 11, bits: 16, kind: kInt,
		syms: symtab("request", 1, "reply", 2, "rrequest", 3, "rreply", 4, "inrequest", 8, "inreply", 9, "nak", 10)}
	tDay     = &dtype{name: "day", id: 45, bits: 8, order: hostEndian, kind: kInt}
	tHour    = &dtype{name: "hour", id: 44, bits: 32, order: hostEndian, kind: kInt}
	tDate    = &dtype{name: "time", id: 43, bits: 64, order: hostEndian, kind: kInt}
	tFibAddr = &dtype{name: "fib_addrtype", id: 38, bits: 32, order: hostEndian, kind: kInt,
		syms: symtab("unspec", 0, "unicast", 1, "local", 2, "broadcast", 3, "anycast", 4, "multicast", 5,
			"blackhole", 6, "unreachable", 7, "prohibit", 8)}
	tIGMPType = &dtype{name: "igmp_type", id: 42, bits: 8, kind: kInt,
		syms: symtab("membership-query", 0x11, "membership-report-v1", 0x12, "membership-report-v2", 0x16,
			"membership-report-v3", 0x22, "leave-group", 0x17)}
	tMHType = &dtype{name: "mh_type", id: 17, bits: 8, kind: kInt,
		syms: symtab("binding-refresh-request", 0, "home-test-init", 1, "careof-test-init", 2, "home-test", 3,
			"careof-test", 4, "binding-update", 5, "binding-acknowledgement", 6, "binding-error", 7,
			"fast-binding-update", 8, "fast-binding-acknowledgement", 9, "fast-binding-advertisement", 10,
			"experimental-mobility-header", 11, "home-agent-switch-message", 12)}
	tDCCPType = &dtype{name: "dccp_pkttype", id: 16, bits: 4, kind: kInt,
		syms: symtab("request", 0, "response", 1, "data", 2, "ack", 3, "dataack", 4, "closereq", 5, "close", 6,
			"reset", 7, "sync", 8, "syncack", 9)}
)

// setTypes are the names `type …` accepts in set declarations.
var setTypes = map[string]*dtype{}

func init() {
	for _, t := range []*dtype{tIPv4, tIPv6, tEther, tIfname, tMark, tInetProto, tService, tNfproto, tEthertype,
		tCtState, tCtStatus, tCtDir, tCtEvent, tCtLabel, tTCPFlag, tICMPType, tICMP6Type, tICMPCode, tICMP6Code,
		tICMPXCode, tPkttype, tArphrd, tIfindex, tUID, tGID, tRealm, tClassid, tDevgroup, tDSCP, tECN, tARPOp,
		tDay, tHour, tFibAddr, tIGMPType, tMHType, tVerdict, tTime, tBool, tDCCPType} {
		setTypes[t.name] = t
	}
	setTypes["counter"] = nil
	setTypes["quota"] = nil
	setTypes["limit"] = nil
}

var (
	protoOnce   sync.Once
	protoByName map[string]uint64
	servOnce    sync.Once
	servByName  map[string]uint64
)

// protocols reads /etc/protocols, as getprotobyname does for nft.
func protocols() map[string]uint64 {
	protoOnce.Do(func() {
		protoByName = symtab("icmp", 1, "igmp", 2, "tcp", 6, "udp", 17, "dccp", 33, "ipv6", 41, "gre", 47,
			"esp", 50, "ah", 51, "ipv6-icmp", 58, "icmpv6", 58, "comp", 108, "ipcomp", 108, "sctp", 132, "udplite", 136)
		f, err := os.Open("/etc/protocols")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			n, err := strconv.ParseUint(fs[1], 10, 8)
			if err != nil {
				continue
			}
			for _, name := range append([]string{fs[0]}, fs[2:]...) {
				if _, ok := protoByName[name]; !ok {
					protoByName[name] = n
				}
			}
		}
	})
	return protoByName
}

// services reads /etc/services, as getaddrinfo's service lookup does.
func services() map[string]uint64 {
	servOnce.Do(func() {
		servByName = symtab("ssh", 22, "http", 80, "https", 443, "domain", 53, "ftp", 21, "ftp-data", 20,
			"telnet", 23, "smtp", 25, "ntp", 123)
		f, err := os.Open("/etc/services")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			pp := strings.SplitN(fs[1], "/", 2)
			n, err := strconv.ParseUint(pp[0], 10, 16)
			if err != nil {
				continue
			}
			for _, name := range append([]string{fs[0]}, fs[2:]...) {
				if _, ok := servByName[name]; !ok {
					servByName[name] = n
				}
			}
		}
	})
	return servByName
}

// parseUint parses nft's decimal or 0x-hex integers.
func parseUint(s string) (*big.Int, bool) {
	n := new(big.Int)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		_, ok := n.SetString(s[2:], 16)
		return n, ok && len(s) > 2
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
	}
	_, ok := n.SetString(s, 10)
	return n, ok
}

// encodeInt writes v into nbytes in the given order.
func encodeInt(v *big.Int, nbytes int, order byteOrder) []byte {
	out := make([]byte, nbytes)
	be := v.Bytes()
	if len(be) > nbytes {
		be = be[len(be)-nbytes:]
	}
	copy(out[nbytes-len(be):], be)
	if order == hostEndian {
		for i, j := 0, nbytes-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func encodeU64(v uint64, nbytes int, order byteOrder) []byte {
	return encodeInt(new(big.Int).SetUint64(v), nbytes, order)
}

// valueError is a datatype error at a term, reported by the caller with
// the term's location.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func errf(format string, a ...any) error { return &valueError{fmt.Sprintf(format, a...)} }

// parseValue turns one symbol into the bytes of a key of type t and the
// given width in bits, in t's byte order.
func parseValue(t *dtype, bits int, order byteOrder, s string, quoted bool) ([]byte, error) {
	nbytes := (bits + 7) / 8
	switch t.kind {
	case kIPv4:
		a, err := netip.ParseAddr(s)
		if err == nil && !a.Is4() {
			// getaddrinfo(AF_INET) of an IPv6 literal: EAI_ADDRFAMILY
			return nil, errf("Could not resolve hostname: Address family for hostname not supported")
		}
		if err != nil {
			return nil, errf("Could not resolve hostname: Name or service not known")
		}
		b := a.As4()
		return b[:], nil
	case kIPv6:
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		a, err := netip.ParseAddr(s)
		if err == nil && a.Is4() {
			return nil, errf("Could not resolve hostname: Address family for hostname not supported")
		}
		if err != nil {
			return nil, errf("Could not resolve hostname: Name or service not known")
		}
		b := a.As16()
		return b[:], nil
	case kEther:
		parts := strings.Split(s, ":")
		if len(parts) != nbytes && nbytes != 0 || len(parts) < 2 {
			return nil, errf("Could not parse %s", orDesc(t))
		}
		out := make([]byte, len(parts))
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 16, 8)
			if err != nil {
				return nil, errf("Could not parse %s", orDesc(t))
			}
			out[i] = byte(v)
		}
		return out, nil
	case kString:
		if nbytes == 0 {
			nbytes = len(s)
		}
		if len(s) > nbytes {
			return nil, errf("String exceeds maximum length of %d", nbytes)
		}
		out := make([]byte, nbytes)
		copy(out, s)
		return out, nil
	}
	if t.syms != nil {
		if v, ok := t.syms[s]; ok {
			return encodeU64(v, nbytes, order), nil
		}
	}
	switch t {
	case tInetProto:
		if v, ok := protocols()[s]; ok {
			return encodeU64(v, nbytes, order), nil
		}
	case tService:
		if v, ok := services()[s]; ok {
			return encodeU64(v, nbytes, order), nil
		}
	}
	n, ok := parseUint(s)
	if !ok {
		if t.kind == kInt && t != tInteger && t.desc != "" {
			return nil, errf("Could not parse %s", t.desc)
		}
		return nil, errf("Could not parse %s", orDesc(t))
	}
	if n.BitLen() > bits && bits > 0 {
		max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
		return nil, errf("Value %s exceeds valid range 0-%s", s, max)
	}
	return encodeInt(n, nbytes, order), nil
}

func orDesc(t *dtype) string {
	if t.desc != "" {
		return t.desc
	}
	return t.name
}
