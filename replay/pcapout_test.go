package replay

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// TestWriteByFate replays a DNAT'ed SYN, a rejected SYN and a dropped UDP
// datagram and reads the two written captures back: the accepted one holds
// the SYN with its destination rewritten (as the lan side of a Linux router
// sees it: DNAT at prerouting, TTL decremented) and the RST the host sends
// in answer to the rejected SYN (tcp reset: from the SYN's destination to
// its source, nf_send_reset); the dropped one holds the two dropped packets.
func TestWriteByFate(t *testing.T) {
	const rs = `table ip t {
	chain pre { type nat hook prerouting priority dstnat; policy accept;
		ip daddr 203.0.113.20 tcp dport 80 dnat to 203.0.113.30
	}
	chain forward { type filter hook forward priority filter; policy accept;
		tcp dport 23 reject with tcp reset
		udp dport 53 drop
	}
}
`
	c, err := compiler.CompileSource("ruleset.nft", []byte(rs), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := testpkt.Sequence(time.Millisecond,
		testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.20", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000},
		testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.20", Proto: "tcp", Sport: 40001, Dport: 23, Flags: testpkt.SYN, Seq: 2000},
		testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.20", Proto: "udp", Sport: 40002, Dport: 53, Payload: []byte("q")},
	)
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	if err := testpkt.WritePcap(&in, recs); err != nil {
		t.Fatal(err)
	}
	capf, err := NewCapture(&in)
	if err != nil {
		t.Fatal(err)
	}
	var accBuf, dropBuf bytes.Buffer
	acc, err := NewPcapWriter(&accBuf, capf.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	drop, err := NewPcapWriter(&dropBuf, capf.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(c.Ruleset, Config{Host: forwardHost(t), Accepted: acc, Dropped: drop})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(capf); err != nil {
		t.Fatal(err)
	}
	if err := acc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := drop.Flush(); err != nil {
		t.Fatal(err)
	}
	type pkt struct {
		src, dst     string
		sport, dport uint16
		ttl, flags   uint8
	}
	read := func(b *bytes.Buffer) []pkt {
		c, err := NewCapture(b)
		if err != nil {
			t.Fatal(err)
		}
		var out []pkt
		for {
			data, _, lt, err := c.Next()
			if err != nil {
				break
			}
			var p packet.Packet
			if err := p.Decode(lt, data); err != nil {
				t.Fatalf("written frame does not decode: %v", err)
			}
			n := p.Network()
			s, _ := netip.AddrFromSlice(n[12:16])
			d, _ := netip.AddrFromSlice(n[16:20])
			th := p.Transport()
			q := pkt{src: s.String(), dst: d.String(), ttl: n[8], sport: uint16(th[0])<<8 | uint16(th[1]), dport: uint16(th[2])<<8 | uint16(th[3])}
			if n[9] == 6 {
				q.flags = th[13]
			}
			out = append(out, q)
		}
		return out
	}
	const ttl = 64 // testpkt's default
	wantAcc := []pkt{
		{"198.51.100.7", "203.0.113.30", 40000, 80, ttl - 1, 0x02},
		{"203.0.113.20", "198.51.100.7", 23, 40001, 0, 0x14}, // RST,ACK; TTL checked below
	}
	gotAcc := read(&accBuf)
	if len(gotAcc) == 2 {
		gotAcc[1].ttl = 0
	}
	if len(gotAcc) != len(wantAcc) || gotAcc[0] != wantAcc[0] || gotAcc[1] != wantAcc[1] {
		t.Errorf("accepted capture:\n got %+v\nwant %+v", gotAcc, wantAcc)
	}
	gotDrop := read(&dropBuf)
	if len(gotDrop) != 2 || gotDrop[0].dport != 23 || gotDrop[1].dport != 53 {
		t.Errorf("dropped capture: %+v, want the SYN to 23 and the datagram to 53", gotDrop)
	}
}

// TestWriteReplyEthernet: a reply framed for an Ethernet capture carries
// the original frame's addresses swapped.
func TestWriteReplyEthernet(t *testing.T) {
	ip := testpkt.MustBuild(testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.20", Proto: "udp", Sport: 1, Dport: 2})
	frame := append([]byte{1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00}, ip...)
	var p packet.Packet
	if err := p.Decode(packet.LinkEthernet, frame); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := NewPcapWriter(&b, packet.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteReply(0, packet.LinkEthernet, &p, ip); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	c, err := NewCapture(&b)
	if err != nil {
		t.Fatal(err)
	}
	data, _, lt, err := c.Next()
	if err != nil || lt != packet.LinkEthernet {
		t.Fatalf("read back: %v, link type %d", err, lt)
	}
	if !bytes.Equal(data[:14], []byte{2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x08, 0x00}) || !bytes.Equal(data[14:], ip) {
		t.Errorf("reply frame % x", data)
	}
}
