package ct

// What the flowtable (net/netfilter/nf_flow_table_core.c, nft_flow_offload.c)
// does to a conntrack entry. The flowtable itself lives in the vm; these are
// the entry's side of it: the IPS_OFFLOAD bit, the one-day timeout while the
// flow is offloaded, TCP window tracking turned liberal, and the state and
// timeout an entry gets back when its flow is torn down.

// StatusOffload is IPS_OFFLOAD: the entry's packets are forwarded by a
// flowtable. `conntrack -L` shows [OFFLOAD] in place of [ASSURED].
const StatusOffload = 0x4000

// Status bits that keep a connection out of a flowtable
// (nft_flow_offload_eval): IPS_SEQ_ADJUST and IPS_NAT_CLASH.
const (
	StatusSeqAdjust = 0x40
	StatusNATClash  = 0x1000
)

// ctDay is NF_CT_DAY in jiffies.
const ctDay = 86400 * hz

// HZ is the kernel's CONFIG_HZ, for callers that keep jiffies deadlines.
const HZ = hz

// Jiffies converts the replay clock (ns) to the kernel's 32-bit jiffies,
// the clock conntrack and the flowtable keep their deadlines in.
func Jiffies(now int64) uint32 { return jiffies(now) }

// TCPEstablished is nf_conntrack_tcp_established: ESTABLISHED and ASSURED.
//
// Ref: include/net/netfilter/nf_conntrack_l4proto.h — nf_conntrack_tcp_established
func (c *Conn) TCPEstablished() bool {
	return c.orig.Proto == 6 && c.tcp.state == tcpEstablished && c.Status&StatusAssured != 0
}

// Dying reports nf_ct_is_dying: the entry was killed or freed.
func (c *Conn) Dying() bool { return c.Status&StatusDying != 0 }

// Deadline is ct->timeout of a confirmed entry: its expiry in jiffies.
func (c *Conn) Deadline() uint32 { return c.timeout }

// FlowLiberal turns TCP window checks liberal in both directions: once a
// flow is offloaded the tracker misses its packets.
//
// Ref: net/netfilter/nft_flow_offload.c — flow_offload_ct_tcp
func (c *Conn) FlowLiberal() {
	if c.orig.Proto == 6 {
		c.tcp.flags[0] |= tcpFlagBeLiberal
		c.tcp.flags[1] |= tcpFlagBeLiberal
	}
}

// FlowOffloaded pushes the entry's timeout to a day once its flow is in a
// flowtable, so the entry outlives the flow however long it stays
// offloaded (`conntrack -L` shows about 86400 s).
//
// Ref: net/netfilter/nf_flow_table_core.c — flow_offload_add (nf_ct_refresh(ct, NF_CT_DAY))
func (t *Table) FlowOffloaded(c *Conn, now int64) {
	t.setTimeout(c, ctDay, jiffies(now))
}

// setTimeout is nf_ct_refresh for a confirmed entry.
func (t *Table) setTimeout(c *Conn, extra, j uint32) {
	if c.Status&statusFixedTimeout != 0 || c.Status&StatusConfirmed == 0 {
		return
	}
	c.timeout = j + extra
	t.gcBefore(c.timeout)
}

// FlowExtendTimeout is the flowtable gc's nf_flow_table_extend_ct_timeout:
// an offloaded entry whose timeout fell under five minutes (a packet that
// took the classic path refreshed it) gets the timeout its state allows
// while offloaded: a day for UDP and established TCP, five minutes for TCP
// closing states, unchanged for SYN_SENT, SYN_RECV and CLOSE.
//
// Ref: net/netfilter/nf_flow_table_core.c — nf_flow_table_extend_ct_timeout, nf_flow_table_tcp_timeout
func (t *Table) FlowExtendTimeout(c *Conn, now int64) {
	j := jiffies(now)
	expires := int32(c.timeout - j)
	if expires <= 0 || expires >= 5*60*hz {
		return
	}
	if c.Status&StatusConfirmed == 0 || c.Status&StatusOffload == 0 {
		return
	}
	var nt uint32
	switch c.orig.Proto {
	case 17:
		nt = ctDay
	case 6:
		switch c.tcp.state {
		case tcpEstablished:
			nt = ctDay
		case tcpFinWait, tcpCloseWait, tcpLastAck, tcpTimeWait:
			nt = 5 * 60 * hz
		}
	}
	if nt != 0 {
		c.timeout = j + nt
		t.gcBefore(c.timeout)
	}
}

// FlowTeardown is flow_offload_teardown's side of the entry: the offload
// bit goes, and TCP and UDP entries get the timeout of the state conntrack
// last saw (a flow that saw FIN or RST while offloaded — closing — is put
// in CLOSE, so a new SYN reopens it). A flow torn down because it expired
// has its idle time, offloadTimeout jiffies, taken off that timeout. The
// timeout only ever shortens, except for a closing flow. Other protocols
// (GRE) keep the day-long timeout: the kernel does not fix them up.
//
// Ref: net/netfilter/nf_flow_table_core.c — flow_offload_teardown,
// flow_offload_fixup_ct, flow_offload_fixup_tcp
func (t *Table) FlowTeardown(c *Conn, closing, expired bool, offloadTimeout uint32, now int64) {
	c.Status &^= StatusOffload
	var timeout int64
	switch c.orig.Proto {
	case 6:
		s := &c.tcp
		if closing {
			s.state = tcpClose
			expired = false
		}
		if s.state == tcpClose {
			s.flags[0] |= tcpFlagCloseInit
		}
		s.seen[0].maxwin, s.seen[1].maxwin = 0, 0
		s.flags[0] &^= tcpFlagMaxackSet
		s.flags[1] &^= tcpFlagMaxackSet
		timeout = int64(t.p.tcp[s.state])
	case 17:
		timeout = int64(t.p.udp)
		if c.Status&StatusSeenReply != 0 {
			timeout = int64(t.p.udpStream)
		}
	default:
		return
	}
	if expired {
		timeout -= int64(offloadTimeout)
	}
	if timeout < 0 {
		timeout = 0
	}
	j := jiffies(now)
	if closing || int64(int32(c.timeout-j)) > timeout {
		t.setTimeout(c, uint32(timeout), j)
	}
}

// FlowAcct is nf_ct_acct_update for a packet the flowtable forwarded
// (flowtables with the counter flag): the entry's counters of direction dir
// count it, when nf_conntrack_acct is on.
//
// Ref: net/netfilter/nf_flow_table_ip.c — nf_flow_offload_ip_hook (NF_FLOWTABLE_COUNTER)
func (t *Table) FlowAcct(c *Conn, dir uint8, bytes int) {
	if !t.p.acct || dir > 1 {
		return
	}
	idx, ok := t.idxOf(c)
	if !ok {
		return
	}
	k, off := chunkOf(idx)
	t.acct[k][off][dir].packets++
	t.acct[k][off][dir].bytes += uint64(bytes)
}
