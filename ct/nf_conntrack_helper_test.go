package ct

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

const (
	ftpCli = "203.0.113.10"
	ftpSrv = "198.51.100.10"
)

// ftpConv drives an FTP control connection 203.0.113.10:40000 ->
// 198.51.100.10:21 through a table, with the ftp helper attached to its
// first packet as `ct helper set` would.
type ftpConv struct {
	tb     testing.TB
	t      *Table
	cs, ss uint32
	now    int64
}

func newFTP(tb testing.TB, tab *Table, helper bool) *ftpConv {
	f := &ftpConv{tb: tb, t: tab, cs: 1000, ss: 5000, now: sec(0)}
	syn := pkt(tb, tcp(ftpCli, ftpSrv, 40000, 21, "S", f.cs, 0, 0))
	c, info, drop := tab.In(syn, HookPrerouting, f.now)
	if drop || c == nil || info != New {
		tb.Fatalf("control SYN: %v %v %v", c, info, drop)
	}
	if helper {
		h, _ := LookupHelper("ftp", packet.ProtoTCP)
		tab.AssignHelper(c, h)
	}
	if tab.Confirm(c, info, f.now) {
		tb.Fatal("control SYN dropped")
	}
	f.step(false, "SA", f.ss, f.cs+1, "")
	f.cs++
	f.ss++
	f.step(true, "A", f.cs, f.ss, "")
	return f
}

// step sends one segment; it reports whether conntrack dropped it.
func (f *ftpConv) step(fromClient bool, flags string, seq, ack uint32, data string) bool {
	f.now += 10e6
	s := testpkt.Spec{Src: ftpCli, Dst: ftpSrv, Proto: "tcp", Sport: 40000, Dport: 21, Flags: flags, Seq: seq, Ack: ack, Payload: []byte(data)}
	if !fromClient {
		s.Src, s.Dst, s.Sport, s.Dport = ftpSrv, ftpCli, 21, 40000
	}
	_, _, drop := pass(f.tb, f.t, pkt(f.tb, s), f.now)
	return drop
}

// say sends text from one side and its ACK; it reports a drop.
func (f *ftpConv) say(fromClient bool, text string) bool {
	if fromClient {
		if f.step(true, "PA", f.cs, f.ss, text) {
			return true
		}
		f.cs += uint32(len(text))
		return f.step(false, "A", f.ss, f.cs, "")
	}
	if f.step(false, "PA", f.ss, f.cs, text) {
		return true
	}
	f.ss += uint32(len(text))
	return f.step(true, "A", f.cs, f.ss, "")
}

