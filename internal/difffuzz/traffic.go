package difffuzz

import (
	"fmt"
	"strings"
)

// endpoint pair of a flow: client and server addresses of one family.
type pair struct {
	c, s string
	v6   bool
}

func (g *gen) pair() pair {
	v6 := g.chance(0.3)
	if g.local {
		l, rem := loc4, g.pick(wan4)
		if v6 {
			l, rem = loc6, g.pick(wan6)
		}
		if g.chance(0.5) {
			return pair{l, rem, v6}
		}
		return pair{rem, l, v6}
	}
	w, l := g.pick(wan4), g.pick(lan4)
	if v6 {
		w, l = g.pick(wan6), g.pick(lan6)
	}
	if g.chance(0.5) {
		return pair{w, l, v6}
	}
	return pair{l, w, v6}
}

func hp(a string, p int) string {
	if strings.Contains(a, ":") {
		return fmt.Sprintf("[%s]:%d", a, p)
	}
	return fmt.Sprintf("%s:%d", a, p)
}

// traffic writes 4-12 flows of mixed kinds, with an occasional pause long
// enough to cross a dynamic set's timeout.
func (g *gen) traffic() string {
	var b strings.Builder
	sport := 40000
	nextPort := func() int { sport++; return sport }
	var udpFlows []pair
	var udpPorts [][2]int
	n := 4 + g.r.Intn(9)
	if g.chance(0.3) {
		fmt.Fprintf(&b, "gap %dms\n", 1+g.r.Intn(30))
	}
	for i := 0; i < n; i++ {
		if g.timeouts && g.chance(0.15) {
			fmt.Fprintf(&b, "+%dms\n", 1200+g.r.Intn(2500))
			g.paused = true
		}
		p := g.pair()
		if g.ftp && g.chance(0.35) {
			g.ftpSession(&b, p, nextPort())
			sport++
			continue
		}
		switch k := g.r.Intn(13); k {
		case 0, 1:
			cl := g.pick([]string{"fin", "server-fin", "half", "rst", "none"})
			fmt.Fprintf(&b, "handshake %s > %s data=%d reply=%d close=%s\n", hp(p.c, nextPort()), hp(p.s, g.port()),
				g.pick2(0, 50+g.r.Intn(200)), g.pick2(0, 100+g.r.Intn(900)), cl)
		case 2:
			fmt.Fprintf(&b, "syn %s > %s count=%d\n", hp(p.c, nextPort()), hp(p.s, g.port()), 1+g.r.Intn(3))
			sport += 3
		case 3:
			fmt.Fprintf(&b, "tcp %s > %s flags=%s seq=%d ack=%d\n", hp(p.c, nextPort()), hp(p.s, g.port()),
				g.pick([]string{"A", "R", "SF", "FA", "PA", "SR", "RA", "U", "FPU"}), 1000+g.r.Intn(5), g.r.Intn(3)*1000)
		case 4, 5:
			cp, sp := nextPort(), g.pick([]string{"53", "123", "5000", "5353", "9999"})
			fmt.Fprintf(&b, "udp %s > %s len=%d\n", hp(p.c, cp), hp(p.s, atoi(sp)), g.r.Intn(120))
			if g.chance(0.6) {
				fmt.Fprintf(&b, "udp %s > %s len=%d\n", hp(p.s, atoi(sp)), hp(p.c, cp), g.r.Intn(300))
			}
			udpFlows = append(udpFlows, p)
			udpPorts = append(udpPorts, [2]int{cp, atoi(sp)})
		case 6:
			id := 1 + g.r.Intn(50)
			fmt.Fprintf(&b, "icmp %s > %s type=echo-request id=%d seq=1\n", p.c, p.s, id)
			if g.chance(0.7) {
				fmt.Fprintf(&b, "icmp %s > %s type=echo-reply id=%d seq=1\n", p.s, p.c, id)
			}
		case 7:
			if len(udpFlows) > 0 {
				j := g.r.Intn(len(udpFlows))
				f, pp := udpFlows[j], udpPorts[j]
				ty, code := 3, 3
				if f.v6 {
					ty, code = 1, 4
				}
				fmt.Fprintf(&b, "icmperr %s > %s type=%d code=%d inner udp %s > %s\n", f.s, f.c, ty, code, hp(f.c, pp[0]), hp(f.s, pp[1]))
			} else {
				fmt.Fprintf(&b, "icmperr %s > %s type=%s code=0 inner udp %s > %s\n", p.s, p.c, g.pick([]string{"time-exceeded", "destination-unreachable"}), hp(p.c, 1), hp(p.s, 2))
			}
		case 8:
			fmt.Fprintf(&b, "proto %s > %s proto=%s len=%d\n", p.c, p.s, g.pick([]string{"47", "50", "132"}), 20+g.r.Intn(40))
		case 9: // NAT targets
			switch {
			case g.dnat4 && !p.v6 && !g.local:
				cp := nextPort()
				c := g.pick(wan4)
				fmt.Fprintf(&b, "syn %s > 203.0.113.200:8080\n", hp(c, cp))
				fmt.Fprintf(&b, "tcp 203.0.113.11:80 > %s flags=SA seq=500000 ack=1001\n", hp(c, cp))
				fmt.Fprintf(&b, "tcp %s > 203.0.113.200:8080 flags=A seq=1001 ack=500001\n", hp(c, cp))
			case g.dnat6 && !g.local:
				cp := nextPort()
				c := g.pick(wan6)
				fmt.Fprintf(&b, "syn %s > [2001:db8:2::200]:8080\n", hp(c, cp))
				fmt.Fprintf(&b, "tcp [2001:db8:2::11]:80 > %s flags=SA seq=500000 ack=1001\n", hp(c, cp))
			case g.snat4:
				cp := nextPort()
				c, s := g.pick(lan4[:2]), g.pick(wan4)
				fmt.Fprintf(&b, "syn %s > %s\n", hp(c, cp), hp(s, 80))
				fmt.Fprintf(&b, "tcp %s > %s flags=SA seq=500000 ack=1001\n", hp(s, 80), hp("198.51.100.250", cp))
			case g.redirect:
				fmt.Fprintf(&b, "handshake %s > %s\n", hp(g.pick(wan4), nextPort()), hp(loc4, 80))
			default:
				fmt.Fprintf(&b, "udp %s > %s\n", hp(p.c, nextPort()), hp(p.s, 5353))
			}
		case 10: // a retransmitted / late packet of an earlier flow shape
			cp := nextPort()
			fmt.Fprintf(&b, "handshake %s > %s close=%s\n", hp(p.c, cp), hp(p.s, g.port()), g.pick([]string{"fin", "rst"}))
			fmt.Fprintf(&b, "tcp %s > %s flags=A seq=1001 ack=1000001\n", hp(p.c, cp), hp(p.s, 22))
		case 11:
			fmt.Fprintf(&b, "udp %s > %s count=%d sport_step=0\n", hp(p.c, nextPort()), hp(p.s, g.port()), 2+g.r.Intn(4))
		default:
			fmt.Fprintf(&b, "tcp %s > %s flags=S seq=1000 ttl=%d\n", hp(p.c, nextPort()), hp(p.s, g.port()), g.pick2(1, 64))
		}
	}
	return b.String()
}

