package ct

// Accessors behind the nft `ct` expression keys.
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval

// StateBits is the value `ct state` loads: the ctinfo bit of an attached
// entry, 64 (untracked) or 1 (invalid, no entry).
func StateBits(c *Conn, info Info) uint32 {
	if c != nil && info <= RelatedReply {
		return 1 << (uint(info)%3 + 1)
	}
	if info == Untracked {
		return 64
	}
	return 1
}

// Direction is `ct direction`: 0 original, 1 reply (CTINFO2DIR).
func Direction(info Info) uint8 {
	if info >= EstablishedReply && info <= RelatedReply {
		return 1
	}
	return 0
}

// Expiration is the remaining lifetime in ms at now (ct expiration):
// jiffies_to_msecs(nf_ct_expires). An unconfirmed entry's timeout is
// still relative; the kernel's subtraction then yields 0.
func (c *Conn) Expiration(now int64) uint32 {
	if c.Status&StatusConfirmed == 0 {
		return 0
	}
	rem := int32(c.timeout - jiffies(now))
	if rem <= 0 {
		return 0
	}
	return uint32(rem) * (1000 / hz)
}

// L3Proto is `ct l3proto` (NFPROTO_IPV4/IPV6).
func (c *Conn) L3Proto() uint8 { return c.orig.L3 }

// Protocol is `ct protocol`.
func (c *Conn) Protocol() uint8 { return c.orig.Proto }

// TupleDir returns the tuple of direction dir (0 original, 1 reply), for
// `ct original|reply saddr|daddr|proto-src|proto-dst`, without allocating.
func (c *Conn) TupleDir(dir uint8) Tuple {
	if dir == 0 {
		return c.orig
	}
	return c.Reply()
}

// Tuple is TupleDir returning a pointer; the reply tuple of an entry
// without NAT is not stored, so that case allocates: prefer TupleDir.
func (c *Conn) Tuple(dir uint8) *Tuple {
	if dir == 0 {
		return &c.orig
	}
	if c.Status&statusNATMask != 0 {
		if v, ok := natReplies.Load(c); ok {
			return v.(*Tuple)
		}
	}
	r, _ := c.orig.invert()
	return &r
}

// ProtoSrc and ProtoDst are `ct proto-src/proto-dst`: the 16 bits of the
// kernel's src.u.all/dst.u.all, in host order (callers store them
// big-endian): ports, or for ICMP the echo id and type<<8|code.
func (t *Tuple) ProtoSrc() uint16 { return t.SrcPort }
func (t *Tuple) ProtoDst() uint16 { return t.DstPort }

// Counters returns `ct packets/bytes` of direction dir (0 original,
// 1 reply); ok is false without nf_conntrack_acct, where nft_ct breaks.
func (t *Table) Counters(c *Conn, dir uint8) (packets, bytes uint64, ok bool) {
	if !t.p.acct || dir > 1 {
		return 0, 0, false
	}
	idx, found := t.idxOf(c)
	if !found {
		return 0, 0, false
	}
	k, off := chunkOf(idx)
	a := &t.acct[k][off][dir]
	return a.packets, a.bytes, true
}

// SetMark is `ct mark set`: the kernel changes the mark in place.
func (c *Conn) SetMark(m uint32) { c.Mark = m }
