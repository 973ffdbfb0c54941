package vm

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"

	"github.com/nftgo/nftgo/packet"
)

// iface is a device of the modelled host.
type iface struct {
	name  string
	idx   int
	nameB [16]byte // IFNAMSIZ, NUL-padded, as meta iifname loads it
	addrs []netip.Addr
	// ingress and egress are the device's netdev (and inet ingress) hook
	// entries in priority order.
	ingress, egress []hookEntry
	// br is the bridge this device is a port of (nil for none).
	br *bridgeDev
}

func (i *iface) index() int {
	if i == nil {
		return 0
	}
	return i.idx
}

func (i *iface) nameBytes() []byte {
	if i == nil {
		return zeroName[:]
	}
	return i.nameB[:]
}

type route struct {
	prefix netip.Prefix
	dev    *iface
}

// host is the routing view: local addresses and routes, longest prefix
// first (fib lookup).
type host struct {
	ifaces []*iface
	byName map[string]*iface
	lo     *iface
	// Local addresses: a handful, so a scan beats a map.
	local4 [][4]byte
	local6 [][16]byte
	// local4w holds local4 as big-endian words: the per-packet test is a
	// word compare, not a 4-byte string compare (~12 ns a packet less).
	local4w []uint32
	bcast4  []uint32 // directed broadcasts of connected prefixes
	// special4 is local4w and bcast4 together: an IPv4 packet whose
	// addresses are none of them (nor 0/8, 127/8, class D/E) is plain
	// unicast to route, and plain4 tells so in one pass.
	special4 []uint32
	routes   []route
	// The same routes by family as raw words, longest prefix first, for
	// the per-packet lookup.
	r4 []route4
	r6 []route6
}

type route4 struct {
	net, mask uint32
	dev       *iface
}

type route6 struct {
	net  [16]byte
	bits int
	dev  *iface
}

// localIfaceName is the one interface of a host given only local
// addresses, as the kernel oracle's local mode names it.
const localIfaceName = "tun0"

func newHost(h Host) (host, error) {
	var hm host
	hm.byName = map[string]*iface{}
	add := func(name string, idx int) (*iface, error) {
		if len(name) >= 16 || name == "" {
			return nil, fmt.Errorf("vm: bad interface name %q", name)
		}
		if hm.byName[name] != nil {
			return nil, fmt.Errorf("vm: interface %q declared twice", name)
		}
		i := &iface{name: name, idx: idx}
		copy(i.nameB[:], name)
		hm.ifaces = append(hm.ifaces, i)
		hm.byName[name] = i
		return i, nil
	}
	hm.lo, _ = add("lo", 1)
	hm.addLocal(hm.lo, netip.MustParseAddr("::1"))
	hm.routes = append(hm.routes, route{netip.MustParsePrefix("127.0.0.0/8"), hm.lo}, route{netip.MustParsePrefix("::1/128"), hm.lo})
	next := 2
	ifs := h.Ifaces
	if len(ifs) == 0 {
		ifs = []Iface{{Name: localIfaceName}}
		for _, a := range h.Local {
			ifs[0].Prefix = append(ifs[0].Prefix, netip.PrefixFrom(a, a.BitLen()))
		}
		h.Routes = append([]Route{{netip.MustParsePrefix("0.0.0.0/0"), localIfaceName}, {netip.MustParsePrefix("::/0"), localIfaceName}}, h.Routes...)
	} else {
		for _, a := range h.Local {
			hm.addLocal(nil, a)
		}
	}
	for _, f := range ifs {
		idx := f.Index
		if idx == 0 {
			idx = next
		}
		next = idx + 1
		i, err := add(f.Name, idx)
		if err != nil {
			return hm, err
		}
		for _, p := range f.Prefix {
			hm.addLocal(i, p.Addr())
			hm.routes = append(hm.routes, route{p.Masked(), i})
			if a := p.Addr(); a.Is4() && p.Bits() < 31 {
				b := a.As4()
				hm.bcast4 = append(hm.bcast4, binary.BigEndian.Uint32(b[:])|^uint32(0)>>p.Bits())
			}
		}
	}
	for _, r := range h.Routes {
		i := hm.byName[r.Iface]
		if i == nil {
			return hm, fmt.Errorf("vm: route %s via unknown interface %q", r.Prefix, r.Iface)
		}
		hm.routes = append(hm.routes, route{r.Prefix.Masked(), i})
	}
	if err := hm.addBridges(h.Bridges); err != nil {
		return hm, err
	}
	hm.special4 = append(append(hm.special4, hm.local4w...), hm.bcast4...)
	sort.SliceStable(hm.routes, func(a, b int) bool { return hm.routes[a].prefix.Bits() > hm.routes[b].prefix.Bits() })
	for _, r := range hm.routes {
		a := r.prefix.Addr()
		if a.Is4() {
			b := a.As4()
			var mask uint32
			if r.prefix.Bits() > 0 {
				mask = ^uint32(0) << (32 - r.prefix.Bits())
			}
			hm.r4 = append(hm.r4, route4{binary.BigEndian.Uint32(b[:]) & mask, mask, r.dev})
		} else {
			hm.r6 = append(hm.r6, route6{a.As16(), r.prefix.Bits(), r.dev})
		}
	}
	return hm, nil
}

func (h *host) addLocal(i *iface, a netip.Addr) {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		h.local4 = append(h.local4, b)
		h.local4w = append(h.local4w, binary.BigEndian.Uint32(b[:]))
	} else {
		h.local6 = append(h.local6, a.As16())
	}
	if i != nil {
		i.addrs = append(i.addrs, a)
	}
}

