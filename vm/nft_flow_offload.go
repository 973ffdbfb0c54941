package vm

import (
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// Flowtables: `flowtable` declarations and the `flow add @ft` statement.
//
// A flow is offloaded by the flow_offload expression in a forward chain;
// from then on a packet of it that arrives on a device the flowtable is
// attached to is forwarded at that device's ingress hook: NAT from the
// conntrack entry, TTL decremented, sent out of the device the flow's other
// direction came in on. It passes no prerouting, forward or postrouting
// hook, so no nf_tables chain, no conntrack and no NAT core sees it. The
// kernel keeps the flows in a hash keyed by tuple and input device; a gc
// work runs every second, tearing down flows idle for their timeout.

// flowOffloadTimeout is NF_FLOW_TIMEOUT and the default of the
// nf_flowtable_tcp_timeout and nf_flowtable_udp_timeout sysctls (s).
const flowOffloadTimeout = 30

// Flowtable flags (enum nft_flowtable_flags).
const (
	flowtableHWOffload = 0x1
	flowtableCounter   = 0x2
)

// flowKey is struct flow_offload_tuple's lookup part: addresses, ports
// (TCP and UDP only), protocols and the input device.
type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
	l3, l4       uint8
	iif          int32
}

// flowEntry is struct flow_offload: the conntrack entry it holds, both
// directions' keys and output devices, its deadline in jiffies and flags.
type flowEntry struct {
	conn *ct.Conn
	// orig and zone identify conn: a slab slot that was freed and reused
	// for another connection is not this flow's entry any more.
	orig    ct.Tuple
	zone    uint16
	key     [2]flowKey
	out     [2]*iface
	timeout uint32
	live    bool
	snat    bool
	dnat    bool
	// closing is NF_FLOW_CLOSING (a FIN or RST was forwarded), teardown
	// NF_FLOW_TEARDOWN (no longer used; freed at the next gc).
	closing, teardown bool
}

// flowtable is one loaded flowtable (struct nf_flowtable).
type flowtable struct {
	name  string
	table int
	fam   ruleset.Family
	flags uint32
	// flows maps each direction's key to entry index<<1 | direction.
	flows map[flowKey]int32
	ents  []flowEntry
	free  []int32
	live  int
}

// flowState is every flowtable of the machine and their gc schedule.
type flowState struct {
	tables []flowtable
	live   int
	// gcNext is the next gc run (replay time, ns) that can change
	// anything. The gc work runs every second; its phase is the
	// replay clock's whole seconds, the same for every machine of a
	// sharded replay (the kernel's is wherever the flowtable's creation
	// put it).
	gcNext     int64
	tcpTimeout uint32 // jiffies
	udpTimeout uint32
}

