package list

import (
	"bytes"
	"sort"

	"github.com/nftgo/nftgo/ruleset"
)

// keyPart describes one field of a set key as stored in element data.
type keyPart struct {
	dt    *dtype
	order byteorder
	bits  int
	// dec, when set, decodes map data itself (NAT address maps)
	dec func(data []byte) expr
	// shift/fbits: the key is a masked sub-field stored shift bits up
	shift, fbits int
}

// setKeyParts works out the key layout of s: from the set's own type
// (name or number) and field lengths, or, for anonymous sets, from the
// expressions the rule looks up.
func setKeyParts(s *ruleset.Set, es []expr, rvs []*regVal) []keyPart {
	var dts []*dtype
	if len(es) > 0 {
		for _, e := range es {
			dts = append(dts, e.dtype())
		}
	} else if s.KeyTypeName != "" {
		dts = typesFromName(s.KeyTypeName)
	} else {
		n := len(s.FieldLens)
		if n == 0 {
			n = 1
		}
		dts = typesFromNum(s.KeyType, n)
	}
	parts := make([]keyPart, len(dts))
	for i, d := range dts {
		p := keyPart{dt: d, order: d.order, bits: d.bits}
		if i < len(rvs) {
			p.order = rvs[i].order
			p.bits = rvs[i].bits
		}
		if i < len(s.FieldLens) {
			p.bits = int(s.FieldLens[i]) * 8
		} else if len(dts) == 1 && s.KeyLen > 0 && (p.bits == 0 || p.bits > int(s.KeyLen)*8 || (p.bits%8 == 0 && p.bits != int(s.KeyLen)*8 && len(rvs) == 0)) {
			p.bits = int(s.KeyLen) * 8
		}
		if p.bits == 0 {
			p.bits = 32
		}
		parts[i] = p
	}
	return parts
}

func setDataTypes(s *ruleset.Set) []*dtype {
	if s.DataType == ruleset.DataVerdict {
		return []*dtype{dtVerdict}
	}
	if s.DataTypeName != "" {
		return typesFromName(s.DataTypeName)
	}
	return typesFromNum(s.DataType, 1)
}

// splitKey cuts element key bytes into per-part values, each part padded
// to a 32-bit boundary.
func splitKey(parts []keyPart, key []byte) []*valueExpr {
	out := make([]*valueExpr, len(parts))
	off := 0
	for i, p := range parts {
		n := (p.bits + 7) / 8
		var d []byte
		if off+n <= len(key) {
			d = key[off : off+n]
		} else if off < len(key) {
			d = key[off:]
		}
		v := &valueExpr{dt: p.dt, data: d, order: p.order, bits: p.bits, mode: pmode{orList: true}}
		if p.fbits > 0 {
			v.data, v.bits, v.order = shiftRight(d, p.shift, p.fbits), p.fbits, boBig
		}
		out[i] = v
		off += (n + 3) / 4 * 4
	}
	return out
}

// elemStmts decodes the element's stateful expressions.
func elemStmts(el *ruleset.Element) []stmt {
	var out []stmt
	for _, e := range el.Exprs {
		out = append(out, exprStmt(ruleset.FamilyUnspec, e))
	}
	return out
}

type decoded struct {
	sortKey []byte
	e       expr
}

