package ct

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/nftgo/nftgo/packet"
)

// SCTP conntrack states (enum sctp_conntrack).
const (
	sctpNone = iota
	sctpClosed
	sctpCookieWait
	sctpCookieEchoed
	sctpEstablished
	sctpShutdownSent
	sctpShutdownRecd
	sctpShutdownAckSent
	sctpHeartbeatSent
	sctpMax
)

var sctpStateNames = [...]string{"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED",
	"SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT"}

// SCTP chunk types conntrack looks at.
const (
	sctpData             = 0
	sctpInit             = 1
	sctpInitAck          = 2
	sctpHeartbeat        = 4
	sctpHeartbeatAck     = 5
	sctpAbort            = 6
	sctpShutdown         = 7
	sctpShutdownAck      = 8
	sctpError            = 9
	sctpCookieEcho       = 10
	sctpCookieAck        = 11
	sctpShutdownComplete = 14
	sctpFlagT            = 0x01
	sctpHBVtagFailed     = 0x01 // SCTP_FLAG_HEARTBEAT_VTAG_FAILED
)

// sctpChunkIndex maps a chunk type to its row in sctpConntracks (-1: the
// chunk does not change the state).
func sctpChunkIndex(t uint8) int {
	switch t {
	case sctpInit:
		return 0
	case sctpInitAck:
		return 1
	case sctpAbort:
		return 2
	case sctpShutdown:
		return 3
	case sctpShutdownAck:
		return 4
	case sctpError:
		return 5
	case sctpCookieEcho:
		return 6
	case sctpCookieAck:
		return 7
	case sctpShutdownComplete:
		return 8
	case sctpHeartbeat:
		return 9
	case sctpHeartbeatAck:
		return 10
	}
	return -1
}

const (
	xNO = sctpNone
	xCL = sctpClosed
	xCW = sctpCookieWait
	xCE = sctpCookieEchoed
	xES = sctpEstablished
	xSS = sctpShutdownSent
	xSR = sctpShutdownRecd
	xSA = sctpShutdownAckSent
	xHS = sctpHeartbeatSent
	xIV = sctpMax
)

// sctpConntracks is the state table [dir][chunk][old state].
//
// Ref: net/netfilter/nf_conntrack_proto_sctp.c — sctp_conntracks
var sctpConntracks = [2][11][9]uint8{
	{
		/* init         */ {xCL, xCL, xCW, xCE, xES, xCL, xCL, xSA, xCW},
		/* init_ack     */ {xCL, xCL, xCW, xCE, xES, xSS, xSR, xSA, xCL},
		/* abort        */ {xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xCL},
		/* shutdown     */ {xCL, xCL, xCW, xCE, xSS, xSS, xSR, xSA, xCL},
		/* shutdown_ack */ {xSA, xCL, xCW, xCE, xES, xSA, xSA, xSA, xSA},
		/* error        */ {xCL, xCL, xCW, xCE, xES, xSS, xSR, xSA, xCL},
		/* cookie_echo  */ {xCL, xCL, xCE, xCE, xES, xSS, xSR, xSA, xCL},
		/* cookie_ack   */ {xCL, xCL, xCW, xES, xES, xSS, xSR, xSA, xCL},
		/* shutdown_comp*/ {xCL, xCL, xCW, xCE, xES, xSS, xSR, xCL, xCL},
		/* heartbeat    */ {xHS, xCL, xCW, xCE, xES, xSS, xSR, xSA, xHS},
		/* heartbeat_ack*/ {xCL, xCL, xCW, xCE, xES, xSS, xSR, xSA, xHS},
	},
	{
		/* init         */ {xIV, xCL, xCW, xCE, xES, xSS, xSR, xSA, xIV},
		/* init_ack     */ {xIV, xCW, xCW, xCE, xES, xSS, xSR, xSA, xIV},
		/* abort        */ {xIV, xCL, xCL, xCL, xCL, xCL, xCL, xCL, xIV},
		/* shutdown     */ {xIV, xCL, xCW, xCE, xSR, xSS, xSR, xSA, xIV},
		/* shutdown_ack */ {xIV, xCL, xCW, xCE, xES, xSA, xSA, xSA, xIV},
		/* error        */ {xIV, xCL, xCW, xCL, xES, xSS, xSR, xSA, xIV},
		/* cookie_echo  */ {xIV, xCL, xCE, xCE, xES, xSS, xSR, xSA, xIV},
		/* cookie_ack   */ {xIV, xCL, xCW, xES, xES, xSS, xSR, xSA, xIV},
		/* shutdown_comp*/ {xIV, xCL, xCW, xCE, xES, xSS, xSR, xCL, xIV},
		/* heartbeat    */ {xIV, xCL, xCW, xCE, xES, xSS, xSR, xSA, xHS},
		/* heartbeat_ack*/ {xIV, xCL, xCW, xCE, xES, xSS, xSR, xSA, xES},
	},
}