// loadFlowtables registers the table's flowtables: the ingress hook on each
// of their devices the host has (devices it lacks are accepted, as 6.18
// accepts hooks on devices that do not exist yet, and never see a packet).
//
// Ref: net/netfilter/nf_tables_api.c — nf_tables_newflowtable,
// nft_flowtable_parse_hook; net/netfilter/nf_flow_table_offload.c —
// nf_flow_table_offload_setup (hardware offload needs a driver).
func (l *loader) loadFlowtables() error {
	m, t := l.m, l.t
	fs := &m.flow
	if fs.tcpTimeout == 0 {
		fs.tcpTimeout = flowSysctl(m.cfg.CT.Sysctls, "net.netfilter.nf_flowtable_tcp_timeout")
		fs.udpTimeout = flowSysctl(m.cfg.CT.Sysctls, "net.netfilter.nf_flowtable_udp_timeout")
	}
	for _, o := range t.Objects {
		if o == nil || o.Kind != "flowtable" {
			continue
		}
		lerr := func(err error) error { return &LoadError{Family: t.Family, Table: t.Name, Expr: "flowtable", Err: err} }
		switch t.Family {
		case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
		default:
			// No flowtable type for the family (nft_flowtable_type_get
			// finds none, the module request fails).
			return lerr(errNoEnt)
		}
		for i := range fs.tables {
			if fs.tables[i].table == l.ti && fs.tables[i].name == o.Name {
				return lerr(errExist)
			}
		}
		ft := flowtable{name: o.Name, table: l.ti, fam: t.Family, flows: map[flowKey]int32{}}
		var prio int32
		var devs []string
		for _, a := range o.Attrs {
			switch a.Key {
			case "hook":
				if a.Value != "ingress" {
					return lerr(errNotSupp)
				}
			case "priority":
				n, err := strconv.ParseInt(a.Value, 10, 32)
				if err != nil {
					return lerr(errInval)
				}
				prio = int32(n)
			case "device", "devices":
				devs = append(devs, a.Value)
			case "counter":
				ft.flags |= flowtableCounter
			case "flags":
				for _, f := range strings.FieldsFunc(a.Value, func(r rune) bool { return r == ',' || r == ' ' }) {
					switch f {
					case "offload":
						ft.flags |= flowtableHWOffload
					case "counter":
						ft.flags |= flowtableCounter
					default:
						n, err := strconv.ParseUint(f, 0, 32)
						if err != nil {
							return lerr(errInval)
						}
						ft.flags |= uint32(n)
					}
				}
			}
		}
		if ft.flags&^(flowtableHWOffload|flowtableCounter) != 0 {
			return lerr(errNotSupp)
		}
		if ft.flags&flowtableHWOffload != 0 && len(devs) > 0 {
			// No device of the host model has a driver that offloads
			// flows (ndo_setup_tc), as tun and veth have none.
			return lerr(errNotSupp)
		}
		fi := len(fs.tables)
		fs.tables = append(fs.tables, ft)
		seq := *l.seq
		*l.seq++
		seen := map[*iface]bool{}
		for _, d := range devs {
			i := m.host.byName[d]
			if i == nil || seen[i] {
				continue
			}
			seen[i] = true
			i.ingress = append(i.ingress, hookEntry{kind: entFlowtable, prio: prio, seq: seq, chain: fi})
		}
	}
	return nil
}

// flowSysctl reads a flowtable timeout sysctl (seconds) in jiffies.
func flowSysctl(s map[string]int64, key string) uint32 {
	v, ok := s[key]
	if !ok || v < 0 {
		v = flowOffloadTimeout
	}
	return uint32(v) * ct.HZ
}

// loadFlowOffload is nft_flow_offload_init: the flowtable must exist in
// the rule's table; the expression takes a conntrack reference.
//
// Ref: net/netfilter/nft_flow_offload.c — nft_flow_offload_init
func (l *loader) loadFlowOffload(x *ruleset.Generic) (in insn, st int32, err error) {
	st = -1
	name := strings.TrimSpace(strings.TrimPrefix(x.Body, "flowtable "))
	for i := range l.m.flow.tables {
		if ft := &l.m.flow.tables[i]; ft.table == l.ti && ft.name == name {
			l.takeConntrack()
			in.op, in.idx = opFlowOffload, int32(i)
			return in, st, nil
		}
	}
	return in, st, errNoEnt
}

// flowOffloadAllowed is nft_flow_offload_validate: ip, ip6 and inet
// tables, forward chains only.
func flowOffloadAllowed(fam ruleset.Family, h *ruleset.ChainHook) error {
	switch fam {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
	default:
		return errNotSupp
	}
	if h.Hook != ruleset.HookForward {
		return errNotSupp
	}
	return nil
}

// flowOffloadEval offloads the packet's connection to the flowtable, or
// BREAKs (the rule goes no further) when it cannot: IPv4 options, no
// conntrack entry, a protocol other than TCP, UDP and keyless GRE
// without NAT, a TCP segment with FIN or RST or a connection that is not
// ESTABLISHED and ASSURED, a conntrack helper, SEQ_ADJUST or NAT_CLASH, an
// unconfirmed entry
// (the first packet of a connection), one already offloaded, or a flow
// whose tuples are still in the flowtable (torn down, awaiting gc).
//
// The flow's direction of this packet comes in on the packet's input
// device and leaves by its output device; the other direction the other
// way round (nft_flow_route looks the way back up with the input device as
// output interface, which always finds it).
//
// Ref: net/netfilter/nft_flow_offload.c — nft_flow_offload_eval,
// nft_flow_offload_skip, nft_flow_route; net/netfilter/nf_flow_table_core.c
// — flow_offload_alloc, flow_offload_fill_dir, flow_offload_add
func (m *machine) flowOffloadEval(in *insn) {
	if !m.flowOffload(int(in.idx)) {
		m.verdict = ruleset.VerdictBreak
	}
}

