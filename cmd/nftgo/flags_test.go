package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want options
	}{
		{[]string{"--debug=netlink", "-c", "-f", "x.nft"}, options{debug: []string{"netlink"}, check: true, file: "x.nft"}},
		{[]string{"-c", "-f", "x.nft"}, options{check: true, file: "x.nft"}},
		{[]string{"-f", "x.nft", "list", "ruleset"}, options{file: "x.nft", cmd: []string{"list", "ruleset"}}},
		{[]string{"-cf", "x.nft"}, options{check: true, file: "x.nft"}},
		{[]string{"-fx.nft", "-ja", "list", "ruleset"}, options{file: "x.nft", json: true, handles: true, cmd: []string{"list", "ruleset"}}},
		{[]string{"--debug", "netlink,mnl", "--file=x.nft", "-I", "inc", "--includepath", "inc2"},
			options{debug: []string{"netlink", "mnl"}, file: "x.nft", includes: []string{"inc", "inc2"}}},
		// run-nftgo's shape: flags after the command words
		{[]string{"-f", "r.nft", "--replay", "p.pcap", "--iface", "wan=198.51.100.254/24,2001:db8:1::fffe/64",
			"--iface", "lan=203.0.113.254/24", "--route", "default@wan", "--sysctl", "net.netfilter.nf_conntrack_max=7",
			"-j", "list", "ruleset", "--verdicts", "v.jsonl", "--conntrack", "ct.txt"},
			options{file: "r.nft", replay: "p.pcap", ifaces: []string{"wan=198.51.100.254/24,2001:db8:1::fffe/64", "lan=203.0.113.254/24"},
				routes: []string{"default@wan"}, sysctls: []string{"net.netfilter.nf_conntrack_max=7"}, json: true,
				cmd: []string{"list", "ruleset"}, verdicts: "v.jsonl", conntrack: "ct.txt"}},
		{[]string{"-f", "r.nft", "--replay=p.pcap", "--local", "203.0.113.1", "--trace", "--", "list", "set", "inet", "t", "-x"},
			options{file: "r.nft", replay: "p.pcap", locals: []string{"203.0.113.1"}, trace: true, cmd: []string{"list", "set", "inet", "t", "-x"}}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-f"}, "option requires an argument -- 'f'"},
		{[]string{"--replay"}, "option '--replay' requires an argument"},
		{[]string{"--bogus"}, "unrecognized option '--bogus'"},
		{[]string{"-z"}, "invalid option -- 'z'"},
		{[]string{"--check=yes"}, "doesn't allow an argument"},
	} {
		_, err := parseArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseArgs(%q) error = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestRunWithoutCompiler covers the paths that exit before compiling.
func TestRunWithoutCompiler(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		status      int
		out, errOut string
	}{
		{[]string{"--help"}, 0, "Usage: nftgo", ""},
		{[]string{}, 1, "", "Usage: nftgo"},
		{[]string{"list", "ruleset"}, 1, "", "give the ruleset with -f FILE"},
		{[]string{"--bogus"}, 1, "", "unrecognized option"},
	} {
		var out, errOut bytes.Buffer
		st := run(tc.args, &out, &errOut)
		if st != tc.status || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.errOut) {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, st, out.String(), errOut.String(), tc.status, tc.out, tc.errOut)
		}
	}
}