// lookup4 and lookup6 are the fib lookup on raw addresses.
func (h *host) lookup4(a []byte) *iface {
	v := binary.BigEndian.Uint32(a)
	for i := range h.r4 {
		if v&h.r4[i].mask == h.r4[i].net {
			return h.r4[i].dev
		}
	}
	return nil
}

func (h *host) lookup6(a []byte) *iface {
	for i := range h.r6 {
		r := &h.r6[i]
		n := r.bits / 8
		if string(a[:n]) != string(r.net[:n]) {
			continue
		}
		if rem := r.bits % 8; rem != 0 && (a[n]^r.net[n])&(0xff<<(8-rem)) != 0 {
			continue
		}
		return r.dev
	}
	return nil
}

// route looks up a packet address (4 or 16 bytes).
func (h *host) route(a []byte) *iface {
	if len(a) == 4 {
		return h.lookup4(a)
	}
	return h.lookup6(a)
}

// plain4 reports IPv4 addresses (4 bytes each) that classify answers
// routeUnicast for and local answers false for, without either walk: the
// forwarded packet's common case. Any other pair takes the full checks.
func (h *host) plain4(src, dst []byte) bool {
	s, d := binary.BigEndian.Uint32(src), binary.BigEndian.Uint32(dst)
	if a := s >> 24; a == 0 || a == 127 || a >= 224 {
		return false
	}
	if a := d >> 24; a == 0 || a == 127 || a >= 224 {
		return false
	}
	for _, v := range h.special4 {
		if v == s || v == d {
			return false
		}
	}
	return true
}

// local reports a local (or loopback) address given as packet bytes.
func (h *host) local(a []byte) bool {
	if len(a) == 4 {
		if a[0] == 127 {
			return true
		}
		w := binary.BigEndian.Uint32(a)
		for _, l := range h.local4w {
			if l == w {
				return true
			}
		}
		return false
	}
	for _, l := range h.local6 {
		if string(l[:]) == string(a) {
			return true
		}
	}
	return false
}

// rawAddrs returns the packet's source and destination address bytes.
func rawAddrs(p *packet.Packet) (src, dst []byte) {
	b := p.Network()
	switch p.NFProto {
	case packet.NFProtoIPv4:
		if len(b) >= 20 {
			return b[12:16], b[16:20]
		}
	case packet.NFProtoIPv6:
		if len(b) >= 40 {
			return b[8:24], b[24:40]
		}
	}
	return nil, nil
}

// addrs returns the packet's source and destination addresses.
func addrs(p *packet.Packet) (src, dst netip.Addr, ok bool) {
	b := p.Network()
	switch p.NFProto {
	case packet.NFProtoIPv4:
		if len(b) >= 20 {
			return netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), true
		}
	case packet.NFProtoIPv6:
		if len(b) >= 40 {
			return netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), true
		}
	}
	return src, dst, false
}

// Route classes for what is not plain unicast.
const (
	routeUnicast = iota
	routeLocal
	routeDrop
)

// classify handles the addresses ip_route_input_slow and ip6_rcv_finish
// treat specially: limited and directed broadcast go to input; multicast
// is delivered only for groups every host joins (224.0.0.1, IGMP; ff02::1
// and the solicited-node groups of local addresses) and never forwarded
// (no multicast routing); martian sources and link-local addresses are not
// forwarded.
//
// Ref: net/ipv4/route.c — ip_route_input_slow, ip_route_input_mc;
// net/ipv6/ip6_input.c — ip6_mc_input; net/ipv6/ip6_output.c — ip6_forward.
func (h *host) classify(p *packet.Packet, src, dst []byte) int {
	if len(dst) == 4 {
		bc := h.broadcast4(dst)
		if src[0] >= 224 || (binary.BigEndian.Uint32(src) == 0 && !bc) {
			return routeDrop
		}
		switch {
		case bc:
			return routeLocal
		case dst[0]&0xf0 == 0xe0:
			if binary.BigEndian.Uint32(dst) == 0xe0000001 || (p.HasL4 && p.L4Proto == packet.ProtoIGMP) {
				return routeLocal
			}
			return routeDrop
		}
		return routeUnicast
	}
	if src[0] == 0xff {
		return routeDrop
	}
	if dst[0] == 0xff {
		if dst[1]&0x0f <= 2 && string(dst[2:15]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" && (dst[15] == 1 || dst[15] == 2) {
			return routeLocal // all nodes; all routers (joined with forwarding on)
		}
		if dst[1] == 0x02 && string(dst[2:11]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00" && dst[11] == 1 && dst[12] == 0xff {
			for _, l := range h.local6 {
				if l[13] == dst[13] && l[14] == dst[14] && l[15] == dst[15] {
					return routeLocal
				}
			}
		}
		return routeDrop
	}
	if (dst[0] == 0xfe && dst[1]&0xc0 == 0x80 || src[0] == 0xfe && src[1]&0xc0 == 0x80) && !h.local(dst) {
		return routeDrop
	}
	return routeUnicast
}

// broadcast4 is 255.255.255.255 or the directed broadcast of a connected
// prefix shorter than /31.
func (h *host) broadcast4(a []byte) bool {
	v := binary.BigEndian.Uint32(a)
	if v == 0xffffffff {
		return true
	}
	for _, b := range h.bcast4 {
		if v == b {
			return true
		}
	}
	return false
}
