package vm

import (
	"errors"
	"strings"
	"testing"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/ruleset"
)

// TestObjref: two rules and an objref map share one named counter; a
// named quota breaks once over; a ct helper reference is refused at load.
//
//	counter name "c1"                       [ objref type 1 name c1 ]
//	ip saddr counter name map { … }         [ payload load 4b @ network header + 12 => reg 1 ] [ objref sreg 1 set __objmap0 ]
//	quota name "q" accept                   [ objref type 2 name q ] [ immediate reg 0 accept ]
func TestObjref(t *testing.T) {
	mk := func(extra ...*ruleset.Rule) *ruleset.Table {
		tb := table(ruleset.FamilyIPv4, "t", base("f", ruleset.HookForward, 0, Drop, append([]*ruleset.Rule{
			r(1, &ruleset.Objref{Type: objCounter, ObjName: "c1"}),
			r(2, payload(NET, 12, 4), &ruleset.Objref{SReg: 1, SetName: "__objmap0"}),
			r(3, &ruleset.Objref{Type: objQuota, ObjName: "q"}, imm(Acc)),
		}, extra...)...))
		tb.Objects = []*ruleset.Object{
			{Kind: "counter", Name: "c1", Expr: &ruleset.Counter{}},
			{Kind: "counter", Name: "c2", Expr: &ruleset.Counter{}},
			{Kind: "quota", Name: "q", Expr: &ruleset.Quota{Bytes: 100}},
			{Kind: "ct helper", Name: "h", Attrs: []ruleset.ObjectAttr{{Key: "type", Value: "ftp"}, {Key: "protocol", Value: "tcp"}}},
		}
		tb.Sets = []*ruleset.Set{{Name: "__objmap0", ID: 1, Flags: ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetObject,
			KeyType: 7, KeyLen: 4, KeyTypeName: "ipv4_addr", ObjType: objCounter,
			Elements: []*ruleset.Element{
				{Key: []byte{203, 0, 113, 5}, ObjRef: "c1"},
				{Key: []byte{203, 0, 113, 6}, ObjRef: "c2"},
			}}}
		return tb
	}
	m := newMachine(t, routerHost(), mk())
	// 40-byte TCP packets: the quota (100 bytes) takes two, the third is over.
	var verdicts []ruleset.VerdictCode
	for i, src := range []string{"203.0.113.5", "203.0.113.6", "203.0.113.7"} {
		res := m.Receive(pkt(t, testpkt.Spec{Src: src, Dst: "198.51.100.7", Proto: "tcp", Sport: 1, Dport: 2, Flags: testpkt.SYN}), "lan", 1e18+int64(i))
		verdicts = append(verdicts, res.Verdict)
	}
	if want := []ruleset.VerdictCode{Acc, Acc, Drop}; !equalVerdicts(verdicts, want) {
		t.Errorf("verdicts %v, want %v", verdicts, want)
	}
	objs := m.Snapshot(1e18).Tables[0].Objects
	want := map[string][2]uint64{"c1": {4, 160}, "c2": {1, 40}}
	for _, o := range objs {
		switch x := o.Expr.(type) {
		case *ruleset.Counter:
			if got := [2]uint64{x.Packets, x.Bytes}; got != want[o.Name] {
				t.Errorf("counter %s = %v, want %v", o.Name, got, want[o.Name])
			}
		case *ruleset.Quota:
			if x.Consumed != 100 || x.Flags&ruleset.QuotaDepleted == 0 {
				t.Errorf("quota consumed %d flags %#x, want 100 depleted", x.Consumed, x.Flags)
			}
		}
	}
	_, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{mk(r(4, &ruleset.Objref{Type: 3, ObjName: "h"}))}}, Config{Host: routerHost()})
	if err != nil {
		t.Errorf("ct helper (ftp) reference: %v, want it loaded", err)
	}
	irc := mk()
	irc.Objects[3].Attrs[0].Value = "irc" // a helper Linux has and nftgo does not model
	if m, err := New(&ruleset.Ruleset{Tables: []*ruleset.Table{irc}}, Config{Host: routerHost()}); err != nil {
		t.Errorf("ct helper irc: %v, want it loaded as an inert helper", err)
	} else if n := m.Notes(); len(n) != 1 || !strings.Contains(n[0], `"irc"`) {
		t.Errorf("ct helper irc: notes %q, want one naming irc", n)
	}
	sip := mk()
	sip.Objects[3].Attrs[0].Value = "nosuch"
	if _, err = New(&ruleset.Ruleset{Tables: []*ruleset.Table{sip}}, Config{Host: routerHost()}); !errors.Is(err, errNoEnt) {
		t.Errorf("ct helper nosuch: %v, want ENOENT as Linux", err)
	}
	_, err = New(&ruleset.Ruleset{Tables: []*ruleset.Table{mk(r(4, &ruleset.Objref{Type: objCounter, ObjName: "nope"}))}}, Config{Host: routerHost()})
	if !errors.Is(err, errNoEnt) {
		t.Errorf("missing object: %v, want ENOENT", err)
	}
}

func equalVerdicts(a, b []ruleset.VerdictCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
