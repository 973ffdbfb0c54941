package kernel

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Trace lines below are `nft -a monitor trace` output of nft 1.0.6 on Linux
// 6.18 for the chains-jump-goto-return scenario (packet lines shortened).
const traceReturnThenPolicy = `trace id af28ebca inet __nftgo_k pre_first packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id af28ebca inet __nftgo_k pre_first rule meta nftrace set 1 # handle 11 (verdict continue)
trace id af28ebca inet __nftgo_k pre_first policy accept 
trace id af28ebca inet __nftgo_k pre_last packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id af28ebca inet __nftgo_k pre_last policy accept 
trace id af28ebca inet __nftgo_k fwd_first packet: iif "wan" oif "lan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id af28ebca inet __nftgo_k fwd_first rule meta nftrace set 1 # handle 14 (verdict continue)
trace id af28ebca inet __nftgo_k fwd_first policy accept 
trace id af28ebca inet filter forward packet: iif "wan" oif "lan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id af28ebca inet filter forward rule ip saddr 198.51.100.0/24 counter packets 0 bytes 0 jump from_wan # handle 13 (verdict jump from_wan)
trace id af28ebca inet filter from_wan rule udp dport 53 counter packets 0 bytes 0 jump dns # handle 7 (verdict jump dns)
trace id af28ebca inet filter dns rule counter packets 0 bytes 0 return # handle 10 (verdict return)
trace id af28ebca inet filter from_wan rule counter packets 0 bytes 0 # handle 8 (verdict continue)
trace id af28ebca inet filter forward rule counter packets 0 bytes 0 # handle 16 (verdict continue)
trace id af28ebca inet filter forward policy drop 
`

const traceAcceptInJumpedChain = `trace id 38b434a9 inet __nftgo_k pre_first packet: iif "wan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k pre_first rule meta nftrace set 1 # handle 11 (verdict continue)
trace id 38b434a9 inet __nftgo_k pre_first policy accept 
trace id 38b434a9 inet __nftgo_k pre_last packet: iif "wan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k pre_last policy accept 
trace id 38b434a9 inet __nftgo_k fwd_first packet: iif "wan" oif "lan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k fwd_first policy accept 
trace id 38b434a9 inet filter forward packet: iif "wan" oif "lan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet filter forward rule ip saddr 198.51.100.0/24 counter packets 0 bytes 0 jump from_wan # handle 13 (verdict jump from_wan)
trace id 38b434a9 inet filter from_wan rule udp dport 53 counter packets 0 bytes 0 jump dns # handle 7 (verdict jump dns)
trace id 38b434a9 inet filter dns rule ip saddr 198.51.100.53 counter packets 0 bytes 0 accept # handle 9 (verdict accept)
trace id 38b434a9 inet __nftgo_k fwd_last packet: iif "wan" oif "lan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k fwd_last policy accept 
trace id 38b434a9 inet __nftgo_k post_first packet: iif "wan" oif "lan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k post_first policy accept 
trace id 38b434a9 inet __nftgo_k post_last packet: iif "wan" oif "lan" ip saddr 198.51.100.53 ip daddr 203.0.113.10
trace id 38b434a9 inet __nftgo_k post_last policy accept 
`

// A SYN the full conntrack table drops: only the helper's first chain and
// the raw-priority user chain see it.
const traceTableFull = `trace id 11 inet __nftgo_k pre_first packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id 11 inet __nftgo_k pre_first policy accept 
trace id 11 inet t raw packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id 11 inet t raw rule counter packets 0 bytes 0 # handle 4 (verdict continue)
trace id 11 inet t raw policy accept 
`

// A packet routing drops (TTL 1 in forward mode).
const traceRouting = `trace id 12 inet __nftgo_k pre_first packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id 12 inet __nftgo_k pre_first policy accept 
trace id 12 inet __nftgo_k pre_last packet: iif "wan" ip saddr 198.51.100.2 ip daddr 203.0.113.10
trace id 12 inet __nftgo_k pre_last policy accept 
`

func parseSeg(t *testing.T, s string) []traceEvent {
	var seg []traceEvent
	for _, ln := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		e, ok := parseTraceLine(ln)
		if !ok {
			t.Fatalf("unparsed trace line %q", ln)
		}
		seg = append(seg, e)
	}
	return seg
}

func TestAnalyse(t *testing.T) {
	tests := []struct {
		name  string
		trace string
		want  Verdict
	}{
		{"return then policy drop", traceReturnThenPolicy, Verdict{Verdict: "drop",
			Decided: &Decision{Family: "inet", Table: "filter", Chain: "forward", Policy: true},
			Hooks:   []string{"pre_first", "pre_last", "fwd_first"}}},
		{"accept in a jumped-to chain", traceAcceptInJumpedChain, Verdict{Verdict: "accept",
			Decided: &Decision{Family: "inet", Table: "filter", Chain: "dns", Handle: 9},
			Hooks:   []string{"pre_first", "pre_last", "fwd_first", "fwd_last", "post_first", "post_last"}}},
		{"conntrack table full", traceTableFull, Verdict{Verdict: "drop", Kernel: "prerouting", Hooks: []string{"pre_first"}}},
		{"routing drop", traceRouting, Verdict{Verdict: "drop", Kernel: "routing", Hooks: []string{"pre_first", "pre_last"}}},
		{"no trace", "", Verdict{Verdict: "unknown"}},
	}
	for _, tc := range tests {
		var seg []traceEvent
		if tc.trace != "" {
			seg = parseSeg(t, tc.trace)
		}
		got := analyse(seg, "pre_first")
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
