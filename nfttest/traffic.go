package nfttest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// The packet words of a traffic line; the statements follow
// internal/scenario's traffic spec (the kernel scenarios' language) where
// they overlap, and also read the summary replay prints (`[S.]` flags), so
// an output line pastes back as input.
//
//	tcp SRC:P > DST:P FLAGS [seq=N] [ack=N] [win=N] [len=N] [ttl=N]
//	    FLAGS: words syn ack fin rst psh urg (also syn-ack), [S.] or flags=SA
//	udp SRC:P > DST:P [len=N] [ttl=N]
//	icmp SRC > DST [echo-request|echo-reply|type N code N] [id=N] [seq=N] [ttl=N] [inner PACKET]
//	    inner: the packet an ICMP error quotes, e.g. inner udp A:P > B:P
//	ip SRC > DST proto=N [len=N]
//	handshake CLIENT:P > SERVER:P               SYN, SYN-ACK, ACK
//	data FROM:P > TO:P [len=N]                  data and its ACK on a handshaken connection
//	close fin|rst FROM:P > TO:P                 FIN, FIN, ACK  |  RST
//	Nx LINE                                     LINE N times, source port +1 each time

// conn is one conversation's sequence numbers.
type conn struct {
	client, server netip.AddrPort
	cseq, sseq     uint32 // next sequence number of each side
}

// convState keys conversations by "CLIENT>SERVER".
type convState struct{ m map[string]*conn }

func (c *convState) get(a, b netip.AddrPort) (cn *conn, fromClient bool) {
	if cn = c.m[a.String()+">"+b.String()]; cn != nil {
		return cn, true
	}
	if cn = c.m[b.String()+">"+a.String()]; cn != nil {
		return cn, false
	}
	return nil, false
}

// parsePackets builds the packets of one traffic line.
func parsePackets(w []string, conv *convState) (specs []testpkt.Spec, rep int, isConv bool, err error) {
	rep = 1
	if n := strings.TrimSuffix(w[0], "x"); n != w[0] && n != "" {
		if rep, err = strconv.Atoi(n); err != nil || rep < 1 || rep > 10000 {
			return nil, 0, false, fmt.Errorf("%s: want a repetition such as 3x (at most 10000x)", w[0])
		}
		w = w[1:]
		if len(w) == 0 {
			return nil, 0, false, fmt.Errorf("%dx: repeat what?", rep)
		}
	}
	for i := 0; i < rep; i++ {
		var s []testpkt.Spec
		s, isConv, err = onePacketLine(w, conv, uint16(i))
		if err != nil {
			return nil, 0, false, err
		}
		specs = append(specs, s...)
	}
	return specs, rep, isConv, nil
}

