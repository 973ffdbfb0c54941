package vm

import (
	"encoding/binary"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// fragments4 splits a built IPv4 packet's payload at the given 8-byte
// aligned cuts into fragments with valid headers.
func fragments4(t *testing.T, whole []byte, cuts ...int) [][]byte {
	t.Helper()
	ihl := int(whole[0]&0x0f) * 4
	pl := whole[ihl:]
	bounds := append(append([]int{0}, cuts...), len(pl))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		f := append(append([]byte(nil), whole[:ihl]...), pl[bounds[i]:bounds[i+1]]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		fo := uint16(bounds[i] / 8)
		if i+2 < len(bounds) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], csumFold(csumPartial(f[:ihl], 0)))
		out = append(out, f)
	}
	return out
}

// TestDefrag: with conntrack in use, fragments are stolen at -400 until
// the datagram is complete, then the whole datagram is tracked and matched
// (udp dport works although the UDP header came in another fragment).
func TestDefrag(t *testing.T) {
	whole := testpkt.MustBuild(testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "udp", Sport: 5000, Dport: 53, IPID: 77, Payload: make([]byte, 40)})
	frags := fragments4(t, whole, 16, 32)
	tb := table(ruleset.FamilyINet, "t",
		base("early", ruleset.HookPrerouting, -450, Acc, r(1, counter())),
		base("raw", ruleset.HookPrerouting, -300, Acc, r(2, counter())),
		base("f", ruleset.HookForward, 0, Drop,
			r(3, cat(metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), ctState(8), counter(), imm(Acc))...)))
	m := machineCT(t, routerHost(), nil, tb)
	order := []int{2, 0, 1}
	for i, fi := range order {
		p := new(packet.Packet)
		if err := p.Decode(packet.LinkRaw, append([]byte(nil), frags[fi]...)); err != nil {
			t.Fatal(err)
		}
		res := m.Receive(p, "lan", int64(1e9+i))
		if i < 2 {
			if res.Verdict != ruleset.VerdictStolen || res.KernelDrop != "defrag" {
				t.Errorf("fragment %d: %v %q, want stolen by defrag", fi, res.Verdict, res.KernelDrop)
			}
			continue
		}
		if decided(res) != "f:0" || res.Verdict != Acc {
			t.Errorf("completing fragment: %v by %s, want accept by f:0", res.Verdict, decided(res))
		}
		if p.Len() != len(whole) || p.FragOff != 0 || binary.BigEndian.Uint16(p.Network()[2:]) != uint16(len(whole)) {
			t.Errorf("reassembled datagram: len %d fragoff %d", p.Len(), p.FragOff)
		}
		if s := csumFold(csumPartial(p.Network()[:20], 0)); s != 0 {
			t.Errorf("reassembled IPv4 checksum off by %#x", s)
		}
	}
	snap := m.Snapshot(2e9)
	// As the kernel oracle counted for a 2-fragment datagram: -450 sees
	// every fragment, raw (-300) and forward the datagram once.
	counts := []uint64{3, 1}
	for i, want := range counts {
		if c := snap.Tables[0].Chains[i].Rules[0].Exprs[0].(*ruleset.Counter); c.Packets != want {
			t.Errorf("chain %d counter %d, want %d", i, c.Packets, want)
		}
	}
	if n := m.Conntrack().Count(); n != 1 {
		t.Errorf("%d conntrack entries, want 1", n)
	}
	// Without conntrack nothing is reassembled: a non-first fragment has
	// no transport header.
	m2 := newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("f", ruleset.HookForward, 0, Drop,
		r(1, metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), imm(Acc)))))
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkRaw, frags[1]); err != nil {
		t.Fatal(err)
	}
	if res := m2.Receive(p, "lan", 1); decided(res) != "f:policy" {
		t.Errorf("fragment without conntrack decided by %s", decided(res))
	}
}

