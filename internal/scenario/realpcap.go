package scenario

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// ErrNoSource: a `pcap shared:...` statement names a capture that is not on
// this machine (the reference material beside the repository is missing).
var ErrNoSource = errors.New("source capture not available")

// SharedDir is where `pcap shared:PATH` captures are read from: $NFTGO_SHARED,
// else ../shared beside the repository (found by walking up to go.mod).
func SharedDir(from string) string {
	if d := os.Getenv("NFTGO_SHARED"); d != "" {
		return d
	}
	dir, _ := filepath.Abs(from)
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared")
		}
		if filepath.Dir(d) == d {
			return "../shared"
		}
	}
}

// pcapStatement is `pcap SOURCE map=OLD=NEW,... [time=capture] [ttl=N]`:
// the IP packets of a real capture, every address rewritten through the map
// (an address missing from it is an error), TTL/hop limit set to 64, IP and
// L4 checksums recomputed (the addresses quoted in ICMP errors are mapped
// too). Packets follow each other at the current gap unless time=capture.
// Non-IP frames are left out. The capture itself is read at generation time,
// never copied into the repository.
func (p *trafficParser) pcapStatement(w []string) error {
	if len(w) < 2 {
		return fmt.Errorf("pcap SOURCE map=OLD=NEW,...")
	}
	src := w[1]
	if rest, ok := strings.CutPrefix(src, "shared:"); ok {
		src = filepath.Join(SharedDir(p.dir), rest)
	} else if !filepath.IsAbs(src) {
		src = filepath.Join(p.dir, src)
	}
	amap := map[netip.Addr]netip.Addr{}
	captureTime := false
	ttl := 64
	for _, x := range w[2:] {
		k, v, ok := strings.Cut(x, "=")
		if !ok {
			return fmt.Errorf("want key=value, got %q", x)
		}
		switch k {
		case "map":
			for _, pair := range strings.Split(v, ",") {
				o, n, ok := strings.Cut(pair, "=")
				oa, err1 := netip.ParseAddr(o)
				na, err2 := netip.ParseAddr(n)
				if !ok || err1 != nil || err2 != nil || oa.Is4() != na.Is4() {
					return fmt.Errorf("map %q: want OLD=NEW of one family", pair)
				}
				amap[oa] = na
			}
		case "time":
			captureTime = v == "capture"
		case "ttl":
			if _, err := fmt.Sscan(v, &ttl); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown option %s", k)
		}
	}
	frames, err := readCapture(src)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%w: %s", ErrNoSource, src)
		}
		return err
	}
	var t0 time.Time
	for i, f := range frames {
		b, err := remap(f.data, amap, uint8(ttl))
		if err != nil {
			return fmt.Errorf("%s packet %d: %w", filepath.Base(src), i, err)
		}
		if b == nil {
			continue
		}
		if captureTime && len(p.recs) > 0 {
			p.t = p.t.Add(f.ts.Sub(t0))
			p.recs = append(p.recs, testpkt.Record{Time: p.t.Add(p.extra), Data: b})
			p.extra = 0
			t0 = f.ts
			continue
		}
		t0 = f.ts
		if len(p.recs) > 0 {
			p.t = p.t.Add(p.gap)
		}
		p.t = p.t.Add(p.extra)
		p.extra = 0
		p.recs = append(p.recs, testpkt.Record{Time: p.t, Data: b})
	}
	return nil
}

type frame struct {
	ts   time.Time
	data []byte // network layer
}

// readCapture returns the network-layer bytes of every IP frame of a pcap or
// pcapng file (optionally gzipped).
func readCapture(path string) ([]frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(r); err != nil {
			return nil, err
		}
	}
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	type src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var s src
	var lt layers.LinkType
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, err
		}
		s, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, err
		}
		s, lt = pr, pr.LinkType()
	}
	var out []frame
	var pk packet.Packet
	for {
		data, ci, err := s.ReadPacketData()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if pk.Decode(packet.LinkType(lt), data) != nil {
			continue
		}
		out = append(out, frame{ts: ci.Timestamp, data: append([]byte(nil), pk.Network()...)})
	}
}

