package sets

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
)

func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
func ip6(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
func port(p uint16) []byte {
	b := make([]byte, 4) // a concatenated field rounded up to 4 bytes
	binary.BigEndian.PutUint16(b, p)
	return b
}
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

const sec = int64(1e9)

func mustNew(t testing.TB, def *ruleset.Set) *Set {
	t.Helper()
	s, err := New(def)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExactMatch(t *testing.T) {
	accept := ruleset.Verdict{Code: ruleset.VerdictAccept}
	jump := ruleset.Verdict{Code: ruleset.VerdictJump, Chain: "c1"}
	tests := []struct {
		name string
		def  *ruleset.Set
		key  []byte
		hit  bool
		data []byte
		verd *ruleset.Verdict
	}{
		{"ipv4 hit", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("10.0.0.1")}, {Key: ip4("10.0.0.2")}}}, ip4("10.0.0.2"), true, nil, nil},
		{"ipv4 miss", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("10.0.0.1")}}}, ip4("10.0.0.3"), false, nil, nil},
		{"port (2 bytes)", &ruleset.Set{KeyLen: 2, Elements: []*ruleset.Element{{Key: []byte{0, 22}}}}, []byte{0, 22}, true, nil, nil},
		{"ipv4 . port", &ruleset.Set{KeyLen: 8, Flags: ruleset.SetConcat, FieldLens: []uint32{4, 2},
			Elements: []*ruleset.Element{{Key: cat(ip4("10.0.0.1"), port(22))}}}, cat(ip4("10.0.0.1"), port(22)), true, nil, nil},
		{"ipv4 . port other port", &ruleset.Set{KeyLen: 8, Flags: ruleset.SetConcat, FieldLens: []uint32{4, 2},
			Elements: []*ruleset.Element{{Key: cat(ip4("10.0.0.1"), port(22))}}}, cat(ip4("10.0.0.1"), port(23)), false, nil, nil},
		{"ipv6", &ruleset.Set{KeyLen: 16, Elements: []*ruleset.Element{{Key: ip6("2001:db8::1")}}}, ip6("2001:db8::1"), true, nil, nil},
		{"ipv6 . port (20 bytes)", &ruleset.Set{KeyLen: 20, Flags: ruleset.SetConcat, FieldLens: []uint32{16, 2},
			Elements: []*ruleset.Element{{Key: cat(ip6("2001:db8::1"), port(443))}}}, cat(ip6("2001:db8::1"), port(443)), true, nil, nil},
		{"ipv6 . port (20 bytes) miss", &ruleset.Set{KeyLen: 20, Flags: ruleset.SetConcat, FieldLens: []uint32{16, 2},
			Elements: []*ruleset.Element{{Key: cat(ip6("2001:db8::1"), port(443))}}}, cat(ip6("2001:db8::2"), port(443)), false, nil, nil},
		{"map data padded", &ruleset.Set{KeyLen: 4, Flags: ruleset.SetMap, DataLen: 4,
			Elements: []*ruleset.Element{{Key: ip4("10.0.0.1"), Data: []byte{0, 80}}}}, ip4("10.0.0.1"), true, []byte{0, 80, 0, 0}, nil},
		{"vmap", &ruleset.Set{KeyLen: 4, Flags: ruleset.SetMap, DataType: ruleset.DataVerdict,
			Elements: []*ruleset.Element{{Key: ip4("10.0.0.1"), Verdict: &jump}}}, ip4("10.0.0.1"), true, nil, &jump},
		{"catch-all on a miss", &ruleset.Set{KeyLen: 4, Flags: ruleset.SetMap, DataType: ruleset.DataVerdict,
			Elements: []*ruleset.Element{{Key: ip4("10.0.0.1"), Verdict: &jump}, {Flags: ruleset.ElemCatchall, Verdict: &accept}}},
			ip4("10.0.0.9"), true, nil, &accept},
		{"key from a longer register slice", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("10.0.0.1")}}},
			append(ip4("10.0.0.1"), 9, 9, 9, 9), true, nil, nil},
		{"short key misses", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("10.0.0.1")}}}, []byte{10, 0}, false, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.def)
			e := s.Lookup(tc.key, 0)
			if (e != nil) != tc.hit {
				t.Fatalf("hit = %v, want %v", e != nil, tc.hit)
			}
			if e == nil {
				return
			}
			if tc.data != nil && !bytes.Equal(e.Data, tc.data) {
				t.Errorf("data = %x, want %x", e.Data, tc.data)
			}
			if tc.verd != nil && e.Verdict != *tc.verd {
				t.Errorf("verdict = %v, want %v", e.Verdict, *tc.verd)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		def  *ruleset.Set
	}{
		{"nil", nil},
		{"zero key length", &ruleset.Set{}},
		{"key too long", &ruleset.Set{KeyLen: 65}},
		{"element key too long", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: make([]byte, 5)}}}},
		{"duplicate", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("1.1.1.1")}, {Key: ip4("1.1.1.1")}}}},
		{"nil element", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{nil}}},
		{"non-stateful element expression", &ruleset.Set{KeyLen: 4, Exprs: []ruleset.Expr{&ruleset.Log{}}}},
		{"limit rate 0", &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("1.1.1.1"), Exprs: []ruleset.Expr{&ruleset.Limit{Unit: 1}}}}}},
		{"connlimit in a timeout set", &ruleset.Set{KeyLen: 4, Flags: ruleset.SetTimeout | ruleset.SetEval, Exprs: []ruleset.Expr{&ruleset.Connlimit{Count: 1}}}},
		{"connlimit in an interval set", &ruleset.Set{KeyLen: 4, Flags: ruleset.SetInterval,
			Elements: []*ruleset.Element{{Key: ip4("1.1.1.1"), Exprs: []ruleset.Expr{&ruleset.Connlimit{Count: 1}}}}}},
		{"more elements than the declared size", &ruleset.Set{KeyLen: 4, Size: 1, SizeSet: true,
			Elements: []*ruleset.Element{{Key: ip4("1.1.1.1")}, {Key: ip4("1.1.1.2")}}}},
		{"more ranges than the declared size", &ruleset.Set{KeyLen: 4, Size: 1, SizeSet: true, Flags: ruleset.SetInterval,
			Elements: []*ruleset.Element{{Key: ip4("1.1.1.0")}, {Key: ip4("1.1.2.0"), Flags: ruleset.ElemIntervalEnd}, {Key: ip4("2.2.2.0")}}}},
		{"fields past the key", &ruleset.Set{KeyLen: 8, Flags: ruleset.SetInterval | ruleset.SetConcat, FieldLens: []uint32{4, 8}}},
	}
	for _, tc := range tests {
		if _, err := New(tc.def); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

// ranges are [lo, hi] intervals over n-byte keys, kept as big-endian
// numbers in a uint64 (n <= 8) for the brute-force check.
type span struct{ lo, hi uint64 }

func be(v uint64, n int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b[8-n:]
}

// intervalSet encodes spans as nft 1.0.6 sends them: a start element and
// an INTERVAL_END element at hi+1, left out when hi is the maximum.
func intervalSet(spans []span, n int, leadingEnd bool) *ruleset.Set {
	def := &ruleset.Set{KeyLen: uint32(n), Flags: ruleset.SetInterval}
	max := uint64(1)<<(8*n) - 1
	if n == 8 {
		max = ^uint64(0)
	}
	if leadingEnd && (len(spans) == 0 || spans[0].lo != 0) {
		def.Elements = append(def.Elements, &ruleset.Element{Key: be(0, n), Flags: ruleset.ElemIntervalEnd})
	}
	for _, s := range spans {
		def.Elements = append(def.Elements, &ruleset.Element{Key: be(s.lo, n)})
		if s.hi != max {
			def.Elements = append(def.Elements, &ruleset.Element{Key: be(s.hi+1, n), Flags: ruleset.ElemIntervalEnd})
		}
	}
	// The kernel does not care about the order elements arrive in.
	rand.Shuffle(len(def.Elements), func(i, j int) { def.Elements[i], def.Elements[j] = def.Elements[j], def.Elements[i] })
	return def
}

// randomSpans makes count disjoint, non-adjacent spans within [0, max].
func randomSpans(r *rand.Rand, count int, max uint64, wide bool) []span {
	cuts := map[uint64]bool{}
	for len(cuts) < 2*count {
		cuts[r.Uint64N(max)+1] = true
	}
	var vs []uint64
	for v := range cuts {
		vs = append(vs, v)
	}
	sortU64(vs)
	var out []span
	for i := 0; i+1 < len(vs); i += 2 {
		lo, hi := vs[i], vs[i+1]-1
		if !wide && r.IntN(3) == 0 {
			hi = lo // single values too
		}
		out = append(out, span{lo, hi})
	}
	if r.IntN(2) == 0 {
		out = append([]span{{0, 0}}, out...)
	}
	if r.IntN(2) == 0 && out[len(out)-1].hi < max-1 {
		out = append(out, span{max - 1, max})
	}
	return out
}

func sortU64(v []uint64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func TestIntervalBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 4, 8} {
		for round := 0; round < 20; round++ {
			max := uint64(1)<<(8*n) - 1
			if n == 8 {
				max = ^uint64(0)
			}
			count := 1 + r.IntN(60)
			if n == 1 {
				count = 1 + r.IntN(40)
			}
			spans := randomSpans(r, count, max, round%2 == 0)
			s := mustNew(t, intervalSet(spans, n, round%3 == 0))
			probe := func(k uint64) {
				want := false
				for _, sp := range spans {
					if sp.lo <= k && k <= sp.hi {
						want = true
					}
				}
				if got := s.Lookup(be(k, n), 0) != nil; got != want {
					t.Fatalf("n=%d round %d key %#x: hit %v, want %v (spans %v)", n, round, k, got, want, spans)
				}
			}
			for _, sp := range spans {
				for _, k := range []uint64{sp.lo, sp.hi, sp.lo - 1, sp.hi + 1} {
					if k <= max {
						probe(k)
					}
				}
			}
			for i := 0; i < 500; i++ {
				probe(r.Uint64N(max))
			}
			probe(0)
			probe(max)
		}
	}
}

