package connlimit

import "testing"

// TestAddPacket checks the jiffy and confirmation rules of
// nf_conncount_add_skb as the 6.18 kernel runs them; the scenarios
// connlimit-dynset-double-add and connlimit-confirmed-collect record the
// same behaviour from the kernel.
func TestAddPacket(t *testing.T) {
	const ms = int64(1_000_000)
	type op struct {
		tuple     int
		confirmed bool
		at        int64 // ns
		want      uint32
	}
	tests := []struct {
		name  string
		table fakeTable // tuple -> closed
		init  bool      // Init(0) first: a set element created at time 0
		ops   []op
	}{
		{"new connection added twice in one jiffy counts twice",
			fakeTable{}, true, []op{{1, false, 0, 1}, {1, false, 0, 2}}},
		{"new connection in a later jiffy is scanned and deduplicated",
			fakeTable{tup(1): false}, false, []op{{1, false, 0, 1}, {1, false, 10 * ms, 1}}},
		{"a scan in this jiffy hides gone entries from the next add",
			fakeTable{}, false, []op{{1, false, 0, 1}, {2, false, 1 * ms, 2}}},
		{"a later jiffy evicts them",
			fakeTable{}, false, []op{{1, false, 0, 1}, {2, false, 10 * ms, 1}}},
		{"confirmed is not added, only collected",
			fakeTable{tup(1): false, tup(2): true}, false, []op{{1, false, 0, 1}, {2, false, 10 * ms, 2}, {1, true, 20 * ms, 1}}},
		{"confirmed in the jiffy of the last scan collects nothing",
			fakeTable{tup(1): false, tup(2): true}, false, []op{{1, false, 0, 1}, {2, false, 10 * ms, 2}, {1, true, 11 * ms, 2}}},
		{"confirmed and absent from the list is not added",
			fakeTable{tup(1): false}, false, []op{{1, true, 0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.table.install(t)
			var l List
			if tc.init {
				l.Init(0)
			}
			for i, o := range tc.ops {
				n, ok := l.AddPacket(nil, tup(o.tuple), 0, o.confirmed, o.at)
				if !ok || n != o.want {
					t.Fatalf("op %d: AddPacket = %d, %v; want %d, true", i, n, ok, o.want)
				}
			}
		})
	}
}
