package ct

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

func a16(s string) [16]byte {
	a := netip.MustParseAddr(s)
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else {
		b = a.As16()
	}
	return b
}

// natRouter drives the nat hooks the way the vm does for a forwarded
// packet: conntrack at prerouting, the nat prerouting chain (dnat) for a
// connection whose DST manip is not set up, nf_nat_packet; then nat
// postrouting (null binding for SRC), nf_nat_packet, confirm.
func natRouter(t *testing.T, tab *Table, p *packet.Packet, now int64, dnat func(*Conn)) (*Conn, Info) {
	t.Helper()
	c, info, drop := tab.In(p, HookPrerouting, now)
	if drop || c == nil {
		t.Fatalf("conntrack: drop=%v ct=%v", drop, c)
	}
	if (info == New || info == Related || info == RelatedReply) && !NATInitialized(c, true) {
		dnat(c)
		if !NATInitialized(c, true) {
			tab.NullBinding(c, true)
		}
	}
	tab.Mangle(p, c, info, HookPrerouting)
	if (info == New || info == Related || info == RelatedReply) && !NATInitialized(c, false) {
		tab.NullBinding(c, false)
	}
	tab.Mangle(p, c, info, HookPostrouting)
	if tab.Confirm(c, info, now) {
		t.Fatal("confirm failed")
	}
	return c, info
}

// The nat-dnat scenario: wan host → router 198.51.100.254:8080 is sent to
// 203.0.113.80:80; the reply tuple shows the translation and the server's
// answers leave with the router's address. Expected bytes are built by
// gopacket from the rewritten headers, so addresses, ports and every
// checksum must match exactly (the kernel's egress in that scenario shows
// these headers).
func TestDNAT(t *testing.T) {
	const (
		client = "198.51.100.30"
		router = "198.51.100.254"
		server = "203.0.113.80"
	)
	tab := newTable(t)
	dnat := func(c *Conn) {
		if !tab.SetupNAT(c, true, a16(server), a16(server), 80, 80, NATMapIPs|NATProtoSpecified) {
			t.Fatal("SetupNAT refused")
		}
	}
	steps := []struct {
		in, out testpkt.Spec
	}{
		{tcp(client, router, 33000, 8080, "S", 100, 0, 0), tcp(client, server, 33000, 80, "S", 100, 0, 0)},
		{tcp(server, client, 80, 33000, "SA", 9000, 101, 0), tcp(router, client, 8080, 33000, "SA", 9000, 101, 0)},
		{tcp(client, router, 33000, 8080, "A", 101, 9001, 0), tcp(client, server, 33000, 80, "A", 101, 9001, 0)},
		{tcp(client, router, 33000, 8080, "PA", 101, 9001, 5), tcp(client, server, 33000, 80, "PA", 101, 9001, 5)},
		{tcp(server, client, 80, 33000, "PA", 9001, 106, 6), tcp(router, client, 8080, 33000, "PA", 9001, 106, 6)},
	}
	for i, s := range steps {
		p := pkt(t, s.in)
		natRouter(t, tab, p, sec(float64(i)*0.01), dnat)
		if want := testpkt.MustBuild(s.out); !bytes.Equal(p.Data, want) {
			t.Errorf("packet %d:\n got % x\nwant % x", i, p.Data, want)
		}
	}
	want := "tcp      6 299 ESTABLISHED src=198.51.100.30 dst=198.51.100.254 sport=33000 dport=8080 src=203.0.113.80 dst=198.51.100.30 sport=80 dport=33000 [ASSURED] mark=0 use=1\n"
	if got := list(t, tab, sec(0.5)); got != want {
		t.Errorf("got  %swant %s", got, want)
	}
	c := tab.Find(Tuple{Src: a16(server), Dst: a16(client), SrcPort: 80, DstPort: 33000, L3: 2, Proto: 6}, 0, sec(0.5))
	if c == nil || c.Status&(StatusDstNAT|StatusDstNATDone|StatusSrcNATDone) != StatusDstNAT|StatusDstNATDone|StatusSrcNATDone || c.Status&StatusSrcNAT != 0 {
		t.Errorf("status %#x", c.Status)
	}
}