// TestIntervalIPv6 checks 16-byte keys (two words) against brute force
// using prefixes, as `ip6 saddr { 2001:db8::/32, … }` sends them.
func TestIntervalIPv6(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 10; round++ {
		var prefixes []netip.Prefix
		def := &ruleset.Set{KeyLen: 16, Flags: ruleset.SetInterval}
		for len(prefixes) < 40 {
			var a [16]byte
			for i := range a {
				a[i] = byte(r.UintN(4)) // few distinct values: nested candidates, close keys
			}
			p := netip.PrefixFrom(netip.AddrFrom16(a), 8*r.IntN(16)+r.IntN(8)+1).Masked()
			overlap := false
			for _, q := range prefixes {
				if q.Overlaps(p) {
					overlap = true
				}
			}
			if overlap {
				continue
			}
			prefixes = append(prefixes, p)
			start := p.Addr().As16()
			def.Elements = append(def.Elements, &ruleset.Element{Key: start[:]})
			end := start
			for i := p.Bits(); i < 128; i++ {
				end[i/8] |= 0x80 >> (i % 8)
			}
			if nx, ok := inc(end[:]); ok {
				def.Elements = append(def.Elements, &ruleset.Element{Key: nx, Flags: ruleset.ElemIntervalEnd})
			}
		}
		s := mustNew(t, def)
		for i := 0; i < 3000; i++ {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.UintN(4))
			}
			addr := netip.AddrFrom16(a)
			want := false
			for _, p := range prefixes {
				if p.Contains(addr) {
					want = true
				}
			}
			if got := s.Lookup(a[:], 0) != nil; got != want {
				t.Fatalf("round %d: %v: hit %v, want %v", round, addr, got, want)
			}
		}
	}
}