// decodeElements prints a set's elements back as nft lists them: sorted
// values for hash sets, ranges and prefixes rebuilt for interval sets.
//
// Ref: nftables src/netlink.c — netlink_list_setelems; src/segtree.c —
// interval_map_decompose, concat_range_aggregate; src/mergesort.c
func decodeElements(s *ruleset.Set, es []expr, rvs []*regVal, shifts, fbits []int, dpart *keyPart) []expr {
	parts := setKeyParts(s, es, rvs)
	for i := range parts {
		if i < len(shifts) && fbits[i] > 0 {
			parts[i].shift, parts[i].fbits = shifts[i], fbits[i]
		}
	}
	var ddt []*dtype
	if s.IsMap() {
		ddt = setDataTypes(s)
	}
	data := func(el *ruleset.Element) expr {
		if el.Verdict != nil {
			return &verdictExpr{v: *el.Verdict}
		}
		if dpart != nil && dpart.dec != nil && el.Data != nil {
			return dpart.dec(el.Data)
		}
		if dpart != nil && el.Data != nil {
			n := dpart.bits
			if n == 0 {
				n = int(s.DataLen) * 8
			}
			return &valueExpr{dt: dpart.dt, data: trim(el.Data, n), order: dpart.order, bits: n}
		}
		if len(ddt) > 1 && el.Data != nil {
			// concatenated data (`type … : ipv4_addr . inet_service`),
			// each field padded to 32 bits like a key
			dp := make([]keyPart, len(ddt))
			for i, d := range ddt {
				dp[i] = keyPart{dt: d, order: d.order, bits: d.bits}
			}
			vs := splitKey(dp, el.Data)
			es := make([]expr, len(vs))
			for i, v := range vs {
				v.mode = pmode{}
				es[i] = v
			}
			return joinKey(es)
		}
		if len(ddt) > 0 && el.Data != nil {
			return &valueExpr{dt: ddt[0], data: trim(el.Data, int(s.DataLen)*8), order: ddt[0].order, bits: int(s.DataLen) * 8}
		}
		if el.ObjRef != "" {
			return &rawExpr{s: "\"" + el.ObjRef + "\"", j: el.ObjRef}
		}
		return nil
	}
	wrap := func(el *ruleset.Element, key expr) expr {
		// The kernel reports the remaining time of every element of a
		// set with timeouts; nft prints an element's own timeout only
		// when it differs from the set's.
		// Ref: nftables src/netlink.c — netlink_delinearize_setelem
		to, exp := el.Timeout, el.Expires
		if to == s.Timeout {
			to = 0
		}
		if exp == 0 {
			if el.Timeout != 0 {
				exp = el.Timeout
			} else if s.Timeout != 0 {
				exp = s.Timeout
			}
		}
		var e expr = &elemExpr{key: key, stmts: elemStmts(el), timeout: to, expires: exp, comment: el.Comment}
		if s.IsMap() || s.Flags&ruleset.SetObject != 0 {
			if d := data(el); d != nil {
				e = &mappingExpr{key: e, data: d}
			}
		}
		return e
	}
	var catchall expr
	var out []decoded
	interval := s.Flags&ruleset.SetInterval != 0
	if interval && len(parts) == 1 {
		out = decomposeIntervals(s, parts[0], wrap)
	} else {
		for _, el := range s.Elements {
			if el.Flags&ruleset.ElemCatchall != 0 {
				catchall = wrap(el, &rawExpr{s: "*", j: "*"})
				continue
			}
			if el.Flags&ruleset.ElemIntervalEnd != 0 {
				continue
			}
			vals := splitKey(parts, el.Key)
			var ends []*valueExpr
			if el.KeyEnd != nil {
				ends = splitKey(parts, el.KeyEnd)
			}
			ks := make([]expr, len(vals))
			var sk []byte
			for i, v := range vals {
				ks[i] = v
				if ends != nil && !bytes.Equal(ends[i].data, v.data) {
					ks[i] = rangeOrPrefix(v, ends[i].data)
				}
				sk = append(sk, v.data...)
				if pad := (len(v.data)+3)/4*4 - len(v.data); pad > 0 && len(vals) > 1 {
					sk = append(sk, make([]byte, pad)...)
				}
			}
			if len(vals) > 1 {
				// mergesort of concatenations reads the bytes as a
				// host-endian number
				sk = reverse(sk)
			} else if parts[0].order == boHost {
				sk = reverse(sk)
			}
			if len(vals) == 1 && parts[0].dt.kind == kBitmask {
				// a flag combination is a binop tree by then and sorts
				// by its leftmost (lowest) flag
				// Ref: nftables src/mergesort.c — expr_msort_value (EXPR_BINOP)
				v := vals[0].uint()
				sk = uintBytes(v&-v, 8)
			}
			out = append(out, decoded{sortKey: sk, e: wrap(el, joinKey(ks))})
		}
		if !(interval && len(parts) > 1) {
			// equal keys come out in the reverse of the order the
			// elements were added (observed with nft 1.0.6 on kernel 6.18)
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
			sort.SliceStable(out, func(i, j int) bool { return numLess(out[i].sortKey, out[j].sortKey) })
		}
	}
	res := make([]expr, 0, len(out)+1)
	for _, d := range out {
		res = append(res, d.e)
	}
	if catchall != nil {
		res = append(res, catchall)
	}
	return res
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// numLess compares two big-endian unsigned numbers of any length.
func numLess(a, b []byte) bool {
	a = bytes.TrimLeft(a, "\x00")
	b = bytes.TrimLeft(b, "\x00")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}

// rangeOrPrefix prints [lo, hiData] as a prefix when the type allows and
// the range is one, else as lo-hi.
func rangeOrPrefix(lo *valueExpr, hiData []byte) expr {
	hi := &valueExpr{dt: lo.dt, data: hiData, order: lo.order, bits: lo.bits}
	if lo.dt.kind == kIPv4 || lo.dt.kind == kIPv6 {
		if plen, ok := prefixOf(lo.data, hiData); ok {
			return &prefixExpr{v: lo, plen: plen}
		}
	}
	return &rangeExpr{lo: lo, hi: hi}
}

// prefixOf reports whether [lo, hi] is exactly lo/plen.
func prefixOf(lo, hi []byte) (int, bool) {
	if len(lo) != len(hi) {
		return 0, false
	}
	// diff = hi - lo must be 2^k - 1 and lo & diff == 0: equivalently
	// lo ^ hi is a run of trailing ones and lo has zeros there.
	x := make([]byte, len(lo))
	for i := range lo {
		x[i] = lo[i] ^ hi[i]
		if lo[i]&x[i] != 0 || hi[i]&x[i] != x[i] {
			return 0, false
		}
	}
	n, ok := prefixLen(invert(x))
	return n, ok
}

func invert(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = ^b[i]
	}
	return out
}

