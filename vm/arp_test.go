package vm

import (
	"errors"
	"testing"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// arpFrame is an Ethernet ARP packet (op 1 request, 2 reply) from
// 198.51.100.2 for 198.51.100.254.
func arpFrame(t *testing.T, op byte) *packet.Packet {
	t.Helper()
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06,
		0, 1, 8, 0, 6, 4, 0, op,
		2, 0, 0, 0, 0, 2, 198, 51, 100, 2,
		0, 0, 0, 0, 0, 0, 198, 51, 100, 254}
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkEthernet, b); !errors.Is(err, packet.ErrNotIP) {
		t.Fatalf("decode: %v", err)
	}
	return p
}

// TestARP: arp chains see ARP with nfproto 3, the ARP header at the
// network base and no transport header; input and output hooks.
func TestARP(t *testing.T) {
	tb := table(ruleset.FamilyARP, "a",
		base("in", ruleset.HookARPIn, 0, Acc,
			// meta nfproto arp counter: [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000003 ]
			r(1, metaLoad(NFP), cmpw(Eq, 1, 3), counter()),
			// meta l4proto tcp drop (never: no transport header)
			r(2, metaLoad(L4), cmpw(Eq, 1, 6), imm(Drop)),
			// arp operation request drop: [ payload load 2b @ network header + 6 => reg 1 ] [ cmp eq reg 1 0x00000100 ]
			r(3, payload(NET, 6, 2), cmpw(Eq, 2, 0x0100), imm(Drop))),
		base("out", ruleset.HookARPOut, 0, Drop))
	m := newMachine(t, routerHost(), tb)
	if res := m.Receive(arpFrame(t, 1), "", 1e18); res.Verdict != Drop || decided(res) != "in:2" {
		t.Errorf("request: %v by %s, want drop by in:2", res.Verdict, decided(res))
	}
	if res := m.Receive(arpFrame(t, 2), "", 1e18); res.Verdict != Acc || decided(res) != "in:policy" {
		t.Errorf("reply: %v by %s, want accept by the policy", res.Verdict, decided(res))
	}
	if c := m.Snapshot(1e18).Tables[0].Chains[0].Rules[0].Exprs[2].(*ruleset.Counter); c.Packets != 2 {
		t.Errorf("nfproto arp counted %d, want 2", c.Packets)
	}
	if res := m.Send(arpFrame(t, 2), 1e18); res.Verdict != Drop || decided(res) != "out:policy" {
		t.Errorf("sent reply: %v by %s, want drop by out:policy", res.Verdict, decided(res))
	}
	// ip tables never see ARP.
	m = newMachine(t, routerHost(), table(ruleset.FamilyINet, "t", base("pre", ruleset.HookPrerouting, 0, Drop)))
	if res := m.Receive(arpFrame(t, 1), "", 1e18); res.Verdict != Acc || res.Decided != nil {
		t.Errorf("inet table: %v by %s, want untouched", res.Verdict, decided(res))
	}
	_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{table(ruleset.FamilyARP, "a", base("in", ruleset.HookARPIn, 0, Acc, r(1, &ruleset.Reject{})))}}, Config{Host: routerHost()})
	if !errors.Is(err, errNoEnt) {
		t.Errorf("reject in arp: %v, want ENOENT", err)
	}
}
