package vm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket/pcapgo"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
)

const (
	L4   = ruleset.MetaL4proto
	NFP  = ruleset.MetaNfproto
	TH   = ruleset.BaseTransport
	NET  = ruleset.BaseNetwork
	Eq   = ruleset.CmpEq
	Neq  = ruleset.CmpNeq
	Acc  = ruleset.VerdictAccept
	Drop = ruleset.VerdictDrop
	Ret  = ruleset.VerdictReturn
	Jmp  = ruleset.VerdictJump
	Goto = ruleset.VerdictGoto
)

// chainsJumpGotoReturn is ../shared/scenarios/chains-jump-goto-return/ruleset.nft
// written as the bytecode nft 1.0.6 sends (nft --debug=netlink -c -f).
func chainsJumpGotoReturn() *ruleset.Table {
	tcpDport := func(port uint32) []ruleset.Expr {
		return []ruleset.Expr{
			metaLoad(L4),      // [ meta load l4proto => reg 1 ]
			cmpw(Eq, 1, 6),    // [ cmp eq reg 1 0x00000006 ]
			payload(TH, 2, 2), // [ payload load 2b @ transport header + 2 => reg 1 ]
			cmpw(Eq, 2, port), // [ cmp eq reg 1 0x0000PPPP ]
		}
	}
	udpDport := func(port uint32) []ruleset.Expr {
		return []ruleset.Expr{metaLoad(L4), cmpw(Eq, 1, 17), payload(TH, 2, 2), cmpw(Eq, 2, port)}
	}
	cat := func(a []ruleset.Expr, b ...ruleset.Expr) []ruleset.Expr { return append(a, b...) }
	return table(ruleset.FamilyINet, "filter",
		user("from_wan",
			r(5, cat(tcpDport(0x1600), counter(), imm(Ret))...),           // tcp dport 22 counter return
			r(6, cat(tcpDport(0x5000), counter(), imm(Acc))...),           // tcp dport 80 counter accept
			r(7, cat(udpDport(0x3500), counter(), jumpTo(Jmp, "dns"))...), // [ immediate reg 0 jump -> dns ]
			r(8, counter()), // [ counter pkts 0 bytes 0 ]
		),
		user("dns",
			r(9, metaLoad(NFP), cmpw(Eq, 1, 2), // [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ]
				payload(NET, 12, 4), cmpw(Eq, 4, 0x356433c6), // [ payload load 4b @ network header + 12 => reg 1 ] [ cmp eq reg 1 0x356433c6 ]
				counter(), imm(Acc)),
			r(10, counter(), imm(Ret)), // [ immediate reg 0 return ]
		),
		user("from_lan",
			r(11, cat(udpDport(0x7b00), counter(), imm(Acc))...),
			r(12, counter()),
		),
		base("forward", ruleset.HookForward, 0, Drop,
			r(13, metaLoad(NFP), cmpw(Eq, 1, 2),
				payload(NET, 12, 3), cmpw(Eq, 3, 0x006433c6), // [ payload load 3b @ network header + 12 => reg 1 ] [ cmp eq reg 1 0x006433c6 ]
				counter(), jumpTo(Jmp, "from_wan")),
			r(14, metaLoad(NFP), cmpw(Eq, 1, 2),
				payload(NET, 12, 3), cmpw(Eq, 3, 0x007100cb),
				counter(), jumpTo(Goto, "from_lan")), // [ immediate reg 0 goto -> from_lan ]
			r(15, cat(tcpDport(0x1600), counter(), imm(Acc))...),
			r(16, counter()),
		),
	)
}

type kernelVerdict struct {
	Index     int             `json:"index"`
	Verdict   string          `json:"verdict"`
	DecidedBy json.RawMessage `json:"decided_by"`
}