// sctpNewState is sctp_new_state.
func sctpNewState(dir uint8, cur uint8, chunk uint8) uint8 {
	i := sctpChunkIndex(chunk)
	if i < 0 {
		return cur
	}
	return sctpConntracks[dir][i][cur]
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sctpError is sctp_error: a short header, or (at prerouting with
// nf_conntrack_checksum) a wrong CRC32c.
func (t *Table) sctpError(l4 []byte, hook uint8) bool {
	if len(l4) < 12 {
		return true
	}
	if t.p.checksum && hook == HookPrerouting {
		var zero [4]byte
		crc := crc32.Update(0, castagnoli, l4[:8])
		crc = crc32.Update(crc, castagnoli, zero[:])
		crc = crc32.Update(crc, castagnoli, l4[12:])
		if binary.LittleEndian.Uint32(l4[8:]) != crc {
			return true
		}
	}
	return false
}

// sctpChunks walks the chunks (for_each_sctp_chunk): fn gets the offset
// of each chunk header; false stops the walk.
func sctpChunks(l4 []byte, fn func(off int, typ, flags uint8, length uint16) bool) int {
	count := 0
	for off := 12; off < len(l4) && off+4 <= len(l4); count++ {
		length := binary.BigEndian.Uint16(l4[off+2:])
		if !fn(off, l4[off], l4[off+1], length) {
			return count
		}
		off += (int(length) + 3) &^ 3
		if length == 0 {
			break
		}
	}
	return count
}

// sctpBasicChecks is do_basic_checks: COOKIE_ACK/ECHO must come first,
// INIT/INIT_ACK/SHUTDOWN_COMPLETE alone, no zero-length chunk, at least
// one chunk. map gets the chunk types seen.
func sctpBasicChecks(l4 []byte, seen *[4]uint64) bool {
	bad, flag, count := false, false, 0
	sctpChunks(l4, func(_ int, typ, _ uint8, length uint16) bool {
		if typ == sctpInit || typ == sctpInitAck || typ == sctpShutdownComplete {
			flag = true
		}
		if ((typ == sctpCookieAck || typ == sctpCookieEcho || flag) && count != 0) || length == 0 {
			bad = true
			return false
		}
		seen[typ>>6] |= 1 << (typ & 63)
		count++
		return true
	})
	return !bad && count != 0
}

func has(seen *[4]uint64, typ uint8) bool { return seen[typ>>6]&(1<<(typ&63)) != 0 }

// SCTP state lives in tcpState's storage: vtag[dir] in seen[dir].end,
// init[dir] in flags[dir], the heartbeat flag in lastFlags.

// sctpPacket is nf_conntrack_sctp_packet.
//
// Ref: net/netfilter/nf_conntrack_proto_sctp.c — nf_conntrack_sctp_packet, sctp_new
func (t *Table) sctpPacket(c *Conn, p *packet.Packet, l4 []byte, info Info, hook uint8, j uint32) int {
	if t.sctpError(l4, hook) {
		return vInvalid
	}
	var seen [4]uint64
	if !sctpBasicChecks(l4, &seen) {
		return vInvalid
	}
	s := &c.tcp
	vtag := binary.BigEndian.Uint32(l4[4:])
	if c.Status&StatusConfirmed == 0 {
		if has(&seen, sctpAbort) || has(&seen, sctpShutdownComplete) || has(&seen, sctpCookieAck) {
			return vInvalid
		}
		// sctp_new
		*s = tcpState{}
		ok := true
		sctpChunks(l4, func(off int, typ, _ uint8, _ uint16) bool {
			ns := sctpNewState(dirOriginal, sctpNone, typ)
			if ns == sctpNone || ns == sctpMax {
				ok = false
				return false
			}
			switch typ {
			case sctpInit:
				if vtag != 0 || off+4+4 > len(l4) {
					ok = false
					return false
				}
				s.seen[dirReply].end = binary.BigEndian.Uint32(l4[off+4:])
			case sctpHeartbeat:
				s.seen[dirOriginal].end = vtag
			case sctpShutdownAck:
				s.seen[dirReply].end = vtag
			}
			s.state = sctpNone
			return true
		})
		if !ok {
			return vInvalid
		}
	}
	var dir uint8
	if info >= EstablishedReply {
		dir = dirReply
	}
	if !has(&seen, sctpInit) && !has(&seen, sctpShutdownComplete) && !has(&seen, sctpCookieEcho) &&
		!has(&seen, sctpAbort) && !has(&seen, sctpShutdownAck) && !has(&seen, sctpHeartbeat) &&
		!has(&seen, sctpHeartbeatAck) && vtag != s.seen[dir].end {
		return vInvalid
	}
	oldState, newState := uint8(sctpNone), uint8(sctpNone)
	ignore, invalid := false, false
	sctpChunks(l4, func(off int, typ, flags uint8, _ uint16) bool {
		switch typ {
		case sctpInit:
			if vtag != 0 {
				invalid = true
				return false
			}
		case sctpAbort, sctpShutdownComplete:
			if (flags&sctpFlagT == 0 && vtag != s.seen[dir].end) || (flags&sctpFlagT != 0 && vtag != s.seen[1-dir].end) {
				invalid = true
				return false
			}
		case sctpCookieEcho:
			if vtag != s.seen[dir].end {
				invalid = true
				return false
			}
		case sctpCookieAck:
			s.flags[dir], s.flags[1-dir] = 0, 0
		case sctpHeartbeat:
			switch {
			case s.seen[dir].end == 0:
				s.seen[dir].end = vtag
			case vtag != s.seen[dir].end:
				if has(&seen, sctpData) || ignore {
					invalid = true
					return false
				}
				s.lastFlags |= sctpHBVtagFailed
				s.lastDir = dir
				ignore = true
				return true
			case s.lastFlags&sctpHBVtagFailed != 0:
				s.lastFlags &^= sctpHBVtagFailed
			}
		case sctpHeartbeatAck:
			switch {
			case s.seen[dir].end == 0:
				s.seen[dir].end = vtag
			case vtag != s.seen[dir].end:
				if has(&seen, sctpData) || ignore {
					invalid = true
					return false
				}
				if s.lastFlags&sctpHBVtagFailed == 0 || s.lastDir == dir {
					invalid = true
					return false
				}
				s.lastFlags &^= sctpHBVtagFailed
				s.seen[dir].end = vtag
				s.seen[1-dir].end = 0
			case s.lastFlags&sctpHBVtagFailed != 0:
				s.lastFlags &^= sctpHBVtagFailed
			}
		}
		oldState = s.state
		newState = sctpNewState(dir, oldState, typ)
		if newState == sctpMax {
			invalid = true
			return false
		}
		switch typ {
		case sctpInit:
			if off+8 > len(l4) {
				invalid = true
				return false
			}
			tag := binary.BigEndian.Uint32(l4[off+4:])
			if oldState == sctpNone || s.seen[1-dir].end != tag {
				if s.flags[dir] != 0 && s.flags[1-dir] != 0 {
					s.flags[1-dir] = 0
				}
				s.flags[dir] = 1
			}
			s.seen[1-dir].end = tag
			if newState == sctpClosed && oldState == sctpClosed && c.Status&StatusConfirmed != 0 {
				ignore = true
			}
		case sctpInitAck:
			if off+8 > len(l4) {
				invalid = true
				return false
			}
			tag := binary.BigEndian.Uint32(l4[off+4:])
			v := s.seen[1-dir].end
			if s.flags[1-dir] == 0 && v != 0 && v != tag {
				invalid = true
				return false
			}
			if s.flags[dir] != 0 && s.flags[1-dir] != 0 && v != tag {
				invalid = true
				return false
			}
			s.seen[1-dir].end = tag
		}
		s.state = newState
		if oldState != newState {
			t.cacheEvent(c, evProtoinfo)
			if newState == sctpEstablished && c.Status&StatusAssured == 0 {
				c.Status |= StatusAssured
				t.cacheEvent(c, evAssured)
			}
		}
		return true
	})
	if invalid {
		return vInvalid
	}
	if ignore {
		return vAccept
	}
	t.refresh(c, p, info, t.p.sctp[newState], j)
	return vAccept
}
