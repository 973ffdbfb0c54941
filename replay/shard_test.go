package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/compiler/list"
	"github.com/nftgo/nftgo/internal/testpkt"
)

// shardOutput is everything a replay printed: per-packet lines, verdicts,
// the summary, the listing with counters and the sorted conntrack table.
func shardOutput(t *testing.T, rs, pcap []byte, p caseParams, workers int) (string, int, string) {
	t.Helper()
	c, err := compiler.CompileSource("ruleset.nft", rs, compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.config(t)
	var text, verdicts, acc, drop bytes.Buffer
	cfg.Text, cfg.Verdicts = &text, &verdicts
	if cfg.Accepted, err = NewPcapWriter(&acc, 101); err != nil {
		t.Fatal(err)
	}
	if cfg.Dropped, err = NewPcapWriter(&drop, 101); err != nil {
		t.Fatal(err)
	}
	r, err := New(c.Ruleset, cfg)
	if err != nil {
		t.Fatal(err)
	}
	used, why, err := r.RunWorkers(func() (*Capture, error) { return NewCapture(bytes.NewReader(pcap)) }, workers)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Accepted.Flush()
	cfg.Dropped.Flush()
	if err := r.WriteSummary(&text); err != nil {
		t.Fatal(err)
	}
	var listing, ctl bytes.Buffer
	if err := list.Text(&listing, r.Snapshot(r.Now()), list.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteConntrack(&ctl, r.Now()); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(ctl.String(), "\n")
	sortStrings(lines)
	return fmt.Sprintf("%s\n%s\n%s\n%s\naccepted %x\ndropped %x\n", text.String(), verdicts.String(), listing.String(), strings.Join(lines, ""), acc.Bytes(), drop.Bytes()), used, why
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestWorkersSameResults: a sharded replay prints exactly what one machine
// prints, for the replay cases (those with state shared between flows run
// on one worker and say why) and for a capture of many flows with ICMP
// errors and fragments, with and without a conntrack table that fills up
// (then the run goes on on one machine from the first record a full table
// could decide).
func TestWorkersSameResults(t *testing.T) {
	for _, tc := range replayCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, tc.name)
			rs, err := os.ReadFile(filepath.Join(dir, "ruleset.nft"))
			if err != nil {
				t.Fatal(err)
			}
			pcap, err := os.ReadFile(filepath.Join(dir, "traffic.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			var p caseParams
			b, _ := os.ReadFile(filepath.Join(dir, "params.json"))
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			one, _, _ := shardOutput(t, rs, pcap, p, 1)
			three, used, why := shardOutput(t, rs, pcap, p, 3)
			if one != three {
				t.Errorf("3 workers (used %d: %s) differ from one:\n%s", used, why, lineDiff(one, three))
			}
			wantShared := strings.Contains(string(rs), "ct count") || strings.Contains(string(rs), " limit ") || strings.Contains(string(rs), "update @")
			if !wantShared && used == 1 && strings.Contains(why, "full conntrack table") {
				return
			}
			if wantShared != (used == 1) {
				t.Errorf("used %d workers (%s); state shared between flows: %v", used, why, wantShared)
			}
		})
	}
	const rs = `table inet f {
	chain forward { type filter hook forward priority filter; policy drop;
		ct state established,related counter accept
		ct state invalid counter drop
		tcp dport 22 counter reject with tcp reset
		ct state new counter accept
	}
}
`
	var specs []testpkt.Spec
	for i := 0; i < 300; i++ {
		cli := fmt.Sprintf("198.51.100.%d", 1+i%40)
		srv := fmt.Sprintf("203.0.113.%d", 1+i%7)
		port := uint16(20000 + i)
		dport := []uint16{80, 443, 22}[i%3]
		specs = append(specs,
			testpkt.Spec{Src: cli, Dst: srv, Proto: "tcp", Sport: port, Dport: dport, Flags: testpkt.SYN, Seq: 100},
			testpkt.Spec{Src: srv, Dst: cli, Proto: "tcp", Sport: dport, Dport: port, Flags: "SA", Seq: 500, Ack: 101},
			testpkt.Spec{Src: cli, Dst: srv, Proto: "udp", Sport: port, Dport: 53, Payload: []byte("q")},
		)
		if i%10 == 0 {
			// the server's port unreachable quoting the datagram (related),
			// from a third address, and a datagram in two fragments
			specs = append(specs,
				testpkt.Spec{Src: "192.0.2.1", Dst: cli, Proto: "icmp", Type: 3, Code: 3,
					Inner: &testpkt.Spec{Src: cli, Dst: srv, Proto: "udp", Sport: port, Dport: 53, Payload: []byte("q")}},
				testpkt.Spec{Src: cli, Dst: srv, Proto: "udp", Sport: port + 1, Dport: 123, IPID: uint16(i), MoreFragments: true, Payload: make([]byte, 40)},
				testpkt.Spec{Src: cli, Dst: srv, Proto: "17", IPID: uint16(i), FragOffset: 6, Payload: make([]byte, 16)},
			)
		}
	}
	recs, err := testpkt.Sequence(time.Millisecond, specs...)
	if err != nil {
		t.Fatal(err)
	}
	var pcap bytes.Buffer
	if err := testpkt.WritePcap(&pcap, recs); err != nil {
		t.Fatal(err)
	}
	for _, max := range []string{"", "150", "1"} {
		t.Run("flows-max"+max, func(t *testing.T) {
			p := caseParams{Mode: "forward", Sysctl: map[string]string{}}
			if max != "" {
				p.Sysctl["net.netfilter.nf_conntrack_max"] = max
			}
			one, _, _ := shardOutput(t, []byte(rs), pcap.Bytes(), p, 1)
			for _, n := range []int{2, 3, 5} {
				got, used, why := shardOutput(t, []byte(rs), pcap.Bytes(), p, n)
				if got != one {
					t.Errorf("%d workers (used %d: %s) differ from one:\n%s", n, used, why, lineDiff(one, got))
				}
				if max == "" && used != n {
					t.Errorf("%d workers asked, %d used: %s", n, used, why)
				}
			}
		})
	}
}

// TestWorkersSharedState: a limit no packet reaches costs the sharded run
// nothing; once a packet runs it (an ICMP echo in the middle of the TCP
// flows), the replay goes on on one machine from that record, with one
// machine's results (the limit of 2 per second lets two echoes through).
func TestWorkersSharedState(t *testing.T) {
	const rs = `table inet f {
	chain forward { type filter hook forward priority filter; policy drop;
		ct state established,related counter accept
		icmp type echo-request limit rate 2/second burst 2 packets counter accept
		tcp flags syn ct state new counter accept
	}
}
`
	build := func(echoes bool) []byte {
		var specs []testpkt.Spec
		for i := 0; i < 200; i++ {
			cli := fmt.Sprintf("198.51.100.%d", 1+i%50)
			srv := fmt.Sprintf("203.0.113.%d", 1+i%9)
			port := uint16(30000 + i)
			specs = append(specs,
				testpkt.Spec{Src: cli, Dst: srv, Proto: "tcp", Sport: port, Dport: 443, Flags: testpkt.SYN, Seq: 1},
				testpkt.Spec{Src: srv, Dst: cli, Proto: "tcp", Sport: 443, Dport: port, Flags: "SA", Seq: 9, Ack: 2})
			if echoes && i >= 100 && i < 110 {
				specs = append(specs, testpkt.Spec{Src: cli, Dst: srv, Proto: "icmp", Type: 8, ID: uint16(i), EchoSeq: 1})
			}
		}
		recs, err := testpkt.Sequence(time.Millisecond, specs...)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := testpkt.WritePcap(&b, recs); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	p := caseParams{Mode: "forward"}
	for _, echoes := range []bool{false, true} {
		pcap := build(echoes)
		one, _, _ := shardOutput(t, []byte(rs), pcap, p, 1)
		got, used, why := shardOutput(t, []byte(rs), pcap, p, 3)
		if got != one {
			t.Errorf("echoes %v: 3 workers (used %d: %s) differ from one:\n%s", echoes, used, why, lineDiff(one, got))
		}
		if !echoes && used != 3 {
			t.Errorf("no packet reaches the limit, yet %d worker(s): %s", used, why)
		}
		if echoes && (used != 1 || !strings.Contains(why, "from record 202 on")) {
			t.Errorf("the first echo is record 202: used %d, %s", used, why)
		}
		if echoes && strings.Count(one, "by inet f forward handle") == 0 {
			t.Fatal("no verdict lines")
		}
	}
}
