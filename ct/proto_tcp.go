package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// TCP conntrack states (enum tcp_conntrack) and timeout slots.
const (
	tcpNone = iota
	tcpSynSent
	tcpSynRecv
	tcpEstablished
	tcpFinWait
	tcpCloseWait
	tcpLastAck
	tcpTimeWait
	tcpClose
	tcpSynSent2
	tcpMax // invalid transition
	tcpIgnore
	tcpRetrans
	tcpUnack
	tcpTimeoutMax
)

// tcpStateNames are the names ctnetlink/`conntrack -L` print.
var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// Packet classes (get_conntrack_index).
const (
	tcpSynSet = iota
	tcpSynAckSet
	tcpFinSet
	tcpAckSet
	tcpRstSet
	tcpNoneSet
)

// Per-direction flags (IP_CT_TCP_FLAG_*) and connection-wide last_flags.
const (
	tcpFlagWindowScale = 0x01
	tcpFlagSackPerm    = 0x02
	tcpFlagCloseInit   = 0x04
	tcpFlagBeLiberal   = 0x08
	tcpFlagDataUnack   = 0x10
	tcpFlagMaxackSet   = 0x20
	tcpExpChallengeAck = 0x40
	tcpSimultaneous    = 0x80
)

// TCP header flag bits.
const (
	thFIN = 0x01
	thSYN = 0x02
	thRST = 0x04
	thPSH = 0x08
	thACK = 0x10
	thURG = 0x20
	thECE = 0x40
	thCWR = 0x80
)

// tcpWin is struct ip_ct_tcp_state without the byte-sized fields.
type tcpWin struct{ end, maxend, maxwin, maxack uint32 }

// tcpState is struct ip_ct_tcp. UDP keeps its stream deadline in seen[0].end.
type tcpState struct {
	seen                      [2]tcpWin
	lastSeq, lastAck, lastEnd uint32
	lastWin                   uint16
	scale                     [2]uint8
	flags                     [2]uint8
	state                     uint8
	lastDir                   uint8
	lastIndex                 uint8
	retrans                   uint8
	lastWscale                uint8
	lastFlags                 uint8
}

const (
	sNO = tcpNone
	sSS = tcpSynSent
	sSR = tcpSynRecv
	sES = tcpEstablished
	sFW = tcpFinWait
	sCW = tcpCloseWait
	sLA = tcpLastAck
	sTW = tcpTimeWait
	sCL = tcpClose
	sS2 = tcpSynSent2
	sIV = tcpMax
	sIG = tcpIgnore
)

