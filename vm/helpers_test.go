package vm

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

// IR builders for hand-written rules. Each test writes the
// `nft --debug=netlink` line beside the literal it builds.

func metaLoad(k ruleset.MetaKey) *ruleset.Meta { return &ruleset.Meta{Key: k, DReg: 1} }

func payload(base ruleset.PayloadBase, off, n uint32) *ruleset.Payload {
	return &ruleset.Payload{Base: base, Offset: off, Len: n, DReg: 1}
}

// cmpw builds a cmp on reg 1 from the words libnftnl prints (little-endian
// words), trimmed to n bytes.
func cmpw(op ruleset.CmpOp, n int, words ...uint32) *ruleset.Cmp {
	return &ruleset.Cmp{Op: op, SReg: 1, Data: wordBytes(n, words...)}
}

func wordBytes(n int, words ...uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b[:n]
}

func imm(v ruleset.VerdictCode) *ruleset.Immediate {
	return &ruleset.Immediate{Verdict: ruleset.Verdict{Code: v}}
}

func jumpTo(v ruleset.VerdictCode, c string) *ruleset.Immediate {
	return &ruleset.Immediate{Verdict: ruleset.Verdict{Code: v, Chain: c}}
}

func counter() *ruleset.Counter { return &ruleset.Counter{} }

// r makes a rule with the given handle.
func r(h uint64, es ...ruleset.Expr) *ruleset.Rule { return &ruleset.Rule{Handle: h, Exprs: es} }

func base(name string, hook ruleset.Hook, prio int32, policy ruleset.VerdictCode, rules ...*ruleset.Rule) *ruleset.Chain {
	return &ruleset.Chain{Name: name, Hook: &ruleset.ChainHook{Type: "filter", Hook: hook, Priority: prio, Policy: ruleset.Verdict{Code: policy}}, Rules: rules}
}

func user(name string, rules ...*ruleset.Rule) *ruleset.Chain {
	return &ruleset.Chain{Name: name, Rules: rules}
}

func table(f ruleset.Family, name string, chains ...*ruleset.Chain) *ruleset.Table {
	return &ruleset.Table{Family: f, Name: name, Chains: chains}
}

// routerHost is the kernel scenarios' forward topology.
func routerHost() Host {
	return Host{
		Ifaces: []Iface{
			{Name: "wan", Prefix: []netip.Prefix{netip.MustParsePrefix("198.51.100.254/24"), netip.MustParsePrefix("2001:db8:1::fffe/64")}},
			{Name: "lan", Prefix: []netip.Prefix{netip.MustParsePrefix("203.0.113.254/24"), netip.MustParsePrefix("2001:db8:2::fffe/64")}},
		},
		Routes: []Route{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Iface: "wan"}, {Prefix: netip.MustParsePrefix("::/0"), Iface: "wan"}},
	}
}

func newMachine(t testing.TB, host Host, tables ...*ruleset.Table) *Machine {
	t.Helper()
	m, err := New(&ruleset.Ruleset{Tables: tables}, Config{Host: host})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func pkt(t testing.TB, s testpkt.Spec) *packet.Packet {
	t.Helper()
	b, err := testpkt.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	p := new(packet.Packet)
	if err := p.Decode(packet.LinkRaw, b); err != nil {
		t.Fatal(err)
	}
	return p
}

// decided renders a decision as the scenario goldens do.
func decided(res Result) string {
	if res.KernelDrop != "" {
		return "kernel:" + res.KernelDrop
	}
	d := res.Decided
	if d == nil {
		return "none"
	}
	if d.Policy {
		return d.Chain + ":policy"
	}
	return d.Chain + ":" + itoa(d.RuleIndex)
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
