package connlimit

import "testing"

// TestAddPacket checks the jiffy and confirmation rules of
// nf_conncount_add_skb as the 6.18 kernel runs them; the scenarios
// connlimit-dynset-double-add and connlimit-confirmed-collect record the
// same behaviour from the kernel.
func TestAddPacket(t *testing.T) {
	const ms = int64(1_000_000)
	type op struct {
		tuple int
		conn  Conn
		at    int64 // ns
		want  uint32
	}
	tests := []struct {
		name  string
		table fakeTable // tuple -> closed
		init  bool      // Init(0) first: a set element created at time 0
		ops   []op
	}{
		{"new connection added twice in one jiffy counts twice",
			fakeTable{}, true, []op{{1, ConnNew, 0, 1}, {1, ConnNew, 0, 2}}},
		{"new connection in a later jiffy is scanned and deduplicated",
			fakeTable{tup(1): false}, false, []op{{1, ConnNew, 0, 1}, {1, ConnNew, 10 * ms, 1}}},
		{"a scan in this jiffy hides gone entries from the next add",
			fakeTable{}, false, []op{{1, ConnNew, 0, 1}, {2, ConnNew, 1 * ms, 2}}},
		{"a later jiffy evicts them",
			fakeTable{}, false, []op{{1, ConnNew, 0, 1}, {2, ConnNew, 10 * ms, 1}}},
		{"established is not added, only collected",
			fakeTable{tup(1): false, tup(2): true}, false, []op{{1, ConnNew, 0, 1}, {2, ConnNew, 10 * ms, 2}, {1, ConnEstablished, 20 * ms, 1}}},
		{"established in the jiffy of the last scan collects nothing",
			fakeTable{tup(1): false, tup(2): true}, false, []op{{1, ConnNew, 0, 1}, {2, ConnNew, 10 * ms, 2}, {1, ConnEstablished, 11 * ms, 2}}},
		{"established and absent from the list is not added",
			fakeTable{tup(1): false}, false, []op{{1, ConnEstablished, 0, 0}}},
		{"confirmed but not established is scanned and added",
			fakeTable{tup(1): false}, false, []op{{1, ConnConfirmed, 0, 1}, {1, ConnConfirmed, 0, 1}}},
		{"confirmed stops at its own tuple, leaving closed entries behind it",
			fakeTable{tup(1): false, tup(2): false}, false, []op{{1, ConnNew, 0, 1}, {2, ConnNew, 10 * ms, 2}, {1, ConnConfirmed, 20 * ms, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.table.install(t)
			var l List
			if tc.init {
				l.Init(0)
			}
			for i, o := range tc.ops {
				n, ok := l.AddPacket(nil, tup(o.tuple), 0, o.conn, o.at)
				if !ok || n != o.want {
					t.Fatalf("op %d: AddPacket = %d, %v; want %d, true", i, n, ok, o.want)
				}
			}
		})
	}
}
