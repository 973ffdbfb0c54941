package ct

import (
	"net/netip"

	"github.com/nftgo/nftgo/packet"
)

// The FTP helper: it reads the control connection's commands and replies
// and expects the data connection they announce. PORT and EPRT from the
// client (active mode) expect the server, from any port, to the client's
// address and port; 227 (PASV) and 229 (EPSV) replies from the server
// expect the client, from any port, to the announced port of the server.
// Without NAT nothing is rewritten; with NAT the kernel's nf_nat_ftp
// rewrites the address in the command, picks the expectation's port and
// adjusts the sequence numbers that follow (nf_nat_ftp.go).

var ftpHelper = &Helper{Name: "ftp", L4: packet.ProtoTCP, maxExpected: 1, timeout: 5 * 60, help: ftpHelp}

// ftpInfo is struct nf_ct_ftp_master: per direction, the sequence numbers
// just after the last two newlines seen. Commands are only looked for in
// a segment that starts right after a newline.
type ftpInfo struct {
	seqAftNl    [2][2]uint32
	seqAftNlNum [2]uint8
}

// ftpSearch is one pattern the helper looks for in a direction.
type ftpSearch struct {
	pattern    string
	skip, term byte
	getnum     func(data []byte, cmd *ftpCmd, term byte, off *int) int
	typ        uint8 // enum nf_ct_ftp_type
}

// FTP command types (enum nf_ct_ftp_type).
const (
	ftpTypePORT = iota
	ftpTypePASV
	ftpTypeEPRT
	ftpTypeEPSV
)

// ftpCmd is the address and port a command or reply announced
// (struct nf_conntrack_man).
type ftpCmd struct {
	l3   uint8
	addr [16]byte
	port uint16
}

// Ref: net/netfilter/nf_conntrack_ftp.c — search
var ftpSearches = [2][2]ftpSearch{
	{{"PORT", ' ', '\r', ftpRFC959, ftpTypePORT}, {"EPRT", ' ', '\r', ftpEPRT, ftpTypeEPRT}},
	{{"227 ", 0, ')', ftpRFC1123, ftpTypePASV}, {"229 ", '(', ')', ftpEPSV, ftpTypeEPSV}},
}

// ftpHelp is the helper's help function, run at the confirm hook.
//
// Ref: net/netfilter/nf_conntrack_ftp.c — help
func ftpHelp(t *Table, c *Conn, e *connExt, info Info, p *packet.Packet, j uint32) int {
	// Until there's been traffic both ways, nothing is parsed.
	if info != Established && info != EstablishedReply {
		return vAccept
	}
	if p.ThOff+20 > len(p.Data) {
		return vAccept
	}
	dataoff := p.ThOff + int(p.Data[p.ThOff+12]>>4)*4
	if dataoff >= len(p.Data) {
		return vAccept
	}
	data := p.Data[dataoff:]
	dir := Direction(info)
	fi := &e.ftp
	tcpSeq := be32(p.Data[p.ThOff+4:])
	endsInNl := data[len(data)-1] == '\n'
	seq := tcpSeq + uint32(len(data))

	ret := vAccept
	if ftpFindNlSeq(tcpSeq, fi, dir) {
		cmd := ftpCmd{l3: c.orig.L3}
		self := c.TupleDir(dir)
		cmd.addr = self.Src
		found, numoff, numlen := 0, 0, 0
		var s *ftpSearch
		for i := range ftpSearches[dir] {
			s = &ftpSearches[dir][i]
			if found, numoff, numlen = ftpFindPattern(data, s, &cmd); found != 0 {
				break
			}
		}
		switch found {
		case -1:
			// A command cut short: dropped so that the rest is
			// parsed when it is retransmitted whole.
			return vDrop
		case 1:
			ret = ftpExpect(t, c, e, dir, &cmd, &self, j, p, s.typ, numoff, numlen)
		}
	}
	if endsInNl {
		ftpUpdateNlSeq(seq, fi, dir)
	}
	return ret
}

