package vm

import (
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// nfprotoARP is NFPROTO_ARP: `meta nfproto` in arp chains.
const nfprotoARP = uint8(ruleset.FamilyARP)

// arpHeaderLen is arp_hdr_len for Ethernet: 8 + 2 × (6 + 4).
const arpHeaderLen = 28

// receiveARP is arp_rcv: the device's netdev ingress chains, the header
// checks (an Ethernet/IPv4 ARP header; devices without ARP, such as the
// tun devices raw captures stand for, drop it), then the arp input hook.
// ARP has no transport header: pktinfo is unspec (nft_do_chain_arp).
//
// Ref: net/ipv4/arp.c — arp_rcv; net/netfilter/nft_chain_filter.c — nft_do_chain_arp.
func (m *machine) receiveARP(p *packet.Packet, ifname string) Result {
	a := p.Data[p.NetOff:]
	if ifname != "" {
		m.in = m.host.byName[ifname]
	}
	if m.in == nil && len(a) >= arpHeaderLen {
		m.in = m.host.lookup4(a[14:18]) // the sender's side
	}
	if m.in == nil {
		return m.kernelDrop("arp")
	}
	if len(m.in.ingress) > 0 && !m.runEntries(m.in.ingress, ruleset.HookIngress, "ingress") {
		return m.finish()
	}
	if len(a) < arpHeaderLen || a[4] != 6 || a[5] != 4 || m.devType(m.in) != arphrdEther {
		return m.kernelDrop("arp")
	}
	m.runEntries(m.arpHooks[ruleset.HookARPIn], ruleset.HookARPIn, "arp-in")
	return m.finish()
}

// sendARP is arp_xmit: the arp output hook, then the device's egress
// chains. The device is the one routing to the target address.
//
// Ref: net/ipv4/arp.c — arp_xmit.
func (m *machine) sendARP(p *packet.Packet) Result {
	a := p.Data[p.NetOff:]
	if len(a) < arpHeaderLen {
		return m.kernelDrop("arp")
	}
	m.out = m.host.lookup4(a[24:28])
	if m.out == nil {
		return m.kernelDrop("routing")
	}
	if m.runEntries(m.arpHooks[ruleset.HookARPOut], ruleset.HookARPOut, "arp-out") {
		m.egressHook()
	}
	return m.finish()
}
