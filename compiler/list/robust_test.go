package list

import (
	"bytes"
	"testing"

	"github.com/nftgo/nftgo/ruleset"
)

// TestMalformedIR feeds expressions no compiler should emit (short data,
// registers never written, missing sets, empty masks): the listing must
// still come out, each rule printed without a recovered panic.
func TestMalformedIR(t *testing.T) {
	short := &ruleset.Set{Name: "s", Flags: ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetInterval, KeyLen: 4,
		Elements: []*ruleset.Element{{Key: []byte{1}}, {Key: nil, Flags: ruleset.ElemIntervalEnd}}}
	cat := &ruleset.Set{Name: "c", Flags: ruleset.SetConstant, KeyTypeName: "ipv4_addr . inet_service", KeyLen: 8, FieldLens: []uint32{4},
		Elements: []*ruleset.Element{{Key: []byte{1, 2, 3}}, {Key: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, KeyEnd: []byte{1}}}}
	m := &ruleset.Set{Name: "m", Flags: ruleset.SetAnonymous | ruleset.SetConstant | ruleset.SetMap, KeyLen: 2, DataLen: 4,
		Elements: []*ruleset.Element{{Key: []byte{0, 80}, Data: []byte{1}}, {Key: []byte{0, 81}}}}
	rules := [][]ruleset.Expr{
		{&ruleset.Cmp{SReg: 1}},
		{&ruleset.Payload{Base: ruleset.BaseNetwork, Offset: 12, Len: 0, DReg: 1}, &ruleset.Cmp{SReg: 1, Data: nil}},
		{&ruleset.Payload{Base: 9, Offset: 250, Len: 200, DReg: 1}, &ruleset.Cmp{SReg: 1, Data: []byte{1}}},
		{&ruleset.Lookup{Set: "missing", SReg: 3}},
		{&ruleset.Payload{Base: ruleset.BaseTransport, Offset: 2, Len: 2, DReg: 1}, &ruleset.Lookup{Set: "s", SReg: 1}},
		{&ruleset.Payload{Base: ruleset.BaseNetwork, Offset: 12, Len: 4, DReg: 1}, &ruleset.Lookup{Set: "c", SReg: 1}},
		{&ruleset.Payload{Base: ruleset.BaseTransport, Offset: 2, Len: 2, DReg: 1}, &ruleset.Lookup{Set: "m", SReg: 1, DReg: 2, HasDReg: true},
			&ruleset.Meta{Key: ruleset.MetaMark, Set: true, SReg: 2}},
		{&ruleset.Bitwise{SReg: 1, DReg: 1}, &ruleset.Cmp{SReg: 1, Op: ruleset.CmpNeq, Data: []byte{0}}},
		{&ruleset.Ct{Key: ruleset.CtState, DReg: 1}, &ruleset.Bitwise{SReg: 1, DReg: 1, Mask: []byte{1}}, &ruleset.Cmp{SReg: 1, Data: []byte{}}},
		{&ruleset.Range{SReg: 1, From: []byte{1, 2, 3}, To: nil}},
		{&ruleset.Dynset{Set: "nope", SRegKey: 1, Exprs: []ruleset.Expr{nil, &ruleset.Generic{Kind: "x"}}}},
		{&ruleset.NAT{Type: ruleset.NATDnat, AddrMin: 5, AddrMax: 6, ProtoMin: 7, ProtoMax: 8}},
		{&ruleset.Exthdr{Op: 99, Type: 3, Len: 0, DReg: 1}, &ruleset.Cmp{SReg: 1, Data: []byte{1}}},
		{&ruleset.Exthdr{Op: ruleset.ExthdrOpTCPOpt, Type: 2, Offset: 2, Len: 2, Write: true, SReg: 9}},
		{&ruleset.Generic{Kind: "objref", Body: "type"}, &ruleset.Generic{Kind: "exthdr", Body: "load"}, &ruleset.Generic{Kind: "xfrm", Body: "load"}},
		{&ruleset.Hash{SReg: 1, DReg: 2, Len: 100}, &ruleset.Objref{SetName: "missing"}},
		{&ruleset.Immediate{DReg: 1, Data: nil}, &ruleset.Cmp{SReg: 1, Data: []byte{1, 2}}},
		{&ruleset.Byteorder{SReg: 4, DReg: 1}, &ruleset.Cmp{SReg: 1, Op: ruleset.CmpGt, Data: []byte{1}}},
		{nil},
	}
	for _, fam := range []ruleset.Family{ruleset.FamilyIPv4, ruleset.FamilyINet, ruleset.FamilyBridge, ruleset.FamilyNetdev, ruleset.FamilyARP} {
		tb := &ruleset.Table{Family: fam, Name: "t", Sets: []*ruleset.Set{short, cat, m}}
		ch := &ruleset.Chain{Name: "c"}
		tb.Chains = []*ruleset.Chain{ch}
		for i, exprs := range rules {
			r := &ruleset.Rule{Handle: uint64(i + 1), Exprs: exprs}
			ch.Rules = append(ch.Rules, r)
			if _, _, err := renderRule(tb, r); err != nil {
				t.Errorf("%s rule %d: %v", fam, i, err)
			}
		}
		rs := &ruleset.Ruleset{Tables: []*ruleset.Table{tb, nil}}
		var b bytes.Buffer
		if err := Text(&b, rs, Options{Handles: true}); err != nil {
			t.Errorf("%s: Text: %v", fam, err)
		}
		if b.Len() == 0 {
			t.Errorf("%s: empty listing", fam)
		}
		b.Reset()
		if err := JSON(&b, rs, Options{}); err != nil {
			t.Errorf("%s: JSON: %v", fam, err)
		}
	}
}
