package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/compiler"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// The kernel the differential harness runs (6.18, CONFIG_NF_FLOW_TABLE not
// set) refuses every flowtable with ENOENT, so these tests pin the
// flowtable's semantics from the kernel source instead; each case names the
// function whose behaviour it checks.

// ftRuleset is a router's flowtable on both tun-named devices, offloading
// TCP and UDP from the forward chain, with a counter after it that counts
// what still passes the forward hook.
const ftRuleset = `
table inet f {
	flowtable ft {
		hook ingress priority filter
		devices = { %DEVS% }
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta l4proto { tcp, udp } flow add @ft
		counter
	}
	%NAT%
}
`

const ftMasq = `chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}`

func ftMachine(t *testing.T, devs, nat string, sysctl map[string]int64) *Machine {
	t.Helper()
	src := strings.NewReplacer("%DEVS%", devs, "%NAT%", nat).Replace(ftRuleset)
	c, err := compiler.CompileSource("ft.nft", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Host: routerHost(), CT: ct.DefaultConfig()}
	if sysctl != nil {
		cfg.CT.Sysctls = sysctl
	}
	m, err := New(c.Ruleset, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// step is one packet of a test conversation and what must happen to it.
type step struct {
	at      int64 // ms after the start
	spec    testpkt.Spec
	decided string // as decided() renders it: "forward:policy", "none" (offloaded), "post:0"
	ttl     uint8  // TTL the packet leaves with
	out     string
}

const (
	ftClient = "203.0.113.10"
	ftServer = "198.51.100.20"
	ftT0     = int64(1_000_000_000_000)
)

func tcpSeg(fromClient bool, flags string, seq, ack uint32, n int) testpkt.Spec {
	s := testpkt.Spec{Src: ftClient, Dst: ftServer, Proto: "tcp", Sport: 40000, Dport: 80, Flags: flags, Seq: seq, Ack: ack, Window: 65535}
	if !fromClient {
		s.Src, s.Dst, s.Sport, s.Dport = ftServer, ftClient, 80, 40000
	}
	if n > 0 {
		s.Payload = make([]byte, n)
	}
	return s
}

// tcpConversation is a handshake, data both ways and a client-first close.
func tcpConversation() []step {
	c, s := uint32(1000), uint32(500000)
	return []step{
		{0, tcpSeg(true, "S", c, 0, 0), "forward:policy", 63, "wan"},
		{10, tcpSeg(false, "SA", s, c+1, 0), "forward:policy", 63, "lan"},
		// The ACK makes the connection ESTABLISHED and ASSURED in conntrack
		// (prerouting) before the forward chain: nf_conntrack_tcp_established
		// holds and nft_flow_offload_eval offloads it.
		{20, tcpSeg(true, "A", c+1, s+1, 0), "forward:policy", 63, "wan"},
		// From here the flowtable forwards at ingress: no chain sees it.
		{30, tcpSeg(true, "PA", c+1, s+1, 100), "none", 63, "wan"},
		{40, tcpSeg(false, "A", s+1, c+101, 0), "none", 63, "lan"},
		{50, tcpSeg(false, "PA", s+1, c+101, 300), "none", 63, "lan"},
		// FIN and RST only mark the flow closing (nf_flow_state_check):
		// they are still forwarded by the flowtable.
		{60, tcpSeg(true, "FA", c+101, s+301, 0), "none", 63, "wan"},
		{70, tcpSeg(false, "FA", s+301, c+102, 0), "none", 63, "lan"},
		{80, tcpSeg(true, "A", c+102, s+302, 0), "none", 63, "wan"},
	}
}

func runSteps(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, st := range steps {
		p := pkt(t, st.spec)
		now := ftT0 + st.at*1e6
		m.Advance(now)
		res := m.Receive(p, "", now)
		if res.Verdict != ruleset.VerdictAccept {
			t.Fatalf("packet %d: verdict %v", i, res.Verdict)
		}
		if got := decided(res); got != st.decided {
			t.Errorf("packet %d: decided by %s, want %s", i, got, st.decided)
		}
		if res.Out != st.out {
			t.Errorf("packet %d: out %q, want %q", i, res.Out, st.out)
		}
		if ttl := p.Network()[8]; ttl != st.ttl {
			t.Errorf("packet %d: ttl %d, want %d", i, ttl, st.ttl)
		}
		checkSums(t, i, p)
	}
}

// checkSums verifies the IPv4 header and TCP/UDP checksums of a packet
// the flowtable may have rewritten.
func checkSums(t *testing.T, i int, p *packet.Packet) {
	t.Helper()
	b := p.Network()
	if sum16(b[:20], 0) != 0xffff {
		t.Errorf("packet %d: bad IPv4 header checksum", i)
	}
	l4 := b[20:]
	if b[9] == packet.ProtoUDP && binary.BigEndian.Uint16(l4[6:]) == 0 {
		return
	}
	var ph [12]byte
	copy(ph[0:8], b[12:20])
	ph[9] = b[9]
	binary.BigEndian.PutUint16(ph[10:], uint16(len(l4)))
	if sum16(l4, sum16(ph[:], 0)) != 0xffff {
		t.Errorf("packet %d: bad transport checksum", i)
	}
}

func sum16(b []byte, acc uint32) uint32 {
	s := acc
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return s
}

func ctList(t *testing.T, m *Machine, now int64) string {
	t.Helper()
	var b bytes.Buffer
	if err := m.Conntrack().WriteList(&b, now); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func fwdCounter(m *Machine, now int64) uint64 {
	for _, t := range m.Snapshot(now).Tables {
		for _, c := range t.Chains {
			if c.Name == "forward" {
				for _, e := range c.Rules[1].Exprs {
					if x, ok := e.(*ruleset.Counter); ok {
						return x.Packets
					}
				}
			}
		}
	}
	return 0
}

// TestFlowOffloadTCP: the flow is offloaded by the handshake's last ACK;
// later packets skip the forward chain (its counter counts 3), leave with
// TTL 63, and conntrack, which no longer sees them, shows [OFFLOAD] with a
// day-long timeout and the state it last saw. The flow, closing since the
// FIN, is torn down by the gc once idle for nf_flowtable_tcp_timeout (30
// s): conntrack gets CLOSE with its 10 s timeout.
//
// Ref: nft_flow_offload_eval; flow_offload_add (nf_ct_refresh NF_CT_DAY);
// nf_flow_offload_ip_hook; nf_flow_state_check; nf_flow_offload_gc_step;
// flow_offload_fixup_ct.
func TestFlowOffloadTCP(t *testing.T) {
	m := ftMachine(t, "wan, lan", "", nil)
	runSteps(t, m, tcpConversation())
	end := ftT0 + 80e6
	if n := fwdCounter(m, end); n != 3 {
		t.Errorf("forward counter %d, want 3 (the handshake)", n)
	}
	want := "tcp      6 86399 ESTABLISHED src=203.0.113.10 dst=198.51.100.20 sport=40000 dport=80 src=198.51.100.20 dst=203.0.113.10 sport=80 dport=40000 [OFFLOAD] mark=0 use=1\n"
	if got := ctList(t, m, end); got != want {
		t.Errorf("conntrack -L while offloaded:\n got %s want %s", got, want)
	}
	// The flow's deadline is its creation (packet 2 at 20 ms; later
	// packets moved it by less than a second, which flow_offload_refresh
	// ignores) + 30 s; the gc runs at every whole second of the replay clock.
	for _, tc := range []struct {
		at   int64 // ms
		want string
	}{
		{30_000, "86370 ESTABLISHED"}, // offloaded at 20 ms
		{31_500, "9 CLOSE"},           // gc at 31 s: deadline 30.02 s passed
		{41_500, ""},
	} {
		now := ftT0 + tc.at*1e6
		m.Advance(now)
		got := ctList(t, m, now)
		if tc.want == "" {
			if got != "" {
				t.Errorf("at %d ms: entry still listed: %s", tc.at, got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("at %d ms: conntrack -L %q, want %q", tc.at, got, tc.want)
		}
		if strings.Contains(tc.want, "CLOSE") && !strings.Contains(got, "[ASSURED]") {
			t.Errorf("at %d ms: torn-down entry should show [ASSURED] again: %s", tc.at, got)
		}
	}
}

// TestFlowOffloadDevices: only packets arriving on a flowtable device are
// looked up. With the flowtable on wan only, the server's packets are
// offloaded and the client's still pass the forward chain. With a device
// the host lacks, the flow is still created (nft_flow_route does not ask
// whether the devices are in the flowtable) and conntrack shows [OFFLOAD],
// but every packet takes the classic path.
//
// Ref: nf_flow_table_inet.c (the hook is per device); nft_flow_route,
// nft_dev_forward_path.
func TestFlowOffloadDevices(t *testing.T) {
	for _, tc := range []struct {
		devs    string
		decided []string
		counter uint64
	}{
		{"wan", []string{"forward:policy", "forward:policy", "forward:policy", "forward:policy", "none", "none", "forward:policy", "none", "forward:policy"}, 6},
		{"eth9", []string{"forward:policy", "forward:policy", "forward:policy", "forward:policy", "forward:policy", "forward:policy", "forward:policy", "forward:policy", "forward:policy"}, 9},
	} {
		t.Run(tc.devs, func(t *testing.T) {
			m := ftMachine(t, tc.devs, "", nil)
			steps := tcpConversation()
			for i := range steps {
				steps[i].decided = tc.decided[i]
			}
			runSteps(t, m, steps)
			end := ftT0 + 80e6
			if n := fwdCounter(m, end); n != tc.counter {
				t.Errorf("forward counter %d, want %d", n, tc.counter)
			}
			if got := ctList(t, m, end); !strings.Contains(got, "[OFFLOAD]") {
				t.Errorf("conntrack -L: %s, want [OFFLOAD]", got)
			}
		})
	}
}

// TestFlowOffloadUDP: the first datagram's entry is unconfirmed in the
// forward chain, so only the reply offloads the flow; the third datagram
// bypasses. Once idle for nf_flowtable_udp_timeout (30 s by default) the
// gc tears the flow down: the entry gets the replied-UDP timeout (120 s)
// less that idle timeout.
//
// Ref: nft_flow_offload_eval (nf_ct_is_confirmed); flow_offload_get_timeout;
// flow_offload_fixup_ct.
func TestFlowOffloadUDP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sysctl map[string]int64
		gc     int64 // ms: the first gc tick after the flow's deadline (created at 10 ms)
		want   string
	}{
		{"default 30 s", nil, 31_000, "udp      17 90 src="},
		{"nf_flowtable_udp_timeout 5", map[string]int64{"net.netfilter.nf_flowtable_udp_timeout": 5}, 6_000, "udp      17 115 src="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ftMachine(t, "wan, lan", "", tc.sysctl)
			q := testpkt.Spec{Src: ftClient, Dst: ftServer, Proto: "udp", Sport: 5000, Dport: 53, Payload: make([]byte, 20)}
			a := testpkt.Spec{Src: ftServer, Dst: ftClient, Proto: "udp", Sport: 53, Dport: 5000, Payload: make([]byte, 40)}
			runSteps(t, m, []step{
				{0, q, "forward:policy", 63, "wan"},
				{10, a, "forward:policy", 63, "lan"},
				{20, q, "none", 63, "wan"},
				{30, a, "none", 63, "lan"},
			})
			if got := ctList(t, m, ftT0+30e6); !strings.Contains(got, "udp      17 86399 src=") || !strings.Contains(got, "[OFFLOAD]") {
				t.Errorf("conntrack -L while offloaded: %s", got)
			}
			before := ftT0 + (tc.gc-1000)*1e6
			m.Advance(before)
			if got := ctList(t, m, before); !strings.Contains(got, "[OFFLOAD]") {
				t.Errorf("conntrack -L a second before the gc tick: %s, want still [OFFLOAD]", got)
			}
			now := ftT0 + tc.gc*1e6
			m.Advance(now)
			if got := ctList(t, m, now); !strings.Contains(got, tc.want) || strings.Contains(got, "OFFLOAD") {
				t.Errorf("conntrack -L after the flow expired: %s, want %q and no [OFFLOAD]", got, tc.want)
			}
		})
	}
}

// TestFlowOffloadMasquerade: the flowtable applies the entry's NAT to the
// packets it forwards: the client's source becomes the router's wan
// address, the server's replies go back to the client; checksums stay
// valid (runSteps checks them).
//
// Ref: nf_flow_nat_ip, nf_flow_snat_port, nf_flow_snat_ip.
func TestFlowOffloadMasquerade(t *testing.T) {
	m := ftMachine(t, "wan, lan", ftMasq, nil)
	steps := masqSteps()
	runSteps(t, m, steps)
	c, s := uint32(1000), uint32(500000)
	p := pkt(t, steps[3].spec)
	m.Advance(ftT0 + 50e6)
	if res := m.Receive(p, "", ftT0+50e6); decided(res) != "none" {
		t.Fatalf("offloaded packet decided by %s", decided(res))
	}
	if src := p.Network()[12:16]; !bytes.Equal(src, []byte{198, 51, 100, 254}) {
		t.Errorf("offloaded client packet leaves with source %v, want the wan address", src)
	}
	checkSums(t, 5, p)
	r := pkt(t, toRouter(tcpSeg(false, "A", s+51, c+201, 0)))
	m.Advance(ftT0 + 60e6)
	m.Receive(r, "", ftT0+60e6)
	if dst := r.Network()[16:20]; !bytes.Equal(dst, []byte{203, 0, 113, 10}) {
		t.Errorf("offloaded reply leaves with destination %v, want the client", dst)
	}
	checkSums(t, 6, r)
}

func toRouter(sp testpkt.Spec) testpkt.Spec { sp.Dst = "198.51.100.254"; return sp }

// masqSteps is a connection masqueraded out of wan: the server answers the
// router's address.
func masqSteps() []step {
	c, s := uint32(1000), uint32(500000)
	return []step{
		{0, tcpSeg(true, "S", c, 0, 0), "post:0", 63, "wan"},
		{10, toRouter(tcpSeg(false, "SA", s, c+1, 0)), "forward:policy", 63, "lan"},
		{20, tcpSeg(true, "A", c+1, s+1, 0), "forward:policy", 63, "wan"},
		{30, tcpSeg(true, "PA", c+1, s+1, 100), "none", 63, "wan"},
		{40, toRouter(tcpSeg(false, "PA", s+1, c+101, 50)), "none", 63, "lan"},
	}
}

// TestFlowOffloadClassicPath: packets of an offloaded flow that the
// flowtable does not take go the classic way: TTL 1 (time exceeded from
// the router), and a SYN on a closing flow, which tears the flow down
// (conntrack gets CLOSE and reopens the connection for it).
//
// Ref: nf_flow_tuple_ip (ttl <= 1); nf_flow_state_check; flow_offload_fixup_tcp.
func TestFlowOffloadClassicPath(t *testing.T) {
	m := ftMachine(t, "wan, lan", "", nil)
	steps := tcpConversation()
	runSteps(t, m, steps[:7]) // up to the client's FIN: the flow is closing
	ttl1 := tcpSeg(true, "A", 1102, 500301, 0)
	ttl1.TTL = 1
	now := ftT0 + 70e6
	m.Advance(now)
	if res := m.Receive(pkt(t, ttl1), "", now); res.KernelDrop != "routing" {
		t.Errorf("TTL 1: %+v, want a routing drop (time exceeded)", res)
	}
	syn := tcpSeg(true, "S", 9000, 0, 0)
	now = ftT0 + 80e6
	m.Advance(now)
	res := m.Receive(pkt(t, syn), "", now)
	if decided(res) != "forward:policy" {
		t.Errorf("SYN on a closing flow decided by %s, want the forward chain", decided(res))
	}
	if got := ctList(t, m, now); !strings.Contains(got, "SYN_SENT") || strings.Contains(got, "OFFLOAD") {
		t.Errorf("conntrack -L after the SYN: %s, want a new SYN_SENT entry", got)
	}
}

// TestFlowOffloadLoad: the kernel's checks at commit.
//
// Ref: nft_flow_offload_init (ENOENT), nft_flow_offload_validate
// (EOPNOTSUPP outside forward), nft_flowtable_parse_hook (ingress only),
// nf_flow_table_offload_setup (no hardware offload on these devices).
func TestFlowOffloadLoad(t *testing.T) {
	ft := func(attrs ...ruleset.ObjectAttr) *ruleset.Object {
		return &ruleset.Object{Kind: "flowtable", Name: "ft", Attrs: attrs}
	}
	ingress := []ruleset.ObjectAttr{{Key: "hook", Value: "ingress"}, {Key: "priority", Value: "0"}, {Key: "device", Value: "wan"}}
	offload := &ruleset.Generic{Kind: "flow_offload", Body: "flowtable ft "}
	other := &ruleset.Generic{Kind: "flow_offload", Body: "flowtable nope "}
	for _, tc := range []struct {
		name string
		obj  *ruleset.Object
		hook ruleset.Hook
		expr ruleset.Expr
		err  error
	}{
		{"forward", ft(ingress...), ruleset.HookForward, offload, nil},
		{"unknown flowtable", ft(ingress...), ruleset.HookForward, other, errNoEnt},
		{"input chain", ft(ingress...), ruleset.HookInput, offload, errNotSupp},
		{"hook other than ingress", ft(ruleset.ObjectAttr{Key: "hook", Value: "egress"}), ruleset.HookForward, offload, errNotSupp},
		{"hardware offload", ft(append(ingress, ruleset.ObjectAttr{Key: "flags", Value: "offload"})...), ruleset.HookForward, offload, errNotSupp},
		{"counter flag", ft(append(ingress, ruleset.ObjectAttr{Key: "flags", Value: "counter"})...), ruleset.HookForward, offload, nil},
		// nft_flowtable_type_get: flowtable types exist for ip, ip6 and inet.
		{"netdev table", ft(ingress...), ruleset.HookForward, nil, errNoEnt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := table(ruleset.FamilyINet, "f", base("c", tc.hook, 0, ruleset.VerdictAccept, r(2, tc.expr)))
			if tc.expr == nil {
				tb = table(ruleset.FamilyNetdev, "f")
			}
			tb.Objects = []*ruleset.Object{tc.obj}
			_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb}}, Config{Host: routerHost(), CT: ct.DefaultConfig()})
			if !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
				t.Errorf("load: %v, want %v", err, tc.err)
			}
		})
	}
}

