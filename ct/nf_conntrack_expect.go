package ct

import (
	"io"
	"strconv"

	"github.com/nftgo/nftgo/packet"
)

// Expectations: a tuple (source port wildcarded) a helper or an `ct
// expectation` object announces; the first new connection that matches
// one is RELATED to the expectation's master.

// expectClassMax is NF_CT_MAX_EXPECT_CLASSES.
const expectClassMax = 4

// expect is one expectation (struct nf_conntrack_expect). Its mask is the
// one every helper nftgo implements uses (nf_ct_expect_init with a source
// address and no source port): source address, destination address and
// port, protocol and family must match; the source port is free.
type expect struct {
	tuple    Tuple // SrcPort unused
	master   *Conn
	zone     uint16
	class    uint8
	deadline uint32 // jiffies
	// follow is expectfn = nf_nat_follow_master, set by the NAT side of
	// a helper: the new connection is NATed like its master's direction
	// dir, to port savedPort.
	follow    bool
	dir       uint8
	savedPort uint16
}

// Results of expectRelated (the kernel's errnos).
const (
	expOK = iota
	expAlready
	expBusy
	expMFile
)

// Expectation is an expectation as `conntrack -L expect` shows it.
type Expectation struct {
	Tuple    Tuple // SrcPort is 0: any source port
	Master   Tuple // the master's original tuple
	Deadline int64 // replay time (ns) at which it expires
}

// Expectations lists the live expectations, oldest first.
func (t *Table) Expectations(now int64) []Expectation {
	j := jiffies(now)
	var out []Expectation
	for i := range t.expects {
		x := &t.expects[i]
		if int32(x.deadline-j) <= 0 {
			continue
		}
		out = append(out, Expectation{Tuple: x.tuple, Master: x.master.orig, Deadline: now + int64(int32(x.deadline-j))*jiffyNS})
	}
	return out
}

// matches is nf_ct_tuple_mask_cmp with the expectation's mask.
func (x *expect) matches(tup *Tuple) bool {
	return x.tuple.Src == tup.Src && x.tuple.Dst == tup.Dst && x.tuple.DstPort == tup.DstPort &&
		x.tuple.L3 == tup.L3 && x.tuple.Proto == tup.Proto
}

// expectLookup is init_conntrack's search for an expectation matching the
// new entry c: the newest live one whose master is confirmed and alive,
// in the same zone. It is consumed (unlinked) at once, even if the packet
// is dropped later. The entry becomes EXPECTED, with the master's mark.
//
// Ref: net/netfilter/nf_conntrack_core.c — init_conntrack;
// net/netfilter/nf_conntrack_expect.c — nf_ct_find_expectation
func (t *Table) expectLookup(c *Conn, j uint32) bool {
	for i := len(t.expects) - 1; i >= 0; i-- {
		x := &t.expects[i]
		if int32(x.deadline-j) <= 0 || x.zone != c.Zone || !x.matches(&c.orig) {
			continue
		}
		m := x.master
		if m.Status&(StatusConfirmed|StatusDying) != StatusConfirmed || expired(m, j) {
			return false
		}
		follow, dir, port := x.follow, x.dir, x.savedPort
		t.removeExpect(i)
		c.Status |= StatusExpected
		c.Mark = m.Mark
		if me := t.extFind(m); me != nil && me.helper != nil {
			t.extOf(c).master = me.helper
		}
		if follow {
			t.natFollowMaster(c, m, dir, port)
		}
		return true
	}
	return false
}

// removeExpect unlinks expectation i (nf_ct_unlink_expect).
func (t *Table) removeExpect(i int) {
	x := &t.expects[i]
	if me := t.extFind(x.master); me != nil && me.expecting[x.class] > 0 {
		me.expecting[x.class]--
	}
	t.expects = append(t.expects[:i], t.expects[i+1:]...)
}

// removeExpectations drops every expectation of master c.
//
// Ref: net/netfilter/nf_conntrack_expect.c — nf_ct_remove_expectations
func (t *Table) removeExpectations(c *Conn) {
	for i := len(t.expects) - 1; i >= 0; i-- {
		if t.expects[i].master == c {
			t.removeExpect(i)
		}
	}
}

// expectGC removes the expectations whose timer has fired by j.
//
// Ref: net/netfilter/nf_conntrack_expect.c — nf_ct_expectation_timed_out
func (t *Table) expectGC(j uint32) {
	for i := len(t.expects) - 1; i >= 0; i-- {
		if int32(t.expects[i].deadline-j) <= 0 {
			t.removeExpect(i)
		}
	}
}

// expectRelated registers x for its master (whose help extension is me,
// with helper h or none): an identical expectation of the same master is
// replaced, one of another master covering the same tuples is a clash,
// the helper's max_expected evicts the master's oldest, and
// nf_conntrack_expect_max bounds the table. A helper's policy sets the
// timeout; without one x.deadline stands. false means the caller drops
// the packet.
//
// Ref: net/netfilter/nf_conntrack_expect.c — __nf_ct_expect_check, nf_ct_expect_insert, evict_oldest_expect
func (t *Table) expectRelated(x expect, me *connExt, h *Helper, j uint32) bool {
	return t.expectRelatedErr(x, me, h, j) == expOK
}