// TestConcatBruteForce checks `ipv4_addr . inet_service` interval sets
// (pipapo) against a linear scan, with overlapping first fields.
func TestConcatBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type el struct{ alo, ahi, plo, phi uint64 }
	for round := 0; round < 30; round++ {
		def := &ruleset.Set{KeyLen: 8, Flags: ruleset.SetInterval | ruleset.SetConcat, FieldLens: []uint32{4, 2}}
		var els []el
		n := 1 + r.IntN(80)
		for i := 0; i < n; i++ {
			alo := uint64(r.UintN(64)) << 24
			ahi := alo + uint64(r.UintN(4))<<24 + uint64(r.UintN(1<<24))
			if ahi > 0xffffffff {
				ahi = 0xffffffff
			}
			plo := uint64(r.UintN(100))
			phi := plo + uint64(r.UintN(50))
			if r.IntN(10) == 0 {
				plo, phi = 0, 0xffff
			}
			els = append(els, el{alo, ahi, plo, phi})
			def.Elements = append(def.Elements, &ruleset.Element{
				Key:    cat(be(alo, 4), port(uint16(plo))),
				KeyEnd: cat(be(ahi, 4), port(uint16(phi))),
				Data:   be(uint64(i), 4),
			})
		}
		def.Flags |= ruleset.SetMap
		def.DataLen = 4
		s := mustNew(t, def)
		for i := 0; i < 2000; i++ {
			a := uint64(r.UintN(70)) << 24
			if r.IntN(2) == 0 {
				e := els[r.IntN(len(els))]
				a = e.alo + uint64(r.IntN(3)) - 1
				if r.IntN(2) == 0 {
					a = e.ahi + uint64(r.IntN(3)) - 1
				}
				a &= 0xffffffff
			}
			p := uint64(r.UintN(160))
			want := -1
			for j, e := range els {
				if e.alo <= a && a <= e.ahi && e.plo <= p && p <= e.phi {
					want = j
					break
				}
			}
			got := -1
			if e := s.Lookup(cat(be(a, 4), port(uint16(p))), 0); e != nil {
				got = int(binary.BigEndian.Uint32(e.Data))
			}
			if got != want {
				t.Fatalf("round %d: %#x . %d: element %d, want %d", round, a, p, got, want)
			}
		}
	}
}