func decBytes(b []byte) []byte {
	out := append([]byte(nil), b...)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}

// decomposeIntervals rebuilds single-field interval elements: nft sends a
// start element per range and an end element one past its last value.
//
// Ref: nftables src/segtree.c — interval_map_decompose, add_interval
func decomposeIntervals(s *ruleset.Set, p keyPart, wrap func(*ruleset.Element, expr) expr) []decoded {
	type pt struct {
		key []byte
		end bool
		el  *ruleset.Element
	}
	n := (p.bits + 7) / 8
	var pts []pt
	for _, el := range s.Elements {
		if el.Flags&ruleset.ElemCatchall != 0 {
			continue
		}
		k := el.Key
		if len(k) > n {
			k = k[:n]
		}
		pts = append(pts, pt{key: k, end: el.Flags&ruleset.ElemIntervalEnd != 0, el: el})
	}
	sort.SliceStable(pts, func(i, j int) bool {
		c := bytes.Compare(pts[i].key, pts[j].key)
		if c == 0 {
			return pts[i].end && !pts[j].end
		}
		return c < 0
	})
	var out []decoded
	add := func(low pt, hi []byte) {
		lo := &valueExpr{dt: p.dt, data: low.key, order: boBig, bits: p.bits}
		var k expr = lo
		if !bytes.Equal(low.key, hi) {
			k = rangeOrPrefix(lo, hi)
		}
		out = append(out, decoded{sortKey: low.key, e: wrap(low.el, k)})
	}
	var low *pt
	for i := range pts {
		cur := pts[i]
		if low == nil {
			if cur.end {
				continue
			}
			c := cur
			low = &c
			continue
		}
		add(*low, decBytes(cur.key))
		if cur.end {
			low = nil
		} else {
			c := cur
			low = &c
		}
	}
	if low != nil {
		max := bytes.Repeat([]byte{0xff}, len(low.key))
		add(*low, max)
	}
	return out
}

func uintBytes(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v)
		v >>= 8
	}
	return out
}