func (m *machine) flowOffload(fi int) bool {
	p := m.pkt
	nh := p.Network()
	if p.NFProto == packet.NFProtoIPv4 && (len(nh) < 20 || nh[0]&0x0f != 5) {
		return false // IPCB(skb)->opt.optlen
	}
	c := m.conn
	if c == nil || m.ct == nil {
		return false
	}
	proto := c.Protocol()
	switch proto {
	case packet.ProtoTCP:
		if !p.HasL4 || p.L4Proto != packet.ProtoTCP || p.FragOff != 0 || p.ThOff+20 > len(p.Data) {
			return false
		}
		if p.Data[p.ThOff+13]&(thFIN|thRST) != 0 || !c.TCPEstablished() {
			return false
		}
	case packet.ProtoUDP:
	case packet.ProtoGRE:
		o := c.Orig()
		if c.Status&(ct.StatusSrcNAT|ct.StatusDstNAT) != 0 || o.SrcPort != 0 || o.DstPort != 0 {
			return false
		}
	default:
		return false
	}
	if c.Status&(ct.StatusSeqAdjust|ct.StatusNATClash) != 0 || c.Status&ct.StatusConfirmed == 0 {
		return false
	}
	if m.ct.Helper(c) != nil {
		return false // nf_ct_ext_exist(ct, NF_CT_EXT_HELPER)
	}
	if c.Status&ct.StatusOffload != 0 {
		return false
	}
	c.Status |= ct.StatusOffload
	if m.in == nil || m.out == nil || c.Dying() {
		c.Status &^= ct.StatusOffload
		return false
	}
	ft := &m.flow.tables[fi]
	dir := ct.Direction(m.info)
	var f flowEntry
	for d := uint8(0); d < 2; d++ {
		t := c.TupleDir(d)
		k := &f.key[d]
		k.src, k.dst, k.l3, k.l4 = t.Src, t.Dst, t.L3, t.Proto
		if proto == packet.ProtoTCP || proto == packet.ProtoUDP {
			k.sport, k.dport = t.SrcPort, t.DstPort
		}
	}
	f.key[dir].iif, f.out[dir] = int32(m.in.idx), m.out
	f.key[1-dir].iif, f.out[1-dir] = int32(m.out.idx), m.in
	c.FlowLiberal()
	_, dup0 := ft.flows[f.key[0]]
	_, dup1 := ft.flows[f.key[1]]
	if dup0 || dup1 {
		c.Status &^= ct.StatusOffload
		return false
	}
	f.conn, f.orig, f.zone, f.live = c, c.Orig(), c.Zone, true
	f.snat = c.Status&ct.StatusSrcNAT != 0
	f.dnat = c.Status&ct.StatusDstNAT != 0
	f.timeout = ct.Jiffies(m.now) + m.flow.offloadTimeout(proto)
	var idx int32
	if n := len(ft.free); n > 0 {
		idx = ft.free[n-1]
		ft.free = ft.free[:n-1]
		ft.ents[idx] = f
	} else {
		idx = int32(len(ft.ents))
		ft.ents = append(ft.ents, f)
	}
	ft.flows[f.key[0]] = idx << 1
	ft.flows[f.key[1]] = idx<<1 | 1
	ft.live++
	m.flow.live++
	m.ct.FlowOffloaded(c, m.now)
	m.flowGCSoon(m.now)
	return true
}

// offloadTimeout is flow_offload_get_timeout in jiffies.
func (fs *flowState) offloadTimeout(proto uint8) uint32 {
	switch proto {
	case packet.ProtoTCP:
		return fs.tcpTimeout
	case packet.ProtoUDP:
		return fs.udpTimeout
	}
	return flowOffloadTimeout * ct.HZ
}