func TestSizeCountsRanges(t *testing.T) {
	// One range (start + end element) fits `size 1`.
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Size: 1, SizeSet: true, Flags: ruleset.SetInterval,
		Elements: []*ruleset.Element{{Key: ip4("1.1.1.0")}, {Key: ip4("1.1.2.0"), Flags: ruleset.ElemIntervalEnd}}})
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
}

func TestDynsetSizeLimit(t *testing.T) {
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval, Size: 3})
	for i, addr := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if e, created := s.Update(ip4(addr), nil, nil, 0, false, int64(i)); e == nil || !created {
			t.Fatalf("add %s: %v %v", addr, e, created)
		}
	}
	if e, _ := s.Update(ip4("10.0.0.4"), nil, nil, 0, false, 10); e != nil {
		t.Fatal("a full set accepted a fourth element")
	}
	// An existing key still updates in a full set.
	if e, created := s.Update(ip4("10.0.0.2"), nil, nil, 0, false, 11); e == nil || created {
		t.Fatalf("update of an existing key in a full set: %v %v", e, created)
	}
	// A deleted element still counts until the GC frees it (checked with
	// nft 1.0.6 on 6.18: in a full `size 2` dynamic set, `delete @d` then
	// `add @d` of another key within the same second is refused, and
	// succeeds two seconds later).
	s.Delete(ip4("10.0.0.1"), 12)
	if s.Lookup(ip4("10.0.0.1"), 12) != nil {
		t.Fatal("deleted element still matches")
	}
	if e, _ := s.Update(ip4("10.0.0.4"), nil, nil, 0, false, 13); e != nil || s.Len() != 3 {
		t.Fatalf("add after delete before GC: %v, len %d", e, s.Len())
	}
	s.GC(nil, sec)
	if s.Len() != 2 {
		t.Fatalf("len after GC = %d, want 2", s.Len())
	}
	if e, created := s.Update(ip4("10.0.0.4"), nil, nil, 0, false, sec+1); e == nil || !created {
		t.Fatal("add after GC failed")
	}
	if got := len(s.Dump(sec + 2).Elements); got != 3 {
		t.Fatalf("dump has %d elements, want 3", got)
	}
}

func TestTimeouts(t *testing.T) {
	def := &ruleset.Set{KeyLen: 4, Flags: ruleset.SetTimeout | ruleset.SetEval, Timeout: 1000, Size: 10,
		Elements: []*ruleset.Element{{Key: ip4("192.0.2.1")}, {Key: ip4("192.0.2.2"), Timeout: 5000}}}
	s := mustNew(t, def)
	t0 := 100 * sec // the first packet anchors the clock
	steps := []struct {
		at   int64
		op   string // "lookup", "add", "update", "update5s", "gc"
		key  string
		hit  bool
		nlen int
	}{
		{t0, "lookup", "192.0.2.1", true, 2},
		{t0 + sec/2, "add", "192.0.2.9", true, 3},
		{t0 + sec - 1, "lookup", "192.0.2.1", true, 3},
		{t0 + sec, "lookup", "192.0.2.1", false, 3}, // expired: now >= expiration
		{t0 + sec, "lookup", "192.0.2.2", true, 3},
		{t0 + sec + 1, "gc", "", false, 2}, // first run at t0+1s removes 192.0.2.1
		{t0 + sec + sec/4, "add", "192.0.2.9", true, 2},
		{t0 + sec + 4*sec/10, "update", "192.0.2.9", true, 2}, // refresh: expires at t0+2.4s
		{t0 + 2*sec + sec/4, "lookup", "192.0.2.9", true, 2},
		{t0 + 2*sec + sec/2, "lookup", "192.0.2.9", false, 2},
		// UPDATE without a dynset timeout restarts from the set default
		// (1s), not from the element's own 5s (checked with nft 1.0.6 on
		// 6.18: `update @s { ip daddr }` in a set with timeout 10s turned an
		// element's `timeout 1m expires 59s` into `expires 9s940ms`).
		{t0 + 2*sec + sec/2, "update", "192.0.2.2", true, 2},
		{t0 + 2*sec + sec/2, "add", "192.0.2.9", true, 3}, // new element beside the expired one
		{t0 + 3*sec, "gc", "", false, 2},
		{t0 + 3*sec + 1, "update5s", "192.0.2.9", true, 2}, // expires at t0+8s
		{t0 + 3*sec + sec/2 - 1, "lookup", "192.0.2.2", true, 2},
		{t0 + 3*sec + sec/2, "lookup", "192.0.2.2", false, 2},
		{t0 + 5*sec, "lookup", "192.0.2.2", false, 2},
		{t0 + 7*sec, "lookup", "192.0.2.9", true, 2},
		{t0 + 9*sec, "gc", "", false, 0},
	}
	for i, st := range steps {
		var hit bool
		switch st.op {
		case "lookup":
			hit = s.Lookup(ip4(st.key), st.at) != nil
		case "add":
			e, _ := s.Update(ip4(st.key), nil, nil, 0, false, st.at)
			hit = e != nil
		case "update":
			e, _ := s.Update(ip4(st.key), nil, nil, 0, true, st.at)
			hit = e != nil
		case "update5s":
			e, _ := s.Update(ip4(st.key), nil, nil, 5*sec, true, st.at)
			hit = e != nil
		case "gc":
			s.GC(nil, st.at)
		}
		if hit != st.hit || s.Len() != st.nlen {
			t.Fatalf("step %d (%s %s at +%dms): hit %v len %d, want %v %d", i, st.op, st.key, (st.at-t0)/1e6, hit, s.Len(), st.hit, st.nlen)
		}
	}
}