// tcpConntracks is the state transition table [dir][class][old state].
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_conntracks
var tcpConntracks = [2][6][10]uint8{
	{ // ORIGINAL
		/* syn    */ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		/* synack */ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		/* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/* ack    */ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		/* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	{ // REPLY
		/* syn    */ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		/* synack */ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/* ack    */ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		/* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
}

// tcpValidFlags lists the allowed combinations of FIN, SYN, RST, ACK, URG.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_valid_flags
var tcpValidFlags = func() (v [0x40]bool) {
	for _, f := range []uint8{thSYN, thSYN | thURG, thSYN | thACK, thRST, thRST | thACK,
		thFIN | thACK, thFIN | thACK | thURG, thACK, thACK | thURG} {
		v[f] = true
	}
	return
}()

// tcpIndex is get_conntrack_index.
func tcpIndex(f uint8) uint8 {
	switch {
	case f&thRST != 0:
		return tcpRstSet
	case f&thSYN != 0:
		if f&thACK != 0 {
			return tcpSynAckSet
		}
		return tcpSynSet
	case f&thFIN != 0:
		return tcpFinSet
	case f&thACK != 0:
		return tcpAckSet
	}
	return tcpNoneSet
}

// before/after compare sequence numbers modulo 2^32.
func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return int32(b-a) < 0 }

// segEnd is segment_seq_plus_len: seq + payload + SYN + FIN.
func segEnd(seq uint32, l4 []byte) uint32 {
	doff := int(l4[12]>>4) * 4
	e := seq + uint32(len(l4)-doff)
	if l4[13]&thSYN != 0 {
		e++
	}
	if l4[13]&thFIN != 0 {
		e++
	}
	return e
}

// tcpOptions reads window scale and SACK-permitted into one side.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_options
func tcpOptions(l4 []byte, scale, flags *uint8) {
	opts := l4[20 : int(l4[12]>>4)*4]
	if len(opts) == 0 {
		return
	}
	*scale = 0
	*flags &= tcpFlagBeLiberal
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return
		case 1:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 {
			return
		}
		sz := int(opts[1])
		if sz < 2 || sz > len(opts) {
			return
		}
		switch {
		case opts[0] == 4 && sz == 2:
			*flags |= tcpFlagSackPerm
		case opts[0] == 3 && sz == 3:
			*scale = min(opts[2], 14)
			*flags |= tcpFlagWindowScale
		}
		opts = opts[sz:]
	}
}

// tcpSack returns the highest SACK right edge above ack.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_sack
func tcpSack(l4 []byte, sack uint32) uint32 {
	opts := l4[20 : int(l4[12]>>4)*4]
	if len(opts) == 12 && binary.BigEndian.Uint32(opts) == 0x0101080a {
		return sack
	}
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return sack
		case 1:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 {
			return sack
		}
		sz := int(opts[1])
		if sz < 2 || sz > len(opts) {
			return sack
		}
		if opts[0] == 5 && sz >= 10 && (sz-2)%8 == 0 {
			for i := 2; i < sz; i += 8 {
				if v := binary.BigEndian.Uint32(opts[i+4:]); after(v, sack) {
					sack = v
				}
			}
			return sack
		}
		opts = opts[sz:]
	}
	return sack
}

// tcpError is tcp_error: truncated header, checksum (prerouting only) and
// flag combinations make a packet invalid before any state logic.
func (t *Table) tcpError(p *packet.Packet, l4 []byte, hook uint8) bool {
	doff := int(l4[12]>>4) * 4
	if doff < 20 || len(l4) < doff {
		return true
	}
	if t.p.checksum && hook == HookPrerouting && !l4ChecksumOK(p, l4, packet.ProtoTCP) {
		return true
	}
	return !tcpValidFlags[l4[13]&^(thECE|thCWR|thPSH)]
}

// tcpNew sets up the state of a new entry from its first packet.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_new
func (t *Table) tcpNew(c *Conn, l4 []byte) bool {
	next := tcpConntracks[0][tcpIndex(l4[13])][tcpNone]
	if next >= tcpMax {
		return false
	}
	seq := binary.BigEndian.Uint32(l4[4:])
	win := uint32(binary.BigEndian.Uint16(l4[14:]))
	s := &c.tcp
	*s = tcpState{}
	s.seen[0].end = segEnd(seq, l4)
	s.seen[0].maxwin = max(win, 1)
	if next == tcpSynSent {
		s.seen[0].maxend = s.seen[0].end
		tcpOptions(l4, &s.scale[0], &s.flags[0])
	} else {
		if !t.p.loose {
			return false
		}
		s.seen[0].maxend = s.seen[0].end + s.seen[0].maxwin
		s.flags[0] = tcpFlagSackPerm | tcpFlagBeLiberal
		s.flags[1] = tcpFlagSackPerm | tcpFlagBeLiberal
	}
	s.lastIndex = tcpNoneSet
	return true
}

// Results of window tracking.
const (
	winAccept = iota
	winIgnore
	winInvalid
)

// storeInvalid lets be_liberal (sysctl or per-direction flag) turn every
// window verdict into ACCEPT.
func (t *Table) storeInvalid(s *tcpState, dir uint8, res int) int {
	if s.flags[dir]&tcpFlagBeLiberal != 0 || t.p.beLiberal {
		return winAccept
	}
	return res
}

// tcpInitSender initialises one side from a SYN or SYN/ACK.
func tcpInitSender(s *tcpState, dir uint8, l4 []byte, end, win uint32) {
	s.seen[dir].end, s.seen[dir].maxend = end, end
	s.seen[dir].maxwin = max(win, 1)
	tcpOptions(l4, &s.scale[dir], &s.flags[dir])
	if dir == dirReply && !(s.flags[dir]&tcpFlagWindowScale != 0 && s.flags[1-dir]&tcpFlagWindowScale != 0) {
		s.scale[0], s.scale[1] = 0, 0
	}
}

// tcpInWindow is tcp_in_window: sequence and acknowledgement bounds, and
// the per-direction updates (td_end, td_maxend, DATA_UNACKNOWLEDGED, the
// retransmission counter).
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — tcp_in_window
func (t *Table) tcpInWindow(c *Conn, s *tcpState, dir, index uint8, l4 []byte) int {
	snd, rcv := &s.seen[dir], &s.seen[1-dir]
	fl := l4[13]
	seq := binary.BigEndian.Uint32(l4[4:])
	ack := binary.BigEndian.Uint32(l4[8:])
	sack := ack
	winRaw := binary.BigEndian.Uint16(l4[14:])
	win := uint32(winRaw)
	end := segEnd(seq, l4)
	if s.flags[1-dir]&tcpFlagSackPerm != 0 {
		sack = tcpSack(l4, sack)
	}
	if c.Status&statusSeqAdjust != 0 {
		// A NAT helper changed the other direction's lengths.
		off := t.seqOffset(c, 1-dir, ack-1)
		ack -= off
		sack -= off
	}
	if snd.maxwin == 0 {
		if fl&thSYN != 0 {
			tcpInitSender(s, dir, l4, end, win)
			if fl&thACK == 0 {
				return winAccept
			}
		} else {
			snd.end = end
			swin := win << s.scale[dir]
			snd.maxwin = max(swin, 1)
			snd.maxend = end + snd.maxwin
			if rcv.maxwin == 0 {
				rcv.end, rcv.maxend = sack, sack
			} else if sack == rcv.end+1 {
				rcv.end++
			}
		}
	} else if fl&thSYN != 0 && after(end, snd.end) && (s.state == tcpSynSent || s.state == tcpSynRecv) {
		tcpInitSender(s, dir, l4, end, win)
		if dir == dirReply && fl&thACK == 0 {
			return winAccept
		}
	}
	if fl&thACK == 0 || (fl&(thACK|thRST) == thACK|thRST && ack == 0) {
		ack, sack = rcv.end, rcv.end
	}
	if fl&thRST != 0 && seq == 0 && s.state == tcpSynSent {
		seq, end = snd.end, snd.end
	}
	maxAckWin := max(snd.maxwin, 66000)
	if !before(seq, snd.maxend+1) {
		overshot := end - snd.maxend + 1
		ackOK := after(sack, rcv.end-maxAckWin-1)
		inRecv := rcv.maxwin != 0 && after(end, snd.end-rcv.maxwin-1)
		if inRecv && ackOK && overshot <= rcv.maxwin && before(sack, rcv.end+1) {
			snd.end = end
			s.flags[dir] |= tcpFlagDataUnack
			return t.storeInvalid(s, dir, winIgnore)
		}
		return t.storeInvalid(s, dir, winInvalid)
	}
	if !before(sack, rcv.end+1) {
		return t.storeInvalid(s, dir, winInvalid)
	}
	if !(rcv.maxwin == 0 || after(end, snd.end-rcv.maxwin-1)) {
		return t.storeInvalid(s, dir, winIgnore)
	}
	if !after(sack, rcv.end-maxAckWin-1) {
		return t.storeInvalid(s, dir, winIgnore)
	}
	if fl&thSYN == 0 {
		win <<= s.scale[dir]
	}
	if swin := win + (sack - ack); snd.maxwin < swin {
		snd.maxwin = swin
	}
	if after(end, snd.end) {
		snd.end = end
		s.flags[dir] |= tcpFlagDataUnack
	}
	if fl&thACK != 0 {
		if s.flags[dir]&tcpFlagMaxackSet == 0 {
			snd.maxack = ack
			s.flags[dir] |= tcpFlagMaxackSet
		} else if after(ack, snd.maxack) {
			snd.maxack = ack
		}
	}
	if rcv.maxwin != 0 && after(end, snd.maxend) {
		rcv.maxwin += end - snd.maxend
	}
	if after(sack+win, rcv.maxend-1) {
		rcv.maxend = sack + win
		if win == 0 {
			rcv.maxend++
		}
	}
	if ack == rcv.end {
		s.flags[1-dir] &^= tcpFlagDataUnack
	}
	if index == tcpAckSet {
		if s.lastDir == dir && s.lastSeq == seq && s.lastAck == ack && s.lastEnd == end && s.lastWin == winRaw {
			if s.retrans < 255 {
				s.retrans++
			}
		} else {
			s.lastDir, s.lastSeq, s.lastAck, s.lastEnd, s.lastWin = dir, seq, ack, end, winRaw
			s.retrans = 0
		}
	}
	return winAccept
}

// tcpCanEarlyDrop is tcp_can_early_drop: the closing states.
func tcpCanEarlyDrop(state uint8) bool {
	switch state {
	case tcpFinWait, tcpLastAck, tcpTimeWait, tcpClose, tcpCloseWait:
		return true
	}
	return false
}

// tcpPacket is nf_conntrack_tcp_packet.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — nf_conntrack_tcp_packet
func (t *Table) tcpPacket(c *Conn, p *packet.Packet, l4 []byte, info Info, hook uint8, j uint32) int {
	if len(l4) < 20 || t.tcpError(p, l4, hook) {
		return vInvalid
	}
	if c.Status&StatusConfirmed == 0 && !t.tcpNew(c, l4) {
		return vInvalid
	}
	s := &c.tcp
	fl := l4[13]
	old := s.state
	var dir uint8
	if info >= EstablishedReply {
		dir = dirReply
	}
	index := tcpIndex(fl)
	next := tcpConntracks[dir][index][old]
	seq := binary.BigEndian.Uint32(l4[4:])
	ackSeq := binary.BigEndian.Uint32(l4[8:])
	skipWindow := false

	switch next {
	case tcpSynSent, tcpIgnore:
		if next == tcpSynSent {
			if old < tcpTimeWait {
				break
			}
			if (s.flags[0]|s.flags[1])&tcpFlagCloseInit != 0 || (s.lastDir == dir && s.lastIndex == tcpRstSet) {
				// Reopen: delete the old entry and look the packet up again.
				if idx, ok := t.idxOf(c); ok && c.Status&StatusDying == 0 {
					t.unlink(idx)
					t.freeSlot(idx)
					return vRepeat
				}
				return vDrop
			}
		}
		// Ignored packet: remember it, change nothing.
		if index == tcpSynAckSet && s.lastIndex == tcpSynSet && s.lastDir != dir && ackSeq == s.lastEnd {
			old, next = tcpSynSent, tcpSynRecv
			ld := s.lastDir
			s.seen[ld].end, s.seen[ld].maxend = s.lastEnd, s.lastEnd
			s.seen[ld].maxwin = max(uint32(s.lastWin), 1)
			s.scale[ld] = s.lastWscale
			s.lastFlags &^= tcpExpChallengeAck
			s.flags[ld] = s.lastFlags
			s.seen[dir] = tcpWin{}
			s.scale[dir] = 0
			s.flags[dir] &= tcpFlagBeLiberal
			break
		}
		s.lastIndex, s.lastDir = index, dir
		s.lastSeq = seq
		s.lastEnd = segEnd(seq, l4)
		s.lastWin = binary.BigEndian.Uint16(l4[14:])
		if index == tcpSynSet && dir == dirOriginal {
			var sc, f uint8
			s.lastFlags, s.lastWscale = 0, 0
			tcpOptions(l4, &sc, &f)
			if f&tcpFlagWindowScale != 0 {
				s.lastFlags |= tcpFlagWindowScale
				s.lastWscale = sc
			}
			if f&tcpFlagSackPerm != 0 {
				s.lastFlags |= tcpFlagSackPerm
			}
			if old == tcpLastAck {
				s.lastFlags |= tcpExpChallengeAck
			}
		}
		if old == tcpSynSent && index == tcpAckSet && dir == dirReply {
			s.lastAck = ackSeq
		}
		return vAccept
	case tcpMax:
		return vInvalid
	case tcpTimeWait:
		if old == tcpLastAck && index == tcpAckSet && s.lastDir != dir && s.lastIndex == tcpSynSet &&
			s.lastFlags&tcpExpChallengeAck != 0 {
			s.lastFlags &^= tcpExpChallengeAck
			return vAccept
		}
	case tcpSynSent2:
		s.lastFlags |= tcpSimultaneous
	case tcpSynRecv:
		if dir == dirReply && index == tcpAckSet && s.lastFlags&tcpSimultaneous != 0 {
			next = tcpEstablished
		}
	case tcpClose:
		if index != tcpRstSet {
			break
		}
		if tcpCanEarlyDrop(s.state) {
			skipWindow = true
			break
		}
		if s.flags[1-dir]&tcpFlagMaxackSet != 0 && s.lastIndex != tcpSynSet {
			established := s.state == tcpEstablished && c.Status&StatusAssured != 0
			switch {
			case seq == 0 && !established:
			case before(seq, s.seen[1-dir].maxack) && !t.p.ignoreInvalidRST:
				return vInvalid
			case !established || seq == s.seen[1-dir].maxack:
			case s.lastIndex == tcpAckSet && s.lastDir == dir && seq == s.lastEnd:
			default:
				next = old // keep state for a possible challenge ACK
			}
		}
		if ((c.Status&StatusSeenReply != 0 && s.lastIndex == tcpSynSet && s.lastDir != dir) ||
			(c.Status&StatusAssured == 0 && s.lastIndex == tcpAckSet)) && ackSeq == s.lastEnd {
			skipWindow = true
			break
		}
		if old == tcpSynSent && s.lastIndex == tcpAckSet && s.lastDir == dirReply && seq == s.lastAck {
			skipWindow = true
		}
	}

	if !skipWindow {
		switch t.tcpInWindow(c, s, dir, index, l4) {
		case winIgnore:
			return vAccept
		case winInvalid:
			t.tcpHandleInvalid(c, dir, index, j)
			return vInvalid
		}
	}
	s.lastIndex, s.lastDir = index, dir
	s.state = next
	if old != next && next == tcpFinWait {
		s.flags[dir] |= tcpFlagCloseInit
	}
	to := t.tcpTimeouts(c)
	var timeout uint32
	switch {
	case s.retrans >= t.p.maxRetrans && to[next] > to[tcpRetrans]:
		timeout = to[tcpRetrans]
	case index == tcpRstSet:
		timeout = to[tcpClose]
	case (s.flags[0]|s.flags[1])&tcpFlagDataUnack != 0 && to[next] > to[tcpUnack]:
		timeout = to[tcpUnack]
	case s.lastWin == 0 && to[next] > to[tcpRetrans]:
		timeout = to[tcpRetrans]
	default:
		timeout = to[next]
	}
	if old != next {
		t.cacheEvent(c, evProtoinfo)
	}
	if c.Status&StatusSeenReply == 0 {
		if fl&thRST != 0 {
			// Only reply is a RST: the entry goes at once, the packet
			// keeps it attached (nf_ct_kill_acct).
			t.account(c, p, info)
			t.kill(c)
			return vAccept
		}
		if index == tcpSynSet && old == tcpSynSent {
			return vAccept // a SYN retransmit does not renew the timeout
		}
		if next == tcpEstablished && timeout > to[tcpUnack] {
			timeout = to[tcpUnack]
		}
	} else if c.Status&StatusAssured == 0 && (old == tcpSynRecv || old == tcpEstablished) && next == tcpEstablished {
		c.Status |= StatusAssured
		t.cacheEvent(c, evAssured)
	}
	t.refresh(c, p, info, timeout, j)
	return vAccept
}

// tcpHandleInvalid shortens the timeout of an ASSURED entry when an
// out-of-window FIN/RST answers one from the other side.
//
// Ref: net/netfilter/nf_conntrack_proto_tcp.c — nf_tcp_handle_invalid
func (t *Table) tcpHandleInvalid(c *Conn, dir, index uint8, j uint32) {
	if c.Status&StatusAssured == 0 || c.Status&statusFixedTimeout != 0 {
		return
	}
	if index != tcpRstSet && index != tcpFinSet {
		return
	}
	s := &c.tcp
	if s.lastDir != dir && (s.lastIndex == tcpFinSet || s.lastIndex == tcpRstSet) {
		exp := int32(c.timeout - j)
		if exp < 120*hz {
			return
		}
		if unack := t.tcpTimeouts(c)[tcpUnack]; uint32(exp) > unack {
			c.timeout = unack + j
			t.gcBefore(c.timeout)
		}
		return
	}
	s.lastIndex, s.lastDir = index, dir
}

// Closed reports a TCP entry in TIME_WAIT or CLOSE, which nf_conncount no
// longer counts (already_closed).
func (c *Conn) Closed() bool {
	return c.orig.Proto == packet.ProtoTCP && (c.tcp.state == tcpTimeWait || c.tcp.state == tcpClose)
}

// TCPState returns the TCP conntrack state name ("" for other protocols).
func (c *Conn) TCPState() string {
	if c.orig.Proto != packet.ProtoTCP || int(c.tcp.state) >= len(tcpStateNames) {
		return ""
	}
	return tcpStateNames[c.tcp.state]
}
