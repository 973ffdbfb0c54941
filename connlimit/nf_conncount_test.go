package connlimit

import (
	"testing"

	"github.com/nftgo/nftgo/ct"
)

// fakeTable stands in for ct.Table until the conntrack package lands: a
// tuple is present when it is in the map, and closed when its value is true.
type fakeTable map[ct.Tuple]bool

func (f fakeTable) install(t *testing.T) {
	t.Helper()
	testLookup = func(tup ct.Tuple, zone uint16, now int64) (bool, bool) {
		closed, ok := f[tup]
		return ok, closed
	}
	t.Cleanup(func() { testLookup = nil })
}

func tup(n int) ct.Tuple {
	var t ct.Tuple
	t.Src[0], t.Src[3] = 10, byte(n)
	t.Dst[0], t.Dst[3] = 192, 1
	t.SrcPort = uint16(30000 + n)
	t.DstPort = 80
	t.L3, t.Proto = 2, 6
	return t
}

// step is one operation on the list: an Add of tuple n (zone z), or a GC
// when gc is set, after changing the fake table.
type step struct {
	set   map[int]int // tuple -> 0 gone, 1 live, 2 closed
	add   int
	zone  uint16
	gc    bool
	want  uint32 // count after the step
	empty bool   // GC's answer
}

func TestConncount(t *testing.T) {
	const gone, live, closed = 0, 1, 2
	tests := []struct {
		name  string
		steps []step
	}{
		{"dedup of a live tuple", []step{
			{set: map[int]int{1: live}, add: 1, want: 1},
			{add: 1, want: 1},
			{set: map[int]int{2: live}, add: 2, want: 2},
			{add: 1, want: 2},
		}},
		{"same tuple in another zone is another entry", []step{
			{set: map[int]int{1: live}, add: 1, want: 1},
			{add: 1, zone: 5, want: 2},
		}},
		{"unconfirmed then dropped is evicted by the next add", []step{
			// The first SYN's conntrack was never confirmed (dropped).
			{add: 1, want: 1},
			{add: 2, want: 1},
		}},
		{"unconfirmed retransmission re-adds itself", []step{
			// Not in the table: evicted by its own scan, then added again.
			{add: 1, want: 1},
			{add: 1, want: 1},
		}},
		{"closed tuple finds itself before the closed check", []step{
			{set: map[int]int{1: live}, add: 1, want: 1},
			{set: map[int]int{1: closed}, add: 1, want: 1},
			// Another tuple's scan evicts it.
			{set: map[int]int{2: live}, add: 2, want: 1},
		}},
		{"connection gone from the table", []step{
			{set: map[int]int{1: live, 2: live}, add: 1, want: 1},
			{add: 2, want: 2},
			{set: map[int]int{1: gone}, add: 2, want: 1},
		}},
		{"gc empties an all-dead list", []step{
			{set: map[int]int{1: live, 2: live, 3: live}, add: 1, want: 1},
			{add: 2, want: 2},
			{add: 3, want: 3},
			{gc: true, want: 3},
			{set: map[int]int{1: gone, 2: closed, 3: gone}, gc: true, want: 0, empty: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeTable{}
			f.install(t)
			var l List
			for i, s := range tc.steps {
				for n, st := range s.set {
					switch st {
					case gone:
						delete(f, tup(n))
					case live:
						f[tup(n)] = false
					case closed:
						f[tup(n)] = true
					}
				}
				if s.gc {
					if empty := l.GC(nil, 0); empty != s.empty {
						t.Errorf("step %d: GC empty = %v, want %v", i, empty, s.empty)
					}
				} else {
					n, ok := l.Add(nil, tup(s.add), s.zone, 0)
					if !ok || n != s.want {
						t.Errorf("step %d: Add = %d, %v; want %d, true", i, n, ok, s.want)
					}
				}
				if l.Count() != s.want {
					t.Errorf("step %d: Count = %d, want %d", i, l.Count(), s.want)
				}
			}
		})
	}
}

// TestConncountScanLimit checks CONNCOUNT_GC_MAX_NODES: an add evicts at
// most nine dead entries (it stops once more than eight were evicted), while
// a gc pass evicts every dead entry up to the first live one after the
// ninth eviction.
func TestConncountScanLimit(t *testing.T) {
	f := fakeTable{}
	f.install(t)
	var l List
	for i := 1; i <= 12; i++ {
		f[tup(i)] = false
		l.Add(nil, tup(i), 0, 0)
	}
	for i := 1; i <= 12; i++ {
		delete(f, tup(i))
	}
	f[tup(50)] = false
	n, _ := l.Add(nil, tup(50), 0, 0)
	// 9 evicted, 3 dead left, then 50 appended.
	if n != 4 {
		t.Fatalf("add after 12 dead: count %d, want 4", n)
	}
	if l.conns[0].tup != tup(10) || l.conns[3].tup != tup(50) {
		t.Fatalf("wrong survivors: %v", l.conns)
	}

	// GC: 10 dead, a live one, a dead one: stops at the live one.
	l = List{}
	for i := 1; i <= 12; i++ {
		f[tup(i)] = false
		l.Add(nil, tup(i), 0, 0)
	}
	for i := 1; i <= 12; i++ {
		if i != 11 {
			delete(f, tup(i))
		}
	}
	if empty := l.GC(nil, 0); empty || l.Count() != 2 {
		t.Fatalf("gc: empty %v count %d, want false 2", empty, l.Count())
	}
	if empty := l.GC(nil, 0); empty || l.Count() != 1 {
		t.Fatalf("second gc: empty %v count %d, want false 1", empty, l.Count())
	}
}

func TestReset(t *testing.T) {
	f := fakeTable{tup(1): false}
	f.install(t)
	var a List
	a.Add(nil, tup(1), 0, 0)
	b := a
	b.Reset()
	b.Add(nil, tup(2), 0, 0)
	if a.Count() != 1 || a.conns[0].tup != tup(1) {
		t.Fatalf("Reset on a copy changed the original: %v", a.conns)
	}
}
