package vm

import (
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// setTable is (nft --debug=netlink):
//
//	set s { type ipv4_addr; flags dynamic,timeout; timeout 1s; }            s t 30 timeout 1000ms
//	map m { type inet_service : ipv4_addr; elements = { 22 : 10.0.0.1 } }   element 00001600  : 0100000a 0 [end]
//	map v { type ipv4_addr : verdict; elements = { 198.51.100.2 : jump c } } element 026433c6  : jump -> c 0 [end]
//	chain c { counter accept; }
//	chain f { type filter hook forward priority 0; policy drop; RULES }
func setTable(rules ...*ruleset.Rule) *ruleset.Table {
	tb := table(ruleset.FamilyIPv4, "t",
		user("c", r(1, counter(), imm(Acc))),
		base("f", ruleset.HookForward, 0, Drop, rules...))
	tb.Sets = []*ruleset.Set{
		{Name: "s", ID: 1, Flags: ruleset.SetEval | ruleset.SetTimeout, KeyType: 7, KeyLen: 4, Timeout: 1000},
		{Name: "m", ID: 2, Flags: ruleset.SetMap, KeyType: 13, KeyLen: 2, DataType: 7, DataLen: 4,
			Elements: []*ruleset.Element{{Key: []byte{0, 22}, Data: []byte{10, 0, 0, 1}}}},
		{Name: "v", ID: 3, Flags: ruleset.SetMap, KeyType: 7, KeyLen: 4, DataType: ruleset.DataVerdict,
			Elements: []*ruleset.Element{{Key: []byte{198, 51, 100, 2}, Verdict: &ruleset.Verdict{Code: ruleset.VerdictJump, Chain: "c"}}}},
	}
	return tb
}

func TestSets(t *testing.T) {
	saddr := func() *ruleset.Payload { return payload(NET, 12, 4) } // [ payload load 4b @ network header + 12 => reg 1 ]
	udp22 := testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 22}
	other := testpkt.Spec{Src: "198.51.100.3", Dst: "203.0.113.9", Proto: "udp", Sport: 5000, Dport: 23}

	t.Run("vmap jump", func(t *testing.T) {
		// [ lookup reg 1 set v dreg 0 ]
		m := newMachine(t, routerHost(), setTable(r(2, saddr(), &ruleset.Lookup{Set: "v", SReg: 1, DReg: 0, HasDReg: true})))
		if res := m.Receive(pkt(t, udp22), "wan", 1); decided(res) != "c:0" {
			t.Errorf("decided %s, want c:0", decided(res))
		}
		if res := m.Receive(pkt(t, other), "wan", 1); decided(res) != "f:policy" {
			t.Errorf("vmap miss decided %s, want f:policy", decided(res))
		}
	})
	t.Run("map data and payload write with pseudo-header checksum", func(t *testing.T) {
		m := newMachine(t, routerHost(), setTable(
			// [ lookup reg 1 set m dreg 1 ]
			// [ payload write reg 1 => 4b @ network header + 16 csum_type 1 csum_off 10 csum_flags 0x1 ]
			r(2, metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), &ruleset.Lookup{Set: "m", SReg: 1, DReg: 1, HasDReg: true},
				&ruleset.PayloadWrite{Base: NET, Offset: 16, Len: 4, SReg: 1, CsumType: 1, CsumOffset: 10, CsumFlags: 1}, imm(Acc))))
		p := pkt(t, udp22)
		if res := m.Receive(p, "wan", 1); res.Verdict != Acc {
			t.Fatalf("decided %s", decided(res))
		}
		nh := p.Network()
		if nh[16] != 10 || nh[19] != 1 {
			t.Errorf("daddr %v", nh[16:20])
		}
		if s := csumFold(csumPartial(nh[:20], 0)); s != 0 {
			t.Errorf("IP checksum off by %#x", s)
		}
		seg := p.Transport()
		ph := append(append(append([]byte(nil), nh[12:20]...), 0, 17, byte(len(seg)>>8), byte(len(seg))), seg...)
		if s := csumFold(csumPartial(ph, 0)); s != 0 {
			t.Errorf("UDP checksum off by %#x", s)
		}
	})
	t.Run("dynset update with counter, invert lookup, delete", func(t *testing.T) {
		m := newMachine(t, routerHost(), setTable(
			// [ lookup reg 1 set s 0x1 ] [ counter pkts 0 bytes 0 ]
			r(2, saddr(), &ruleset.Lookup{Set: "s", SReg: 1, Flags: ruleset.LookupInvert}, counter()),
			// [ dynset update reg_key 1 set s expr [ counter pkts 0 bytes 0 ] ]
			r(3, saddr(), &ruleset.Dynset{Op: ruleset.DynsetUpdate, Set: "s", SRegKey: 1, Flags: dynsetExpr, Exprs: []ruleset.Expr{counter()}}),
			// ip saddr 198.51.100.3 delete @s { ip saddr }
			r(4, saddr(), cmpw(Eq, 4, 0x036433c6), &ruleset.Dynset{Op: ruleset.DynsetDelete, Set: "s", SRegKey: 1})))
		for i := 0; i < 3; i++ {
			m.Receive(pkt(t, udp22), "wan", int64(1e18+i))
		}
		m.Receive(pkt(t, other), "wan", 1e18+5)
		snap := m.Snapshot(1e18 + 10)
		var s *ruleset.Set
		for _, x := range snap.Tables[0].Sets {
			if x.Name == "s" {
				s = x
			}
		}
		if s == nil || len(s.Elements) != 1 {
			t.Fatalf("set s: %+v", s)
		}
		e := s.Elements[0]
		if string(e.Key) != string([]byte{198, 51, 100, 2}) || len(e.Exprs) != 1 || e.Exprs[0].(*ruleset.Counter).Packets != 3 {
			t.Errorf("element %+v exprs %+v", e, e.Exprs)
		}
		if c := snap.Tables[0].Chains[1].Rules[0].Exprs[2].(*ruleset.Counter); c.Packets != 2 {
			t.Errorf("!= @s counter %d, want 2 (first packets of each source)", c.Packets)
		}
		// The element expires after the set's 1 s timeout.
		m.Advance(1e18 + 2e9)
		if n := len(m.Snapshot(1e18 + 2e9).Tables[0].Sets[0].Elements); n != 0 {
			t.Errorf("%d elements after the timeout", n)
		}
	})
}
