package vm

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// The bridge model: a frame received on a port runs the bridge family's
// prerouting hook, teaches the forwarding database its source address, and
// goes to the host (the bridge's own address, or a broadcast or multicast
// address), out of the port the database names, or out of every other
// port when it names none (flooding). Each copy that leaves runs the
// bridge forward and postrouting hooks; the host's copy runs bridge input,
// then the IP stack on the bridge device.
//
// br_netfilter (built into the reference kernel, bridge-nf-call-iptables
// and -ip6tables 1) hooks the ip/ip6/inet chains into that path: inet
// prerouting (conntrack, NAT, defrag included) inside bridge prerouting and
// inet forward inside bridge forward, both at priority 0 (br_nf_forward;
// user chains of priority 0 run first, as registered later), inet
// postrouting after every bridge postrouting chain; the inet chains see the
// bridge as in and out device. Measured: a bridge chain of priority 0 that
// drops hides the frame from inet prerouting and forward, one of priority 1
// does not. For the host's copy, ip_sabotage_in skips
// inet prerouting the second time: only input (or, routed on, forward and
// postrouting) follows. Measured on 6.18 with a br0 of two veth ports and
// frames written to them (unknown and known unicast, the bridge's address,
// broadcast): the counters of bridge and inet chains agree with this.
//
// Not modelled: ARP and other non-IP frames on a bridge, STP and link-local
// group addresses, VLAN filtering, packets the host routes or sends out of
// the bridge device (bridge output), hairpin mode, FDB entries added by
// hand.
//
// Ref: net/bridge/br_input.c — br_handle_frame, br_handle_frame_finish,
// br_pass_frame_up; net/bridge/br_forward.c — br_forward, br_flood,
// __br_forward; net/bridge/br_fdb.c — br_fdb_update, br_fdb_find_rcu;
// net/bridge/br_netfilter_hooks.c — br_nf_pre_routing, br_nf_forward,
// br_nf_post_routing, ip_sabotage_in.

const (
	ethHeaderLen = 14
	// fdbAgeing is the default ageing time (BR_DEFAULT_AGEING_TIME, 300 s).
	fdbAgeing = 300e9
	// nfprotoBridge is NFPROTO_BRIDGE: `meta nfproto` in bridge chains.
	nfprotoBridge = uint8(ruleset.FamilyBridge)
)

// Hook entry kinds of the bridge hooks besides user chains: br_netfilter's
// calls into the IP hooks.
const (
	entBrnfPre = iota + 100
	entBrnfForward
	entBrnfPost
)

// bridgeDev is one bridge: its device, ports and forwarding database.
type bridgeDev struct {
	dev     *iface
	ports   []*iface
	mac     [6]byte
	ipHooks bool
	fdb     map[[6]byte]fdbEntry
	// outNames caches Result.Out for a set of ports (bit i: ports[i]).
	outNames map[uint64]string
	// orig keeps the frame as it arrived: each flooded copy starts from it
	// (the kernel clones the skb; a copy's writes do not reach the next).
	orig []byte
}

type fdbEntry struct {
	port *iface
	seen int64 // replay clock of the last frame from this address
}

func (h *host) addBridges(bs []Bridge) error {
	for _, b := range bs {
		dev := h.byName[b.Name]
		if dev == nil {
			if len(b.Name) >= 16 || b.Name == "" {
				return fmt.Errorf("vm: bad bridge name %q", b.Name)
			}
			dev = &iface{name: b.Name, idx: len(h.ifaces) + 1}
			copy(dev.nameB[:], b.Name)
			h.ifaces = append(h.ifaces, dev)
			h.byName[b.Name] = dev
		}
		br := &bridgeDev{dev: dev, mac: b.MAC, ipHooks: !b.NoIPHooks, fdb: map[[6]byte]fdbEntry{}, outNames: map[uint64]string{}}
		if len(b.Ports) > 64 {
			return fmt.Errorf("vm: bridge %q: more than 64 ports", b.Name)
		}
		for _, pn := range b.Ports {
			p := h.byName[pn]
			if p == nil || p == dev || p == h.lo {
				return fmt.Errorf("vm: bridge %q: unknown port %q", b.Name, pn)
			}
			if p.br != nil {
				return fmt.Errorf("vm: %q is a port of two bridges", pn)
			}
			p.br = br
			br.ports = append(br.ports, p)
		}
	}
	return nil
}