// alive is the flow's half of flow_offload_lookup and the gc's
// nf_ct_is_dying test: its conntrack entry still exists.
func (f *flowEntry) alive() bool {
	c := f.conn
	return c != nil && !c.Dying() && c.Status&ct.StatusConfirmed != 0 && c.Zone == f.zone && c.Orig() == f.orig
}

// flowHook is the flowtable's ingress hook on one device: a packet of an
// offloaded flow that arrived on the device the flow expects is forwarded
// here and goes no further (NF_STOLEN); anything else goes on to the next
// hook entry. It reports whether it took the packet.
//
// Not taken: a family the flowtable's table does not cover, IPv4 fragments
// or options, protocols other than TCP, UDP and GRE version 0, TTL or hop
// limit ≤ 1 (the classic path sends time exceeded), no flow for the tuple
// and input device, a flow torn down or whose entry died, a packet over
// the output device's MTU, and a TCP SYN on a closing flow (which tears it
// down). A FIN or RST marks the flow closing and is still forwarded.
//
// Ref: net/netfilter/nf_flow_table_ip.c — nf_flow_offload_ip_hook,
// nf_flow_offload_ipv6_hook, nf_flow_tuple_ip, nf_flow_tuple_ipv6,
// nf_flow_state_check, nf_flow_offload_forward;
// net/netfilter/nf_flow_table_inet.c — nf_flow_offload_inet_hook;
// net/netfilter/nf_flow_table_core.c — flow_offload_lookup, flow_offload_refresh
func (m *machine) flowHook(fi int) bool {
	ft := &m.flow.tables[fi]
	if ft.live == 0 || m.in == nil || m.pkt.HasVLAN {
		return false
	}
	p := m.pkt
	b := p.Network()
	var k flowKey
	var thoff int
	switch p.NFProto {
	case packet.NFProtoIPv4:
		if ft.fam == ruleset.FamilyIPv6 || len(b) < 20 || b[0]&0x0f != 5 || b[6]&0x3f != 0 || b[7] != 0 {
			return false
		}
		thoff, k.l4 = 20, b[9]
		if b[8] <= 1 {
			return false
		}
		copy(k.src[:4], b[12:16])
		copy(k.dst[:4], b[16:20])
	case packet.NFProtoIPv6:
		if ft.fam == ruleset.FamilyIPv4 || len(b) < 40 {
			return false
		}
		thoff, k.l4 = 40, b[6]
		if b[7] <= 1 {
			return false
		}
		copy(k.src[:], b[8:24])
		copy(k.dst[:], b[24:40])
	default:
		return false
	}
	k.l3 = p.NFProto
	hdr := 0
	switch k.l4 {
	case packet.ProtoTCP:
		hdr = 20
	case packet.ProtoUDP:
		hdr = 8
	case packet.ProtoGRE:
		hdr = 4
	default:
		return false
	}
	if thoff+hdr > len(b) {
		return false
	}
	l4 := b[thoff:]
	switch k.l4 {
	case packet.ProtoGRE:
		if l4[1]&0x07 != 0 {
			return false
		}
	default:
		k.sport = uint16(l4[0])<<8 | uint16(l4[1])
		k.dport = uint16(l4[2])<<8 | uint16(l4[3])
	}
	k.iif = int32(m.in.idx)
	ref, ok := ft.flows[k]
	if !ok {
		return false
	}
	f := &ft.ents[ref>>1]
	dir := uint8(ref & 1)
	if f.teardown || !f.alive() {
		return false
	}
	if len(b) > mtuOf(f.out[dir]) {
		return false
	}
	if k.l4 == packet.ProtoTCP {
		fl := l4[13]
		if fl&thSYN != 0 && f.closing {
			m.flowTeardown(f, m.now)
			return false
		}
		if fl&(thFIN|thRST) != 0 {
			f.closing = true
		}
	}
	// flow_offload_refresh: only when it moves the deadline by over a
	// second (unsigned, as the kernel compares).
	if to := ct.Jiffies(m.now) + m.flow.offloadTimeout(k.l4); to-f.timeout > ct.HZ {
		f.timeout = to
	}
	c := f.conn
	if f.snat || f.dnat {
		info := ct.Established
		if dir == 1 {
			info = ct.EstablishedReply
		}
		m.ct.Mangle(p, c, info, ct.HookPrerouting)
		m.ct.Mangle(p, c, info, ct.HookPostrouting)
	}
	decTTL(p)
	if ft.flags&flowtableCounter != 0 {
		m.ct.FlowAcct(c, dir, p.Len())
	}
	m.out = f.out[dir]
	m.egressHook()
	return true
}