func onePacketLine(w []string, conv *convState, bump uint16) ([]testpkt.Spec, bool, error) {
	switch w[0] {
	case "tcp", "udp":
		src, dst, rest, err := endpoints(w[1:], true)
		if err != nil {
			return nil, false, err
		}
		s := testpkt.Spec{Proto: w[0], Src: src.Addr().String(), Dst: dst.Addr().String(), Sport: src.Port() + bump, Dport: dst.Port()}
		if w[0] == "tcp" {
			s.Seq = 1000
		}
		hasFlags := false
		for _, x := range rest {
			if w[0] == "tcp" {
				if f, ok := flagWord(x); ok {
					s.Flags += f
					hasFlags = true
					continue
				}
			}
			if err := packetOpt(&s, x, &hasFlags); err != nil {
				return nil, false, err
			}
		}
		if w[0] == "tcp" && !hasFlags {
			return nil, false, fmt.Errorf("tcp needs its flags: syn, ack, fin, rst, psh (or [S.])")
		}
		return []testpkt.Spec{s}, false, nil
	case "icmp", "icmpv6", "ip", "ip6":
		var inner []string
		for i, x := range w {
			if x == "inner" {
				w, inner = w[:i], w[i+1:]
				break
			}
		}
		src, dst, rest, err := endpoints(w[1:], false)
		if err != nil {
			return nil, false, err
		}
		s := testpkt.Spec{Src: src.Addr().String(), Dst: dst.Addr().String(), ID: 1, EchoSeq: 1}
		if inner != nil {
			if len(inner) == 0 || inner[0] == "handshake" || inner[0] == "data" || inner[0] == "close" {
				return nil, false, fmt.Errorf("inner: want the quoted packet, e.g. inner udp A:P > B:P")
			}
			in, _, err := onePacketLine(inner, conv, 0)
			if err != nil {
				return nil, false, fmt.Errorf("inner: %v", err)
			}
			s.Inner = &in[0]
			s.ID, s.EchoSeq = 0, 0 // an error's "unused" word
		}
		v6 := src.Addr().Is6()
		if w[0] == "ip" || w[0] == "ip6" {
			s.Proto = ""
		} else if v6 {
			s.Proto, s.Type = "icmpv6", 128
		} else {
			s.Proto, s.Type = "icmp", 8
		}
		for i := 0; i < len(rest); i++ {
			x := rest[i]
			switch {
			case x == "echo-request" && s.Proto != "":
				s.Type = map[bool]uint8{false: 8, true: 128}[v6]
			case x == "echo-reply" && s.Proto != "":
				s.Type = map[bool]uint8{false: 0, true: 129}[v6]
			case (x == "type" || x == "code") && i+1 < len(rest) && s.Proto != "":
				n, err := strconv.ParseUint(rest[i+1], 10, 8)
				if err != nil {
					return nil, false, fmt.Errorf("%s %q: want 0-255", x, rest[i+1])
				}
				if x == "type" {
					s.Type = uint8(n)
				} else {
					s.Code = uint8(n)
				}
				i++
			default:
				if err := packetOpt(&s, x, nil); err != nil {
					return nil, false, err
				}
			}
		}
		if s.Proto == "" {
			return nil, false, fmt.Errorf("%s needs proto=N", w[0])
		}
		return []testpkt.Spec{s}, false, nil
	case "handshake", "data", "close":
		specs, err := conversation(w, conv, bump)
		return specs, true, err
	}
	return nil, false, fmt.Errorf("unknown traffic %q: want tcp, udp, icmp, ip, handshake, data, close, pcap, +DURATION or gap", w[0])
}

// flagWord maps a flag word or a tcpdump bracket to testpkt's letters.
func flagWord(x string) (string, bool) {
	switch x {
	case "syn":
		return "S", true
	case "ack":
		return "A", true
	case "fin":
		return "F", true
	case "rst":
		return "R", true
	case "psh":
		return "P", true
	case "urg":
		return "U", true
	case "syn-ack", "synack":
		return "SA", true
	}
	if len(x) >= 2 && x[0] == '[' && x[len(x)-1] == ']' {
		var b strings.Builder
		for _, c := range x[1 : len(x)-1] {
			switch c {
			case '.':
				b.WriteByte('A')
			case 'S', 'F', 'P', 'R', 'U', 'E', 'C':
				b.WriteRune(c)
			case 'W':
				b.WriteByte('C')
			default:
				return "", false
			}
		}
		return b.String(), true
	}
	return "", false
}

// packetOpt applies one key=value word.
func packetOpt(s *testpkt.Spec, x string, hasFlags *bool) error {
	k, v, ok := strings.Cut(x, "=")
	if !ok {
		return fmt.Errorf("unknown word %q", x)
	}
	if k == "flags" && hasFlags != nil {
		s.Flags = v
		*hasFlags = true
		return nil
	}
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return fmt.Errorf("%s=%s: want a number", k, v)
	}
	max := map[string]uint64{"seq": 1<<32 - 1, "ack": 1<<32 - 1, "win": 65535, "len": 65000, "ttl": 255, "id": 65535, "proto": 255}[k]
	if max == 0 {
		return fmt.Errorf("unknown option %s", k)
	}
	if n > max {
		return fmt.Errorf("%s=%s: at most %d", k, v, max)
	}
	switch k {
	case "seq":
		if s.Proto == "tcp" {
			s.Seq = uint32(n)
		} else {
			s.EchoSeq = uint16(n)
		}
	case "ack":
		s.Ack = uint32(n)
	case "win":
		s.Window = uint16(n)
	case "len":
		s.Payload = bytes.Repeat([]byte{'x'}, int(n))
	case "ttl":
		s.TTL = uint8(n)
	case "id":
		s.ID = uint16(n)
	case "proto":
		s.Proto = strconv.FormatUint(n, 10)
	}
	return nil
}

