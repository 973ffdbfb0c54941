package vm

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// Rt keys (enum nft_rt_keys).
const (
	rtClassid  = 0
	rtNexthop4 = 1
	rtNexthop6 = 2
	rtTCPMSS   = 3
	rtXfrm     = 4
)

// loadRt is nft_rt_get_init.
//
// Ref: net/netfilter/nft_rt.c — nft_rt_get_init.
func (l *loader) loadRt(x *ruleset.Rt) (in insn, st int32, err error) {
	st = -1
	var n int
	switch x.Key {
	case rtClassid, rtNexthop4:
		n = 4
	case rtNexthop6:
		n = 16
	case rtTCPMSS:
		n = 2
	case rtXfrm:
		n = 1
	default:
		return in, st, errNotSupp
	}
	in.op, in.key, in.len = opRt, x.Key, uint8(n)
	in.dreg, err = l.store(x.DReg, n)
	return in, st, err
}

// The vm's devices have Linux's default MTUs: 1500, 65536 on lo.
const (
	mtuDefault = 1500
	mtuLoop    = 65536
)

// rtEval reads the packet's route. Before the routing decision (prerouting)
// there is none and the rule BREAKs. Routes have no gateways in the host
// model, so the next hop is the destination itself; there are no route
// classes and no IPsec policies.
//
// Ref: net/netfilter/nft_rt.c — nft_rt_get_eval, get_tcpmss.
func (m *machine) rtEval(in *insn) {
	if m.hook == ruleset.HookPrerouting || m.hook == ruleset.HookIngress && m.out == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	p := m.pkt
	_, dst := rawAddrs(p)
	switch in.key {
	case rtClassid:
		m.store32(in.dreg, 0)
	case rtNexthop4:
		if m.nfproto != packet.NFProtoIPv4 || len(dst) != 4 {
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store(in.dreg, dst)
	case rtNexthop6:
		if m.nfproto != packet.NFProtoIPv6 || len(dst) != 16 {
			m.verdict = ruleset.VerdictBreak
			return
		}
		m.store(in.dreg, dst)
	case rtTCPMSS:
		mtu := mtuDefault
		if m.out == m.host.lo || m.out == nil {
			mtu = mtuLoop
		}
		min := 20
		if p.NFProto == packet.NFProtoIPv6 {
			min = 40
		}
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(mtu-min-20))
		m.store(in.dreg, b[:])
	case rtXfrm:
		m.store8(in.dreg, 0)
	}
}