// TestDefragOverlap: an overlapping fragment discards the datagram.
func TestDefragOverlap(t *testing.T) {
	whole := testpkt.MustBuild(testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "udp", Sport: 5000, Dport: 53, IPID: 9, Payload: make([]byte, 40)})
	a := fragments4(t, whole, 16) // [0,16) [16,48)
	b := fragments4(t, whole, 8)  // [0,8) [8,48)
	m := machineCT(t, routerHost(), nil, table(ruleset.FamilyIPv4, "t", base("f", ruleset.HookForward, 0, Acc, r(1, ctState(8)...))))
	for i, f := range [][]byte{a[0], b[1], a[1]} {
		p := new(packet.Packet)
		if err := p.Decode(packet.LinkRaw, append([]byte(nil), f...)); err != nil {
			t.Fatal(err)
		}
		if res := m.Receive(p, "lan", int64(i)); res.Verdict != ruleset.VerdictStolen {
			t.Errorf("fragment %d: %v, want stolen (overlap kills the queue)", i, res.Verdict)
		}
	}
}

// fragments6 splits an IPv6 packet without extension headers into
// fragments carrying a fragment header.
func fragments6(whole []byte, id uint32, cuts ...int) [][]byte {
	pl := whole[40:]
	bounds := append(append([]int{0}, cuts...), len(pl))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		f := append([]byte(nil), whole[:40]...)
		f[6] = 44
		fh := make([]byte, 8)
		fh[0] = whole[6]
		fo := uint16(bounds[i])
		if i+2 < len(bounds) {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		f = append(append(f, fh...), pl[bounds[i]:bounds[i+1]]...)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

func TestDefrag6(t *testing.T) {
	whole := testpkt.MustBuild(testpkt.Spec{Src: "2001:db8:2::5", Dst: "2001:db8:1::7", Proto: "udp", Sport: 5000, Dport: 53, Payload: make([]byte, 40)})
	frags := fragments6(whole, 1234, 24)
	m := machineCT(t, routerHost(), nil, table(ruleset.FamilyINet, "t", base("f", ruleset.HookForward, 0, Drop,
		r(3, cat(metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, 0x3500), ctState(8), counter(), imm(Acc))...))))
	var res Result
	var p *packet.Packet
	for i, f := range []([]byte){frags[1], frags[0]} {
		p = new(packet.Packet)
		if err := p.Decode(packet.LinkRaw, append([]byte(nil), f...)); err != nil {
			t.Fatal(err)
		}
		res = m.Receive(p, "lan", int64(i+1))
		if i == 0 && res.Verdict != ruleset.VerdictStolen {
			t.Errorf("first fragment %v, want stolen", res.Verdict)
		}
	}
	if decided(res) != "f:0" {
		t.Errorf("reassembled datagram decided by %s, want f:0", decided(res))
	}
	if p.Len() != len(whole) || p.Network()[6] != 17 {
		t.Errorf("reassembled: len %d next header %d, want %d and 17", p.Len(), p.Network()[6], len(whole))
	}
}

// TestNoAllocsFragments: steady fragmented traffic reuses the queue, piece
// and reassembly buffers.
func TestNoAllocsFragments(t *testing.T) {
	whole := testpkt.MustBuild(testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "udp", Sport: 5000, Dport: 53, IPID: 77, Payload: make([]byte, 1000)})
	frags := fragments4(t, whole, 512)
	m := machineCT(t, routerHost(), nil, statefulTen())
	bufs := [][]byte{make([]byte, len(frags[0])), make([]byte, len(frags[1]))}
	var p packet.Packet
	now := int64(1e18)
	run := func() {
		for i, f := range frags {
			copy(bufs[i], f)
			if p.Decode(packet.LinkRaw, bufs[i]) != nil {
				t.Fatal("decode")
			}
			now += 1e6
			m.Receive(&p, "lan", now)
		}
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%v allocations per fragment pair", allocs)
	}
}