// ftpExpect registers the data connection's expectation. An address that
// is not the sender's own is not recorded (the helper's loose=0).
func ftpExpect(t *Table, c *Conn, e *connExt, dir uint8, cmd *ftpCmd, self *Tuple, j uint32, p *packet.Packet, typ uint8, numoff, numlen int) int {
	other := c.TupleDir(1 - dir)
	if cmd.l3 == c.orig.L3 && cmd.addr != self.Src {
		return vAccept
	}
	x := expect{master: c, zone: c.Zone}
	x.tuple = Tuple{L3: cmd.l3, Proto: packet.ProtoTCP, Src: other.Src, Dst: other.Dst, DstPort: cmd.port}
	if c.Status&statusNATMask != 0 {
		return t.natFTP(c, e, dir, x, p, typ, numoff, numlen, j)
	}
	if !t.expectRelated(x, e, e.helper, j) {
		return vDrop
	}
	return vAccept
}

// ftpFindNlSeq reports whether seq follows a newline seen earlier.
func ftpFindNlSeq(seq uint32, fi *ftpInfo, dir uint8) bool {
	for i := uint8(0); i < fi.seqAftNlNum[dir]; i++ {
		if fi.seqAftNl[dir][i] == seq {
			return true
		}
	}
	return false
}

// ftpUpdateNlSeq remembers seq, replacing the older of two when it is
// newer.
//
// Ref: net/netfilter/nf_conntrack_ftp.c — update_nl_seq
func ftpUpdateNlSeq(seq uint32, fi *ftpInfo, dir uint8) {
	n := fi.seqAftNlNum[dir]
	for i := uint8(0); i < n; i++ {
		if fi.seqAftNl[dir][i] == seq {
			return
		}
	}
	if n < 2 {
		fi.seqAftNl[dir][n] = seq
		fi.seqAftNlNum[dir]++
		return
	}
	oldest := 1
	if int32(fi.seqAftNl[dir][0]-fi.seqAftNl[dir][1]) < 0 {
		oldest = 0
	}
	if int32(seq-fi.seqAftNl[dir][oldest]) > 0 {
		fi.seqAftNl[dir][oldest] = seq
	}
}

// ftpFindPattern returns 1 on a match (cmd filled; the address text is
// data[numoff:numoff+numlen]), 0 when the data is not this command, -1
// for a partial one.
//
// Ref: net/netfilter/nf_conntrack_ftp.c — find_pattern
func ftpFindPattern(data []byte, s *ftpSearch, cmd *ftpCmd) (found, numoff, numlen int) {
	plen := len(s.pattern)
	if len(data) <= plen {
		if equalFold(data, s.pattern[:len(data)]) {
			return -1, 0, 0
		}
		return 0, 0, 0
	}
	if !equalFold(data[:plen], s.pattern) {
		return 0, 0, 0
	}
	i := plen
	if s.skip != 0 {
		for ; data[i] != s.skip; i++ {
			if i == len(data)-1 {
				return -1, 0, 0
			}
		}
		i++
	}
	numoff = i
	if numlen = s.getnum(data[i:], cmd, s.term, &numoff); numlen == 0 {
		return -1, 0, 0
	}
	return 1, numoff, numlen
}

// equalFold is strncasecmp(a, b) == 0 for ASCII.
func equalFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ftpNumbers reads n decimal numbers separated by sep; the character
// after the last must be term (any non-digit when term is 0). It returns
// the length read up to that character, or 0.
//
// Ref: net/netfilter/nf_conntrack_ftp.c — try_number
func ftpNumbers(data []byte, out []uint32, sep, term byte) int {
	clear(out)
	i := 0
	for l := 0; l < len(data) && i < len(out); l++ {
		ch := data[l]
		switch {
		case ch >= '0' && ch <= '9':
			out[i] = out[i]*10 + uint32(ch-'0')
		case ch == sep:
			i++
		default:
			if (ch == term || term == 0) && i == len(out)-1 {
				return l
			}
			return 0
		}
	}
	return 0
}