// TestFlowOffloadCounter: a flowtable with the counter flag counts the
// packets it forwards in the entry's conntrack counters (with
// nf_conntrack_acct on); without it they count nowhere.
//
// Ref: nf_flow_offload_ip_hook (NF_FLOWTABLE_COUNTER, nf_ct_acct_update).
func TestFlowOffloadCounter(t *testing.T) {
	for _, tc := range []struct {
		flags string
		want  []string // original, reply
	}{
		// SYN 40 + ACK 40 by conntrack, the 140-byte segment by the flowtable.
		{"counter", []string{"packets=3 bytes=220", "packets=3 bytes=420"}},
		// Only what conntrack saw: the handshake.
		{"", []string{"packets=2 bytes=80", "packets=1 bytes=40"}},
	} {
		t.Run("flags "+tc.flags, func(t *testing.T) {
			attrs := []ruleset.ObjectAttr{{Key: "hook", Value: "ingress"}, {Key: "priority", Value: "0"}, {Key: "device", Value: "wan"}, {Key: "device", Value: "lan"}}
			if tc.flags != "" {
				attrs = append(attrs, ruleset.ObjectAttr{Key: "flags", Value: tc.flags})
			}
			tb := table(ruleset.FamilyINet, "f", base("forward", ruleset.HookForward, 0, ruleset.VerdictAccept,
				r(2, &ruleset.Generic{Kind: "flow_offload", Body: "flowtable ft "})))
			tb.Objects = []*ruleset.Object{{Kind: "flowtable", Name: "ft", Attrs: attrs}}
			cfg := Config{Host: routerHost(), CT: ct.DefaultConfig()}
			cfg.CT.Sysctls = map[string]int64{"net.netfilter.nf_conntrack_acct": 1}
			m, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{tb}}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			steps := tcpConversation()[:6]
			for i := range steps[3:] {
				steps[3+i].decided = "none"
			}
			for i := range steps[:3] {
				steps[i].decided = "forward:policy"
			}
			runSteps(t, m, steps)
			got := ctList(t, m, ftT0+50e6)
			if !strings.Contains(got, "dport=80 "+tc.want[0]+" src=") || !strings.Contains(got, "dport=40000 "+tc.want[1]+" [OFFLOAD]") {
				t.Errorf("conntrack -L: %s, want counters %v", got, tc.want)
			}
		})
	}
}