// remap rewrites addresses, TTL and checksums of one IP packet; nil for a
// packet it leaves out (fragments other than the first).
func remap(b []byte, amap map[netip.Addr]netip.Addr, ttl uint8) ([]byte, error) {
	first := layers.LayerTypeIPv4
	if b[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	pk := gopacket.NewPacket(b, first, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
	mapIP := func(ip net.IP) (net.IP, error) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return nil, fmt.Errorf("bad address %v", ip)
		}
		a = a.Unmap()
		n, ok := amap[a]
		if !ok {
			return nil, fmt.Errorf("address %s not in map", a)
		}
		return net.IP(n.AsSlice()), nil
	}
	var ls []gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	var err error
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		if ip.FragOffset != 0 {
			return nil, nil
		}
		if ip.SrcIP, err = mapIP(ip.SrcIP); err != nil {
			return nil, err
		}
		if ip.DstIP, err = mapIP(ip.DstIP); err != nil {
			return nil, err
		}
		ip.TTL = ttl
		ip.Options, ip.IHL = nil, 5
		nl = ip
	case *layers.IPv6:
		if ip.SrcIP, err = mapIP(ip.SrcIP); err != nil {
			return nil, err
		}
		if ip.DstIP, err = mapIP(ip.DstIP); err != nil {
			return nil, err
		}
		ip.HopLimit = ttl
		nl = ip
	default:
		return nil, fmt.Errorf("not an IP packet")
	}
	ls = append(ls, nl.(gopacket.SerializableLayer))
	tl := pk.TransportLayer()
	var payload []byte
	switch l := tl.(type) {
	case *layers.TCP:
		l.SetNetworkLayerForChecksum(nl)
		l.Options, l.Padding = keepTCPOptions(l), nil
		ls = append(ls, l)
		payload = l.LayerPayload()
	case *layers.UDP:
		l.SetNetworkLayerForChecksum(nl)
		ls = append(ls, l)
		payload = l.LayerPayload()
	default:
		if ic := pk.Layer(layers.LayerTypeICMPv4); ic != nil {
			l := ic.(*layers.ICMPv4)
			ls = append(ls, l)
			payload = append([]byte(nil), l.LayerPayload()...)
			if t := l.TypeCode.Type(); t == 3 || t == 11 || t == 12 {
				if err := remapQuoted(payload, mapIP); err != nil {
					return nil, err
				}
			}
		} else if ic := pk.Layer(layers.LayerTypeICMPv6); ic != nil {
			l := ic.(*layers.ICMPv6)
			l.SetNetworkLayerForChecksum(nl)
			ls = append(ls, l)
			payload = append([]byte(nil), l.LayerPayload()...)
		} else {
			// other protocols: the IP payload as it is
			payload = nl.LayerPayload()
		}
	}
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// keepTCPOptions returns the options as decoded; gopacket re-serialises
// them with their padding.
func keepTCPOptions(l *layers.TCP) []layers.TCPOption { return l.Options }

// remapQuoted maps the addresses of the IPv4 header an ICMP error quotes
// (after the 4 unused bytes) and fixes its header checksum.
func remapQuoted(p []byte, mapIP func(net.IP) (net.IP, error)) error {
	q := p
	if len(q) < 4+20 || q[4]>>4 != 4 {
		return nil
	}
	h := q[4:]
	ihl := int(h[0]&0xf) * 4
	if ihl < 20 || len(h) < ihl {
		return nil
	}
	s, err := mapIP(net.IP(h[12:16]))
	if err != nil {
		return fmt.Errorf("quoted source: %w", err)
	}
	d, err := mapIP(net.IP(h[16:20]))
	if err != nil {
		return fmt.Errorf("quoted destination: %w", err)
	}
	copy(h[12:16], s.To4())
	copy(h[16:20], d.To4())
	h[10], h[11] = 0, 0
	var sum uint32
	for i := 0; i < ihl; i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	h[10], h[11] = byte(c>>8), byte(c)
	return nil
}
