package ct

import "github.com/nftgo/nftgo/packet"

// SetClosing is what a reject's TCP reset does to the entry of the packet it
// answers: the reset carries that entry (nf_ct_attach), so conntrack never
// tracks the reset itself; instead a confirmed TCP entry is switched to CLOSE
// with the CLOSE timeout, so a connection reset by a rule goes within
// seconds instead of staying established for days. An unconfirmed entry is
// left alone (it never enters the table), as is one already CLOSE or with a
// fixed timeout.
//
// Ref: net/netfilter/core.c — nf_ct_set_closing;
// net/netfilter/nf_conntrack_proto_tcp.c — nf_conntrack_tcp_set_closing.
func (t *Table) SetClosing(c *Conn, now int64) {
	if c == nil || c.orig.Proto != packet.ProtoTCP || c.Status&StatusConfirmed == 0 {
		return
	}
	old := c.tcp.state
	c.tcp.state = tcpClose
	if old == tcpClose || c.Status&statusFixedTimeout != 0 {
		return
	}
	c.timeout = jiffies(now) + t.tcpTimeouts(c)[tcpClose]
	t.gcBefore(c.timeout)
	t.cacheEvent(c, evProtoinfo)
}
