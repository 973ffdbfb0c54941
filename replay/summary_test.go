package replay

import (
	"net/netip"
	"strconv"
	"testing"
)

// TestAppendFast checks the table-driven address and port formatting
// against netip and strconv over edge and sampled values.
func TestAppendFast(t *testing.T) {
	for _, a := range [][4]byte{{0, 0, 0, 0}, {255, 255, 255, 255}, {198, 51, 100, 7}, {10, 9, 100, 99}, {1, 20, 3, 40}} {
		if got, want := string(appendIPv4(nil, a)), netip.AddrFrom4(a).String(); got != want {
			t.Errorf("appendIPv4(%v) = %q, want %q", a, got, want)
		}
	}
	for v := 0; v < 65536; v += 997 {
		for _, p := range []uint16{uint16(v), 0, 9, 10, 99, 100, 65535} {
			if got, want := string(appendPort(nil, p)), strconv.Itoa(int(p)); got != want {
				t.Fatalf("appendPort(%d) = %q, want %q", p, got, want)
			}
		}
	}
}