func TestDumpTimeouts(t *testing.T) {
	// As `nft list` shows (checked with nft 1.0.6 on 6.18): an element
	// timeout equal to the set default is not listed, a different one is;
	// expires counts down.
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetTimeout, Timeout: 60000,
		Elements: []*ruleset.Element{{Key: ip4("10.0.0.3")}, {Key: ip4("10.0.0.1"), Timeout: 120000}, {Key: ip4("10.0.0.2"), Timeout: 60000}}})
	s.Lookup(ip4("10.0.0.1"), 0)
	d := s.Dump(152 * 1e6)
	want := []struct {
		key              string
		timeout, expires uint64
	}{{"10.0.0.1", 120000, 119848}, {"10.0.0.2", 0, 59848}, {"10.0.0.3", 0, 59848}}
	if len(d.Elements) != len(want) {
		t.Fatalf("%d elements, want %d", len(d.Elements), len(want))
	}
	for i, w := range want {
		e := d.Elements[i]
		if !bytes.Equal(e.Key, ip4(w.key)) || e.Timeout != w.timeout || e.Expires != w.expires {
			t.Errorf("element %d: %x timeout %d expires %d, want %s %d %d", i, e.Key, e.Timeout, e.Expires, w.key, w.timeout, w.expires)
		}
	}
}

func TestElementExpressions(t *testing.T) {
	tmpl := []ruleset.Expr{&ruleset.Counter{}, &ruleset.Connlimit{Count: 2, Flags: ruleset.ConnlimitInvert},
		&ruleset.Quota{Bytes: 100}, &ruleset.Limit{Rate: 10, Unit: 1}}
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval, Size: 65535})
	e1, _ := s.Update(ip4("198.51.100.2"), nil, tmpl, 0, false, 5*sec)
	e1.Exprs[0].Counter(60)
	e1.Exprs[0].Counter(40)
	if brk := e1.Exprs[2].Quota(100); brk {
		t.Error("quota 100 bytes broke at exactly 100 bytes")
	}
	if brk := e1.Exprs[2].Quota(1); !brk {
		t.Error("quota 100 bytes did not break at 101 bytes")
	}
	// A second element gets fresh state.
	e2, _ := s.Update(ip4("198.51.100.3"), nil, tmpl, 0, false, 6*sec)
	if e2.Exprs[0].Packets != 0 || e2.Exprs[2].Consumed != 0 || e2.Exprs[1].Conns.Count() != 0 {
		t.Fatalf("clone is not fresh: %+v", e2.Exprs)
	}
	// limit 10/second, burst 5: five packets pass at once, the sixth not.
	for i := 0; i < 5; i++ {
		if e2.Exprs[3].Limit(60, 6*sec) {
			t.Fatalf("packet %d over the limit", i)
		}
	}
	if !e2.Exprs[3].Limit(60, 6*sec) {
		t.Fatal("sixth packet in the same instant not over the limit")
	}
	if e2.Exprs[3].Limit(60, 6*sec+sec/10) {
		t.Fatal("after 100 ms one token is back")
	}
	d := s.Dump(7 * sec)
	if len(d.Elements) != 2 {
		t.Fatalf("%d elements", len(d.Elements))
	}
	got := d.Elements[0].Exprs
	c := got[0].(*ruleset.Counter)
	cl := got[1].(*ruleset.Connlimit)
	q := got[2].(*ruleset.Quota)
	l := got[3].(*ruleset.Limit)
	if c.Packets != 2 || c.Bytes != 100 || cl.Count != 2 || cl.Flags != 1 || q.Consumed != 100 || q.Flags != ruleset.QuotaDepleted || l.Burst != 5 {
		t.Fatalf("dump: %+v %+v %+v %+v", c, cl, q, l)
	}
	if tmpl[0].(*ruleset.Counter).Packets != 0 {
		t.Fatal("the template changed")
	}
}

