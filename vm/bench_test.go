package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// nonMatching is `tcp dport N accept` for a port the traffic never uses:
//
//	[ meta load l4proto => reg 1 ]
//	[ cmp eq reg 1 0x00000006 ]
//	[ payload load 2b @ transport header + 2 => reg 1 ]
//	[ cmp eq reg 1 0x0000xxxx ]
//	[ immediate reg 0 accept ]
func nonMatching(i int) *ruleset.Rule {
	port := uint32(10000 + i)
	return r(uint64(i+2), metaLoad(L4), cmpw(Eq, 1, 6), payload(TH, 2, 2), cmpw(Eq, 2, port>>8|(port&0xff)<<8), imm(Acc))
}

func linearTable(n int) *ruleset.Table {
	rules := make([]*ruleset.Rule, n)
	for i := range rules {
		rules[i] = nonMatching(i)
	}
	return table(ruleset.FamilyINet, "filter", base("forward", ruleset.HookForward, 0, Acc, rules...))
}

var tcpSpec = testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK, Seq: 1, Ack: 1}

// resetTTL undoes the forward path's TTL decrement so the same packet can
// be replayed forever.
func resetTTL(p *packet.Packet, ttl byte, check [2]byte) {
	b := p.Network()
	b[8], b[10], b[11] = ttl, check[0], check[1]
}

// BenchmarkLinearRules measures a forwarded TCP packet through N
// non-matching rules; ns per extra rule = (t1000 - t10) / 990.
func BenchmarkLinearRules(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			m := newMachine(b, routerHost(), linearTable(n))
			p := pkt(b, tcpSpec)
			nb := p.Network()
			ttl, ck := nb[8], [2]byte{nb[10], nb[11]}
			b.ReportAllocs()
			ct := startCPU(b)
			for i := 0; i < b.N; i++ {
				resetTTL(p, ttl, ck)
				if res := m.Receive(p, "wan", int64(i)); res.Verdict != ruleset.VerdictAccept {
					b.Fatal(res)
				}
			}
			ct.stop()
		})
	}
}

// statefulTen is a 10-rule stateful forward ruleset: ct state, a set
// lookup, counters and port matches.
func statefulTen() *ruleset.Table {
	tb := statefulForward()
	c := tb.Chains[0]
	extra := []*ruleset.Rule{nonMatching(1), nonMatching(2), nonMatching(3), nonMatching(4), nonMatching(5)}
	c.Rules = append(extra, c.Rules...)
	return tb
}

// BenchmarkStateful10 replays a TCP flow (handshake, data, close, both
// directions) through statefulTen with conntrack.
func BenchmarkStateful10(b *testing.B) {
	m := machineCTb(b, statefulTen())
	flow := flowPackets(b)
	b.ReportAllocs()
	ct := startCPU(b)
	now := int64(1e18)
	for i := 0; i < b.N; i++ {
		fp := &flow[i%len(flow)]
		copy(fp.p.Data, fp.orig)
		now += 1000
		m.Receive(fp.p, fp.iface, now)
	}
	ct.stop()
}

type flowPkt struct {
	p     *packet.Packet
	orig  []byte
	iface string
}

// flowPackets is one TCP connection from lan to wan, both directions.
func flowPackets(tb testing.TB) []flowPkt {
	c, s := "203.0.113.5", "198.51.100.7"
	specs := []testpkt.Spec{
		{Src: c, Dst: s, Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 100},
		{Src: s, Dst: c, Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 1000, Ack: 101},
		{Src: c, Dst: s, Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK, Seq: 101, Ack: 1001},
		{Src: c, Dst: s, Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.PSHACK, Seq: 101, Ack: 1001, Payload: []byte("GET /")},
		{Src: s, Dst: c, Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.ACK, Seq: 1001, Ack: 106},
		{Src: s, Dst: c, Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.PSHACK, Seq: 1001, Ack: 106, Payload: []byte("200 OK")},
		{Src: c, Dst: s, Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK, Seq: 106, Ack: 1007},
	}
	var out []flowPkt
	for _, sp := range specs {
		p := pkt(tb, sp)
		ifc := "wan"
		if sp.Src == c {
			ifc = "lan"
		}
		out = append(out, flowPkt{p: p, orig: append([]byte(nil), p.Data...), iface: ifc})
	}
	return out
}

// BenchmarkReplayReal replays every packet of the plain pcaps in
// ../shared/data/pcaps/real (decoded once, copied back before each run)
// through statefulTen with conntrack: per-packet cost of the vm and ct on
// real traffic, capture reading excluded.
func BenchmarkReplayReal(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "data", "pcaps", "real", "*.pcap"))
	type rec struct {
		lt   packet.LinkType
		data []byte
		ts   int64
	}
	var recs []rec
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			continue
		}
		rd, err := pcapgo.NewReader(f)
		if err != nil {
			f.Close()
			continue
		}
		for {
			d, ci, err := rd.ReadPacketData()
			if err != nil {
				break
			}
			recs = append(recs, rec{packet.LinkType(rd.LinkType()), d, ci.Timestamp.UnixNano()})
		}
		f.Close()
	}
	if len(recs) == 0 {
		b.Skip("no captures")
	}
	m := machineCTb(b, statefulTen())
	buf := make([]byte, 0, 65536)
	var p packet.Packet
	b.ReportAllocs()
	ct := startCPU(b)
	now := int64(0)
	for i := 0; i < b.N; i++ {
		r := &recs[i%len(recs)]
		buf = append(buf[:0], r.data...)
		if p.Decode(r.lt, buf) != nil {
			continue
		}
		now += 1000
		m.Advance(now)
		m.Receive(&p, "", now)
	}
	ct.stop()
	b.ReportMetric(float64(len(recs)), "packets")
}
