package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nftgo/nftgo/internal/scenario"
)

func TestDiffKernelNeedsRoot(t *testing.T) {
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 1000 }
	var out, errb bytes.Buffer
	st := runDiffKernel([]string{"-f", "r.nft", "--replay", "x.pcap"}, &out, &errb)
	if st != 2 || !strings.Contains(errb.String(), "needs root") {
		t.Errorf("status %d, stderr %q: want 2 and a message that root is needed", st, errb.String())
	}
}

func TestDiffKernelParams(t *testing.T) {
	tests := []struct {
		args []string
		want scenario.Params
		err  bool
	}{
		{args: []string{"--iface", "wan=198.51.100.254/24,2001:db8:1::fffe/64", "--iface", "lan=2001:db8:2::fffe/64,203.0.113.254/24",
			"--route", "default@wan", "--route", "192.0.2.0/24@lan", "--sysctl", "net.netfilter.nf_conntrack_max=7"},
			want: scenario.Params{Mode: "forward", LanNets: []string{"192.0.2.0/24"}, Sysctl: map[string]string{"net.netfilter.nf_conntrack_max": "7"}}},
		{args: []string{"--local", "203.0.113.1", "--local", "2001:db8::1"},
			want: scenario.Params{Mode: "local", Local: []string{"203.0.113.1", "2001:db8::1"}}},
		{args: []string{"--iface", "eth0=10.0.0.1/8"}, err: true},
		{args: []string{"--route", "10.0.0.0/8@wan"}, err: true},
		{args: []string{"--local", "203.0.113.1", "--route", "default@wan"}, err: true},
		{args: []string{"--sysctl", "novalue"}, err: true},
	}
	for _, tc := range tests {
		o, err := parseArgs(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		got, err := diffKernelParams(o)
		if (err != nil) != tc.err {
			t.Errorf("%v: err %v, want error %v", tc.args, err, tc.err)
			continue
		}
		if err == nil {
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("%v (-want +got):\n%s", tc.args, d)
			}
		}
	}
}