// mtuOf is the flow's cached route MTU: the output device's.
func mtuOf(i *iface) int {
	if i != nil && i.name == "lo" {
		return mtuLoop
	}
	return mtuDefault
}

// TCP header flags the flowtable looks at.
const (
	thFIN = 0x01
	thSYN = 0x02
	thRST = 0x04
)

// flowTeardown is flow_offload_teardown: the entry loses its offload bit
// and gets its state's timeout back; the flow stays in the hash, unused,
// until the gc frees it.
//
// Ref: net/netfilter/nf_flow_table_core.c — flow_offload_teardown, flow_offload_fixup_ct
func (m *machine) flowTeardown(f *flowEntry, now int64) {
	if f.teardown {
		return
	}
	f.teardown = true
	if !f.alive() {
		return
	}
	expired := int32(f.timeout-ct.Jiffies(now)) <= 0
	m.ct.FlowTeardown(f.conn, f.closing, expired, m.flow.offloadTimeout(f.orig.Proto), now)
	m.flowGCSoon(now)
}

// flowGCSoon makes the gc run at its next tick after now (a gcNext at or
// before now is stale: advance ran every tick up to now).
func (m *machine) flowGCSoon(now int64) {
	fs := &m.flow
	if t := tickAfter(now); fs.gcNext <= now || t < fs.gcNext {
		fs.gcNext = t
	}
}

// tickAfter is the first gc run strictly after t.
func tickAfter(t int64) int64 {
	q := t / 1e9
	if t < 0 && t%1e9 != 0 {
		q--
	}
	return (q + 1) * 1e9
}

// flowAdvance runs the flowtable gc work at each of its one-second ticks
// up to now (before conntrack reaps, so a torn-down entry's new timeout
// counts). Ticks where nothing can change are skipped: a flow changes at
// its deadline, an entry at five minutes before its own (the timeout
// extension) and at its expiry.
//
// Ref: net/netfilter/nf_flow_table_core.c — nf_flow_offload_work_gc, nf_flow_offload_gc_step
func (m *machine) flowAdvance(now int64) {
	fs := &m.flow
	for fs.live > 0 && fs.gcNext <= now {
		t := fs.gcNext
		next := m.flowGC(t)
		if next <= t {
			next = t + 1
		}
		fs.gcNext = tickAfter(next - 1)
	}
}

// flowGC is one gc run at time t; it returns when the next one matters.
func (m *machine) flowGC(t int64) int64 {
	fs := &m.flow
	j := ct.Jiffies(t)
	next := int64(1<<63 - 1)
	at := func(deadline uint32) {
		d := int64(int32(deadline-j)) * (1e9 / ct.HZ)
		if d > 0 && t+d < next {
			next = t + d
		}
	}
	for ti := range fs.tables {
		ft := &fs.tables[ti]
		for i := range ft.ents {
			f := &ft.ents[i]
			if !f.live {
				continue
			}
			if int32(f.timeout-j) <= 0 || !f.alive() {
				m.flowTeardown(f, t)
			} else if !f.teardown {
				m.ct.FlowExtendTimeout(f.conn, t)
			}
			if f.teardown {
				delete(ft.flows, f.key[0])
				delete(ft.flows, f.key[1])
				*f = flowEntry{}
				ft.free = append(ft.free, int32(i))
				ft.live--
				fs.live--
				continue
			}
			at(f.timeout)
			d := f.conn.Deadline()
			at(d - 5*60*ct.HZ + 1) // under five minutes left: extend
			at(d)
		}
	}
	return next
}
