package vm

import "github.com/nftgo/nftgo/ruleset"

// Socket keys (enum nft_socket_keys).
const (
	socketTransparent = 0
	socketMark        = 1
	socketWildcard    = 2
	socketCgroupv2    = 3
)

// loadSocket is nft_socket_init.
//
// Ref: net/netfilter/nft_socket.c — nft_socket_init.
func (l *loader) loadSocket(x *ruleset.Socket) (in insn, st int32, err error) {
	st = -1
	n := 1
	switch x.Key {
	case socketTransparent, socketWildcard:
	case socketMark:
		n = 4
	case socketCgroupv2:
		n = 8
	default:
		return in, st, errNotSupp
	}
	switch l.t.Family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
	default:
		return in, st, errNotSupp
	}
	in.op, in.key, in.len = opSocket, x.Key, uint8(n)
	in.dreg, err = l.store(x.DReg, n)
	return in, st, err
}

// socketEval: the modelled host has no sockets but the sender's own. A
// received packet finds no socket (nf_sk_lookup_slow_v4/v6 fail) and the
// rule BREAKs; a locally generated one carries its plain, unmarked,
// non-transparent socket bound to an address. The cgroup of that socket is
// unknown, so cgroupv2 BREAKs.
//
// Ref: net/netfilter/nft_socket.c — nft_socket_eval.
func (m *machine) socketEval(in *insn) {
	if m.hook != ruleset.HookOutput || m.replying {
		m.verdict = ruleset.VerdictBreak
		return
	}
	switch in.key {
	case socketTransparent, socketWildcard:
		m.store8(in.dreg, 0)
	case socketMark:
		m.store32(in.dreg, 0)
	default:
		m.verdict = ruleset.VerdictBreak
	}
}

// loadDup is nft_dup_ipv4_init, nft_dup_ipv6_init and nft_dup_netdev_init.
// The copy leaves by a path that no nf_tables hook sees
// (nf_dup_ipv4/ipv6 mark it, netdev egress is skipped): the original
// packet goes on unchanged, so dup runs as a no-op; the copy itself is not
// produced.
//
// Ref: net/ipv4/netfilter/nft_dup_ipv4.c; net/ipv6/netfilter/nft_dup_ipv6.c;
// net/netfilter/nft_dup_netdev.c.
func (l *loader) loadDup(x *ruleset.Dup) (in insn, st int32, err error) {
	st = -1
	in.op = opNop
	switch l.t.Family {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6:
		if x.SRegAddr == 0 {
			return in, st, errInval
		}
		n := 4
		if l.t.Family == ruleset.FamilyIPv6 {
			n = 16
		}
		if _, err = l.load(x.SRegAddr, n); err != nil {
			return in, st, err
		}
		if x.SRegDev != 0 {
			_, err = l.load(x.SRegDev, 4)
		}
	case ruleset.FamilyNetdev:
		if x.SRegDev == 0 {
			return in, st, errInval
		}
		_, err = l.load(x.SRegDev, 4)
	default:
		return in, st, errNoEnt
	}
	return in, st, err
}

// loadFwd is nft_fwd_netdev_init / nft_fwd_neigh_init; fwd exists only in
// netdev tables, whose ingress hook the vm runs.
//
// Ref: net/netfilter/nft_fwd_netdev.c.
func (l *loader) loadFwd(x *ruleset.Fwd) (in insn, st int32, err error) {
	st = -1
	if l.t.Family != ruleset.FamilyNetdev {
		return in, st, errNoEnt
	}
	if x.SRegDev == 0 {
		return in, st, errInval
	}
	if _, err = l.load(x.SRegDev, 4); err != nil {
		return in, st, err
	}
	if x.SRegAddr != 0 {
		n := 4
		if x.NFProto == 10 {
			n = 16
		} else if x.NFProto != 2 {
			return in, st, errNotSupp
		}
		if _, err = l.load(x.SRegAddr, n); err != nil {
			return in, st, err
		}
	}
	in.op = opFwd
	return in, st, nil
}

// fwdEval: the packet is sent out of another device (neigh_xmit or
// dev_queue_xmit) and leaves netfilter: NF_STOLEN. Its further path is
// not modelled.
//
// Ref: net/netfilter/nft_fwd_netdev.c — nft_fwd_netdev_eval, nft_fwd_neigh_eval.
func (m *machine) fwdEval(in *insn) {
	m.verdict = ruleset.VerdictStolen
}
