package replay

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/vm"
)

// LocalIface names the one interface of the local-mode host, as the kernel
// oracle's single tun device is named, so `iifname` rules written against
// the recorded scenarios match.
const LocalIface = "tun0"

// ParseIface parses --iface NAME=ADDR/PLEN[,ADDR/PLEN…]: the interface and
// the router's own addresses on it (their prefixes are reachable through it).
func ParseIface(s string) (vm.Iface, error) {
	name, addrs, ok := strings.Cut(s, "=")
	if !ok || name == "" || addrs == "" {
		return vm.Iface{}, fmt.Errorf("--iface %q: want NAME=ADDR/PLEN[,ADDR/PLEN...]", s)
	}
	ifc := vm.Iface{Name: name}
	for _, a := range strings.Split(addrs, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			return vm.Iface{}, fmt.Errorf("--iface %q: %v", s, err)
		}
		ifc.Prefix = append(ifc.Prefix, p)
	}
	return ifc, nil
}

// ParseRoute parses --route PREFIX@NAME or default@NAME (a default route
// for both IPv4 and IPv6, as the oracle's router has).
func ParseRoute(s string) ([]vm.Route, error) {
	pfx, name, ok := strings.Cut(s, "@")
	if !ok || name == "" || pfx == "" {
		return nil, fmt.Errorf("--route %q: want PREFIX@NAME or default@NAME", s)
	}
	if pfx == "default" {
		return []vm.Route{
			{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Iface: name},
			{Prefix: netip.MustParsePrefix("::/0"), Iface: name},
		}, nil
	}
	p, err := netip.ParsePrefix(pfx)
	if err != nil {
		return nil, fmt.Errorf("--route %q: %v", s, err)
	}
	return []vm.Route{{Prefix: p.Masked(), Iface: name}}, nil
}

// ParseLocal parses --local ADDR.
func ParseLocal(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("--local %q: %v", s, err)
	}
	return a, nil
}

// router decides where the replay injects each packet, the way the oracle
// writes it into the tun on its source's side: a packet from a local
// address is locally generated (Send); any other enters on the interface
// whose route covers its source (longest prefix first).
type router struct {
	local  []netip.Addr
	routes []vm.Route // longest prefix first
	single string     // local mode: the one interface
	// IPv4 copies of local and routes as 32-bit words: most captures are
	// IPv4, and a word compare is a few ns where netip's is tens.
	local4  []uint32
	routes4 []route4
}

type route4 struct {
	net, mask uint32
	iface     string
}

func newRouter(h vm.Host) (*router, error) {
	r := &router{}
	r.local = append(r.local, h.Local...)
	for _, ifc := range h.Ifaces {
		for _, p := range ifc.Prefix {
			r.local = append(r.local, p.Addr())
			r.routes = append(r.routes, vm.Route{Prefix: p.Masked(), Iface: ifc.Name})
		}
	}
	for _, rt := range h.Routes {
		found := false
		for _, ifc := range h.Ifaces {
			found = found || ifc.Name == rt.Iface
		}
		if !found {
			return nil, fmt.Errorf("--route %s@%s: no --iface named %q", rt.Prefix, rt.Iface, rt.Iface)
		}
		r.routes = append(r.routes, vm.Route{Prefix: rt.Prefix.Masked(), Iface: rt.Iface})
	}
	sort.SliceStable(r.routes, func(i, j int) bool { return r.routes[i].Prefix.Bits() > r.routes[j].Prefix.Bits() })
	if len(h.Ifaces) == 0 {
		r.single = LocalIface
	}
	for _, a := range r.local {
		if a.Is4() {
			b := a.As4()
			r.local4 = append(r.local4, binary.BigEndian.Uint32(b[:]))
		}
	}
	for _, rt := range r.routes {
		if a := rt.Prefix.Addr(); a.Is4() {
			b := a.As4()
			mask := ^uint32(0)
			if bits := rt.Prefix.Bits(); bits < 32 {
				mask = ^(^uint32(0) >> bits)
			}
			r.routes4 = append(r.routes4, route4{net: binary.BigEndian.Uint32(b[:]) & mask, mask: mask, iface: rt.Iface})
		}
	}
	return r, nil
}

// source returns the packet's source address without allocating.
func source(p *packet.Packet) (netip.Addr, bool) {
	b := p.Network()
	switch p.NFProto {
	case packet.NFProtoIPv4:
		if len(b) >= 20 {
			return netip.AddrFrom4([4]byte(b[12:16])), true
		}
	case packet.NFProtoIPv6:
		if len(b) >= 40 {
			return netip.AddrFrom16([16]byte(b[8:24])), true
		}
	}
	return netip.Addr{}, false
}

// ingress returns local=true for a locally generated packet, otherwise the
// interface it arrives on ("" when no route covers its source: the kernel
// would have no reverse path, and the vm's routing decides).
func (r *router) ingress(p *packet.Packet) (iface string, local bool) {
	if b := p.Network(); p.NFProto == packet.NFProtoIPv4 && len(b) >= 20 {
		s := binary.BigEndian.Uint32(b[12:16])
		for _, a := range r.local4 {
			if a == s {
				return "", true
			}
		}
		if r.single != "" {
			return r.single, false
		}
		for i := range r.routes4 {
			if s&r.routes4[i].mask == r.routes4[i].net {
				return r.routes4[i].iface, false
			}
		}
		return "", false
	}
	src, ok := source(p)
	if !ok {
		return r.single, false
	}
	for _, a := range r.local {
		if a == src {
			return "", true
		}
	}
	if r.single != "" {
		return r.single, false
	}
	for i := range r.routes {
		if r.routes[i].Prefix.Contains(src) {
			return r.routes[i].Iface, false
		}
	}
	return "", false
}
