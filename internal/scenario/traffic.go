package scenario

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
)

// The traffic spec: one statement per line, '#' starts a comment.
//
//	gap 10ms                          time between packets from here on (default 10ms)
//	+2s                               extra pause before the next packet
//	syn A:P > B:P [count=N] [sport_step=1] [seq=N]
//	tcp A:P > B:P flags=FA [seq=N] [ack=N] [len=N] [win=N] [count=N] [sport_step=N]
//	handshake A:P > B:P [data=N] [reply=N] [close=fin|server-fin|half|rst|none] [isn=1000] [risn=1000000]
//	udp A:P > B:P [len=N] [count=N] [sport_step=N] [dport_step=N]
//	icmp A > B [type=echo-request|echo-reply|N] [code=N] [id=N] [seq=N] [count=N]
//	icmperr A > B type=N code=N inner PROTO A:P > B:P [flags=..] | inner icmp A > B [id=N]
//	proto A > B proto=N [len=N]
//	say A:P > B:P payload="TEXT" [ack=no]   data on a connection a handshake opened (either side)
//	pcap shared:PATH|PATH map=OLD=NEW,... [time=capture] [ttl=64]   (see pcapStatement)
//
// Every statement also takes ttl=N. Addresses containing ':' are IPv6 (ports
// as [addr]:port); icmp between IPv6 addresses is ICMPv6. handshake uses the
// client ISN isn and server ISN risn; data/reply send that many bytes each
// way, each acknowledged; close=fin closes client first (ends in TIME_WAIT),
// server-fin server first, half sends only the client FIN and its ACK, rst a
// client RST. A handshake with close=none leaves the connection open for
// say: A sends TEXT (PSH|ACK, the next sequence number of that side) and B
// acknowledges it unless ack=no. tcp and udp take payload="TEXT" instead of
// len=N. TEXT is a Go string literal ("USER a\r\n").
//
// All packets are valid (lengths, checksums); timestamps start at
// testpkt.Epoch.

// ParseTraffic turns a traffic spec into capture records; relative pcap
// sources are read from the current directory.
func ParseTraffic(spec string) ([]testpkt.Record, error) { return ParseTrafficIn(spec, ".") }

// ParseTrafficIn is ParseTraffic for a spec in directory dir.
func ParseTrafficIn(spec, dir string) ([]testpkt.Record, error) {
	p := &trafficParser{gap: 10 * time.Millisecond, t: testpkt.Epoch, dir: dir}
	for i, ln := range strings.Split(spec, "\n") {
		ln = stripComment(ln)
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		if err := p.line(ln); err != nil {
			return nil, fmt.Errorf("line %d: %.60q: %w", i+1, ln, err)
		}
	}
	return p.recs, nil
}

type trafficParser struct {
	dir   string
	gap   time.Duration
	t     time.Time
	extra time.Duration
	recs  []testpkt.Record
	// flows are the TCP connections handshakes left open, by
	// "client>server" endpoints, for say.
	flows map[string]*tcpFlow
}

// tcpFlow is an open connection's client and server templates and next
// sequence numbers.
type tcpFlow struct {
	c, s   testpkt.Spec
	cs, ss uint32
}

// stripComment drops a '#' comment outside double quotes.
func stripComment(ln string) string {
	q := false
	for i := 0; i < len(ln); i++ {
		switch ln[i] {
		case '\\':
			if q {
				i++
			}
		case '"':
			q = !q
		case '#':
			if !q {
				return ln[:i]
			}
		}
	}
	return ln
}