// SNAT to one address: a second connection whose translated tuple would
// clash gets another source port; UDP checksums stay valid, ICMP ids are
// remapped the same way.
func TestSNATClash(t *testing.T) {
	tab := newTable(t)
	pub := a16("198.51.100.254")
	snat := func(p *packet.Packet) (*Conn, *packet.Packet) {
		c, info, _ := tab.In(p, HookPrerouting, sec(0))
		tab.NullBinding(c, true)
		if !tab.SetupNAT(c, false, pub, pub, 0, 0, NATMapIPs) {
			t.Fatal("SetupNAT refused")
		}
		tab.Mangle(p, c, info, HookPostrouting)
		tab.Confirm(c, info, sec(0))
		return c, p
	}
	c1, p1 := snat(pkt(t, udp("203.0.113.5", "192.0.2.1", 4000, 53)))
	c2, p2 := snat(pkt(t, udp("203.0.113.6", "192.0.2.1", 4000, 53)))
	if c1.Reply().DstPort != 4000 {
		t.Errorf("first flow port changed to %d", c1.Reply().DstPort)
	}
	p2port := c2.Reply().DstPort
	if p2port == 4000 || p2port < 1024 {
		t.Errorf("clashing flow got port %d", p2port)
	}
	for i, p := range []*packet.Packet{p1, p2} {
		if !l4ChecksumOK(p, p.Data[p.ThOff:], packet.ProtoUDP) || !plainChecksumOK(p.Data[:20]) {
			t.Errorf("packet %d: bad checksum after SNAT", i)
		}
	}
	want := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.254", Dst: "192.0.2.1", Proto: "udp", Sport: p2port, Dport: 53, Payload: []byte("q")})
	if !bytes.Equal(p2.Data, want) {
		t.Errorf("got % x\nwant % x", p2.Data, want)
	}
	if !strings.Contains(list(t, tab, sec(0)), "src=192.0.2.1 dst=198.51.100.254 sport=53 dport="+itoa(int(p2port))) {
		t.Errorf("listing lacks the remapped reply:\n%s", list(t, tab, sec(0)))
	}
	// A confirmed entry refuses a new binding.
	if tab.SetupNAT(c1, false, pub, pub, 0, 0, NATMapIPs) {
		t.Error("SetupNAT on a confirmed entry")
	}
}

// Masquerade: the reply addressed to the router finds the flow, even when
// the caller passes the address in a 16-byte form with bytes after the
// IPv4 address set (as netip.Addr.As16 leaves them).
func TestSNATReplyLookup(t *testing.T) {
	tab := newTable(t)
	pub := netip.MustParseAddr("198.51.100.254").As16()
	copy(pub[:4], pub[12:])
	p := pkt(t, udp("203.0.113.10", "198.51.100.53", 5000, 53))
	c, info, _ := tab.In(p, HookPrerouting, sec(0))
	if !tab.SetupNAT(c, false, pub, pub, 0, 0, NATMapIPs) {
		t.Fatal("SetupNAT refused")
	}
	tab.Mangle(p, c, info, HookPostrouting)
	tab.Confirm(c, info, sec(0))
	r := pkt(t, udp("198.51.100.53", "198.51.100.254", 53, 5000))
	c2, info2, _ := tab.In(r, HookPrerouting, sec(0.1))
	if c2 != c || info2 != EstablishedReply {
		t.Fatalf("reply: same entry %v, info %d", c2 == c, info2)
	}
	tab.Mangle(r, c2, info2, HookPrerouting)
	if want := testpkt.MustBuild(udp("198.51.100.53", "203.0.113.10", 53, 5000)); !bytes.Equal(r.Data, want) {
		t.Errorf("de-NATed reply:\n got % x\nwant % x", r.Data, want)
	}
}

// An ICMP error about a masqueraded flow, sent to the router's address,
// is translated back: outer destination to the client, and the quoted
// packet's source to the client's address and port, with every checksum
// redone; the unused ICMP header field stays zero. This is what kernel
// 6.18 forwarded in an oracle run (masquerade out of wan, port
// unreachable and time exceeded from wan hosts).
func TestNATICMPErrorTranslation(t *testing.T) {
	const client, server, router, hop = "203.0.113.10", "198.51.100.53", "198.51.100.254", "198.51.100.9"
	for _, tc := range []struct {
		name          string
		flow, natFlow testpkt.Spec
		from          string
		typ           uint8
	}{
		{"udp port unreachable", udp(client, server, 5000, 53), udp(router, server, 5000, 53), server, 3},
		{"tcp time exceeded", tcp(client, server, 40000, 80, "S", 100, 0, 0), tcp(router, server, 40000, 80, "S", 100, 0, 0), hop, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			pub := a16(router)
			p := pkt(t, tc.flow)
			c, info, _ := tab.In(p, HookPrerouting, sec(0))
			tab.SetupNAT(c, false, pub, pub, 0, 0, NATMapIPs)
			tab.Mangle(p, c, info, HookPostrouting)
			tab.Confirm(c, info, sec(0))
			e := icmp(tc.from, router, tc.typ, 0, 0)
			if tc.typ == 3 {
				e.Code = 3
			}
			e.Inner = &tc.natFlow
			ep := pkt(t, e)
			c2, info2, _ := tab.In(ep, HookPrerouting, sec(0.1))
			if c2 != c || info2 != RelatedReply {
				t.Fatalf("error not RELATED_REPLY to the flow: %v %d", c2 == c, info2)
			}
			if !tab.Mangle(ep, c2, info2, HookPrerouting) {
				t.Fatal("not translated")
			}
			tab.Mangle(ep, c2, info2, HookPostrouting)
			w := icmp(tc.from, client, tc.typ, e.Code, 0)
			w.Inner = &tc.flow
			if want := testpkt.MustBuild(w); !bytes.Equal(ep.Data, want) {
				t.Errorf("translated error:\n got % x\nwant % x", ep.Data, want)
			}
		})
	}
}