// TestGCConnlimit checks that the GC removes a dynamic element once its
// connlimit list is empty, at the gc-interval, and never in a set without
// the dynamic flag. The list's own pruning is connlimit's (tested there);
// here a fake says when a list is empty.
func TestGCConnlimit(t *testing.T) {
	empty := map[*Stateful]bool{}
	old := listGC
	listGC = func(st *Stateful, _ *ct.Table, _ int64) bool { return empty[st] }
	t.Cleanup(func() { listGC = old })
	tmpl := []ruleset.Expr{&ruleset.Connlimit{Count: 2, Flags: 1}}

	for _, tc := range []struct {
		name       string
		flags      uint32
		gcInterval uint32
		removedAt  int64 // 0: never
	}{
		{"dynamic, default 1s", ruleset.SetEval, 0, 2 * sec},
		{"dynamic, gc-interval 5s", ruleset.SetEval, 5000, 5 * sec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: tc.flags, Size: 65535, GCInterval: tc.gcInterval})
			s.GC(nil, 0) // anchors the schedule at 0
			e, _ := s.Update(ip4("198.51.100.2"), nil, tmpl, 0, false, sec/10)
			s.GC(nil, sec) // list not empty yet
			if s.Lookup(ip4("198.51.100.2"), sec) == nil {
				t.Fatal("element removed while connections live")
			}
			empty[&e.Exprs[0]] = true // connections gone after 1s
			for now := sec + sec/10; now <= 6*sec; now += sec / 10 {
				s.GC(nil, now)
				present := s.Lookup(ip4("198.51.100.2"), now) != nil
				if wantPresent := now < tc.removedAt; present != wantPresent {
					t.Fatalf("at %dms present %v, want %v", now/1e6, present, wantPresent)
				}
			}
			if s.Len() != 0 {
				t.Fatalf("len %d", s.Len())
			}
		})
	}

	// Without the dynamic flag the GC still runs (gc_init starts it for
	// connlimit) and prunes the list, but the element stays
	// (nft_rhash_expr_needs_gc_run needs NFT_SET_EVAL).
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("198.51.100.2"), Exprs: tmpl}}})
	e := s.Lookup(ip4("198.51.100.2"), 0)
	called := false
	listGC = func(st *Stateful, _ *ct.Table, _ int64) bool { called = st == &e.Exprs[0]; return true }
	s.GC(nil, 2*sec)
	if !called {
		t.Fatal("GC did not prune the connlimit list")
	}
	if s.Lookup(ip4("198.51.100.2"), 2*sec) == nil {
		t.Fatal("GC removed an element of a set without the dynamic flag")
	}
}

func TestUpdateRefusals(t *testing.T) {
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetInterval, Elements: []*ruleset.Element{{Key: ip4("10.0.0.0")}}})
	if e, _ := s.Update(ip4("10.0.0.1"), nil, nil, 0, false, 0); e != nil {
		t.Fatal("interval set accepted a dynset update")
	}
	h := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval})
	if e, _ := h.Update([]byte{1}, nil, nil, 0, false, 0); e != nil {
		t.Fatal("short key accepted")
	}
	if e, _ := h.Update(ip4("1.1.1.1"), nil, []ruleset.Expr{&ruleset.Log{}}, 0, false, 0); e != nil || h.Len() != 0 {
		t.Fatal("non-stateful template accepted")
	}
}

