package vm

import (
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestAttachInfo: nf_conntrack_attach gives the answer the opposite
// direction of the answered packet (CTINFO2DIR: ctinfo >= IP_CT_IS_REPLY is
// the reply direction).
func TestAttachInfo(t *testing.T) {
	tests := []struct {
		in, want ct.Info
	}{
		{ct.New, ct.RelatedReply},
		{ct.Established, ct.RelatedReply},
		{ct.Related, ct.RelatedReply},
		{ct.EstablishedReply, ct.Related},
		{ct.RelatedReply, ct.Related},
	}
	for _, tc := range tests {
		if got := attachInfo(tc.in); got != tc.want {
			t.Errorf("attachInfo(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestReplyCarriesConntrack: the answers the host sends carry the answered
// packet's entry into output, where a chain counts (0) ct state related
// with ct direction original, (1) ct state related with ct direction reply,
// (2) ct state invalid, (3) ct state established; and the confirm at the end of the answer's path
// inserts the entry only for an original-direction answer. Every case is
// a kernel-recorded scenario (testdata/scenarios, Linux 6.18) named in it.
func TestReplyCarriesConntrack(t *testing.T) {
	rst := &ruleset.Reject{Type: ruleset.RejectTCPRst}
	unreach := &ruleset.Reject{Type: ruleset.RejectICMPXUnreach, Code: 1}
	synack := cat(payload(ruleset.BaseTransport, 13, 1),
		&ruleset.Bitwise{Op: ruleset.BitwiseMaskXor, SReg: 1, DReg: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
		cmpw(Eq, 1, 0x12))
	// [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ]
	isTCP := cat(metaLoad(ruleset.MetaL4proto), cmpw(Eq, 1, 6))
	local := []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:2::1")}
	type send struct {
		spec  testpkt.Spec
		iface string
	}
	tests := []struct {
		name    string
		host    Host
		chains  []*ruleset.Chain // besides the counting output chain
		outTail []*ruleset.Rule  // rules after the output counters
		pkts    []send
		want    [4]uint64 // output counters
		wantCt  int       // entries in the table afterwards
	}{
		// reject-reply-related-nat: the RST answering the first SYN of
		// a connection reads related in output; the entry is never
		// confirmed (the RST travels in the reply direction).
		{"RST of a new connection", routerHost(),
			[]*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, r(1, rst))}, nil,
			[]send{{testpkt.Spec{Src: "198.51.100.9", Dst: "203.0.113.10", Proto: "tcp", Sport: 8080, Dport: 40000, Flags: testpkt.SYN}, "wan"}},
			[4]uint64{0, 1, 0, 0}, 0},
		// icmp-time-exceeded-attached-ct: the ICMP error for a SYN with
		// TTL 1 carries the SYN's entry as RELATED_REPLY.
		{"time exceeded", routerHost(),
			// [ ct load state … ] so that conntrack is active
			[]*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, r(1, cat(ctState(8), counter())...))}, nil,
			[]send{{testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.12", Proto: "tcp", Sport: 40004, Dport: 80, Flags: testpkt.SYN, TTL: 1}, "wan"}},
			[4]uint64{0, 1, 0, 0}, 0},
		// reject-reply-attached-ct-direction: an untracked packet's RST
		// carries no entry and meets conntrack afresh (a RST with no
		// entry is invalid) …
		{"untracked: no entry", routerHost(),
			[]*ruleset.Chain{
				base("raw", ruleset.HookPrerouting, -300, Acc, r(1, &ruleset.Notrack{})),
				base("f", ruleset.HookForward, 0, Acc, r(2, rst))}, nil,
			[]send{{testpkt.Spec{Src: "198.51.100.9", Dst: "203.0.113.10", Proto: "tcp", Sport: 8080, Dport: 40010, Flags: testpkt.ACK, Seq: 1, Ack: 1}, "wan"}},
			[4]uint64{0, 0, 1, 0}, 0},
		// … and the RST answering a reply-direction SYN/ACK carries the
		// (confirmed) entry as RELATED, original direction.
		{"RST of a reply", routerHost(),
			[]*ruleset.Chain{base("f", ruleset.HookForward, 0, Acc, r(1, append(synack, rst)...))}, nil,
			[]send{
				{testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000}, "lan"},
				{testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 5000, Ack: 1001}, "wan"}},
			[4]uint64{1, 0, 0, 0}, 1},
		// reject-reply-confirms-ct: a stray ACK rejected in prerouting;
		// its RST (RELATED_REPLY) is rejected in output, and the ICMPv6
		// error about the RST carries the entry as RELATED: the confirm
		// at its postrouting inserts the dropped ACK's connection.
		{"answer to an answer confirms", Host{Local: local},
			[]*ruleset.Chain{base("p", ruleset.HookPrerouting, -150, Acc, r(1, append(isTCP, rst)...))},
			[]*ruleset.Rule{r(9, append(isTCP, unreach)...)},
			[]send{{testpkt.Spec{Src: "2001:db8:1::3", Dst: "2001:db8:2::1", Proto: "tcp", Sport: 40002, Dport: 5000, Flags: testpkt.ACK, Seq: 1001, Ack: 2001}, "tun0"}},
			[4]uint64{1, 1, 0, 0}, 1},
		// reject-reply-zone-template: an ACK rejected in raw, before
		// conntrack, has only the template `ct zone set 5` attached; the
		// RST carries the template, so output's conntrack tracks it in
		// zone 5, where it belongs to the connection (established).
		{"template: tracked in its zone", routerHost(),
			[]*ruleset.Chain{base("raw", ruleset.HookPrerouting, -300, Acc,
				// [ immediate reg 1 0x00000005 ] [ ct set zone with reg 1 ]
				r(1, &ruleset.Immediate{DReg: 1, Data: []byte{5, 0}}, &ruleset.Ct{Key: ruleset.CtZone, Direction: noDir, Set: true, SReg: 1}),
				// [ payload load 1b @ transport header + 13 => reg 1 ] [ cmp eq reg 1 0x00000010 ]
				r(2, payload(ruleset.BaseTransport, 13, 1), cmpw(Eq, 1, 0x10), rst))}, nil,
			[]send{
				{testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.SYN, Seq: 1000}, "lan"},
				{testpkt.Spec{Src: "198.51.100.7", Dst: "203.0.113.5", Proto: "tcp", Sport: 80, Dport: 40000, Flags: testpkt.SYNACK, Seq: 5000, Ack: 1001}, "wan"},
				{testpkt.Spec{Src: "203.0.113.5", Dst: "198.51.100.7", Proto: "tcp", Sport: 40000, Dport: 80, Flags: testpkt.ACK, Seq: 1001, Ack: 5001}, "lan"}},
			[4]uint64{0, 0, 0, 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// [ ct load direction => reg 1 ] [ cmp eq reg 1 0x0000000D ]
			dir := func(d uint32) []ruleset.Expr {
				return cat(ctLoad(ruleset.CtDirection, noDir), cmpw(Eq, 1, d))
			}
			rules := []*ruleset.Rule{
				r(5, cat(ctState(4), dir(0), counter())...),
				r(6, cat(ctState(4), dir(1), counter())...),
				r(7, cat(ctState(1), counter())...),
				r(8, cat(ctState(2), counter())...),
			}
			o := base("o", ruleset.HookOutput, 0, Acc, append(rules, tc.outTail...)...)
			m := newMachine(t, tc.host, table(ruleset.FamilyINet, "t", append([]*ruleset.Chain{o}, tc.chains...)...))
			for i, s := range tc.pkts {
				m.Receive(pkt(t, s.spec), s.iface, int64(i+1)*1e6)
			}
			snap := m.Snapshot(int64(len(tc.pkts)+1) * 1e6)
			var got [4]uint64
			for i := range got {
				es := snap.Tables[0].Chains[0].Rules[i].Exprs
				got[i] = es[len(es)-1].(*ruleset.Counter).Packets
			}
			if got != tc.want {
				t.Errorf("output counters (related original, related reply, invalid, established) = %v, want %v", got, tc.want)
			}
			if n := m.Conntrack().Count(); n != tc.wantCt {
				t.Errorf("%d conntrack entries, want %d", n, tc.wantCt)
			}
		})
	}
}
