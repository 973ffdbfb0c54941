package vm

import (
	"net/netip"
	"testing"
)

// TestJhashKernel: reciprocal_scale(jhash(key, seed), mod) + offset for
// the keys of testdata/scenarios/hash-numgen-fib, whose kernel.golden
// (Linux 6.18) records which rule each packet's hash picked.
func TestJhashKernel(t *testing.T) {
	v4 := func(a string, port uint16) []byte {
		b := netip.MustParseAddr(a).As4()
		return append(b[:], byte(port>>8), byte(port), 0, 0)
	}
	v6 := func(s, d string, port uint16) []byte {
		a, b := netip.MustParseAddr(s).As16(), netip.MustParseAddr(d).As16()
		return append(append(a[:], b[:]...), byte(port>>8), byte(port), 0, 0)
	}
	tests := []struct {
		key                  []byte
		seed, mod, off, want uint32
	}{
		// jhash ip saddr . udp sport mod 4 seed 0x1234
		{v4("198.51.100.2", 5000), 0x1234, 4, 0, 1},
		{v4("198.51.100.2", 5001), 0x1234, 4, 0, 2},
		{v4("198.51.100.2", 5002), 0x1234, 4, 0, 3},
		{v4("198.51.100.3", 5000), 0x1234, 4, 0, 1},
		{v4("198.51.100.4", 5000), 0x1234, 4, 0, 2},
		{v4("198.51.100.5", 40000), 0x1234, 4, 0, 0},
		{v4("198.51.100.6", 123), 0x1234, 4, 0, 0},
		{v4("198.51.100.7", 65535), 0x1234, 4, 0, 1},
		// jhash ip6 saddr . ip6 daddr . udp dport mod 3 seed 0xfeedcafe offset 10 (36-byte key)
		{v6("2001:db8:1::2", "2001:db8:2::10", 1001), 0xfeedcafe, 3, 10, 12},
		{v6("2001:db8:1::3", "2001:db8:2::10", 1001), 0xfeedcafe, 3, 10, 12},
		{v6("2001:db8:1::4", "2001:db8:2::11", 1001), 0xfeedcafe, 3, 10, 10},
		{v6("2001:db8:1::5", "2001:db8:2::12", 1001), 0xfeedcafe, 3, 10, 10},
	}
	for i, tc := range tests {
		if got := reciprocalScale(jhash(tc.key, tc.seed), tc.mod) + tc.off; got != tc.want {
			t.Errorf("%d: hash %d, kernel %d", i, got, tc.want)
		}
	}
}