// splitFields is strings.Fields keeping double-quoted strings (with
// escapes) in one field.
func splitFields(ln string) []string {
	var out []string
	cur, in, q := strings.Builder{}, false, false
	for i := 0; i < len(ln); i++ {
		ch := ln[i]
		switch {
		case q && ch == '\\' && i+1 < len(ln):
			cur.WriteByte(ch)
			i++
			cur.WriteByte(ln[i])
			continue
		case ch == '"':
			q = !q
		case !q && (ch == ' ' || ch == '\t'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			continue
		}
		cur.WriteByte(ch)
		in = true
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// payloadOpt reads payload="TEXT" (a Go string literal); ok is false when
// absent.
func (o opts) payload() ([]byte, bool, error) {
	v, ok := o["payload"]
	if !ok {
		return nil, false, nil
	}
	delete(o, "payload")
	s, err := strconv.Unquote(v)
	if err != nil {
		return nil, false, fmt.Errorf("payload=%s: want a quoted string: %w", v, err)
	}
	return []byte(s), true, nil
}

func (p *trafficParser) emit(s testpkt.Spec) error {
	b, err := testpkt.Build(s)
	if err != nil {
		return err
	}
	if len(p.recs) > 0 {
		p.t = p.t.Add(p.gap)
	}
	p.t = p.t.Add(p.extra)
	p.extra = 0
	p.recs = append(p.recs, testpkt.Record{Time: p.t, Data: b})
	return nil
}

// opts holds key=value words.
type opts map[string]string

func (o opts) int(k string, def int) (int, error) {
	v, ok := o[k]
	if !ok {
		return def, nil
	}
	delete(o, k)
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: %w", k, v, err)
	}
	return int(n), nil
}

func (o opts) str(k, def string) string {
	v, ok := o[k]
	if !ok {
		return def
	}
	delete(o, k)
	return v
}

func (o opts) done() error {
	for k := range o {
		return fmt.Errorf("unknown option %s", k)
	}
	return nil
}

// endpoints parses "A[:P] > B[:P]" from words.
func endpoints(w []string, ports bool) (src, dst netip.AddrPort, rest []string, err error) {
	if len(w) < 3 || w[1] != ">" {
		return src, dst, nil, fmt.Errorf("want SRC > DST")
	}
	parse := func(s string) (netip.AddrPort, error) {
		if ports {
			return netip.ParseAddrPort(s)
		}
		a, err := netip.ParseAddr(s)
		return netip.AddrPortFrom(a, 0), err
	}
	if src, err = parse(w[0]); err != nil {
		return
	}
	if dst, err = parse(w[2]); err != nil {
		return
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		err = fmt.Errorf("mixed IPv4 and IPv6")
	}
	return src, dst, w[3:], err
}

func parseOpts(w []string) (opts, error) {
	o := opts{}
	for _, x := range w {
		k, v, ok := strings.Cut(x, "=")
		if !ok {
			return nil, fmt.Errorf("want key=value, got %q", x)
		}
		o[k] = v
	}
	return o, nil
}

var icmpTypes = map[string][2]uint8{ // name -> {ICMPv4, ICMPv6}
	"echo-request": {8, 128}, "echo-reply": {0, 129},
	"destination-unreachable": {3, 1}, "time-exceeded": {11, 3}, "packet-too-big": {3, 2},
}

func icmpType(s string, v6 bool) (uint8, error) {
	if t, ok := icmpTypes[s]; ok {
		if v6 {
			return t[1], nil
		}
		return t[0], nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	return uint8(n), err
}

func (p *trafficParser) line(ln string) error {
	w := splitFields(ln)
	if strings.HasPrefix(w[0], "+") && len(w) == 1 {
		d, err := time.ParseDuration(w[0][1:])
		if err != nil {
			return err
		}
		p.extra += d
		return nil
	}
	switch w[0] {
	case "gap":
		if len(w) != 2 {
			return fmt.Errorf("gap DURATION")
		}
		d, err := time.ParseDuration(w[1])
		if err != nil {
			return err
		}
		p.gap = d
		return nil
	case "say":
		return p.say(w)
	case "syn", "tcp", "udp", "handshake":
		src, dst, rest, err := endpoints(w[1:], true)
		if err != nil {
			return err
		}
		o, err := parseOpts(rest)
		if err != nil {
			return err
		}
		base := testpkt.Spec{Src: src.Addr().String(), Dst: dst.Addr().String(), Sport: src.Port(), Dport: dst.Port()}
		ttl, err := o.int("ttl", 64)
		if err != nil {
			return err
		}
		base.TTL = uint8(ttl)
		if w[0] == "handshake" {
			return p.handshake(base, o)
		}
		count, err1 := o.int("count", 1)
		step, err2 := o.int("sport_step", 1)
		dstep, err3 := o.int("dport_step", 0)
		ln, err4 := o.int("len", 0)
		seq, err5 := o.int("seq", 1000)
		ack, err6 := o.int("ack", 0)
		win, err7 := o.int("win", 65535)
		for _, e := range []error{err1, err2, err3, err4, err5, err6, err7} {
			if e != nil {
				return e
			}
		}
		switch w[0] {
		case "syn":
			base.Proto, base.Flags = "tcp", "S"
		case "tcp":
			base.Proto, base.Flags = "tcp", o.str("flags", "A")
		case "udp":
			base.Proto = "udp"
		}
		base.Seq, base.Ack, base.Window = uint32(seq), uint32(ack), uint16(win)
		if ln > 0 {
			base.Payload = bytes.Repeat([]byte{'x'}, ln)
		}
		if pl, ok, err := o.payload(); err != nil {
			return err
		} else if ok {
			base.Payload = pl
		}
		if err := o.done(); err != nil {
			return err
		}
		for i := 0; i < count; i++ {
			s := base
			s.Sport = base.Sport + uint16(i*step)
			s.Dport = base.Dport + uint16(i*dstep)
			if err := p.emit(s); err != nil {
				return err
			}
		}
		return nil
	case "icmp", "icmperr", "proto":
		return p.icmp(w)
	case "pcap":
		return p.pcapStatement(w)
	}
	return fmt.Errorf("unknown statement %q", w[0])
}

func (p *trafficParser) icmp(w []string) error {
	// icmperr: split off "inner ..." first.
	var inner []string
	for i, x := range w {
		if x == "inner" {
			inner, w = w[i+1:], w[:i]
			break
		}
	}
	src, dst, rest, err := endpoints(w[1:], false)
	if err != nil {
		return err
	}
	o, err := parseOpts(rest)
	if err != nil {
		return err
	}
	v6 := src.Addr().Is6()
	s := testpkt.Spec{Src: src.Addr().String(), Dst: dst.Addr().String(), Proto: "icmp"}
	if v6 {
		s.Proto = "icmpv6"
	}
	ttl, err := o.int("ttl", 64)
	if err != nil {
		return err
	}
	s.TTL = uint8(ttl)
	if w[0] == "proto" {
		n, err := o.int("proto", -1)
		if err != nil || n < 0 {
			return fmt.Errorf("proto=N required")
		}
		s.Proto = strconv.Itoa(n)
		ln, err := o.int("len", 0)
		if err != nil {
			return err
		}
		s.Payload = bytes.Repeat([]byte{'x'}, ln)
		if err := o.done(); err != nil {
			return err
		}
		return p.emit(s)
	}
	def := "echo-request"
	if w[0] == "icmperr" {
		def = "destination-unreachable"
	}
	if s.Type, err = icmpType(o.str("type", def), v6); err != nil {
		return err
	}
	code, err1 := o.int("code", 0)
	id, err2 := o.int("id", 1)
	seq, err3 := o.int("seq", 1)
	count, err4 := o.int("count", 1)
	for _, e := range []error{err1, err2, err3, err4} {
		if e != nil {
			return e
		}
	}
	s.Code, s.ID, s.EchoSeq = uint8(code), uint16(id), uint16(seq)
	if err := o.done(); err != nil {
		return err
	}
	if w[0] == "icmperr" {
		if len(inner) == 0 {
			return fmt.Errorf("icmperr needs inner PROTO SRC > DST")
		}
		in, err := innerSpec(inner)
		if err != nil {
			return fmt.Errorf("inner: %w", err)
		}
		s.Inner = &in
		return p.emit(s)
	}
	for i := 0; i < count; i++ {
		x := s
		x.EchoSeq = s.EchoSeq + uint16(i)
		if err := p.emit(x); err != nil {
			return err
		}
	}
	return nil
}

// innerSpec parses the quoted packet of an ICMP error.
func innerSpec(w []string) (testpkt.Spec, error) {
	proto := w[0]
	ports := proto == "tcp" || proto == "udp"
	src, dst, rest, err := endpoints(w[1:], ports)
	if err != nil {
		return testpkt.Spec{}, err
	}
	o, err := parseOpts(rest)
	if err != nil {
		return testpkt.Spec{}, err
	}
	s := testpkt.Spec{Src: src.Addr().String(), Dst: dst.Addr().String(), Sport: src.Port(), Dport: dst.Port(), Proto: proto}
	v6 := src.Addr().Is6()
	switch proto {
	case "tcp":
		s.Flags = o.str("flags", "S")
		seq, err := o.int("seq", 1000)
		if err != nil {
			return s, err
		}
		s.Seq = uint32(seq)
	case "udp":
	case "icmp":
		if v6 {
			s.Proto = "icmpv6"
		}
		if s.Type, err = icmpType(o.str("type", "echo-request"), v6); err != nil {
			return s, err
		}
		id, err1 := o.int("id", 1)
		seq, err2 := o.int("seq", 1)
		if err1 != nil || err2 != nil {
			return s, fmt.Errorf("bad id/seq")
		}
		s.ID, s.EchoSeq = uint16(id), uint16(seq)
	default:
		return s, fmt.Errorf("inner protocol %q: want tcp, udp or icmp", proto)
	}
	ttl, err := o.int("ttl", 63)
	if err != nil {
		return s, err
	}
	s.TTL = uint8(ttl)
	return s, o.done()
}

func (p *trafficParser) handshake(c testpkt.Spec, o opts) error {
	data, err1 := o.int("data", 0)
	reply, err2 := o.int("reply", 0)
	isn, err3 := o.int("isn", 1000)
	risn, err4 := o.int("risn", 1000000)
	for _, e := range []error{err1, err2, err3, err4} {
		if e != nil {
			return e
		}
	}
	cl := o.str("close", "none")
	if err := o.done(); err != nil {
		return err
	}
	c.Proto = "tcp"
	sv := testpkt.Spec{Src: c.Dst, Dst: c.Src, Sport: c.Dport, Dport: c.Sport, Proto: "tcp", TTL: c.TTL}
	cs, ss := uint32(isn), uint32(risn)
	send := func(from testpkt.Spec, flags string, seq, ack uint32, n int) error {
		from.Flags, from.Seq, from.Ack = flags, seq, ack
		if n > 0 {
			from.Payload = bytes.Repeat([]byte{'x'}, n)
		}
		return p.emit(from)
	}
	steps := []func() error{
		func() error { return send(c, "S", cs, 0, 0) },
		func() error { return send(sv, "SA", ss, cs+1, 0) },
		func() error { cs++; ss++; return send(c, "A", cs, ss, 0) },
	}
	if data > 0 {
		steps = append(steps,
			func() error { return send(c, "PA", cs, ss, data) },
			func() error { cs += uint32(data); return send(sv, "A", ss, cs, 0) })
	}
	if reply > 0 {
		steps = append(steps,
			func() error { return send(sv, "PA", ss, cs, reply) },
			func() error { ss += uint32(reply); return send(c, "A", cs, ss, 0) })
	}
	switch cl {
	case "none":
		f := &tcpFlow{c: c, s: sv}
		steps = append(steps, func() error {
			f.cs, f.ss = cs, ss
			if p.flows == nil {
				p.flows = map[string]*tcpFlow{}
			}
			p.flows[flowKey(c, sv)] = f
			return nil
		})
	case "fin":
		steps = append(steps,
			func() error { return send(c, "FA", cs, ss, 0) },
			func() error { return send(sv, "FA", ss, cs+1, 0) },
			func() error { return send(c, "A", cs+1, ss+1, 0) })
	case "server-fin":
		steps = append(steps,
			func() error { return send(sv, "FA", ss, cs, 0) },
			func() error { return send(c, "FA", cs, ss+1, 0) },
			func() error { return send(sv, "A", ss+1, cs+1, 0) })
	case "half":
		steps = append(steps,
			func() error { return send(c, "FA", cs, ss, 0) },
			func() error { return send(sv, "A", ss, cs+1, 0) })
	case "rst":
		steps = append(steps, func() error { return send(c, "R", cs, 0, 0) })
	default:
		return fmt.Errorf("close=%s: want fin, server-fin, half, rst or none", cl)
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func flowKey(a, b testpkt.Spec) string {
	return fmt.Sprintf("%s:%d>%s:%d", a.Src, a.Sport, b.Src, b.Sport)
}

// say sends data on a connection a handshake left open and its ACK.
func (p *trafficParser) say(w []string) error {
	src, dst, rest, err := endpoints(w[1:], true)
	if err != nil {
		return err
	}
	o, err := parseOpts(rest)
	if err != nil {
		return err
	}
	data, ok, err := o.payload()
	if err != nil {
		return err
	}
	if !ok || len(data) == 0 {
		return fmt.Errorf("say needs payload=\"TEXT\"")
	}
	ack := o.str("ack", "yes")
	if err := o.done(); err != nil {
		return err
	}
	a := testpkt.Spec{Src: src.Addr().String(), Sport: src.Port()}
	b := testpkt.Spec{Src: dst.Addr().String(), Sport: dst.Port()}
	f, fromClient := p.flows[flowKey(a, b)], true
	if f == nil {
		f, fromClient = p.flows[flowKey(b, a)], false
	}
	if f == nil {
		return fmt.Errorf("no open connection %s:%d <-> %s:%d (handshake ... close=none first)", a.Src, a.Sport, b.Src, b.Sport)
	}
	from, to, seq, peer := f.c, f.s, &f.cs, &f.ss
	if !fromClient {
		from, to, seq, peer = f.s, f.c, &f.ss, &f.cs
	}
	from.Flags, from.Seq, from.Ack, from.Payload = "PA", *seq, *peer, data
	if err := p.emit(from); err != nil {
		return err
	}
	*seq += uint32(len(data))
	if ack == "no" {
		return nil
	}
	to.Flags, to.Seq, to.Ack = "A", *peer, *seq
	return p.emit(to)
}