// buildBridgeHooks orders the bridge family's base chains per hook with
// br_netfilter's entries (registered at boot: at equal priority the user's
// later chains run first).
func (m *machine) buildBridgeHooks() {
	for ci := range m.chains {
		c := &m.chains[ci]
		if !c.base {
			continue
		}
		t := m.rs.Tables[c.table]
		if t.Family != ruleset.FamilyBridge || t.Flags&1 != 0 || c.src.Hook.Hook > ruleset.HookPostrouting {
			continue
		}
		h := c.src.Hook.Hook
		m.brHooks[h] = append(m.brHooks[h], hookEntry{kind: entChain, prio: c.src.Hook.Priority, seq: c.regSeq, chain: ci, pf: nfprotoBridge})
	}
	m.brHooks[ruleset.HookPrerouting] = append(m.brHooks[ruleset.HookPrerouting], hookEntry{kind: entBrnfPre, prio: 0, seq: -1})
	m.brHooks[ruleset.HookForward] = append(m.brHooks[ruleset.HookForward], hookEntry{kind: entBrnfForward, prio: 0, seq: -1})
	m.brHooks[ruleset.HookPostrouting] = append(m.brHooks[ruleset.HookPostrouting], hookEntry{kind: entBrnfPost, prio: math.MaxInt32, seq: -1})
	for _, es := range m.brHooks {
		sort.SliceStable(es, func(a, b int) bool {
			if es[a].prio != es[b].prio {
				return es[a].prio < es[b].prio
			}
			return es[a].seq > es[b].seq
		})
	}
}

// brHook runs one bridge hook for the current frame; it reports whether
// the frame went on.
func (m *machine) brHook(h ruleset.Hook, b *bridgeDev) bool {
	ents := m.brHooks[h]
	for i := range ents {
		e := &ents[i]
		m.hook = h
		switch e.kind {
		case entChain:
			m.nfproto = e.pf
			v, dec := m.doChain(e.chain)
			m.nfproto = m.pkt.NFProto
			if !m.verdictOK(v, dec) {
				return false
			}
		case entBrnfPre, entBrnfForward, entBrnfPost:
			if !b.ipHooks {
				continue
			}
			if !m.brnfHook(e.kind, b) {
				return false
			}
		}
	}
	return true
}

// brnfHook runs the IP hook br_netfilter calls from a bridge hook, with the
// bridge as the logical in and out device.
func (m *machine) brnfHook(kind int, b *bridgeDev) bool {
	in, out := m.in, m.out
	var ok bool
	switch kind {
	case entBrnfPre:
		m.in, m.out = b.dev, nil
		ok = m.runHook(ruleset.HookPrerouting, "prerouting")
	case entBrnfForward:
		m.in, m.out = b.dev, b.dev
		ok = m.runHook(ruleset.HookForward, "forward")
	default:
		m.in, m.out = nil, b.dev
		ok = m.runHook(ruleset.HookPostrouting, "postrouting")
	}
	m.in, m.out = in, out
	return ok
}

