package ct

import "github.com/nftgo/nftgo/packet"

// The TFTP helper: a read or write request expects the server's answer,
// which comes from a new port to the client's port.

var tftpHelper = &Helper{Name: "tftp", L4: packet.ProtoUDP, maxExpected: 1, timeout: 5 * 60, help: tftpHelp}

// tftpHelp runs on every packet of the entry, in both directions and
// whatever its ctinfo: an RRQ (1) or WRQ (2) opcode expects UDP from the
// reply tuple's source, any port, to its destination address and port.
//
// Ref: net/netfilter/nf_conntrack_tftp.c — tftp_help
func tftpHelp(t *Table, c *Conn, e *connExt, info Info, p *packet.Packet, j uint32) int {
	off := p.ThOff + 8
	if off+2 > len(p.Data) {
		return vAccept
	}
	switch uint16(p.Data[off])<<8 | uint16(p.Data[off+1]) {
	case 1, 2:
		r := c.Reply()
		x := expect{master: c, zone: c.Zone}
		x.tuple = Tuple{L3: c.orig.L3, Proto: packet.ProtoUDP, Src: r.Src, Dst: r.Dst, DstPort: r.DstPort}
		if c.Status&statusNATMask != 0 {
			// nf_nat_tftp: the answer follows the master's reply
			// direction back to the client's original port.
			x.follow, x.dir, x.savedPort = true, dirReply, c.orig.SrcPort
		}
		if !t.expectRelated(x, e, e.helper, j) {
			return vDrop
		}
	}
	return vAccept
}