// ftpRFC959 reads "h1,h2,h3,h4,p1,p2" (PORT, and 227 through ftpRFC1123).
func ftpRFC959(data []byte, cmd *ftpCmd, term byte, _ *int) int {
	var a [6]uint32
	n := ftpNumbers(data, a[:], ',', term)
	if n == 0 {
		return 0
	}
	// Only the IPv4 word is written (cmd->u3.ip), as in Linux.
	cmd.addr[0], cmd.addr[1], cmd.addr[2], cmd.addr[3] = byte(a[0]), byte(a[1]), byte(a[2]), byte(a[3])
	cmd.port = uint16(a[4]<<8 | a[5])
	return n
}

// ftpRFC1123 scans a 227 reply for its first digit, with or without the
// parenthesis RFC 959 shows (RFC 1123 4.1.2.6).
func ftpRFC1123(data []byte, cmd *ftpCmd, term byte, off *int) int {
	for i, ch := range data {
		if ch >= '0' && ch <= '9' {
			*off += i
			return ftpRFC959(data[i:], cmd, 0, nil)
		}
	}
	return 0
}

// ftpPort reads a port up to delim from data[start:]; it returns the
// offset after delim or 0 (a port of 0 is refused).
//
// Ref: net/netfilter/nf_conntrack_ftp.c — get_port
func ftpPort(data []byte, start int, delim byte, port *uint16) int {
	var v uint16
	for i := start; i < len(data); i++ {
		switch ch := data[i]; {
		case ch == delim:
			if v == 0 {
				return 0
			}
			*port = v
			return i + 1
		case ch >= '0' && ch <= '9':
			v = v*10 + uint16(ch-'0')
		default:
			return 0
		}
	}
	return 0
}

// ftpEPRT reads "|1|a.b.c.d|port|" or "|2|ipv6|port|" (RFC 2428).
//
// Ref: net/netfilter/nf_conntrack_ftp.c — try_eprt
func ftpEPRT(data []byte, cmd *ftpCmd, term byte, _ *int) int {
	if len(data) <= 3 {
		return 0
	}
	d := data[0]
	if (d >= '0' && d <= '9') || d < 33 || d > 126 || data[2] != d {
		return 0
	}
	if (cmd.l3 == packet.NFProtoIPv4 && data[1] != '1') || (cmd.l3 == packet.NFProtoIPv6 && data[1] != '2') {
		return 0
	}
	var n int
	if data[1] == '1' {
		var a [4]uint32
		if n = ftpNumbers(data[3:], a[:], '.', d); n != 0 {
			cmd.addr[0], cmd.addr[1], cmd.addr[2], cmd.addr[3] = byte(a[0]), byte(a[1]), byte(a[2]), byte(a[3])
		}
	} else {
		// in6_pton up to the delimiter.
		end := 3
		for end < len(data) && data[end] != d {
			end++
		}
		a, err := netip.ParseAddr(string(data[3:end]))
		if err != nil || !a.Is6() || a.Zone() != "" || end == len(data) {
			return 0
		}
		cmd.addr = a.As16()
		n = end - 3
	}
	if n == 0 {
		return 0
	}
	return ftpPort(data, 3+n+1, d, &cmd.port)
}

// ftpEPSV reads "|||port|" of a 229 reply.
//
// Ref: net/netfilter/nf_conntrack_ftp.c — try_epsv_response
func ftpEPSV(data []byte, cmd *ftpCmd, term byte, _ *int) int {
	if len(data) <= 3 {
		return 0
	}
	d := data[0]
	if (d >= '0' && d <= '9') || d < 33 || d > 126 || data[1] != d || data[2] != d {
		return 0
	}
	return ftpPort(data, 3, d, &cmd.port)
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
