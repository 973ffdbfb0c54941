package vm

import (
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/sets"
)

// Object types (enum NFT_OBJECT_*) the objref expression names.
const (
	objCounter  = 1
	objQuota    = 2
	objLimit    = 4
	objSecmark  = 8
	objSynproxy = 10
)

// objTarget is one loaded named object: its type and the index of its
// state in the machine's counters, quotas or limits. Every rule and map
// element that references the object shares that state, as they share the
// kernel's struct nft_object.
type objTarget struct {
	typ uint32
	idx int32
}

// objMap is the loaded form of an objref map: the object of each element
// of the set, found by the element the set's lookup returns.
type objMap struct {
	set      int
	byElem   map[*sets.Elem]objTarget
	catchall objTarget
	hasCatch bool
}

// objTypeOf maps an object's kind to its NFT_OBJECT_* type (0 for kinds
// without one here).
func objTypeOf(kind string) uint32 {
	switch kind {
	case "counter":
		return objCounter
	case "quota":
		return objQuota
	case "ct helper":
		return 3
	case "limit":
		return objLimit
	case "connlimit":
		return 5
	case "tunnel":
		return 6
	case "ct timeout":
		return 7
	case "secmark":
		return 8
	case "ct expectation":
		return 9
	case "synproxy":
		return 10
	}
	return 0
}

// loadObjects creates the state of the table's counter, quota and limit
// objects; other kinds load (the kernel accepts them) but a reference to
// one is refused.
//
// Ref: net/netfilter/nf_tables_api.c — nf_tables_newobj; nft_counter.c,
// nft_quota.c, nft_limit.c — *_obj_init.
func (l *loader) loadObjects() error {
	m, t := l.m, l.t
	l.objs = map[objKey]objTarget{}
	states := make([]objTarget, len(t.Objects))
	for i, o := range t.Objects {
		states[i] = objTarget{idx: -1}
		if o == nil {
			return &LoadError{Family: t.Family, Table: t.Name, Err: errInval}
		}
		typ := objTypeOf(o.Kind)
		k := objKey{typ, o.Name}
		if _, dup := l.objs[k]; dup && typ != 0 {
			return &LoadError{Family: t.Family, Table: t.Name, Err: errExist}
		}
		tgt := objTarget{typ: typ, idx: -1}
		switch x := o.Expr.(type) {
		case *ruleset.Counter:
			if typ == objCounter {
				tgt.idx = int32(len(m.counters))
				m.counters = append(m.counters, counterState{x.Packets, x.Bytes})
			}
		case *ruleset.Quota:
			if typ == objQuota {
				tgt.idx = int32(len(m.quotas))
				m.quotas = append(m.quotas, quotaState{quota: x.Bytes, consumed: x.Consumed, inv: x.Flags&ruleset.QuotaInvert != 0})
			}
		case *ruleset.Limit:
			if typ == objLimit {
				ls, err := newLimit(x)
				if err != nil {
					return &LoadError{Family: t.Family, Table: t.Name, Expr: "limit", Err: err}
				}
				tgt.idx = int32(len(m.limits))
				m.limits = append(m.limits, ls)
			}
		}
		if isCtObject(typ) {
			idx, err := l.loadCtObject(o, typ)
			if err != nil {
				return &LoadError{Family: t.Family, Table: t.Name, Expr: o.Kind, Err: err}
			}
			tgt.idx = idx
		}
		switch typ {
		case objSynproxy:
			// Ref: net/netfilter/nft_synproxy.c — nft_synproxy_obj_init.
			si, err := synproxyObjInfo(o)
			if err == nil {
				err = synproxyFamily(t.Family)
			}
			if err != nil {
				return &LoadError{Family: t.Family, Table: t.Name, Expr: "synproxy", Object: o.Name, Err: err}
			}
			l.takeConntrack()
			tgt.idx = m.addSynproxy(si)
		case objSecmark:
			// Ref: net/netfilter/nft_secmark.c — nft_secmark_compute_secid:
			// with no LSM providing secctx_to_secid the context maps to
			// secid 0, which is -ENOENT.
			return &LoadError{Family: t.Family, Table: t.Name, Expr: "secmark", Object: o.Name, Err: errNoEnt}
		}
		if (typ == objCounter || typ == objQuota || typ == objLimit) && tgt.idx < 0 {
			return &LoadError{Family: t.Family, Table: t.Name, Object: o.Name, Err: errInval}
		}
		states[i] = tgt
		if typ != 0 {
			l.objs[k] = tgt
		}
	}
	m.objStates = append(m.objStates, states)
	return nil
}

type objKey struct {
	typ  uint32
	name string
}

