package replay

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/vm"
)

// TestIngress: a packet enters on the interface whose longest matching
// prefix covers its source; one from a router address is locally sent. The
// IPv4 word path and the netip path must agree with that.
func TestIngress(t *testing.T) {
	var h vm.Host
	for _, s := range []string{"wan=198.51.100.254/24,2001:db8:1::fffe/64", "lan=203.0.113.254/24,2001:db8:2::fffe/64", "dmz=10.0.0.1/8"} {
		ifc, err := ParseIface(s)
		if err != nil {
			t.Fatal(err)
		}
		h.Ifaces = append(h.Ifaces, ifc)
	}
	for _, s := range []string{"default@wan", "10.1.2.0/30@lan"} {
		rts, err := ParseRoute(s)
		if err != nil {
			t.Fatal(err)
		}
		h.Routes = append(h.Routes, rts...)
	}
	r, err := newRouter(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src, dst, iface string
		local           bool
	}{
		{"198.51.100.7", "203.0.113.20", "wan", false},
		{"203.0.113.20", "198.51.100.7", "lan", false},
		{"10.9.9.9", "203.0.113.20", "dmz", false},
		{"10.1.2.3", "203.0.113.20", "lan", false}, // /30 beats /8
		{"10.1.2.4", "203.0.113.20", "dmz", false},
		{"192.0.2.1", "203.0.113.20", "wan", false}, // default route
		{"203.0.113.254", "198.51.100.7", "", true},
		{"2001:db8:2::5", "2001:db8:1::5", "lan", false},
		{"2001:db8:5::5", "2001:db8:2::5", "wan", false},
		{"2001:db8:1::fffe", "2001:db8:2::5", "", true},
	} {
		var p packet.Packet
		if err := p.Decode(packet.LinkRaw, testpkt.MustBuild(testpkt.Spec{Src: tc.src, Dst: tc.dst, Proto: "udp", Sport: 1, Dport: 2})); err != nil {
			t.Fatal(err)
		}
		iface, local := r.ingress(&p)
		if iface != tc.iface || local != tc.local {
			t.Errorf("from %s: ingress %q local %v, want %q %v", tc.src, iface, local, tc.iface, tc.local)
		}
	}
}
