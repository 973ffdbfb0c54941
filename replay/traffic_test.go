package replay

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenDir holds one directory per replay case: ruleset.nft and
// params.json (hand-written), traffic.pcap (written from the specs below by
// -update), kernel.json (what Linux did, recorded by record-kernel.sh with
// ../shared/oracle) and expected.txt (nftgo's output, rewritten by -update).
const goldenDir = "../testdata/replay"

// step is one packet of a traffic spec, sent gap after the previous one.
type step struct {
	gap  time.Duration
	spec testpkt.Spec
}

// flow builds the packets of one TCP connection between client and server
// with sequence numbers the conntrack window tracking accepts.
type flow struct {
	cli, srv     string
	cport, sport uint16
	cseq, sseq   uint32 // initial sequence numbers
	cnext, snext uint32
	defaultGap   time.Duration
	steps        *[]step
}

func newFlow(steps *[]step, cli string, cport uint16, srv string, sport uint16) *flow {
	return &flow{cli: cli, srv: srv, cport: cport, sport: sport, cseq: 1000, sseq: 50000, defaultGap: 20 * time.Millisecond, steps: steps}
}

func (f *flow) add(fromClient bool, flags string) {
	s := testpkt.Spec{Proto: "tcp", Flags: flags}
	if fromClient {
		s.Src, s.Dst, s.Sport, s.Dport = f.cli, f.srv, f.cport, f.sport
		s.Seq, s.Ack = f.cnext, f.snext
	} else {
		s.Src, s.Dst, s.Sport, s.Dport = f.srv, f.cli, f.sport, f.cport
		s.Seq, s.Ack = f.snext, f.cnext
	}
	*f.steps = append(*f.steps, step{gap: f.defaultGap, spec: s})
}

// syn sends the client's SYN.
func (f *flow) syn() {
	f.cnext = f.cseq
	f.snext = 0
	f.add(true, testpkt.SYN)
	f.cnext = f.cseq + 1
}

// handshake is SYN, SYN-ACK, ACK.
func (f *flow) handshake() {
	f.syn()
	f.snext = f.sseq
	f.add(false, testpkt.SYNACK)
	f.snext = f.sseq + 1
	f.add(true, testpkt.ACK)
}

// closeFin is FIN-ACK from the client, FIN-ACK from the server, ACK.
func (f *flow) closeFin() {
	f.add(true, testpkt.FINACK)
	f.cnext++
	f.add(false, testpkt.FINACK)
	f.snext++
	f.add(true, testpkt.ACK)
}

// reset sends RST-ACK from the client.
func (f *flow) reset() { f.add(true, testpkt.RSTACK) }

func sleep(steps *[]step, d time.Duration) {
	*steps = append(*steps, step{gap: d})
}

// records turns steps into capture records; a step without a packet only
// moves the clock.
func records(steps []step) ([]testpkt.Record, error) {
	var recs []testpkt.Record
	t := testpkt.Epoch
	pending := time.Duration(0)
	for i, s := range steps {
		if i > 0 {
			pending += s.gap
		}
		if s.spec.Proto == "" {
			continue
		}
		t = t.Add(pending)
		pending = 0
		b, err := testpkt.Build(s.spec)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
		recs = append(recs, testpkt.Record{Time: t, Data: b})
	}
	return recs, nil
}

// replayCases are the walking skeleton's seed experiments, each with the
// traffic that shows it.
var replayCases = []struct {
	name    string
	traffic func() []step
}{
	{"ct-table-full", func() []step {
		var s []step
		for i := 0; i < 10; i++ {
			f := newFlow(&s, "198.51.100.7", uint16(2000+i), "203.0.113.20", 443)
			f.syn()
		}
		return s
	}},
	{"input-policy-drop", inputTraffic},
	{"no-ct-expression", inputTraffic},
	{"ct-count-ssh", func() []step {
		var s []step
		for i := 0; i < 12; i++ {
			newFlow(&s, fmt.Sprintf("198.51.100.%d", 10+i%4), uint16(41000+i), "203.0.113.1", 22).syn()
		}
		return s
	}},
	{"connlimit-dynset", func() []step {
		var s []step
		a1 := newFlow(&s, "198.51.100.2", 40001, "203.0.113.10", 80)
		a1.handshake()
		a2 := newFlow(&s, "198.51.100.2", 40002, "203.0.113.10", 80)
		a2.handshake()
		newFlow(&s, "198.51.100.2", 40003, "203.0.113.10", 80).syn() // third: dropped
		a1.closeFin()
		a2.reset()
		sleep(&s, 3*time.Second)
		newFlow(&s, "198.51.100.3", 50000, "203.0.113.10", 80).syn()
		return s
	}},
}

// inputTraffic is a SYN to 22, a SYN to 80 and a UDP query to 53 of a host.
func inputTraffic() []step {
	var s []step
	newFlow(&s, "198.51.100.5", 40000, "203.0.113.1", 22).syn()
	newFlow(&s, "198.51.100.5", 40001, "203.0.113.1", 80).syn()
	s = append(s, step{gap: 20 * time.Millisecond, spec: testpkt.Spec{Src: "198.51.100.5", Dst: "203.0.113.1", Proto: "udp", Sport: 40002, Dport: 53, Payload: []byte("query")}})
	return s
}

// TestTraffic builds each case's capture from its spec and checks it is
// the committed traffic.pcap (-update rewrites it), so the README's replay
// command and the kernel recording use exactly what the tests replay.
func TestTraffic(t *testing.T) {
	for _, tc := range replayCases {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := records(tc.traffic())
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := testpkt.WritePcap(&b, recs); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(goldenDir, tc.name, "traffic.pcap")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./replay -update)", err)
			}
			if !bytes.Equal(got, b.Bytes()) {
				t.Errorf("%s differs from the traffic spec; run go test ./replay -update and re-record kernel.json", path)
			}
		})
	}
}