type kernelCounter struct {
	Chain   string `json:"chain"`
	Index   int    `json:"index"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

type kernelJSON struct {
	Verdicts       []kernelVerdict `json:"verdicts"`
	Counters       []kernelCounter `json:"counters"`
	ConntrackCount int             `json:"conntrack_count"`
}

// kernelDecided renders kernel.json's decided_by like decided().
func kernelDecided(raw json.RawMessage) string {
	var d map[string]any
	if json.Unmarshal(raw, &d) != nil || d == nil {
		return "none"
	}
	if k, ok := d["kernel"]; ok {
		return fmt.Sprint("kernel:", k)
	}
	if d["handle"] == "policy" {
		return fmt.Sprint(d["chain"], ":policy")
	}
	return fmt.Sprint(d["chain"], ":", d["rule_index"])
}

// replayScenario runs a kernel-recorded scenario's capture through m the
// way the oracle injects it (each packet on its source's side) and returns
// the kernel's record.
func replayScenario(t *testing.T, name string, m *Machine, local func(*packet.Packet) bool) (kernelJSON, []Result) {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "scenarios", name)
	f, err := os.Open(filepath.Join(dir, "packets.pcap"))
	if err != nil {
		t.Skipf("scenario %s not available: %v", name, err)
	}
	defer f.Close()
	var k kernelJSON
	kb, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Skip(err)
	}
	if err := json.Unmarshal(kb, &k); err != nil {
		t.Fatal(err)
	}
	rd, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []Result
	for {
		data, ci, err := rd.ReadPacketData()
		if err != nil {
			break
		}
		p := new(packet.Packet)
		if err := p.Decode(packet.LinkType(rd.LinkType()), data); err != nil {
			t.Fatal(err)
		}
		now := ci.Timestamp.UnixNano()
		m.Advance(now)
		if local != nil && local(p) {
			out = append(out, m.Send(p, now))
		} else {
			out = append(out, m.Receive(p, "", now))
		}
	}
	if len(out) != len(k.Verdicts) {
		t.Fatalf("%d packets, kernel.json has %d verdicts", len(out), len(k.Verdicts))
	}
	return k, out
}

func checkVerdicts(t *testing.T, k kernelJSON, out []Result) {
	t.Helper()
	for i, res := range out {
		want := k.Verdicts[i]
		got := "accept"
		if res.Verdict == ruleset.VerdictDrop {
			got = "drop"
		}
		if got != want.Verdict || decided(res) != kernelDecided(want.DecidedBy) {
			t.Errorf("packet %d: %s by %s, kernel: %s by %s", i, got, decided(res), want.Verdict, kernelDecided(want.DecidedBy))
		}
	}
}

func checkCounters(t *testing.T, k kernelJSON, snap *ruleset.Ruleset) {
	t.Helper()
	for _, kc := range k.Counters {
		var got *ruleset.Counter
		for _, tb := range snap.Tables {
			for _, c := range tb.Chains {
				if c.Name != kc.Chain || kc.Index >= len(c.Rules) {
					continue
				}
				for _, e := range c.Rules[kc.Index].Exprs {
					if x, ok := e.(*ruleset.Counter); ok {
						got = x
					}
				}
			}
		}
		if got == nil || got.Packets != kc.Packets || got.Bytes != kc.Bytes {
			t.Errorf("counter %s[%d] = %+v, kernel packets %d bytes %d", kc.Chain, kc.Index, got, kc.Packets, kc.Bytes)
		}
	}
}

// TestScenarioChainsJumpGotoReturn replays the kernel-recorded scenario
// through the hand-built bytecode: jump+return, jump+accept, goto falling
// off to the policy, nested jumps — verdicts, deciders and counters as
// Linux 6.18 recorded them, and no conntrack (no ct expression).
func TestScenarioChainsJumpGotoReturn(t *testing.T) {
	m := newMachine(t, routerHost(), chainsJumpGotoReturn())
	k, out := replayScenario(t, "chains-jump-goto-return", m, nil)
	checkVerdicts(t, k, out)
	checkCounters(t, k, m.Snapshot(0))
	if m.ctActive {
		t.Errorf("conntrack active for a ruleset without ct expressions")
	}
}
