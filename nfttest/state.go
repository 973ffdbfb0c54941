package nfttest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nftgo/nftgo/compiler/list"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/replay"
	"github.com/nftgo/nftgo/ruleset"
)

// counterValues reads a counter expression of a snapshot.
func counterValues(x ruleset.Expr) (packets, bytes uint64) {
	if c, ok := x.(*ruleset.Counter); ok {
		return c.Packets, c.Bytes
	}
	return 0, 0
}

// setElements lists a set's elements as `nft list set` prints them, from
// the machine's snapshot.
func setElements(rp *replay.Replay, e *End, now int64) ([]string, error) {
	rs := rp.M.Snapshot(now)
	for _, t := range rs.Tables {
		if t.Family.String() != e.Family || t.Name != e.Table {
			continue
		}
		for _, s := range t.Sets {
			if s.Name != e.Name {
				continue
			}
			one := *t
			one.Chains, one.Objects = nil, nil
			one.Sets = []*ruleset.Set{s}
			var b bytes.Buffer
			if err := list.Text(&b, &ruleset.Ruleset{Tables: []*ruleset.Table{&one}}, list.Options{}); err != nil {
				return nil, err
			}
			return elementsOf(b.String()), nil
		}
	}
	return nil, fmt.Errorf("no set %s %s %s in the ruleset", e.Family, e.Table, e.Name)
}

// elementsOf extracts the elements of `elements = { … }` from a listing.
func elementsOf(listing string) []string {
	i := strings.Index(listing, "elements = {")
	if i < 0 {
		return nil
	}
	s := listing[i+len("elements = {"):]
	depth := 1
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return splitElements(s[:j])
			}
		}
	}
	return splitElements(s)
}

// tupleText prints a conntrack tuple as an `expect conntrack` line names
// it: "tcp A:P > B:P", "icmp A > B".
func tupleText(t ct.Tuple) string {
	var src, dst netip.Addr
	if t.L3 == packet.NFProtoIPv4 {
		src, dst = netip.AddrFrom4([4]byte(t.Src[:4])), netip.AddrFrom4([4]byte(t.Dst[:4]))
	} else {
		src, dst = netip.AddrFrom16(t.Src), netip.AddrFrom16(t.Dst)
	}
	switch t.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		name := "tcp"
		if t.Proto == packet.ProtoUDP {
			name = "udp"
		}
		return fmt.Sprintf("%s %s > %s", name, netip.AddrPortFrom(src, t.SrcPort), netip.AddrPortFrom(dst, t.DstPort))
	case packet.ProtoICMP:
		return fmt.Sprintf("icmp %s > %s", src, dst)
	case packet.ProtoICMPv6:
		return fmt.Sprintf("icmpv6 %s > %s", src, dst)
	}
	return fmt.Sprintf("proto %d %s > %s", t.Proto, src, dst)
}

// canonTuple rewrites the tuple words of an `expect conntrack` line in
// tupleText's form (IPv6 addresses canonical).
func canonTuple(w []string) (string, error) {
	src, dst, err := ctTuple(w)
	if err != nil {
		return "", err
	}
	if w[0] == "tcp" || w[0] == "udp" {
		return fmt.Sprintf("%s %s > %s", w[0], src, dst), nil
	}
	return fmt.Sprintf("%s %s > %s", w[0], src.Addr(), dst.Addr()), nil
}

// ctEntryState is the state of the entry whose original tuple is tuple:
// the TCP state and the flags conntrack -L shows ("ESTABLISHED [ASSURED]",
// "[UNREPLIED]"), "present" for a non-TCP entry with neither flag, "none"
// when there is no such entry.
func ctEntryState(t *ct.Table, tuple string, now int64) string {
	for _, c := range t.Entries(now) {
		if tupleText(c.Orig()) != tuple {
			continue
		}
		var w []string
		if s := c.TCPState(); s != "" {
			w = append(w, s)
		}
		if c.Status&ct.StatusSeenReply == 0 {
			w = append(w, "[UNREPLIED]")
		}
		if c.Status&ct.StatusAssured != 0 {
			w = append(w, "[ASSURED]")
		}
		if len(w) == 0 {
			return "present"
		}
		return strings.Join(w, " ")
	}
	return "none"
}
