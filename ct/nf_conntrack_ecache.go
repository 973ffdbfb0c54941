package ct

// Event bits (enum ip_conntrack_events) nftgo produces.
const (
	evNew       = 1 << 0
	evRelated   = 1 << 1
	evDestroy   = 1 << 2
	evReply     = 1 << 3
	evAssured   = 1 << 4
	evProtoinfo = 1 << 5
	evMark      = 1 << 7
	evLabel     = 1 << 10
)

// ecache is an entry's event cache: bits gathered while packets are
// processed, and the mark last reported (a changed mark is an IPCT_MARK
// event however it was written).
type ecache struct {
	bits uint16
	mark uint32
	// mask is the event mask `ct event set` gave the entry, when masked:
	// a delivery happens only if one of its events is in the mask, and
	// then carries all of them.
	mask   uint16
	masked bool
}

// SetEventMask is `ct event set`: with a ctnetlink listener every entry
// has an event cache, whose mask the rule replaces (also on confirmed
// entries). Without Config.Event there is nothing to filter.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_set_eval (NFT_CT_EVENTMASK)
func (t *Table) SetEventMask(c *Conn, mask uint32) {
	if t.ev == nil || c == nil {
		return
	}
	if idx, ok := t.idxOf(c); ok {
		k, off := chunkOf(idx)
		t.ev[k][off].mask, t.ev[k][off].masked = uint16(mask), true
	}
}

// cacheEvent is nf_conntrack_event_cache.
//
// Ref: include/net/netfilter/nf_conntrack_ecache.h — nf_conntrack_event_cache
func (t *Table) cacheEvent(c *Conn, bits uint16) {
	if t.ev == nil {
		return
	}
	if idx, ok := t.idxOf(c); ok {
		k, off := chunkOf(idx)
		t.ev[k][off].bits |= bits
	}
}

// deliverEvents is nf_ct_deliver_cached_events, run at the confirm hook of
// every packet that carries a confirmed entry.
//
// Ref: net/netfilter/nf_conntrack_ecache.c — nf_ct_deliver_cached_events
func (t *Table) deliverEvents(c *Conn, now int64) {
	if t.ev == nil || c.Status&(StatusConfirmed|StatusDying) != StatusConfirmed {
		return
	}
	idx, ok := t.idxOf(c)
	if !ok {
		return
	}
	k, off := chunkOf(idx)
	e := &t.ev[k][off]
	bits := e.bits
	if c.Mark != e.mark {
		bits |= evMark
	}
	if bits == 0 {
		return
	}
	e.bits, e.mark = 0, c.Mark
	if e.masked && bits&e.mask == 0 {
		return // nf_ct_deliver_cached_events: none of them is wanted
	}
	t.event(now, string(t.appendEntry(nil, idx, jiffies(now), bits)))
}

// destroyEvent reports an entry leaving the table (nf_ct_delete sends it
// at once, not through the cache).
func (t *Table) destroyEvent(idx uint32) {
	if t.ev == nil {
		return
	}
	k, off := chunkOf(idx)
	if e := &t.ev[k][off]; e.masked && e.mask&evDestroy == 0 {
		return
	}
	t.event(t.now, string(t.appendEntry(nil, idx, jiffies(t.now), evDestroy)))
}