func TestLookupAllocs(t *testing.T) {
	hash := mustNew(t, &ruleset.Set{KeyLen: 4, Elements: []*ruleset.Element{{Key: ip4("10.0.0.1")}}})
	big := mustNew(t, &ruleset.Set{KeyLen: 20, Elements: []*ruleset.Element{{Key: make([]byte, 20)}}})
	iv := mustNew(t, intervalSet([]span{{10, 20}}, 4, true))
	iv6 := mustNew(t, intervalSet([]span{{10, 20}}, 8, true))
	cc := mustNew(t, &ruleset.Set{KeyLen: 8, Flags: ruleset.SetInterval | ruleset.SetConcat, FieldLens: []uint32{4, 2},
		Elements: []*ruleset.Element{{Key: cat(ip4("10.0.0.0"), port(1)), KeyEnd: cat(ip4("10.0.0.255"), port(100))}}})
	k4, k20, k4b, k8, kc := ip4("10.0.0.1"), make([]byte, 20), be(15, 4), be(15, 8), cat(ip4("10.0.0.7"), port(5))
	for name, f := range map[string]func(){
		"hash":      func() { hash.Lookup(k4, 1) },
		"hash20":    func() { big.Lookup(k20, 1) },
		"interval":  func() { iv.Lookup(k4b, 1) },
		"interval8": func() { iv6.Lookup(k8, 1) },
		"concat":    func() { cc.Lookup(kc, 1) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per lookup", name, n)
		}
	}
}

// TestOATable checks the open-addressing table (backward-shift deletion,
// growth, wrap-around) against a Go map under random inserts and deletes.
func TestOATable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var tb oaTable
	tb.init(8)
	ref := map[uint64]*Elem{}
	for op := 0; op < 200000; op++ {
		k := r.Uint64N(400)
		if r.IntN(8) == 0 {
			k = r.Uint64() // mostly a small key space, some spread keys
		}
		switch r.IntN(3) {
		case 0, 1:
			e := &Elem{expires: int64(op)}
			tb.put(k, e)
			ref[k] = e
		case 2:
			tb.del(k)
			delete(ref, k)
		}
		if op%997 == 0 {
			if tb.n != len(ref) {
				t.Fatalf("op %d: %d entries, want %d", op, tb.n, len(ref))
			}
			for k, want := range ref {
				if e, exp := tb.get(k); e != want || exp != want.expires {
					t.Fatalf("op %d: key %d: %p/%d, want %p/%d", op, k, e, exp, want, want.expires)
				}
			}
			seen := 0
			tb.each(func(*Elem) { seen++ })
			if seen != len(ref) {
				t.Fatalf("op %d: each saw %d, want %d", op, seen, len(ref))
			}
		}
		if e, _ := tb.get(k); e != ref[k] {
			t.Fatalf("op %d: key %d: %p, want %p", op, k, e, ref[k])
		}
	}
}

func TestNextGC(t *testing.T) {
	s := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetEval, GCInterval: 2500})
	if got := s.NextGC(10 * sec); got != 12*sec+sec/2 {
		t.Fatalf("NextGC = %d, want 12.5 s", got)
	}
	s.GC(nil, 19*sec) // due at 12.5, 15, 17.5: runs once, at 17.5
	if got := s.NextGC(19 * sec); got != 20*sec {
		t.Fatalf("after a late GC NextGC = %d, want 20 s", got)
	}
}

// TestIntervalTimeouts: an expired range stops matching in both interval
// backends, and a pipapo lookup goes on to the next matching element.
func TestIntervalTimeouts(t *testing.T) {
	rb := mustNew(t, &ruleset.Set{KeyLen: 4, Flags: ruleset.SetInterval | ruleset.SetTimeout, Elements: []*ruleset.Element{
		{Key: ip4("10.0.0.0"), Timeout: 1000}, {Key: ip4("11.0.0.0"), Flags: ruleset.ElemIntervalEnd, Timeout: 1000},
		{Key: ip4("192.168.0.0")}, {Key: ip4("192.168.1.0"), Flags: ruleset.ElemIntervalEnd},
	}})
	pp := mustNew(t, &ruleset.Set{KeyLen: 8, Flags: ruleset.SetInterval | ruleset.SetConcat | ruleset.SetTimeout | ruleset.SetMap,
		DataLen: 4, FieldLens: []uint32{4, 2}, Elements: []*ruleset.Element{
			{Key: cat(ip4("10.0.0.0"), port(0)), KeyEnd: cat(ip4("10.255.255.255"), port(100)), Data: []byte{1}, Timeout: 1000},
			{Key: cat(ip4("10.0.0.0"), port(50)), KeyEnd: cat(ip4("10.0.0.255"), port(60)), Data: []byte{2}},
		}})
	t0 := 5 * sec
	for _, st := range []struct {
		at     int64
		rbKey  string
		rbHit  bool
		ppAddr string
		ppPort uint16
		ppData byte // 0: miss
	}{
		{t0, "10.1.2.3", true, "10.0.0.7", 55, 1},
		{t0 + sec - 1, "192.168.0.9", true, "10.0.0.7", 70, 1},
		{t0 + sec, "10.1.2.3", false, "10.0.0.7", 55, 2},
		{t0 + sec, "192.168.0.9", true, "10.0.0.7", 70, 0},
	} {
		if got := rb.Lookup(ip4(st.rbKey), st.at) != nil; got != st.rbHit {
			t.Errorf("rbtree %s at %dms: hit %v, want %v", st.rbKey, (st.at-t0)/1e6, got, st.rbHit)
		}
		var got byte
		if e := pp.Lookup(cat(ip4(st.ppAddr), port(st.ppPort)), st.at); e != nil {
			got = e.Data[0]
		}
		if got != st.ppData {
			t.Errorf("pipapo %s . %d at %dms: element %d, want %d", st.ppAddr, st.ppPort, (st.at-t0)/1e6, got, st.ppData)
		}
	}
	if n := len(rb.Dump(t0 + sec).Elements); n != 2 {
		t.Errorf("rbtree dump after expiry: %d elements, want 2", n)
	}
}

