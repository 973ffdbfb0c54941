package ct

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"

	"github.com/nftgo/nftgo/packet"
)

// protoNames are libnetfilter_conntrack's L4 protocol names.
//
// Ref: libnetfilter_conntrack src/conntrack/snprintf.c — proto2str
func protoName(p uint8) string {
	switch p {
	case packet.ProtoTCP:
		return "tcp"
	case packet.ProtoUDP:
		return "udp"
	case packet.ProtoUDPLite:
		return "udplite"
	case packet.ProtoICMP:
		return "icmp"
	case packet.ProtoICMPv6:
		return "icmpv6"
	case packet.ProtoSCTP:
		return "sctp"
	case packet.ProtoGRE:
		return "gre"
	case 33:
		return "dccp"
	}
	return "unknown"
}

// addr formats one tuple address as inet_ntop does.
func addr(b *[16]byte, l3 uint8) string {
	if l3 == packet.NFProtoIPv4 {
		return netip.AddrFrom4([4]byte(b[:4])).String()
	}
	return netip.AddrFrom16(*b).String()
}

// appendTuple writes `src=A dst=B ` and the protocol part of a tuple.
//
// Ref: libnetfilter_conntrack src/conntrack/snprintf_default.c — __snprintf_address, __snprintf_proto
func appendTuple(b []byte, t *Tuple) []byte {
	b = append(b, "src="...)
	b = append(b, addr(&t.Src, t.L3)...)
	b = append(b, " dst="...)
	b = append(b, addr(&t.Dst, t.L3)...)
	b = append(b, ' ')
	switch {
	case hasPorts(t.Proto) || t.Proto == 33: // libnetfilter_conntrack prints DCCP ports (0)
		b = append(b, "sport="...)
		b = strconv.AppendUint(b, uint64(t.SrcPort), 10)
		b = append(b, " dport="...)
		b = strconv.AppendUint(b, uint64(t.DstPort), 10)
		b = append(b, ' ')
	case t.Proto == packet.ProtoGRE:
		b = append(b, "srckey=0x"...)
		b = strconv.AppendUint(b, uint64(t.SrcPort), 16)
		b = append(b, " dstkey=0x"...)
		b = strconv.AppendUint(b, uint64(t.DstPort), 16)
		b = append(b, ' ')
	case t.Proto == packet.ProtoICMP || t.Proto == packet.ProtoICMPv6:
		b = append(b, "type="...)
		b = strconv.AppendUint(b, uint64(t.DstPort>>8), 10)
		b = append(b, " code="...)
		b = strconv.AppendUint(b, uint64(t.DstPort&0xff), 10)
		b = append(b, " id="...)
		b = strconv.AppendUint(b, uint64(t.SrcPort), 10)
		b = append(b, ' ')
	}
	return b
}

// appendEntry formats one entry as `conntrack -L` prints it (events 0)
// or as `conntrack -E` prints an event with the given bits: the event tag
// first, the TCP state only with PROTOINFO (or DESTROY), counters only on
// DESTROY, the mark only when non-zero or changed, no use count.
//
// Ref: libnetfilter_conntrack src/conntrack/snprintf_default.c — __snprintf_conntrack_default;
// net/netfilter/nf_conntrack_netlink.c — ctnetlink_conntrack_event
func (t *Table) appendEntry(b []byte, idx uint32, j uint32, events uint16) []byte {
	c := t.conn(idx)
	list := events == 0
	destroy := events&evDestroy != 0
	switch {
	case list:
	case destroy:
		b = append(b, "[DESTROY] "...)
	case events&(evNew|evRelated) != 0:
		b = append(b, "    [NEW] "...)
	default:
		b = append(b, " [UPDATE] "...)
	}
	name := protoName(c.orig.Proto)
	b = append(b, name...)
	for i := len(name); i < 8; i++ {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.orig.Proto), 10)
	b = append(b, ' ')
	// ctnetlink_dump_timeout: remaining jiffies / HZ, truncated; a DESTROY
	// event of an expired entry has none.
	if rem := uint32(max(int32(c.timeout-j), 0)); !destroy || rem > 0 {
		b = strconv.AppendUint(b, uint64(rem/hz), 10)
		b = append(b, ' ')
	}
	if list || destroy || events&evProtoinfo != 0 {
		switch c.orig.Proto {
		case packet.ProtoTCP:
			b = append(b, tcpStateNames[c.tcp.state]...)
			b = append(b, ' ')
		case packet.ProtoSCTP:
			b = append(b, sctpStateNames[c.tcp.state]...)
			b = append(b, ' ')
		}
	}
	var acct *[2]counters
	if t.p.acct && (list || destroy) {
		k, off := chunkOf(idx)
		acct = &t.acct[k][off]
	}
	b = appendTuple(b, &c.orig)
	if acct != nil {
		b = appendCounters(b, &acct[0])
	}
	if c.Status&StatusSeenReply == 0 {
		b = append(b, "[UNREPLIED] "...)
	}
	reply := c.Reply()
	b = appendTuple(b, &reply)
	if acct != nil {
		b = appendCounters(b, &acct[1])
	}
	// libnetfilter_conntrack prints [OFFLOAD] in place of [ASSURED].
	if c.Status&StatusOffload != 0 {
		b = append(b, "[OFFLOAD] "...)
	} else if c.Status&StatusAssured != 0 {
		b = append(b, "[ASSURED] "...)
	}
	if list || c.Mark != 0 || events&evMark != 0 {
		b = append(b, "mark="...)
		b = strconv.AppendUint(b, uint64(c.Mark), 10)
		b = append(b, ' ')
	}
	if c.Zone != 0 {
		b = append(b, "zone="...)
		b = strconv.AppendUint(b, uint64(c.Zone), 10)
		b = append(b, ' ')
	}
	// ctnetlink_dump_helpinfo: in dumps and every event but DESTROY.
	if h := t.Helper(c); h != nil && !destroy {
		b = append(b, "helper="...)
		b = append(b, h.Name...)
		b = append(b, ' ')
	}
	if list {
		return append(b, "use=1\n"...)
	}
	return b[:len(b)-1]
}

func appendCounters(b []byte, c *counters) []byte {
	b = append(b, "packets="...)
	b = strconv.AppendUint(b, c.packets, 10)
	b = append(b, " bytes="...)
	b = strconv.AppendUint(b, c.bytes, 10)
	return append(b, ' ')
}

// WriteList writes the table as `conntrack -L` prints it (confirmed,
// unexpired entries; remaining timeouts in seconds at now). Entries come in
// index order, which follows the hash like the kernel's bucket walk.
//
// Ref: net/netfilter/nf_conntrack_netlink.c — ctnetlink_dump_table
func (t *Table) WriteList(w io.Writer, now int64) error {
	j := jiffies(now)
	bw := bufio.NewWriter(w)
	var line []byte
	for _, s := range t.index {
		if s == 0 || (uint32(s)-1)&1 != 0 {
			continue
		}
		idx := (uint32(s) - 1) >> 1
		if expired(t.conn(idx), j) {
			continue
		}
		line = t.appendEntry(line[:0], idx, j, 0)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Entries returns the live entries (confirmed, unexpired) in the order
// WriteList prints them.
func (t *Table) Entries(now int64) []*Conn {
	j := jiffies(now)
	var out []*Conn
	for _, s := range t.index {
		if s == 0 || (uint32(s)-1)&1 != 0 {
			continue
		}
		if c := t.conn((uint32(s) - 1) >> 1); !expired(c, j) {
			out = append(out, c)
		}
	}
	return out
}
