package ct

import (
	"encoding/binary"

	"github.com/nftgo/nftgo/packet"
)

// NAT range flags (NF_NAT_RANGE_*), as nft_nat passes them.
const (
	NATMapIPs          = 0x01
	NATProtoSpecified  = 0x02
	NATProtoRandom     = 0x04
	NATPersistent      = 0x08
	NATProtoRandomFull = 0x10
	NATProtoOffset     = 0x20
	NATNetmap          = 0x40
	natRandomAll       = NATProtoRandom | NATProtoRandomFull
	natMaxAttempts     = 128
)

// NATInitialized reports whether the SRC (dst=false) or DST manip of an
// entry was set up (nf_nat_initialized): nat chains run only until then.
func NATInitialized(c *Conn, dst bool) bool {
	if dst {
		return c.Status&StatusDstNATDone != 0
	}
	return c.Status&StatusSrcNATDone != 0
}

// inRange reports whether an address lies in [lo, hi] (byte order).
func addrInRange(a, lo, hi *[16]byte, l3 uint8) bool {
	n := 16
	if l3 == packet.NFProtoIPv4 {
		n = 4
	}
	for i := 0; i < n; i++ {
		if a[i] != lo[i] {
			if a[i] < lo[i] {
				return false
			}
			break
		}
	}
	for i := 0; i < n; i++ {
		if a[i] != hi[i] {
			return a[i] < hi[i]
		}
	}
	return true
}

// SetupNAT is nf_nat_setup_info for an unconfirmed entry: the DST (dst) or
// SRC manip maps the connection into [addrMin, addrMax] (when flags has
// NATMapIPs) and ports [protoMin, protoMax] in host order (when flags has
// NATProtoSpecified), chosen so the resulting tuple is unique in the table.
// If the tuple changes, the reply tuple is rewritten and SRC_NAT/DST_NAT is
// set; *_NAT_DONE is always set. ok is false for a confirmed entry or a
// manip already done (the kernel refuses both).
//
// Ref: net/netfilter/nf_nat_core.c — nf_nat_setup_info, get_unique_tuple
func (t *Table) SetupNAT(c *Conn, dst bool, addrMin, addrMax [16]byte, protoMin, protoMax uint16, flags uint32) (ok bool) {
	if c == nil || c.Status&StatusConfirmed != 0 || NATInitialized(c, dst) {
		return false
	}
	if c.orig.L3 == packet.NFProtoIPv4 {
		// Only the first four bytes are an IPv4 address; whatever callers
		// leave in the rest must not reach the tuple (it would hash and
		// compare differently from the packets' tuples).
		clear(addrMin[4:])
		clear(addrMax[4:])
	}
	reply := c.Reply()
	curr, _ := reply.invert()
	tup := t.uniqueTuple(c, &curr, dst, &addrMin, &addrMax, protoMin, protoMax, flags)
	if tup != curr {
		if r, inv := tup.invert(); inv {
			natReplies.Store(c, &r)
			t.nat.m[c] = struct{}{}
			if dst {
				c.Status |= StatusDstNAT
			} else {
				c.Status |= StatusSrcNAT
			}
		}
	}
	if dst {
		c.Status |= StatusDstNATDone
	} else {
		c.Status |= StatusSrcNATDone
	}
	return true
}

// NullBinding is nf_nat_alloc_null_binding: no nat rule matched, so the
// manip maps the connection onto itself (still made unique).
func (t *Table) NullBinding(c *Conn, dst bool) bool {
	if c == nil {
		return false
	}
	r := c.Reply()
	a := r.Dst // SRC manip keeps the source: the reply's destination
	if dst {
		a = r.Src
	}
	return t.SetupNAT(c, dst, a, a, 0, 0, NATMapIPs)
}

// usedTuple is nf_nat_used_tuple: does the reply of a candidate tuple exist
// as any tuple of another live entry?
func (t *Table) usedTuple(tup *Tuple, self *Conn) bool {
	r, ok := tup.invert()
	if !ok {
		return false
	}
	idx, _, found := t.lookup(&r, self.Zone, r.hash(self.Zone, t.seed))
	return found && t.conn(idx) != self && t.conn(idx).Status&StatusDying == 0
}