// objInsn is the instruction that runs an object: the same as its inline
// expression, on the object's shared state.
func objInsn(tgt objTarget) (insn, error) {
	var in insn
	in.idx = tgt.idx
	if isCtObject(tgt.typ) && tgt.idx >= 0 {
		return ctObjInsn(tgt), nil
	}
	switch tgt.typ {
	case objCounter:
		in.op = opCounter
	case objQuota:
		in.op = opQuota
	case objLimit:
		in.op = opLimit
	case objSynproxy:
		in.op = opSynproxy
	default:
		// tunnel: its effect is on the stack, which the vm does not
		// model.
		return in, errNotImpl
	}
	if tgt.idx < 0 {
		return in, errNotImpl
	}
	return in, nil
}

// loadObjref is nft_objref_init and nft_objref_map_init.
func (l *loader) loadObjref(x *ruleset.Objref) (in insn, st int32, err error) {
	st = -1
	m := l.m
	if x.SetName == "" && x.SetID == 0 {
		tgt, ok := l.objs[objKey{x.Type, x.ObjName}]
		if !ok {
			if x.Type == 0 {
				return in, st, errInval
			}
			return in, st, errNoEnt
		}
		in, err = objInsn(tgt)
		return in, st, err
	}
	si, ok := l.findSet(x.SetName, x.SetID)
	if !ok {
		return in, st, errNoEnt
	}
	sr := &m.sets[si]
	def := sr.def
	if def.Flags&ruleset.SetObject == 0 {
		return in, st, errInval
	}
	klen := int(def.KeyLen)
	if in.sreg, err = l.load(x.SReg, klen); err != nil {
		return in, st, err
	}
	om := objMap{set: si, byElem: map[*sets.Elem]objTarget{}}
	for _, e := range def.Elements {
		if e == nil || e.Flags&ruleset.ElemIntervalEnd != 0 {
			continue
		}
		tgt, ok := l.objs[objKey{def.ObjType, e.ObjRef}]
		if !ok {
			return in, st, errNoEnt
		}
		if _, err := objInsn(tgt); err != nil {
			return in, st, err
		}
		if e.Flags&ruleset.ElemCatchall != 0 {
			om.catchall, om.hasCatch = tgt, true
			continue
		}
		if se := sr.s.Lookup(e.Key, 0); se != nil {
			om.byElem[se] = tgt
		}
	}
	in.op, in.len, in.idx = opObjrefMap, uint8(klen), int32(len(m.objMaps))
	m.objMaps = append(m.objMaps, om)
	return in, st, nil
}

// objrefMapEval picks the object by the element the key finds; a miss
// BREAKs.
//
// Ref: net/netfilter/nft_objref.c — nft_objref_map_eval.
func (m *machine) objrefMapEval(in *insn) {
	om := &m.objMaps[in.idx]
	e := m.sets[om.set].s.Lookup(m.regs[in.sreg:int(in.sreg)+int(in.len)], m.now)
	if e == nil {
		m.verdict = ruleset.VerdictBreak
		return
	}
	tgt, ok := om.byElem[e]
	if !ok {
		if !om.hasCatch {
			m.verdict = ruleset.VerdictBreak
			return
		}
		tgt = om.catchall
	}
	m.objEval(tgt)
}

// objEval runs a counter, quota or limit object on the packet.
//
// Ref: net/netfilter/nft_counter.c — nft_counter_obj_eval; nft_quota.c —
// nft_quota_obj_eval; nft_limit.c — nft_limit_obj_pkts_eval.
func (m *machine) objEval(tgt objTarget) {
	switch tgt.typ {
	case objCounter:
		c := &m.counters[tgt.idx]
		c.packets++
		c.bytes += uint64(m.pkt.Len())
	case objQuota:
		if m.quotaEval(&m.quotas[tgt.idx]) {
			m.verdict = ruleset.VerdictBreak
		}
	case objLimit:
		if m.limitEval(&m.limits[tgt.idx]) {
			m.verdict = ruleset.VerdictBreak
		}
	case objSynproxy:
		m.synproxyEval(&m.synproxies[tgt.idx])
	case objCtHelper, objCtTimeout, objCtExpect:
		m.ctObjEval(tgt.idx)
	}
}

// objrefMapHooks is the validate op of an objref map whose objects are
// synproxies: input and forward only, as for `synproxy name sp` (measured:
// `synproxy name tcp dport map { 80 : "sp" }` in prerouting is refused).
//
// Ref: net/netfilter/nft_objref.c — nft_objref_map_validate.
func objrefMapHooks(t *ruleset.Table, e ruleset.Expr, h *ruleset.ChainHook) error {
	x, ok := e.(*ruleset.Objref)
	if !ok || (x.SetName == "" && x.SetID == 0) {
		return nil
	}
	for _, s := range t.Sets {
		if (x.SetName != "" && s.Name == x.SetName || x.SetName == "" && s.ID == x.SetID) && s.ObjType == objSynproxy {
			return synproxyHooks(t.Family, h)
		}
	}
	return nil
}
