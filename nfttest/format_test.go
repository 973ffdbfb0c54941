package nfttest

import (
	"strconv"
	"strings"
	"testing"
)

const header = "ruleset r.nft\nlocal 203.0.113.1\n"

// TestParseBad: every malformed file is refused with its file:line and a
// message that says what to write instead.
func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"no ruleset", "case a\n  udp 198.51.100.2:1 > 203.0.113.1:53\n", "t.nfttest:1: no `ruleset PATH` line"},
		{"no cases", header, "t.nfttest:2: no cases"},
		{"traffic outside case", header + "udp 198.51.100.2:1 > 203.0.113.1:53\n", "t.nfttest:3: \"udp\" outside a case"},
		{"host inside case", header + "case a\n  local 203.0.113.2\n", "t.nfttest:4: local must come before the first case"},
		{"duplicate case", header + "case a\n  +1s\ncase a\n", "t.nfttest:5: case \"a\" already defined at line 3"},
		{"bad verdict", header + "case a\n  udp 198.51.100.2:1 > 203.0.113.1:53 => pass\n", "t.nfttest:4: expectation \"pass\": want accept or drop first"},
		{"bad by", header + "case a\n  udp 198.51.100.2:1 > 203.0.113.1:53 => drop by inet filter\n", "t.nfttest:4: by \"inet filter\": want FAMILY TABLE CHAIN rule N"},
		{"bad ct state", header + "case a\n  udp 198.51.100.2:1 > 203.0.113.1:53 => accept ct state fresh\n", "t.nfttest:4: ct state \"fresh\""},
		{"tcp without flags", header + "case a\n  tcp 198.51.100.2:1 > 203.0.113.1:22 => accept\n", "t.nfttest:4: tcp needs its flags"},
		{"bad address", header + "\ncase a\n  tcp 198.51.100:1 > 203.0.113.1:22 syn\n", "t.nfttest:5: \"198.51.100:1\": want ADDR:PORT"},
		{"mixed families", header + "case a\n  icmp 198.51.100.2 > 2001:db8::1\n", "t.nfttest:4: 198.51.100.2 > 2001:db8::1: mixed IPv4 and IPv6"},
		{"unknown traffic", header + "case a\n  sctp 198.51.100.2:1 > 203.0.113.1:22\n", "t.nfttest:4: unknown traffic \"sctp\""},
		{"unknown option", header + "case a\n  udp 198.51.100.2:1 > 203.0.113.1:53 size=3\n", "t.nfttest:4: unknown option size"},
		{"data before handshake", header + "case a\n  data 198.51.100.2:1 > 203.0.113.1:22\n", "t.nfttest:4: data 198.51.100.2:1 > 203.0.113.1:22: no handshake"},
		{"close how", header + "case a\n  handshake 198.51.100.2:1 > 203.0.113.1:22\n  close 198.51.100.2:1 > 203.0.113.1:22\n", "t.nfttest:5: want: close fin|rst"},
		{"expectation count", header + "case a\n  handshake 198.51.100.2:1 > 203.0.113.1:22 => accept, drop\n", "t.nfttest:4: 2 expectations for 3 packets"},
		{"bad pause", header + "case a\n  +2 seconds\n", "t.nfttest:4: \"+2 seconds\": want a pause"},
		{"record without pcap", header + "case a\n  #0 udp 1 => accept\n", "t.nfttest:4: #0: a record expectation must follow a pcap line"},
		{"traffic after expect", header + "case a\n  expect conntrack count 0\n  +1s\n", "t.nfttest:5: traffic after `expect`"},
		{"bad counter", header + "case a\n  expect counter inet filter input packets 3\n", "t.nfttest:4: want: expect counter FAMILY TABLE CHAIN rule N packets P"},
		{"bad set", header + "case a\n  expect set inet filter s 1.2.3.4\n", "t.nfttest:4: want: expect set FAMILY TABLE NAME { ELEMENT, ... }"},
		{"bad conntrack", header + "case a\n  expect conntrack sctp 1.2.3.4:1 > 1.2.3.5:2 none\n", "t.nfttest:4: conntrack sctp: want tcp, udp, icmp or icmpv6"},
		{"bad repetition", header + "case a\n  0x udp 198.51.100.2:1 > 203.0.113.1:53\n", "t.nfttest:4: 0x: want a repetition"},
		{"bad sysctl", "ruleset r.nft\nsysctl nf_conntrack_max\ncase a\n", "t.nfttest:2: want: sysctl KEY=VALUE"},
		{"bad iface", "ruleset r.nft\niface wan 198.51.100.254\ncase a\n", "t.nfttest:2: --iface"},
		{"bad option value", header + "case a\n  tcp 198.51.100.2:1 > 203.0.113.1:22 syn ttl=300\n", "t.nfttest:4: ttl=300: at most 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.nfttest", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed; want error %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant prefix   %q", err, tc.want)
			}
		})
	}
}