// TestFlowOffloadNoAllocs: forwarding by the flowtable allocates nothing.
func TestFlowOffloadNoAllocs(t *testing.T) {
	m := ftMachine(t, "wan, lan", ftMasq, nil)
	steps := masqSteps()
	runSteps(t, m, steps[:4])
	b, err := testpkt.Build(steps[3].spec)
	if err != nil {
		t.Fatal(err)
	}
	var p packet.Packet
	buf := make([]byte, len(b))
	now := ftT0 + 100e6
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, b)
		if p.Decode(packet.LinkRaw, buf) != nil {
			t.Fatal("decode")
		}
		m.Advance(now)
		if res := m.Receive(&p, "", now); res.Decided != nil {
			t.Fatal("not offloaded")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per offloaded packet", allocs)
	}
}

// TestFlowOffloadHelper: a connection with a conntrack helper is never
// offloaded (the helper must see its packets): every packet passes the
// forward chain.
//
// Ref: nft_flow_offload_eval (nf_ct_ext_exist(ct, NF_CT_EXT_HELPER)).
func TestFlowOffloadHelper(t *testing.T) {
	src := `table inet f {
	ct helper ftp-standard { type "ftp" protocol tcp; }
	flowtable ft {
		hook ingress priority filter
		devices = { wan, lan }
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		tcp dport 80 ct helper set "ftp-standard"
		meta l4proto tcp flow add @ft
		counter
	}
}`
	c, err := compiler.CompileSource("fth.nft", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(c.Ruleset, Config{Host: routerHost(), CT: ct.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	steps := tcpConversation()
	for i := range steps {
		steps[i].decided = "forward:policy"
	}
	runSteps(t, m, steps)
	for _, tb := range m.Snapshot(ftT0 + 80e6).Tables {
		for _, e := range tb.Chains[0].Rules[2].Exprs {
			if x, ok := e.(*ruleset.Counter); ok && x.Packets != 9 {
				t.Errorf("forward counter %d, want all 9 packets", x.Packets)
			}
		}
	}
	if got := ctList(t, m, ftT0+80e6); strings.Contains(got, "OFFLOAD") {
		t.Errorf("conntrack -L: %s, want no [OFFLOAD]", got)
	}
}

// TestFlowOffloadTCPIdle: an established flow that goes idle (no FIN) is
// torn down by the gc 30 s after its last refresh; its entry is ASSURED
// again and keeps the day-long timeout, because ESTABLISHED's 5 days less
// the 30 s idle time is longer (flow_offload_fixup_ct only shortens).
//
// Ref: nf_flow_offload_gc_step; flow_offload_fixup_ct.
func TestFlowOffloadTCPIdle(t *testing.T) {
	m := ftMachine(t, "wan, lan", "", nil)
	runSteps(t, m, tcpConversation()[:6])
	for _, tc := range []struct {
		at   int64 // ms
		want string
	}{
		{30_900, "86369 ESTABLISHED src=203.0.113.10 dst=198.51.100.20 sport=40000 dport=80 src=198.51.100.20 dst=203.0.113.10 sport=80 dport=40000 [OFFLOAD]"},
		{31_000, "86369 ESTABLISHED src=203.0.113.10 dst=198.51.100.20 sport=40000 dport=80 src=198.51.100.20 dst=203.0.113.10 sport=80 dport=40000 [ASSURED]"},
	} {
		now := ftT0 + tc.at*1e6
		m.Advance(now)
		if got := ctList(t, m, now); !strings.Contains(got, tc.want) {
			t.Errorf("at %d ms: conntrack -L %q, want %q", tc.at, got, tc.want)
		}
	}
	// Offloaded again by the next packet that passes the forward chain:
	// the flow is gone from the flowtable, so the client's next segment
	// takes the classic path and re-offloads the connection.
	now := ftT0 + 32_000e6
	m.Advance(now)
	res := m.Receive(pkt(t, tcpSeg(true, "PA", 1101, 500301, 10)), "", now)
	if decided(res) != "forward:policy" {
		t.Errorf("first packet after the teardown decided by %s, want the forward chain", decided(res))
	}
	if got := ctList(t, m, now); !strings.Contains(got, "[OFFLOAD]") {
		t.Errorf("conntrack -L: %s, want offloaded again", got)
	}
}

// TestFlowOffloadExtendTimeout: while a flow is offloaded, a packet that
// takes the classic path (here the client's FIN, arriving on lan, which is
// not a flowtable device) lets conntrack shorten the entry's timeout
// (FIN_WAIT, 120 s); the gc's next run pushes it back up to the five
// minutes an offloaded closing entry gets, and so at every run after.
//
// Ref: nf_flow_offload_gc_step; nf_flow_table_extend_ct_timeout;
// nf_flow_table_tcp_timeout.
func TestFlowOffloadExtendTimeout(t *testing.T) {
	m := ftMachine(t, "wan", "", nil)
	steps := tcpConversation()[:7]
	for i, d := range []string{"forward:policy", "forward:policy", "forward:policy", "forward:policy", "none", "none", "forward:policy"} {
		steps[i].decided = d
	}
	runSteps(t, m, steps)
	for _, tc := range []struct {
		at   int64 // ms
		want string
	}{
		{999, "tcp      6 119 FIN_WAIT"},  // the FIN at 60 ms: 120 s
		{1000, "tcp      6 300 FIN_WAIT"}, // the gc at 1 s
		// Every run finds it under five minutes again and extends it:
		// the last run before, at 30 s, left 300 s.
		{30_999, "tcp      6 299 FIN_WAIT"},
	} {
		now := ftT0 + tc.at*1e6
		m.Advance(now)
		got := ctList(t, m, now)
		if !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "[OFFLOAD]") {
			t.Errorf("at %d ms: conntrack -L %q, want %q … [OFFLOAD]", tc.at, got, tc.want)
		}
	}
}

// TestFlowOffloadOtherFlows: IPv6 (the ipv6 hook, hop limit decremented),
// GRE version 0 (no ports in the flow's key) and DNAT (a port forward: the
// flow rewrites the destination one way and the source back the other).
// In each, the third packet is the first the flowtable forwards.
//
// Ref: nf_flow_offload_ipv6_hook, nf_flow_tuple_ipv6; nf_flow_tuple_ip
// (IPPROTO_GRE, GRE_VERSION_0); nft_flow_offload_eval (GRE without NAT);
// nf_flow_dnat_ip, nf_flow_dnat_port.
func TestFlowOffloadOtherFlows(t *testing.T) {
	gre := []byte{0, 0, 0x08, 0, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	const dnat = `chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" tcp dport 8080 dnat ip to 203.0.113.10:80
	}`
	tcpTo := func(src, dst string, sp, dp uint16, flags string, seq, ack uint32) testpkt.Spec {
		return testpkt.Spec{Src: src, Dst: dst, Proto: "tcp", Sport: sp, Dport: dp, Flags: flags, Seq: seq, Ack: ack, Window: 65535}
	}
	for _, tc := range []struct {
		name  string
		l4    string
		nat   string
		steps []step
		// check inspects the last packet as it left.
		check func(t *testing.T, p *packet.Packet)
	}{
		{"ipv6 udp", "udp", "", []step{
			{0, testpkt.Spec{Src: "2001:db8:2::10", Dst: "2001:db8:1::20", Proto: "udp", Sport: 5000, Dport: 53}, "forward:policy", 63, "wan"},
			{10, testpkt.Spec{Src: "2001:db8:1::20", Dst: "2001:db8:2::10", Proto: "udp", Sport: 53, Dport: 5000}, "forward:policy", 63, "lan"},
			{20, testpkt.Spec{Src: "2001:db8:2::10", Dst: "2001:db8:1::20", Proto: "udp", Sport: 5000, Dport: 53}, "none", 63, "wan"},
		}, nil},
		{"gre", "gre", "", []step{
			{0, testpkt.Spec{Src: ftClient, Dst: ftServer, Proto: "47", Payload: gre}, "forward:policy", 63, "wan"},
			{10, testpkt.Spec{Src: ftServer, Dst: ftClient, Proto: "47", Payload: gre}, "forward:policy", 63, "lan"},
			{20, testpkt.Spec{Src: ftClient, Dst: ftServer, Proto: "47", Payload: gre}, "none", 63, "wan"},
		}, nil},
		{"dnat", "tcp", dnat, []step{
			{0, tcpTo(ftServer, "198.51.100.254", 40000, 8080, "S", 1000, 0), "forward:policy", 63, "lan"},
			{10, tcpTo(ftClient, ftServer, 80, 40000, "SA", 500000, 1001), "forward:policy", 63, "wan"},
			{20, tcpTo(ftServer, "198.51.100.254", 40000, 8080, "A", 1001, 500001), "forward:policy", 63, "lan"},
			{30, tcpTo(ftClient, ftServer, 80, 40000, "PA", 500001, 1001), "none", 63, "wan"},
		}, func(t *testing.T, p *packet.Packet) {
			b := p.Network()
			if !bytes.Equal(b[12:16], []byte{198, 51, 100, 254}) || binary.BigEndian.Uint16(b[20:]) != 8080 {
				t.Errorf("reply leaves from %v:%d, want the forwarded address 198.51.100.254:8080", b[12:16], binary.BigEndian.Uint16(b[20:]))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("%DEVS%", "wan, lan", "%NAT%", tc.nat, "{ tcp, udp }", tc.l4).Replace(ftRuleset)
			c, err := compiler.CompileSource("ft.nft", []byte(src), compiler.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(c.Ruleset, Config{Host: routerHost(), CT: ct.DefaultConfig()})
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				p := pkt(t, st.spec)
				now := ftT0 + st.at*1e6
				m.Advance(now)
				res := m.Receive(p, "", now)
				if got := decided(res); got != st.decided || res.Out != st.out {
					t.Errorf("packet %d: decided by %s out %q, want %s out %q", i, got, res.Out, st.decided, st.out)
				}
				hop := p.Network()[8]
				if p.NFProto == packet.NFProtoIPv6 {
					hop = p.Network()[7]
				}
				if hop != st.ttl {
					t.Errorf("packet %d: ttl %d, want %d", i, hop, st.ttl)
				}
				if i == len(tc.steps)-1 && tc.check != nil {
					tc.check(t, p)
				}
			}
			if got := ctList(t, m, ftT0+30e6); !strings.Contains(got, "[OFFLOAD]") {
				t.Errorf("conntrack -L: %s, want [OFFLOAD]", got)
			}
		})
	}
}