// endpoints parses "A[:P] > B[:P]" (IPv6 with ports as [addr]:port).
func endpoints(w []string, ports bool) (src, dst netip.AddrPort, rest []string, err error) {
	if len(w) < 3 || w[1] != ">" {
		return src, dst, nil, fmt.Errorf("want SRC > DST")
	}
	parse := func(s string) (netip.AddrPort, error) {
		if ports {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				return ap, fmt.Errorf("%q: want ADDR:PORT ([ADDR]:PORT for IPv6)", s)
			}
			return ap, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%q: want an address", s)
		}
		return netip.AddrPortFrom(a, 0), nil
	}
	if src, err = parse(w[0]); err != nil {
		return
	}
	if dst, err = parse(w[2]); err != nil {
		return
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		err = fmt.Errorf("%s > %s: mixed IPv4 and IPv6", w[0], w[2])
	}
	return src, dst, w[3:], err
}

// ctTuple checks the tuple of an `expect conntrack` line.
func ctTuple(w []string) (src, dst netip.AddrPort, err error) {
	switch w[0] {
	case "tcp", "udp":
		src, dst, _, err = endpoints(w[1:], true)
	case "icmp", "icmpv6":
		src, dst, _, err = endpoints(w[1:], false)
	default:
		err = fmt.Errorf("conntrack %s: want tcp, udp, icmp or icmpv6", w[0])
	}
	return
}

// conversation builds handshake, data and close packets with consistent
// sequence numbers, so the TCP tracker sees an in-window stream.
func conversation(w []string, conv *convState, bump uint16) ([]testpkt.Spec, error) {
	kind := w[0]
	args := w[1:]
	how := ""
	if kind == "close" {
		if len(args) == 0 || (args[0] != "fin" && args[0] != "rst") {
			return nil, fmt.Errorf("want: close fin|rst FROM:PORT > TO:PORT")
		}
		how, args = args[0], args[1:]
	}
	a, b, rest, err := endpoints(args, true)
	if err != nil {
		return nil, err
	}
	a = netip.AddrPortFrom(a.Addr(), a.Port()+bump)
	n := 100
	ttl := uint8(0)
	for _, x := range rest {
		k, v, _ := strings.Cut(x, "=")
		u, err := strconv.ParseUint(v, 10, 16)
		switch {
		case k == "len" && kind == "data" && err == nil:
			n = int(u)
		case k == "ttl" && err == nil && u < 256:
			ttl = uint8(u)
		default:
			return nil, fmt.Errorf("unknown word %q", x)
		}
	}
	pkt := func(from, to netip.AddrPort, flags string, seq, ack uint32, plen int) testpkt.Spec {
		s := testpkt.Spec{Proto: "tcp", Src: from.Addr().String(), Dst: to.Addr().String(), Sport: from.Port(), Dport: to.Port(),
			Flags: flags, Seq: seq, Ack: ack, TTL: ttl}
		if plen > 0 {
			s.Payload = bytes.Repeat([]byte{'x'}, plen)
		}
		return s
	}
	if kind == "handshake" {
		if conv.m == nil {
			conv.m = map[string]*conn{}
		}
		c := &conn{client: a, server: b, cseq: 1000, sseq: 500000}
		conv.m[a.String()+">"+b.String()] = c
		out := []testpkt.Spec{
			pkt(a, b, "S", c.cseq, 0, 0),
			pkt(b, a, "SA", c.sseq, c.cseq+1, 0),
			pkt(a, b, "A", c.cseq+1, c.sseq+1, 0),
		}
		c.cseq++
		c.sseq++
		return out, nil
	}
	c, fromClient := conv.get(a, b)
	if c == nil {
		return nil, fmt.Errorf("%s %s > %s: no handshake for this connection earlier in the case", kind, a, b)
	}
	// x is the sender's next sequence number, y the receiver's.
	x, y := &c.cseq, &c.sseq
	if !fromClient {
		x, y = y, x
	}
	switch {
	case kind == "data":
		out := []testpkt.Spec{pkt(a, b, "PA", *x, *y, n), pkt(b, a, "A", *y, *x+uint32(n), 0)}
		*x += uint32(n)
		return out, nil
	case how == "fin":
		out := []testpkt.Spec{
			pkt(a, b, "FA", *x, *y, 0),
			pkt(b, a, "FA", *y, *x+1, 0),
			pkt(a, b, "A", *x+1, *y+1, 0),
		}
		*x++
		*y++
		return out, nil
	default: // rst
		return []testpkt.Spec{pkt(a, b, "R", *x, 0, 0)}, nil
	}
}