func (g *gen) pick2(a, b int) int {
	if g.chance(0.5) {
		return a
	}
	return b
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// ftpSession writes an FTP control connection to port 21 (left open) on
// which the client (active: PORT/EPRT) or the server (passive: 227/229)
// announces a data port, then a data connection to the announced port or,
// sometimes, to one nobody announced.
func (g *gen) ftpSession(b *strings.Builder, p pair, cport int) {
	c, s := hp(p.c, cport), hp(p.s, 21)
	dport := 30000 + g.r.Intn(20000)
	fmt.Fprintf(b, "handshake %s > %s close=none\n", c, s)
	fmt.Fprintf(b, "say %s > %s payload=\"220 ready\\r\\n\"\n", s, c)
	active := g.chance(0.5)
	var cmd, reply string
	switch {
	case active && !p.v6:
		cmd, reply = fmt.Sprintf("PORT %s,%d,%d", strings.ReplaceAll(p.c, ".", ","), dport>>8, dport&0xff), "200 ok"
	case active:
		cmd, reply = fmt.Sprintf("EPRT |2|%s|%d|", p.c, dport), "200 ok"
	case !p.v6 && g.chance(0.5):
		cmd, reply = "PASV", fmt.Sprintf("227 Entering Passive Mode (%s,%d,%d).", strings.ReplaceAll(p.s, ".", ","), dport>>8, dport&0xff)
	default:
		cmd, reply = "EPSV", fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", dport)
	}
	fmt.Fprintf(b, "say %s > %s payload=\"%s\\r\\n\"\n", c, s, cmd)
	fmt.Fprintf(b, "say %s > %s payload=\"%s\\r\\n\"\n", s, c, reply)
	if g.chance(0.2) {
		dport++ // not announced
	}
	if active {
		fmt.Fprintf(b, "handshake %s > %s data=%d close=%s\n", hp(p.s, 20), hp(p.c, dport), g.pick2(0, 100), g.pick([]string{"fin", "rst", "none"}))
	} else {
		fmt.Fprintf(b, "handshake %s > %s reply=%d close=%s\n", hp(p.c, cport+1), hp(p.s, dport), g.pick2(0, 300), g.pick([]string{"fin", "rst", "none"}))
	}
}
