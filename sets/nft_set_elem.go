package sets

import (
	"github.com/nftgo/nftgo/connlimit"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

// Elem is one element at run time. Lookup and Update return a pointer the
// caller may keep for the packet: it stays valid until GC or Delete removes
// the element.
type Elem struct {
	Data    []byte          // map data, zero-padded to the map's data length
	Verdict ruleset.Verdict // verdict maps
	// Exprs are the element's stateful expressions, in declaration order.
	Exprs []Stateful

	key, keyEnd []byte // klen bytes each; keyEnd only for pipapo ranges
	flags       uint32 // ruleset.ElemIntervalEnd, ruleset.ElemCatchall
	objRef      string
	comment     string
	hasVerdict  bool
	// timeout is the element's own timeout in ns (NFT_SET_EXT_TIMEOUT), 0
	// when it has none; expires is the absolute replay time at which it
	// expires, 0 for never.
	timeout, expires int64
	// explicitTimeout is the timeout as given for the element (ns), 0
	// when it took the set default: the dump leaves the default out, as
	// `nft list` shows it.
	explicitTimeout int64
	dead            bool // removed by Delete, still counted until GC
	seq             uint64
}

// expired is __nft_set_elem_expired: an element expires when now reaches
// its expiration.
func (e *Elem) expired(now int64) bool { return e.expires != 0 && now >= e.expires }

// StatefulKind tells which expression a Stateful holds, so evaluation can
// switch on a byte instead of asserting Tmpl's type.
type StatefulKind uint8

const (
	KindCounter StatefulKind = iota + 1
	KindQuota
	KindLimit
	KindConnlimit
)

// Stateful is the run-time state of one element expression, a tagged
// union so evaluation needs no interface call.
type Stateful struct {
	Tmpl ruleset.Expr // *ruleset.Counter, *ruleset.Limit, *ruleset.Quota or *ruleset.Connlimit
	Kind StatefulKind

	Packets, Bytes uint64 // counter
	Consumed       uint64 // quota
	Tokens, Last   int64  // limit token bucket, ns
	// TokensMax and Cost are the limit's bucket size and per-packet cost in
	// ns (nft_limit_init; Cost is 0 for byte limits, whose cost depends on
	// the packet length).
	TokensMax, Cost int64
	Conns           connlimit.List
}

// newStateful makes the state of one element expression from a template,
// as the expression's clone/init does when an element is created: counter
// and quota start from the template's values (nft_counter_clone,
// nft_quota_clone copy them; templates never run, so these are the values
// the ruleset gave), a limit starts with a full bucket at now
// (nft_limit_clone), a connlimit with an empty list (nft_connlimit_clone).
//
// Ref: net/netfilter/nf_tables_api.c — nft_set_elem_expr_clone
func newStateful(tmpl ruleset.Expr, now int64) (Stateful, error) {
	st := Stateful{Tmpl: tmpl}
	switch x := tmpl.(type) {
	case *ruleset.Counter:
		st.Kind = KindCounter
		st.Packets, st.Bytes = x.Packets, x.Bytes
	case *ruleset.Quota:
		st.Kind = KindQuota
		st.Consumed = x.Consumed
	case *ruleset.Limit:
		st.Kind = KindLimit
		max, cost, err := limitParams(x)
		if err != nil {
			return Stateful{}, err
		}
		st.TokensMax, st.Cost = max, cost
		st.Tokens, st.Last = max, now
	case *ruleset.Connlimit:
		st.Kind = KindConnlimit
		if x.Flags&^ruleset.ConnlimitInvert != 0 {
			return Stateful{}, errorf("connlimit flags %#x: operation not supported", x.Flags)
		}
		st.Conns.Init(now)
	default:
		return Stateful{}, errorf("%s is not a stateful set element expression: operation not supported", exprName(tmpl))
	}
	return st, nil
}

func exprName(e ruleset.Expr) string {
	if e == nil {
		return "nil expression"
	}
	return e.Name()
}

// limitParams computes the bucket size and packet cost.
//
// Ref: net/netfilter/nft_limit.c — nft_limit_init, nft_limit_pkts_init
func limitParams(l *ruleset.Limit) (tokensMax, cost int64, err error) {
	if l.Rate == 0 {
		return 0, 0, errorf("limit rate 0: invalid argument")
	}
	const nsPerSec = 1_000_000_000
	if l.Unit > (1<<63-1)/nsPerSec {
		return 0, 0, errorf("limit unit %d: value too large", l.Unit)
	}
	nsecs := l.Unit * nsPerSec
	burst := uint64(l.Burst)
	if l.Type == ruleset.LimitPackets {
		if burst == 0 {
			burst = 5 // NFT_LIMIT_PKT_BURST_DEFAULT
		}
		c := nsecs / l.Rate
		if burst != 0 && c > (1<<63-1)/burst {
			return 0, 0, errorf("limit burst %d: value too large", burst)
		}
		return int64(c * burst), int64(c), nil
	}
	rb := l.Rate + burst
	if rb < l.Rate || (rb != 0 && nsecs > (1<<63-1)/rb) {
		return 0, 0, errorf("limit rate %d burst %d: value too large", l.Rate, burst)
	}
	return int64(nsecs * rb / l.Rate), 0, nil
}

// Counter adds one packet of length bytes.
//
// Ref: net/netfilter/nft_counter.c — nft_counter_do_eval
func (st *Stateful) Counter(length uint32) {
	st.Packets++
	st.Bytes += uint64(length)
}

// Quota charges length bytes, match or not, and reports whether the
// expression breaks: over quota XOR `over`.
//
// Ref: net/netfilter/nft_quota.c — nft_quota_do_eval, nft_overquota
func (st *Stateful) Quota(length uint32) (brk bool) {
	q := st.Tmpl.(*ruleset.Quota)
	st.Consumed += uint64(length)
	// Strictly greater since "nft_quota: make nft_overquota() really over
	// the quota" (2025), which the 6.18 target has.
	over := st.Consumed > q.Bytes
	return over != (q.Flags&ruleset.QuotaInvert != 0)
}

// Limit runs the token bucket at now and reports whether the expression
// breaks: over the limit, or under it for `limit … over`.
//
// Ref: net/netfilter/nft_limit.c — nft_limit_eval, nft_limit_pkts_eval, nft_limit_bytes_eval
func (st *Stateful) Limit(length uint32, now int64) (brk bool) {
	l := st.Tmpl.(*ruleset.Limit)
	cost := st.Cost
	if l.Type == ruleset.LimitBytes {
		cost = int64(l.Unit * 1_000_000_000 * uint64(length) / l.Rate)
	}
	tokens := st.Tokens + now - st.Last
	if tokens > st.TokensMax {
		tokens = st.TokensMax
	}
	st.Last = now
	invert := l.Flags&ruleset.LimitInvert != 0
	if d := tokens - cost; d >= 0 {
		st.Tokens = d
		return invert
	}
	st.Tokens = tokens
	return !invert
}

// Connlimit adds the packet's connection to the list and reports whether
// the packet must be dropped (the add failed) or the expression breaks:
// (count > limit) XOR `over`.
//
// Ref: net/netfilter/nft_connlimit.c — nft_connlimit_do_eval
func (st *Stateful) Connlimit(t *ct.Table, tup ct.Tuple, zone uint16, now int64) (drop, brk bool) {
	c := st.Tmpl.(*ruleset.Connlimit)
	n, ok := st.Conns.Add(t, tup, zone, now)
	if !ok {
		return true, false
	}
	return false, (n > c.Count) != (c.Flags&ruleset.ConnlimitInvert != 0)
}

// dump is the expression as the kernel dumps it.
//
// Ref: net/netfilter/nft_counter.c — nft_counter_do_dump; nft_quota.c — nft_quota_do_dump;
// nft_limit.c — nft_limit_dump; nft_connlimit.c — nft_connlimit_do_dump
func (st *Stateful) dump() ruleset.Expr {
	switch st.Kind {
	case KindCounter:
		return &ruleset.Counter{Packets: st.Packets, Bytes: st.Bytes}
	case KindQuota:
		q := *st.Tmpl.(*ruleset.Quota)
		q.Consumed = st.Consumed
		if st.Consumed >= q.Bytes {
			q.Consumed = q.Bytes
			q.Flags |= ruleset.QuotaDepleted
		}
		return &q
	case KindLimit:
		l := *st.Tmpl.(*ruleset.Limit)
		if l.Type == ruleset.LimitPackets && l.Burst == 0 {
			l.Burst = 5 // nft_limit_init stores the default burst
		}
		return &l
	case KindConnlimit:
		c := *st.Tmpl.(*ruleset.Connlimit)
		return &c
	}
	return st.Tmpl
}
