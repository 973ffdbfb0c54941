package ct

import (
	"net/netip"
	"strconv"

	"github.com/nftgo/nftgo/packet"
)

// The NAT side of the helpers: on a NATed control connection the data
// connection must reach the translated address, so the announced address
// is rewritten to the one the other side sees, the expectation is for
// that address, and the data connection, when it comes, is NATed back to
// the real endpoint like its master (nf_nat_follow_master).

// natFTP is nf_nat_ftp for expectation x announced by a segment of
// direction dir whose address text is data[numoff:numoff+numlen].
//
// Ref: net/netfilter/nf_nat_ftp.c — nf_nat_ftp, nf_nat_ftp_fmt_cmd;
// nf_nat_helper.c — nf_nat_exp_find_port
func (t *Table) natFTP(c *Conn, e *connExt, dir uint8, x expect, p *packet.Packet, typ uint8, numoff, numlen int, j uint32) int {
	// The connection will come from wherever this packet goes.
	newAddr := c.TupleDir(1 - dir).Dst
	x.follow, x.dir, x.savedPort = true, 1-dir, x.tuple.DstPort
	port := x.savedPort
	found := false
	// Linux tries the announced port, then random ones on a clash; the
	// next ports here (deterministic, and the same when none clashes).
	for attempts := min(65535-int(port), 128); ; attempts-- {
		x.tuple.DstPort = port
		r := t.expectRelatedErr(x, e, e.helper, j)
		if r == expOK {
			found = true
			break
		}
		if r != expBusy || attempts <= 0 || port == 65535 {
			break
		}
		port++
	}
	if !found {
		return vDrop
	}
	var b []byte
	switch typ {
	case ftpTypePORT, ftpTypePASV:
		for i := 0; i < 4; i++ {
			b = strconv.AppendUint(b, uint64(newAddr[i]), 10)
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(port>>8), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(port&0xff), 10)
	case ftpTypeEPRT:
		if c.orig.L3 == packet.NFProtoIPv4 {
			b = append(b, "|1|"...)
			b = append(b, netip.AddrFrom4([4]byte(newAddr[:4])).String()...)
		} else {
			b = append(b, "|2|"...)
			b = append(b, netip.AddrFrom16(newAddr).String()...)
		}
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(port), 10)
		b = append(b, '|')
	case ftpTypeEPSV:
		b = append(b, "|||"...)
		b = strconv.AppendUint(b, uint64(port), 10)
		b = append(b, '|')
	}
	if !t.mangleTCP(p, c, e, dir, numoff, numlen, b) {
		t.unexpect(c, &x)
		return vDrop
	}
	return vAccept
}

// unexpect removes the expectation x registered (nf_ct_unexpect_related).
func (t *Table) unexpect(c *Conn, x *expect) {
	for i := range t.expects {
		if o := &t.expects[i]; o.master == c && o.tuple == x.tuple && o.zone == x.zone {
			t.removeExpect(i)
			return
		}
	}
}

// natFollowMaster NATs a new expected connection whose expectation has
// direction dir (exp->dir, the direction the data connection takes
// relative to the master) like the master's other direction: source to
// where that one goes, destination to where it came from, port port.
//
// Ref: net/netfilter/nf_nat_core.c — nf_nat_follow_master
func (t *Table) natFollowMaster(c, m *Conn, dir uint8, port uint16) {
	md := m.TupleDir(1 - dir)
	t.SetupNAT(c, false, md.Dst, md.Dst, 0, 0, NATMapIPs)
	t.SetupNAT(c, true, md.Src, md.Src, port, port, NATMapIPs|NATProtoSpecified)
}