// TestParseGood: what each traffic line turns into, and the expectations
// beside it.
func TestParseGood(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		// packets: "SRC:SPORT>DST:DPORT FLAGS seq/ack len" per packet
		want   []string
		expect []Expect
	}{
		{"syn word", "tcp 198.51.100.2:40000 > 203.0.113.1:22 syn => accept",
			[]string{"198.51.100.2:40000>203.0.113.1:22 S 1000/0 0"}, []Expect{{Verdict: "accept"}}},
		{"tcpdump flags pasted back", "tcp 198.51.100.2:40000 > 203.0.113.1:22 [S.] => drop by inet filter input rule 3",
			[]string{"198.51.100.2:40000>203.0.113.1:22 SA 1000/0 0"}, []Expect{{Verdict: "drop", By: "inet filter input rule 3"}}},
		{"options", "tcp 198.51.100.2:1 > 203.0.113.1:2 flags=PA seq=7 ack=9 len=10 => accept by inet filter input handle 4 ct state established",
			[]string{"198.51.100.2:1>203.0.113.1:2 PA 7/9 10"}, []Expect{{Verdict: "accept", By: "inet filter input handle 4", CT: "established"}}},
		{"policy and kernel", "udp 198.51.100.2:1 > 203.0.113.1:53 => drop by inet filter input policy",
			[]string{"198.51.100.2:1>203.0.113.1:53  0/0 0"}, []Expect{{Verdict: "drop", By: "inet filter input policy"}}},
		{"repetition", "3x udp 198.51.100.2:1000 > 203.0.113.1:53 len=5 => accept, accept, drop by kernel conntrack",
			[]string{"198.51.100.2:1000>203.0.113.1:53  0/0 5", "198.51.100.2:1001>203.0.113.1:53  0/0 5", "198.51.100.2:1002>203.0.113.1:53  0/0 5"},
			[]Expect{{Verdict: "accept"}, {Verdict: "accept"}, {Verdict: "drop", By: "kernel conntrack"}}},
		{"handshake", "handshake 198.51.100.2:1 > 203.0.113.1:22",
			[]string{"198.51.100.2:1>203.0.113.1:22 S 1000/0 0", "203.0.113.1:22>198.51.100.2:1 SA 500000/1001 0", "198.51.100.2:1>203.0.113.1:22 A 1001/500001 0"}, nil},
		{"ipv6", "tcp [2001:db8::2]:1 > [2001:db8::1]:22 rst => drop",
			[]string{"2001:db8::2:1>2001:db8::1:22 R 1000/0 0"}, []Expect{{Verdict: "drop"}}},
		{"icmp echo", "icmp 198.51.100.2 > 203.0.113.1 id=7 seq=3 => accept",
			[]string{"198.51.100.2:0>203.0.113.1:0 icmp8/0 id7 seq3"}, []Expect{{Verdict: "accept"}}},
		{"icmp summary pasted back", "icmp 198.51.100.2 > 203.0.113.1 type 3 code 1 inner udp 203.0.113.1:53 > 198.51.100.2:1",
			[]string{"198.51.100.2:0>203.0.113.1:0 icmp3/1 id0 seq0"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("t.nfttest", []byte(header+"case a\n  "+tc.line+"  # a comment\n"))
			if err != nil {
				t.Fatal(err)
			}
			st := f.Cases[0].Steps[0]
			var got []string
			for _, s := range st.Specs {
				if s.Proto == "icmp" || s.Proto == "icmpv6" {
					got = append(got, s.Src+":0>"+s.Dst+":0 "+s.Proto+itoa(int(s.Type))+"/"+itoa(int(s.Code))+" id"+itoa(int(s.ID))+" seq"+itoa(int(s.EchoSeq)))
					continue
				}
				got = append(got, s.Src+":"+itoa(int(s.Sport))+">"+s.Dst+":"+itoa(int(s.Dport))+" "+s.Flags+" "+itoa(int(s.Seq))+"/"+itoa(int(s.Ack))+" "+itoa(len(s.Payload)))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("packets\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(st.Expect) != len(tc.expect) {
				t.Fatalf("expectations %v, want %v", st.Expect, tc.expect)
			}
			for i := range st.Expect {
				if st.Expect[i] != tc.expect[i] {
					t.Errorf("expectation %d: %+v, want %+v", i, st.Expect[i], tc.expect[i])
				}
			}
		})
	}
}