// uniqueTuple is get_unique_tuple. Where the kernel picks random numbers
// (address hash, port offset) nftgo uses the table's hash seed.
func (t *Table) uniqueTuple(c *Conn, orig *Tuple, dst bool, lo, hi *[16]byte, pmin, pmax uint16, flags uint32) Tuple {
	if !dst && flags&natRandomAll == 0 {
		if t.natInRange(orig, dst, lo, hi, pmin, pmax, flags) && !t.usedTuple(orig, c) {
			return *orig
		}
	}
	tup := *orig
	if flags&NATMapIPs != 0 {
		a := &tup.Src
		if dst {
			a = &tup.Dst
		}
		*a = pickAddr(orig, lo, hi, flags, t.seed)
	}
	if flags&natRandomAll == 0 {
		if flags&NATProtoSpecified != 0 {
			if flags&NATProtoOffset == 0 && portInRange(&tup, dst, pmin, pmax) && (pmin == pmax || !t.usedTuple(&tup, c)) {
				return tup
			}
		} else if !t.usedTuple(&tup, c) {
			return tup
		}
	}
	t.uniqueProto(c, &tup, dst, pmin, pmax, flags)
	return tup
}

func (t *Table) natInRange(tup *Tuple, dst bool, lo, hi *[16]byte, pmin, pmax uint16, flags uint32) bool {
	a := &tup.Src
	if dst {
		a = &tup.Dst
	}
	if flags&NATMapIPs != 0 && !addrInRange(a, lo, hi, tup.L3) {
		return false
	}
	return flags&NATProtoSpecified == 0 || portInRange(tup, dst, pmin, pmax)
}

// portKey returns the L4 field a manip rewrites (the ICMP id for both).
func portKey(tup *Tuple, dst bool) *uint16 {
	if tup.Proto == packet.ProtoICMP || tup.Proto == packet.ProtoICMPv6 || !dst {
		return &tup.SrcPort
	}
	return &tup.DstPort
}

func portInRange(tup *Tuple, dst bool, pmin, pmax uint16) bool {
	if !hasPorts(tup.Proto) && tup.Proto != packet.ProtoICMP && tup.Proto != packet.ProtoICMPv6 {
		return true
	}
	k := *portKey(tup, dst)
	return k >= pmin && k <= pmax
}

// pickAddr is find_best_ips_proto: the single address of a one-address
// range, else one chosen by a hash of the addresses.
func pickAddr(tup *Tuple, lo, hi *[16]byte, flags uint32, seed uint64) [16]byte {
	if *lo == *hi {
		return *lo
	}
	n := 4
	if tup.L3 == packet.NFProtoIPv6 {
		n = 16
	}
	// Work on the last 4 bytes: ranges wider than 2^32 are clamped.
	l := binary.BigEndian.Uint32(lo[n-4:])
	h := binary.BigEndian.Uint32(hi[n-4:])
	if h < l || *(*[12]byte)(lo[:12]) != *(*[12]byte)(hi[:12]) && n == 16 {
		return *lo
	}
	key := *tup
	key.SrcPort, key.DstPort = 0, 0
	if flags&NATPersistent != 0 {
		key.Dst = [16]byte{}
	}
	out := *lo
	binary.BigEndian.PutUint32(out[n-4:], l+uint32(uint64(key.hash(0, seed))*uint64(h-l+1)>>32))
	return out
}

// uniqueProto is nf_nat_l4proto_unique_tuple: walk the port (or ICMP id)
// range from an offset until the tuple is free, at most 128 tries per round.
//
// Ref: net/netfilter/nf_nat_proto.c — nf_nat_l4proto_unique_tuple
func (t *Table) uniqueProto(c *Conn, tup *Tuple, dst bool, pmin, pmax uint16, flags uint32) {
	var min, size uint32
	key := portKey(tup, dst)
	switch {
	case tup.Proto == packet.ProtoICMP || tup.Proto == packet.ProtoICMPv6:
		if flags&NATProtoSpecified == 0 {
			min, size = 0, 65536
		} else {
			min, size = uint32(pmin), uint32(pmax)-uint32(pmin)+1
		}
	case hasPorts(tup.Proto):
		if flags&NATProtoSpecified == 0 {
			if dst {
				return
			}
			switch p := *key; {
			case p < 512:
				min, size = 1, 511
			case p < 1024:
				min, size = 600, 424
			default:
				min, size = 1024, 64512
			}
		} else {
			if pmax < pmin {
				return
			}
			min, size = uint32(pmin), uint32(pmax)-uint32(pmin)+1
		}
	default:
		return
	}
	var off uint32
	if flags&natRandomAll != 0 || !dst {
		off = tup.hash(0, t.seed^0x5bd1e995) & 0xffff
	}
	attempts := min32(size, natMaxAttempts)
	for {
		for i := uint32(0); i < attempts; i, off = i+1, off+1 {
			*key = uint16(min + off%size)
			if !t.usedTuple(tup, c) {
				return
			}
		}
		if attempts >= size || attempts < 16 {
			return
		}
		attempts /= 2
		off = tup.hash(0, t.seed^uint64(attempts)) & 0xffff
	}
}

func min32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}