// expectRelatedErr is expectRelated with the reason of a failure.
func (t *Table) expectRelatedErr(x expect, me *connExt, h *Helper, j uint32) int {
	t.expectGC(j)
	for i := range t.expects {
		o := &t.expects[i]
		same := o.tuple == x.tuple && o.zone == x.zone
		if o.master == x.master && same {
			if o.class != x.class {
				return expAlready
			}
			t.removeExpect(i)
			break
		}
		if o.zone == x.zone && o.matches(&x.tuple) {
			return expBusy // expect_clash
		}
	}
	if h != nil && h.maxExpected > 0 && me.expecting[x.class] >= h.maxExpected {
		for i := range t.expects {
			if t.expects[i].master == x.master && t.expects[i].class == x.class {
				t.removeExpect(i)
				break
			}
		}
		if me.expecting[x.class] >= h.maxExpected {
			return expMFile
		}
	}
	if t.expectMax >= 0 && len(t.expects) >= t.expectMax {
		if t.log != nil {
			t.log(t.now, "nf_conntrack: expectation table full")
		}
		return expMFile
	}
	if h != nil {
		x.deadline = j + h.timeout*hz
	}
	t.expects = append(t.expects, x)
	me.expecting[x.class]++
	return expOK
}

// ExpectResult is the outcome of an `ct expectation` object.
type ExpectResult uint8

const (
	ExpectAdded ExpectResult = iota
	ExpectBreak              // NFT_BREAK: no entry, confirmed, or size reached
	ExpectDrop               // NF_DROP: the expectation could not be added
)

// Expect is nft_ct_expect_obj_eval for the packet's unconfirmed entry c
// with ctinfo info: an expectation from the other side's source to its
// destination, protocol l4 and destination port dport (host order), any
// source port, lasting timeout jiffies, at most size per entry. l3 is the
// object's family (NFPROTO_INET takes the entry's).
//
// Ref: net/netfilter/nft_ct.c — nft_ct_expect_obj_eval
func (t *Table) Expect(c *Conn, info Info, l3, l4 uint8, dport uint16, timeout uint32, size uint8, now int64) ExpectResult {
	if c == nil || c.Status&StatusConfirmed != 0 {
		return ExpectBreak
	}
	j := jiffies(now)
	t.now = now
	e := t.extOf(c)
	e.help = true
	if e.expecting[0] >= size {
		return ExpectBreak
	}
	if l3 == 1 { // NFPROTO_INET
		l3 = c.orig.L3
	}
	other := c.TupleDir(1 - Direction(info))
	x := expect{master: c, zone: c.Zone, deadline: j + timeout}
	x.tuple = Tuple{L3: l3, Proto: l4, DstPort: dport}
	n := 16
	if l3 == 2 { // NFPROTO_IPV4 copies 4 bytes of each address
		n = 4
	}
	copy(x.tuple.Src[:n], other.Src[:n])
	copy(x.tuple.Dst[:n], other.Dst[:n])
	if !t.expectRelated(x, e, e.helper, j) {
		return ExpectDrop
	}
	return ExpectAdded
}

// WriteExpectList writes the expectations as `conntrack -L expect` prints
// them: remaining seconds, protocol, tuple, masks, the master's tuple,
// class and the master's helper.
//
// Ref: libnetfilter_conntrack src/expect/snprintf_default.c — __snprintf_expect_default
func (t *Table) WriteExpectList(w io.Writer, now int64) error {
	j := jiffies(now)
	for i := range t.expects {
		x := &t.expects[i]
		rem := int32(x.deadline - j)
		if rem <= 0 {
			continue
		}
		b := strconv.AppendUint(nil, uint64(rem/hz), 10)
		b = append(b, " proto="...)
		b = strconv.AppendUint(b, uint64(x.tuple.Proto), 10)
		b = append(b, " src="...)
		b = append(b, addr(&x.tuple.Src, x.tuple.L3)...)
		b = append(b, " dst="...)
		b = append(b, addr(&x.tuple.Dst, x.tuple.L3)...)
		b = append(b, " sport=0 dport="...)
		b = strconv.AppendUint(b, uint64(x.tuple.DstPort), 10)
		full := "255.255.255.255"
		if x.tuple.L3 == packet.NFProtoIPv6 {
			full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
		}
		b = append(b, " mask-src="+full+" mask-dst="+full+" sport=0 dport=65535 "...)
		m := x.master.orig
		b = append(b, "master-src="...)
		b = append(b, addr(&m.Src, m.L3)...)
		b = append(b, " master-dst="...)
		b = append(b, addr(&m.Dst, m.L3)...)
		b = append(b, " sport="...)
		b = strconv.AppendUint(b, uint64(m.SrcPort), 10)
		b = append(b, " dport="...)
		b = strconv.AppendUint(b, uint64(m.DstPort), 10)
		b = append(b, ' ')
		b = append(b, "class="...)
		b = strconv.AppendUint(b, uint64(x.class), 10)
		if h := t.Helper(x.master); h != nil {
			b = append(b, " helper="...)
			b = append(b, h.Name...)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