// TestFTPHelper: what each control exchange expects, read from
// nf_conntrack_ftp.c (help, find_pattern, try_rfc959, try_rfc1123,
// try_eprt, try_epsv_response, ftp_exp_policy) and pinned by the
// ct-helper-ftp-* kernel scenarios.
func TestFTPHelper(t *testing.T) {
	type data struct {
		src, dst     string
		sport, dport uint16
		after        float64 // seconds after the exchange
		want         Info
	}
	active := data{ftpSrv, ftpCli, 20, 40001, 0, Related}
	passive := data{ftpCli, ftpSrv, 40100, 5001, 0, Related}
	cases := []struct {
		name   string
		helper bool
		talk   []string // "C:text" client, "S:text" server
		drop   int      // index of the line conntrack drops, -1 none
		data   []data
	}{
		{"PORT", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1, []data{active}},
		{"PORT lower case", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:port 203,0,113,10,156,65\r\n"}, -1, []data{active}},
		{"no helper", false, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1, []data{{ftpSrv, ftpCli, 20, 40001, 0, New}}},
		// The first segment of a direction does not follow a newline
		// the helper saw: it is not parsed.
		{"PORT first", true, []string{"S:220 hi\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1, []data{{ftpSrv, ftpCli, 20, 40001, 0, New}}},
		// A third party's address is not recorded (loose=0).
		{"PORT other address", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,11,156,65\r\n"}, -1, []data{{ftpSrv, "203.0.113.11", 20, 40001, 0, New}}},
		{"PORT partial", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156"}, 3, nil},
		{"EPRT", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:EPRT |1|203.0.113.10|40001|\r\n"}, -1, []data{active}},
		{"PASV", true, []string{"C:USER a\r\n", "S:331 ok\r\n", "C:PASV\r\n", "S:227 Entering Passive Mode (198,51,100,10,19,137).\r\n"}, -1, []data{passive}},
		{"PASV no parenthesis", true, []string{"C:USER a\r\n", "S:331 ok\r\n", "C:PASV\r\n", "S:227 Entering Passive Mode 198,51,100,10,19,137\r\n"}, -1, []data{passive}},
		{"EPSV", true, []string{"C:USER a\r\n", "S:331 ok\r\n", "C:EPSV\r\n", "S:229 Entering Extended Passive Mode (|||5001|)\r\n"}, -1, []data{passive}},
		// max_expected 1: a second PORT evicts the first expectation.
		{"PORT twice", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n", "S:200 ok\r\n", "C:PORT 203,0,113,10,156,66\r\n"}, -1,
			[]data{{ftpSrv, ftpCli, 20, 40001, 0, New}, {ftpSrv, ftpCli, 20, 40002, 0, Related}}},
		// An expectation is used once, and lives 300 s.
		{"used once", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1,
			[]data{active, {ftpSrv, ftpCli, 21, 40001, 0, New}}},
		{"expired", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1, []data{{ftpSrv, ftpCli, 20, 40001, 301, New}}},
		{"not expired", true, []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"}, -1, []data{{ftpSrv, ftpCli, 20, 40001, 299, Related}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable(t)
			f := newFTP(t, tab, tc.helper)
			for i, ln := range tc.talk {
				dropped := f.say(ln[0] == 'C', ln[2:])
				if dropped != (i == tc.drop) {
					t.Fatalf("line %d %q: dropped %v", i, ln, dropped)
				}
				if dropped {
					return
				}
			}
			base := f.now
			for _, d := range tc.data {
				now := base + int64(d.after*1e9) + 1e6
				tab.Expire(now)
				c, info, drop := tab.In(pkt(t, tcp(d.src, d.dst, d.sport, d.dport, "S", 1, 0, 0)), HookPrerouting, now)
				if drop || c == nil {
					t.Fatalf("data SYN %v: no entry", d)
				}
				if info != d.want {
					t.Errorf("data %s:%d > %s:%d after %gs: ctinfo %d, want %d", d.src, d.sport, d.dst, d.dport, d.after, info, d.want)
				}
				if d.want == Related && (c.Status&StatusExpected == 0 || !hasHelper(tab, c, "ftp")) {
					t.Errorf("related entry: status %#x, master helper missing", c.Status)
				}
				if tab.Confirm(c, info, now) {
					t.Fatal("data SYN dropped at confirm")
				}
			}
		})
	}
}

func hasHelper(tab *Table, c *Conn, name string) bool {
	n, ok := tab.HelperName(c)
	return ok && n == name
}

// TestFTPListsHelper: conntrack -L shows helper=ftp on the control entry
// and conntrack -L expect the pending expectation (formats as conntrack
// 1.4.7 prints them on Linux 6.18).
func TestFTPListsHelper(t *testing.T) {
	tab := newTable(t)
	f := newFTP(t, tab, true)
	for _, ln := range []string{"S:220 hi\r\n", "C:USER a\r\n", "S:331 ok\r\n", "C:PORT 203,0,113,10,156,65\r\n"} {
		f.say(ln[0] == 'C', ln[2:])
	}
	if got := list(t, tab, f.now); !strings.Contains(got, "[ASSURED] mark=0 helper=ftp use=1\n") {
		t.Errorf("conntrack -L:\n%s", got)
	}
	var b bytes.Buffer
	if err := tab.WriteExpectList(&b, f.now); err != nil {
		t.Fatal(err)
	}
	want := "299 proto=6 src=198.51.100.10 dst=203.0.113.10 sport=0 dport=40001 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=203.0.113.10 master-dst=198.51.100.10 sport=40000 dport=21 class=0 helper=ftp\n"
	if b.String() != want {
		t.Errorf("conntrack -L expect:\n got %q\nwant %q", b.String(), want)
	}
}

// TestTFTPHelper: a read request expects the server's reply from a new
// port; nf_conntrack_tftp.c tftp_help.
func TestTFTPHelper(t *testing.T) {
	for _, opcode := range []byte{1, 2, 3} {
		tab := newTable(t)
		rrq := pkt(t, testpkt.Spec{Src: ftpCli, Dst: ftpSrv, Proto: "udp", Sport: 40000, Dport: 69, Payload: []byte{0, opcode, 'f', 0, 'o', 'c', 't', 'e', 't', 0}})
		c, info, _ := tab.In(rrq, HookPrerouting, sec(0))
		h, _ := LookupHelper("tftp", packet.ProtoUDP)
		tab.AssignHelper(c, h)
		tab.Confirm(c, info, sec(0))
		_, info, _ = pass(t, tab, pkt(t, testpkt.Spec{Src: ftpSrv, Dst: ftpCli, Proto: "udp", Sport: 50000, Dport: 40000, Payload: []byte{0, 3, 0, 1}}), sec(0.01))
		want := New
		if opcode <= 2 {
			want = Related
		}
		if info != want {
			t.Errorf("opcode %d: data ctinfo %d, want %d", opcode, info, want)
		}
	}
}

// TestLabels: ct label set only adds bits (nf_connlabels_replace with
// mask = data); ct label reads them in nf_conn_labels byte order.
func TestLabels(t *testing.T) {
	tab := newTable(t)
	c, _, _ := pass(t, tab, pkt(t, tcp(ftpCli, ftpSrv, 1, 2, "S", 1, 0, 0)), sec(0))
	if got := tab.Labels(c); got != ([16]byte{}) {
		t.Fatalf("fresh entry labels %x", got)
	}
	for _, bit := range []int{5, 127, 64, 5} {
		var reg [16]byte
		reg[bit/8] |= 1 << (bit % 8)
		tab.SetLabels(c, reg[:])
	}
	want := [16]byte{0: 0x20, 8: 0x01, 15: 0x80}
	if got := tab.Labels(c); got != want {
		t.Errorf("labels %x, want %x", got, want)
	}
}

// TestTimeoutPolicy: the entry takes the policy's SYN_SENT at once and
// its ESTABLISHED later; other states keep the sysctl values.
func TestTimeoutPolicy(t *testing.T) {
	tab := newTable(t)
	p, err := NewTimeoutPolicy(DefaultConfig(), packet.ProtoTCP, map[string]uint32{"established": 10, "syn_sent": 7})
	if err != nil {
		t.Fatal(err)
	}
	syn := pkt(t, tcp(ftpCli, ftpSrv, 1, 2, "S", 100, 0, 0))
	c, info, _ := tab.In(syn, HookPrerouting, sec(0))
	tab.SetTimeout(c, packet.ProtoTCP, p)
	tab.Confirm(c, info, sec(0))
	if got := lines(list(t, tab, sec(0))); len(got) != 1 || !strings.HasPrefix(got[0], "tcp      6 7 SYN_SENT") {
		t.Fatalf("after SYN: %q", got)
	}
	pass(t, tab, pkt(t, tcp(ftpSrv, ftpCli, 2, 1, "SA", 900, 101, 0)), sec(0.1))
	pass(t, tab, pkt(t, tcp(ftpCli, ftpSrv, 1, 2, "A", 101, 901, 0)), sec(0.2))
	if got := lines(list(t, tab, sec(0.2))); len(got) != 1 || !strings.HasPrefix(got[0], "tcp      6 10 ESTABLISHED") {
		t.Fatalf("established: %q", got)
	}
	if _, err := NewTimeoutPolicy(DefaultConfig(), packet.ProtoTCP, map[string]uint32{"nosuch": 1}); err == nil {
		t.Error("unknown state accepted")
	}
}

// TestExpectObject: an `ct expectation` object on the first packet
// expects the other side to the destination port; on a confirmed entry
// it BREAKs; size bounds the expectations per entry.
func TestExpectObject(t *testing.T) {
	tab := newTable(t)
	syn := pkt(t, tcp(ftpCli, ftpSrv, 40000, 21, "S", 100, 0, 0))
	c, info, _ := tab.In(syn, HookPrerouting, sec(0))
	if r := tab.Expect(c, info, 2, packet.ProtoTCP, 2121, 10*hz, 1, sec(0)); r != ExpectAdded {
		t.Fatalf("first: %v", r)
	}
	if r := tab.Expect(c, info, 2, packet.ProtoUDP, 2121, 10*hz, 1, sec(0)); r != ExpectBreak {
		t.Fatalf("over size: %v", r)
	}
	tab.Confirm(c, info, sec(0))
	if r := tab.Expect(c, info, 2, packet.ProtoTCP, 2122, 10*hz, 4, sec(0)); r != ExpectBreak {
		t.Fatalf("confirmed: %v", r)
	}
	_, info, _ = pass(t, tab, pkt(t, tcp(ftpSrv, ftpCli, 3333, 2121, "S", 1, 0, 0)), sec(1))
	if info != Related {
		t.Errorf("expected connection ctinfo %d", info)
	}
}

// FuzzFTPHelper: any payload, either direction, with and without NAT on
// the control connection, must leave the helper without a panic, and a
// rewritten packet must keep valid checksums.
func FuzzFTPHelper(f *testing.F) {
	for _, s := range []string{"PORT 203,0,113,10,156,65\r\n", "EPRT |1|203.0.113.10|40001|\r\n", "EPRT |2|::1|5|\r\n",
		"227 Entering Passive Mode (198,51,100,10,19,137).\r\n", "227 1,2,3,4,5,6", "229 (|||5003|)\r\n", "229 (|||", "PO", "EPRT |", "227 ", "\n"} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fromServer, nat bool) {
		if len(data) == 0 || len(data) > 1400 {
			return
		}
		tab := newTable(t)
		syn := pkt(t, tcp(ftpCli, ftpSrv, 40000, 21, "S", 1000, 0, 0))
		c, info, _ := tab.In(syn, HookPrerouting, sec(0))
		h, _ := LookupHelper("ftp", packet.ProtoTCP)
		tab.AssignHelper(c, h)
		if nat {
			pub := [16]byte{198, 51, 100, 254}
			tab.SetupNAT(c, false, pub, pub, 0, 0, NATMapIPs)
		}
		tab.Confirm(c, info, sec(0))
		f := &ftpConv{tb: t, t: tab, cs: 1001, ss: 5001, now: sec(0)}
		f.step(false, "SA", 5000, 1001, "")
		f.step(true, "A", 1001, 5001, "")
		f.say(true, "USER a\r\n")
		f.say(false, "331 ok\r\n")
		s := testpkt.Spec{Src: ftpCli, Dst: ftpSrv, Proto: "tcp", Sport: 40000, Dport: 21, Flags: "PA", Seq: f.cs, Ack: f.ss, Payload: data}
		if fromServer {
			s = testpkt.Spec{Src: ftpSrv, Dst: ftpCli, Proto: "tcp", Sport: 21, Dport: 40000, Flags: "PA", Seq: f.ss, Ack: f.cs, Payload: data}
		}
		p := pkt(t, s)
		tab.Expire(sec(1))
		c, info, drop := tab.In(p, HookPrerouting, sec(1))
		if drop || c == nil {
			return
		}
		tab.Mangle(p, c, info, HookPostrouting)
		if tab.Confirm(c, info, sec(1)) {
			return
		}
		if !l4ChecksumOK(p, p.Data[p.ThOff:], packet.ProtoTCP) || !plainChecksumOK(p.Data[p.NetOff:p.ThOff]) {
			t.Fatalf("bad checksum after the helper: %x", p.Data)
		}
	})
}

// A helper Linux has but nftgo does not parse is an inert stand-in: found,
// attachable, listed by name, never creating expectations.
func TestUnmodelledHelper(t *testing.T) {
	for _, tc := range []struct {
		name     string
		l4       uint8
		found    bool
		modelled bool
	}{
		{"ftp", packet.ProtoTCP, true, true},
		{"sip", packet.ProtoUDP, true, false},
		{"irc", packet.ProtoTCP, true, false},
		{"irc", packet.ProtoUDP, false, false},
		{"nosuch", packet.ProtoTCP, false, false},
	} {
		h, known := LookupHelper(tc.name, tc.l4)
		if (h != nil) != tc.found || known != tc.found {
			t.Errorf("%s/%d: helper %v known %v, want found %v", tc.name, tc.l4, h, known, tc.found)
			continue
		}
		if h != nil && (h.Modelled() != tc.modelled || h.Name != tc.name) {
			t.Errorf("%s/%d: modelled %v name %q", tc.name, tc.l4, h.Modelled(), h.Name)
		}
	}
}
