package vm

import (
	"encoding/binary"
	"math"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// begin resets the per-packet state (a fresh skb).
func (m *machine) begin(p *packet.Packet, now int64) {
	m.pkt = p
	m.now = now
	m.conn = nil
	m.info = ct.NoInfo
	m.untracked = false
	m.tmpl, m.zone = false, 0
	m.mark, m.priority, m.nftrace = 0, 0, 0
	m.pkttype = pktType(p)
	m.in, m.out = nil, nil
	m.res = Result{Verdict: ruleset.VerdictAccept, CtState: CtStateInvalid, CtDirection: -1}
	if m.replying && m.replyCt.set {
		m.conn, m.info, m.untracked = m.replyCt.conn, m.replyCt.info, m.replyCt.untracked
		m.tmpl, m.zone = m.replyCt.tmpl, m.replyCt.zone
	}
	m.replyCt = replyAttach{}
	m.nfproto = p.NFProto
	if p.NFProto == packet.NFProtoIPv6 {
		m.af = af6
	} else {
		m.af = af4
	}
}

// receive is ip_rcv → prerouting → routing → input, or forward →
// postrouting.
//
// Ref: net/ipv4/ip_input.c — ip_rcv, ip_rcv_finish; net/ipv4/ip_forward.c — ip_forward.
func (m *machine) receive(p *packet.Packet, ifname string, now int64) Result {
	return *m.receiveRef(p, ifname, now)
}

// receiveRef is receive answering with the machine's own Result (valid
// until the next packet): the Result is ~140 bytes, and copying it up
// every return of the path cost more than the routing decision.
func (m *machine) receiveRef(p *packet.Packet, ifname string, now int64) *Result {
	m.begin(p, now)
	if p.Protocol == packet.EtherTypeARP && p.NFProto == 0 {
		m.res = m.receiveARP(p, ifname)
		return &m.res
	}
	if p.NFProto != packet.NFProtoIPv4 && p.NFProto != packet.NFProtoIPv6 {
		return &m.res
	}
	src, _ := rawAddrs(p)
	if src == nil {
		return &m.res
	}
	if ifname != "" {
		// A replay passes the same few interface names again and again:
		// remember the last one instead of hashing the name per packet.
		if ifname != m.lastInName || m.lastIn == nil {
			m.lastIn, m.lastInName = m.host.byName[ifname], ifname
		}
		m.in = m.lastIn
	}
	if m.in == nil {
		m.in = m.host.route(src)
	}
	// Ref: net/core/dev.c — nf_hook_ingress, before the IP layer.
	if m.in != nil && len(m.in.ingress) > 0 && !m.runEntries(m.in.ingress, ruleset.HookIngress, "ingress") {
		return m.finishRef()
	}
	if m.in != nil && m.in.br != nil && p.MACLen == ethHeaderLen {
		// A bridge port: the bridge takes the frame (br_handle_frame).
		m.res = m.brReceive(p)
		return &m.res
	}
	if !m.runHook(ruleset.HookPrerouting, "prerouting") {
		return m.finishRef()
	}
	return m.routeInputRef(p)
}

// routeInput is ip_rcv_finish's routing decision and what follows it:
// input for a local destination, else forward and postrouting.
func (m *machine) routeInput(p *packet.Packet) Result {
	return *m.routeInputRef(p)
}

func (m *machine) routeInputRef(p *packet.Packet) *Result {
	// Routing uses the destination after DNAT.
	src, dst := rawAddrs(p)
	if len(dst) != 4 || !m.host.plain4(src, dst) {
		switch m.host.classify(p, src, dst) {
		case routeDrop:
			return m.kernelDropRef("routing")
		case routeLocal:
			m.runHook(ruleset.HookInput, "input")
			return m.finishRef()
		}
		if m.host.local(dst) {
			if m.host.local(src) && m.in != m.host.lo {
				// Martian source: ip_route_input_slow drops it.
				return m.kernelDropRef("routing")
			}
			m.runHook(ruleset.HookInput, "input")
			return m.finishRef()
		}
		if m.host.local(src) {
			return m.kernelDropRef("routing")
		}
	}
	m.out = m.host.route(dst)
	if m.out == nil || m.out == m.host.lo {
		return m.kernelDropRef("routing")
	}
	if !decTTL(p) {
		// ip_forward's too_many_hops: time exceeded goes back from the
		// in interface's address through output (rate limits off, as in
		// the kernel oracle).
		if p.NFProto == packet.NFProtoIPv4 {
			m.pendingErr = m.icmpError(p, 11, 0, false)
		} else {
			m.pendingErr = m.icmp6Error(p, 3, 0, false)
		}
		if m.pendingErr != nil {
			m.replyCt = m.ctAttach()
		}
		return m.kernelDropRef("routing")
	}
	if !m.runHook(ruleset.HookForward, "forward") {
		return m.finishRef()
	}
	if m.runHook(ruleset.HookPostrouting, "postrouting") {
		m.egressHook()
	}
	return m.finishRef()
}

// send is a locally generated packet: output → routing → postrouting.
//
// Ref: net/ipv4/ip_output.c — __ip_local_out, ip_output.
func (m *machine) send(p *packet.Packet, now int64) Result {
	return *m.sendRef(p, now)
}

// sendRef is send answering with the machine's own Result (see receiveRef).
func (m *machine) sendRef(p *packet.Packet, now int64) *Result {
	m.begin(p, now)
	if p.Protocol == packet.EtherTypeARP && p.NFProto == 0 {
		m.res = m.sendARP(p)
		return &m.res
	}
	if p.NFProto != packet.NFProtoIPv4 && p.NFProto != packet.NFProtoIPv6 {
		return &m.res
	}
	_, dst := rawAddrs(p)
	if dst == nil {
		return &m.res
	}
	m.out = m.host.route(dst)
	if m.host.local(dst) {
		m.out = m.host.lo
	}
	if m.out == nil {
		// No route: the socket call fails before any hook.
		return m.kernelDropRef("routing")
	}
	if !m.runHook(ruleset.HookOutput, "output") {
		return m.finishRef()
	}
	// Re-route after output (DNAT or mark may have changed the route).
	_, dst = rawAddrs(p)
	if m.host.local(dst) {
		m.out = m.host.lo
	} else if o := m.host.route(dst); o != nil {
		m.out = o
	}
	if !m.runHook(ruleset.HookPostrouting, "postrouting") {
		return m.finishRef()
	}
	if m.out != m.host.lo {
		m.egressHook()
		return m.finishRef()
	}
	// A packet to a local address comes back in on lo: prerouting, then
	// input. Its conntrack entry stays attached (already confirmed).
	m.in, m.out = m.host.lo, nil
	if m.runHook(ruleset.HookPrerouting, "prerouting") {
		m.runHook(ruleset.HookInput, "input")
	}
	return m.finishRef()
}

// egressHook runs the out device's netdev egress chains.
//
// Ref: net/core/dev.c — nf_hook_egress.
func (m *machine) egressHook() {
	if m.out != nil && len(m.out.egress) > 0 {
		m.runEntries(m.out.egress, ruleset.HookNetdevEgress, "egress")
	}
}

// decTTL is ip_decrease_ttl / the IPv6 hop-limit decrement before the
// forward hook; a packet whose TTL would expire is dropped (the kernel
// sends time exceeded).
func decTTL(p *packet.Packet) bool {
	b := p.Network()
	if p.NFProto == packet.NFProtoIPv4 {
		if len(b) < 20 || b[8] <= 1 {
			return false
		}
		// Ref: include/net/ip.h — ip_decrease_ttl (the checksum as a
		// native little-endian word plus htons(0x0100)).
		check := uint32(binary.LittleEndian.Uint16(b[10:])) + 0x0001
		if check >= 0xffff {
			check++
		}
		binary.LittleEndian.PutUint16(b[10:], uint16(check))
		b[8]--
		return true
	}
	if len(b) < 40 || b[7] <= 1 {
		return false
	}
	b[7]--
	return true
}

func (m *machine) kernelDrop(stage string) Result {
	return *m.kernelDropRef(stage)
}

func (m *machine) kernelDropRef(stage string) *Result {
	m.res.Verdict = ruleset.VerdictDrop
	m.res.KernelDrop = stage
	return m.finishRef()
}

// finish releases an unconfirmed conntrack entry of a packet that did not
// make it (it never enters the table) and fills in the egress interface.
func (m *machine) finish() Result {
	return *m.finishRef()
}

func (m *machine) finishRef() *Result {
	m.res.CtState = m.ctState()
	m.res.CtDirection = -1
	if m.conn != nil {
		m.res.CtDirection = int8(ct.Direction(m.info))
	}
	if m.flow.live > 0 && m.conn != nil && m.conn.Status&ct.StatusOffload != 0 {
		// A packet of an offloaded flow took the classic path and may
		// have shortened its entry's timeout: the flowtable gc looks at
		// it at its next run.
		m.flowGCSoon(m.now)
	}
	// held is an unconfirmed entry of a packet that did not make it: freed
	// here, after an answer that carries it has gone (the answer holds a
	// reference, and its confirm may still insert the entry).
	var held *ct.Conn
	if m.res.Verdict != ruleset.VerdictAccept {
		if c := m.conn; c != nil && c.Status&ct.StatusConfirmed == 0 {
			held = c
		}
		m.res.Out = ""
	} else if m.out != nil {
		m.res.Out = m.out.name
	}
	if m.res.Reject != nil && m.replyDepth < maxReplyDepth {
		m.res = m.sendReply()
	} else if m.pendingErr != nil {
		if held != nil && m.replyCt.conn != held {
			// The answer does not carry the entry (synproxy's SYN to
			// the server): it is gone before the answer is built.
			m.ct.Release(held)
			held = nil
		}
		b := m.pendingErr
		m.pendingErr = nil
		m.res = m.sendBytes(m.res, b)
	}
	if held != nil {
		m.ct.Release(held)
	}
	m.pkt = nil
	return &m.res
}

// sendReply builds the reject's reply and sends it as a local packet
// carrying the rejected packet's conntrack entry.
//
// Ref: net/ipv4/netfilter/nf_reject_ipv4.c — nf_send_reset (nf_ct_attach,
// nf_ct_set_closing); net/ipv4/icmp.c — icmp_glue_bits; net/ipv6/icmp.c — icmpv6_getfrag.
func (m *machine) sendReply() Result {
	res := m.res
	_, dst := rawAddrs(m.pkt)
	b := m.rejectReply(m.pkt, res.Reject, dst != nil && m.host.local(dst))
	if d := res.Decided; d != nil && d.Family == ruleset.FamilyNetdev {
		// A netdev reject hands its answer to the device it came in on
		// (dev_queue_xmit): no IP output path, no conntrack attached.
		// The device's egress chains are not run for it.
		//
		// Ref: net/netfilter/nft_reject_netdev.c — nft_reject_queue_xmit
		m.pkt = nil
		if b != nil {
			res.Reply, res.ReplyVerdict = b, ruleset.VerdictAccept
		}
		return res
	}
	if b != nil {
		m.replyCt = m.ctAttach()
		if res.Reject.Type == ruleset.RejectTCPRst {
			// nf_send_reset closes the entry the reset carries.
			m.ct.SetClosing(m.conn, m.now)
		}
	}
	return m.sendBytes(res, b)
}

// sendBytes sends a packet the kernel generated in answer to the current
// one (a reject's reply, an ICMP error) through output and postrouting and
// records it on res.
func (m *machine) sendBytes(res Result, b []byte) Result {
	m.pkt = nil
	if b == nil {
		return res
	}
	var rp packet.Packet
	if rp.Decode(packet.LinkRaw, b) != nil {
		return res
	}
	replying := m.replying
	m.replying = true
	m.replyDepth++
	rr := m.sendRef(&rp, m.now)
	m.replyDepth--
	m.replying = replying
	res.Reply, res.ReplyVerdict = b, rr.Verdict
	return res
}

// runHook runs every entry of one hook in priority order: base chains,
// conntrack and the NAT core. ACCEPT ends one entry; anything else ends the
// packet's traversal. It reports whether the packet went on.
//
// Ref: net/netfilter/core.c — nf_hook_slow.
func (m *machine) runHook(h ruleset.Hook, stage string) bool {
	return m.runEntries(m.hooks[m.af][h], h, stage)
}

func (m *machine) runEntries(ents []hookEntry, h ruleset.Hook, stage string) bool {
	m.hook = h
	for i := range ents {
		e := &ents[i]
		switch e.kind {
		case entChain:
			if e.pf != 0 {
				m.nfproto = e.pf
			}
			v, dec := m.doChain(e.chain)
			m.nfproto = m.pkt.NFProto
			if !m.verdictOK(v, dec) {
				return false
			}
		case entDefrag:
			if m.defragSkips() {
				continue
			}
			if !m.defrag(h == ruleset.HookOutput) {
				// Held (or dropped) by defrag outside nf_tables; the
				// kernel oracle classes it as a kernel drop in
				// prerouting, though a held fragment leaves later as
				// part of its datagram.
				m.res.Verdict = ruleset.VerdictStolen
				m.res.KernelDrop = "defrag"
				return false
			}
		case entCtIn:
			if m.conn != nil || m.untracked {
				continue
			}
			c, info, drop := m.ct.InZone(m.pkt, uint8(h), m.zone, m.now)
			if drop {
				m.res.Verdict = ruleset.VerdictDrop
				m.res.KernelDrop = stage
				return false
			}
			m.conn, m.info = c, info
		case entNAT:
			if !m.natHook(h) {
				return false
			}
		case entFlowtable:
			if m.flowHook(e.chain) {
				// Forwarded by the flowtable (NF_STOLEN at ingress): no
				// other hook sees the packet.
				return false
			}
		case entConfirm:
			if c := m.conn; c != nil {
				if m.ct.Confirm(c, m.info, m.now) {
					m.res.Verdict = ruleset.VerdictDrop
					m.res.KernelDrop = stage
					return false
				}
			}
		}
	}
	return true
}

// verdictOK records a base chain's verdict on the result and reports
// whether the packet goes on to the next hook entry.
func (m *machine) verdictOK(v ruleset.VerdictCode, dec *Decision) bool {
	m.res.Decided = dec
	switch v {
	case ruleset.VerdictAccept:
		return true
	case ruleset.VerdictQueue:
		if m.res.QueueBypass {
			// No listener and bypass: nf_queue lets the packet on.
			return true
		}
	}
	m.res.Verdict = v
	return false
}

// advance runs the timers: conntrack expiry and every set's GC.
func (m *machine) advance(now int64) {
	if len(m.frags) > 0 {
		m.fragExpire(now)
	}
	// Set GC runs first: each set collects at its last due gc tick, which
	// may lie before now, and must see the conntrack entries still alive at
	// that tick (ct.Find judges expiry at the time it is given). Reaping
	// everything that expired by now comes after.
	if now >= m.setGCDue {
		m.setsGC(now)
	}
	if m.flow.live > 0 {
		m.flowAdvance(now)
	}
	if m.ct != nil && m.ctActive {
		m.ct.Expire(now)
	}
}

// setsGC runs every set's GC due by now and notes when the next one is due.
// Sets are only created at load and a set's schedule moves only when its GC
// runs, so until that time every GC call would return at once.
//
// Ref: net/netfilter/nft_set_hash.c — nft_rhash_gc (each set queues its own gc work)
func (m *machine) setsGC(now int64) {
	due := int64(math.MaxInt64)
	for i := range m.sets {
		if s := m.sets[i].s; s != nil {
			s.GC(m.ct, now)
			if n := s.NextGC(now); n < due {
				due = n
			}
		}
	}
	m.setGCDue = due
}