// TestParseFileLevel: the host, sysctls, ends and a pcap block.
func TestParseFileLevel(t *testing.T) {
	src := `# a router
ruleset ../r.nft
iface wan 198.51.100.254/24 2001:db8:1::fffe/64
iface lan 203.0.113.254/24
route default wan
route 10.0.0.0/8 lan
sysctl net.netfilter.nf_conntrack_max=7

case one
  gap 1ms
  pcap x.pcap
  #0 tcp 198.51.100.2:1 > 203.0.113.1:2 [S] => accept   # first
  #1 tcp 203.0.113.1:2 > 198.51.100.2:1 [S.] => accept
  expect counter inet filter forward rule 2 packets 3 bytes 120
  expect set inet filter s { 198.51.100.2 ct count over 2, 10.0.0.0/8 }
  expect conntrack count 1
  expect conntrack tcp [2001:db8:1:0::2]:1 > [2001:db8:2::1]:2 ESTABLISHED [ASSURED]
`
	f, err := Parse("dir/t.nfttest", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.RulesetPath() != "r.nft" {
		t.Errorf("ruleset path %q, want r.nft (relative to the test file)", f.RulesetPath())
	}
	if len(f.Host.Ifaces) != 2 || len(f.Host.Ifaces[0].Prefix) != 2 || len(f.Host.Routes) != 3 {
		t.Errorf("host %+v: want 2 interfaces (2 prefixes on wan) and 3 routes (default v4+v6, 10/8)", f.Host)
	}
	if len(f.Sysctls) != 1 || f.Sysctls[0].Key != "net.netfilter.nf_conntrack_max" || f.Sysctls[0].Value != "7" || f.Sysctls[0].Line != 7 {
		t.Errorf("sysctls %+v", f.Sysctls)
	}
	c := f.Cases[0]
	if len(c.Steps) != 4 || c.Steps[1].Kind != StepPcap || c.Steps[2].Kind != StepRecord || c.Steps[3].Index != 1 {
		t.Fatalf("steps %+v", c.Steps)
	}
	if len(c.Ends) != 4 {
		t.Fatalf("ends %+v", c.Ends)
	}
	if e := c.Ends[1]; strings.Join(e.Elements, "|") != "198.51.100.2 ct count over 2|10.0.0.0/8" {
		t.Errorf("set elements %q", e.Elements)
	}
	if e := c.Ends[3]; e.Tuple != "tcp [2001:db8:1::2]:1 > [2001:db8:2::1]:2" || e.State != "ESTABLISHED [ASSURED]" {
		t.Errorf("conntrack entry %q %q", e.Tuple, e.State)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRepetitionExpectations: an `Nx` line takes one expectation for all
// packets, one per packet of a repetition, or one per packet.
func TestRepetitionExpectations(t *testing.T) {
	for _, tc := range []struct {
		exp  string
		want []string // the expectation of each of the 6 packets
	}{
		{"accept", []string{"accept", "accept", "accept", "accept", "accept", "accept"}},
		{"accept, accept, drop", []string{"accept", "accept", "drop", "accept", "accept", "drop"}},
		{"accept, accept, accept, drop, drop, drop", []string{"accept", "accept", "accept", "drop", "drop", "drop"}},
	} {
		f, err := Parse("t.nfttest", []byte(header+"case a\n  2x handshake 198.51.100.2:1 > 203.0.113.1:22 => "+tc.exp+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		st := f.Cases[0].Steps[0]
		var got []string
		for i := range st.Specs {
			got = append(got, st.want(i).Verdict)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("=> %s: %v, want %v", tc.exp, got, tc.want)
		}
	}
	if _, err := Parse("t.nfttest", []byte(header+"case a\n  2x handshake 198.51.100.2:1 > 203.0.113.1:22 => accept, drop\n")); err == nil ||
		!strings.Contains(err.Error(), "one per packet of one repetition (3)") {
		t.Errorf("2 expectations for 2x3 packets: %v", err)
	}
}