// brReceive is br_handle_frame for a frame on a bridge port (m.in).
func (m *machine) brReceive(p *packet.Packet) Result {
	port := m.in
	b := port.br
	// The forwarding database is state every flow shares (replay
	// --workers stops sharding here).
	m.res.Shared = true
	var dst, src [6]byte
	copy(dst[:], p.Data[p.MACOff:])
	copy(src[:], p.Data[p.MACOff+6:])
	if !m.brHook(ruleset.HookPrerouting, b) {
		return m.finish()
	}
	// br_handle_frame_finish: learn, then deliver.
	if src[0]&1 == 0 {
		b.fdb[src] = fdbEntry{port: port, seen: m.now}
	}
	local := dst == b.mac
	var ports uint64
	switch {
	case local:
	case dst[0]&1 != 0:
		local = true
		ports = b.others(port)
	default:
		if e, ok := b.fdb[dst]; ok && m.now-e.seen <= fdbAgeing {
			if e.port == port {
				// br_forward: never back out of the port it came in by.
				m.res.Verdict = ruleset.VerdictDrop
				m.res.KernelDrop = "bridge"
				return m.finish()
			}
			ports = b.bit(e.port)
		} else {
			ports = b.others(port)
		}
	}
	left := m.brFlood(p, b, ports)
	if !local {
		m.out = nil
		if left == 0 {
			if m.res.Verdict == ruleset.VerdictAccept {
				// No port to send it to.
				m.res.Verdict, m.res.KernelDrop = ruleset.VerdictDrop, "bridge"
			}
			return m.finish()
		}
		m.res.Verdict = ruleset.VerdictAccept
		res := m.finish()
		res.Out = b.outName(left)
		return res
	}
	// br_pass_frame_up: bridge input, then the bridge device's receive.
	m.res.Verdict = ruleset.VerdictAccept
	m.in, m.out = port, nil
	if !m.brHook(ruleset.HookInput, b) {
		return m.brResult(b, m.finish(), left)
	}
	m.in = b.dev
	if len(b.dev.ingress) > 0 && !m.runEntries(b.dev.ingress, ruleset.HookIngress, "ingress") {
		return m.brResult(b, m.finish(), left)
	}
	if !b.ipHooks && !m.runHook(ruleset.HookPrerouting, "prerouting") {
		return m.brResult(b, m.finish(), left)
	}
	return m.brResult(b, m.routeInput(p), left)
}

// brResult adds the ports flooded copies left by to the host copy's result:
// the frame counts as passed when any copy did.
func (m *machine) brResult(b *bridgeDev, res Result, left uint64) Result {
	if left == 0 {
		return res
	}
	if res.Verdict != ruleset.VerdictAccept {
		res.Verdict, res.KernelDrop = ruleset.VerdictAccept, ""
	}
	names := b.outName(left)
	if res.Out != "" {
		names += "," + res.Out
	}
	res.Out = names
	return res
}

// brFlood sends a copy of the frame out of each port in ports (br_forward,
// br_flood): bridge forward, bridge postrouting, the port's egress hook. It
// returns the ports copies left by.
func (m *machine) brFlood(p *packet.Packet, b *bridgeDev, ports uint64) uint64 {
	if ports == 0 {
		return 0
	}
	in := m.in
	multi := ports&(ports-1) != 0
	if multi {
		b.orig = append(b.orig[:0], p.Data...)
	}
	var left uint64
	first := true
	for i, o := range b.ports {
		if ports&(1<<i) == 0 {
			continue
		}
		if multi && !first {
			copy(p.Data, b.orig)
		}
		first = false
		m.in, m.out = in, o
		m.res.Verdict = ruleset.VerdictAccept
		if m.brHook(ruleset.HookForward, b) && m.brHook(ruleset.HookPostrouting, b) {
			if len(o.egress) > 0 && !m.runEntries(o.egress, ruleset.HookNetdevEgress, "egress") {
				continue
			}
			left |= 1 << i
		}
	}
	if multi {
		copy(p.Data, b.orig)
	}
	m.in = in
	return left
}

func (b *bridgeDev) bit(port *iface) uint64 {
	for i, p := range b.ports {
		if p == port {
			return 1 << i
		}
	}
	return 0
}

// others is every port but the one the frame came in by.
func (b *bridgeDev) others(port *iface) uint64 {
	all := uint64(1)<<len(b.ports) - 1
	if len(b.ports) == 64 {
		all = ^uint64(0)
	}
	return all &^ b.bit(port)
}

// outName is Result.Out for copies that left by a set of ports: their
// names joined by commas (built once per set).
func (b *bridgeDev) outName(set uint64) string {
	if s, ok := b.outNames[set]; ok {
		return s
	}
	var names []string
	for i, p := range b.ports {
		if set&(1<<i) != 0 {
			names = append(names, p.name)
		}
	}
	s := strings.Join(names, ",")
	b.outNames[set] = s
	return s
}