// TestConcatManyFields: sixteen 1-byte fields, the most a 64-byte key
// holds (each field is rounded up to 4 bytes).
func TestConcatManyFields(t *testing.T) {
	lens := make([]uint32, 16)
	key, lo, hi := make([]byte, 64), make([]byte, 64), make([]byte, 64)
	for i := range lens {
		lens[i] = 1
		lo[4*i], hi[4*i], key[4*i] = byte(i), byte(i+10), byte(i+5)
	}
	s := mustNew(t, &ruleset.Set{KeyLen: 64, Flags: ruleset.SetInterval | ruleset.SetConcat, FieldLens: lens,
		Elements: []*ruleset.Element{{Key: lo, KeyEnd: hi}}})
	if s.Lookup(key, 0) == nil {
		t.Fatal("key inside every field's range missed")
	}
	key[60] = 30
	if s.Lookup(key, 0) != nil {
		t.Fatal("key outside the last field's range matched")
	}
}

// TestNoPanics feeds New random definitions (key lengths, flags, field
// lengths, element keys of any length) and runs every operation on what it
// accepts: errors are fine, panics are not.
func TestNoPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	bytesN := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(4)) * 0x55
		}
		return b
	}
	flagsPool := []uint32{0, ruleset.SetInterval, ruleset.SetMap, ruleset.SetTimeout, ruleset.SetEval, ruleset.SetConcat, ruleset.SetInterval | ruleset.SetConcat}
	for round := 0; round < 3000; round++ {
		klen := r.IntN(70)
		def := &ruleset.Set{KeyLen: uint32(klen), DataLen: uint32(r.IntN(70)), Size: uint32(r.IntN(5)), Timeout: uint64(r.IntN(3)) * 500}
		for i := 0; i < 3; i++ {
			def.Flags |= flagsPool[r.IntN(len(flagsPool))]
		}
		if r.IntN(3) == 0 {
			def.DataType = ruleset.DataVerdict
		}
		for i := r.IntN(4); i > 0; i-- {
			def.FieldLens = append(def.FieldLens, uint32(r.IntN(20)))
		}
		for i := r.IntN(12); i > 0; i-- {
			e := &ruleset.Element{Key: bytesN(r.IntN(klen + 3)), Data: bytesN(r.IntN(8)), Timeout: uint64(r.IntN(3)) * 300}
			if r.IntN(3) == 0 {
				e.KeyEnd = bytesN(r.IntN(klen + 3))
			}
			if r.IntN(4) == 0 {
				e.Flags = uint32(r.IntN(4))
			}
			if r.IntN(5) == 0 {
				e.Exprs = []ruleset.Expr{&ruleset.Counter{}, &ruleset.Limit{Rate: 1, Unit: 1}}
			}
			def.Elements = append(def.Elements, e)
		}
		s, err := New(def)
		if err != nil {
			continue
		}
		for op := 0; op < 20; op++ {
			now := int64(op) * sec / 3
			k := bytesN(r.IntN(klen + 3))
			switch r.IntN(5) {
			case 0:
				s.Lookup(k, now)
			case 1:
				s.Update(k, bytesN(r.IntN(8)), []ruleset.Expr{&ruleset.Connlimit{Count: 1}}, int64(r.IntN(2))*sec, r.IntN(2) == 0, now)
			case 2:
				s.Delete(k, now)
			case 3:
				s.GC(nil, now)
			case 4:
				s.Dump(now)
			}
		}
	}
}
