package vm

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/nftgo/nftgo/connlimit"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/sets"
)

// LoadError is a ruleset the kernel would refuse: Error reads as nft prints
// the kernel's answer ("Could not process rule: Too many links").
type LoadError struct {
	Family ruleset.Family
	Table  string
	Chain  string
	Handle uint64 // the rule's handle; 0 for chain or set errors
	Expr   string // the offending expression's kernel name, if any
	Object string // the named object the kernel refused, for object errors
	Err    error  // the errno-like cause (errors.Is-comparable)
}

func (e *LoadError) Error() string {
	if e.Err == errNotImpl {
		return fmt.Sprintf("Could not process rule: expression %q is %v (table %s %s, chain %s, handle %d)", e.Expr, e.Err, e.Family, e.Table, e.Chain, e.Handle)
	}
	return "Could not process rule: " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// Unsupported reports an expression nftgo cannot run, as opposed to one the
// kernel itself refuses: a check or a listing can go on without the vm.
func (e *LoadError) Unsupported() bool { return e.Err == errNotImpl }

// dynsetState is the loaded form of one dynset expression.
type dynsetState struct {
	set     int
	op      ruleset.DynsetOp
	klen    int
	hasData bool
	sdata   uint8
	dlen    int
	timeout int64 // ns
	inv     bool
	tmpl    []ruleset.Expr
}

// loader carries what loading one table needs.
type loader struct {
	m        *machine
	ti       int
	t        *ruleset.Table
	chainIdx map[string]int32
	setIdx   map[string]int
	setByID  map[uint32]int
	// seq numbers hook registrations (chains, conntrack, NAT core) in the
	// order the kernel would see them in one transaction.
	seq *int
	// written tracks the register slots stored so far in the rule being
	// loaded (nft_saw_register_store): a load from another slot is -ENODATA.
	written uint32
	// objs finds the table's named objects by type and name.
	objs map[objKey]objTarget
}

// Extra load-time state kept on the machine.
type loadExtra struct {
	dynsets     []dynsetState
	logPrefixes []string
	rejects     []ruleset.Reject
	setTable    []int
	// ctSeqAF is, per address family, when conntrack's hooks were
	// registered for it (-1: never): nf_ct_netns_get takes the reference
	// for the family of the table whose expression asks for it.
	ctSeqAF [2]int
	acct    bool
	natSeq  [2]int
	// objStates holds, per table and object, the object's state index.
	objStates [][]objTarget
	objMaps   []objMap
	// numgens are the incremental counters of numgen expressions.
	numgens []uint32
	// synproxies are the settings of synproxy statements and objects.
	synproxies []synproxyInfo
	// brHooks are the bridge family's hooks (br_input.go).
	brHooks [5][]hookEntry
	// tproxyDefrag: a tproxy expression enabled defragmentation for the
	// address family (nf_defrag_ipv4_enable / nf_defrag_ipv6_enable).
	tproxyDefrag [2]bool
	// ctObjs are the ct helper, timeout and expectation objects.
	ctObjs []ctObject
}

func (m *machine) load(rs *ruleset.Ruleset, cfg Config) error {
	if rs == nil {
		rs = &ruleset.Ruleset{}
	}
	m.cfg, m.rs = cfg, rs
	m.trace = cfg.Trace
	m.traceAll = cfg.TraceBreaks
	if err := checkShape(rs); err != nil {
		return err
	}
	m.rnd = 0x9e3779b97f4a7c15
	h, err := newHost(cfg.Host)
	if err != nil {
		return err
	}
	m.host = h
	m.ctSeqAF = [2]int{-1, -1}
	m.natSeq = [2]int{-1, -1}
	seq := 0
	m.chainByName = make([]map[string]int32, len(rs.Tables))
	for ti, t := range rs.Tables {
		l := &loader{m: m, ti: ti, t: t, chainIdx: map[string]int32{}, setIdx: map[string]int{}, setByID: map[uint32]int{}, seq: &seq}
		if err := l.loadTable(); err != nil {
			return err
		}
		m.chainByName[ti] = l.chainIdx
	}
	if err := m.validateDepth(); err != nil {
		return err
	}
	if err := m.validateHooks(); err != nil {
		return err
	}
	m.buildHooks()
	m.buildBridgeHooks()
	if m.ctActive {
		ctc := cfg.CT
		if m.acct {
			ctc.Sysctls = map[string]int64{}
			for k, v := range cfg.CT.Sysctls {
				ctc.Sysctls[k] = v
			}
			ctc.Sysctls["net.netfilter.nf_conntrack_acct"] = 1
		}
		m.ct = ct.NewTable(ctc)
	}
	return nil
}

func (l *loader) errf(c *ruleset.Chain, r *ruleset.Rule, expr string, err error) error {
	e := &LoadError{Family: l.t.Family, Table: l.t.Name, Expr: expr, Err: err}
	if c != nil {
		e.Chain = c.Name
	}
	if r != nil {
		e.Handle = r.Handle
	}
	return e
}

// usesConntrack reports expressions that take a conntrack reference
// (nf_ct_netns_get): while one is loaded, conntrack's hooks run. notrack
// is not one of them: nft_notrack_ops has no init, so a ruleset whose
// only conntrack-related statement is notrack tracks nothing (difffuzz
// seed 9076, scenario notrack-alone-tracks-nothing).
//
// Ref: net/netfilter/nft_ct.c — nft_notrack_ops
func usesConntrack(e ruleset.Expr) bool {
	switch x := e.(type) {
	case *ruleset.Ct, *ruleset.Connlimit, *ruleset.NAT, *ruleset.Masq, *ruleset.Redir:
		return true
	case *ruleset.Dynset:
		for _, y := range x.Exprs {
			if usesConntrack(y) {
				return true
			}
		}
	case *ruleset.Generic:
		return x.Kind == "synproxy"
	}
	return false
}

// takeConntrack registers conntrack for the families of the table being
// loaded. An ip table's ct/nat/connlimit expression takes conntrack for
// IPv4 only, an ip6 table's for IPv6 only, inet for both
// (nf_ct_netns_get(net, ctx->family), NFPROTO_INET meaning both), so with
// ct used only in an ip6 table IPv4 packets are not tracked at all. Other
// families keep both.
// Ref: net/netfilter/nf_conntrack_proto.c — nf_ct_netns_get
func (l *loader) takeConntrack() {
	m := l.m
	m.ctActive = true
	afs := tableAFs(l.t.Family)
	if len(afs) == 0 {
		afs = []int{af4, af6}
	}
	for _, af := range afs {
		if m.ctSeqAF[af] < 0 {
			m.ctSeqAF[af] = *l.seq
			*l.seq++
		}
	}
}

// tableAFs lists the address families whose hooks a table's base chains
// attach to: ip → IPv4, ip6 → IPv6, inet → both. arp chains sit on the
// arp hooks, netdev chains on their devices; bridge tables load but are
// not run (the host model has no bridge).
func tableAFs(f ruleset.Family) []int {
	switch f {
	case ruleset.FamilyIPv4:
		return []int{af4}
	case ruleset.FamilyIPv6:
		return []int{af6}
	case ruleset.FamilyINet:
		return []int{af4, af6}
	}
	return nil
}

func (l *loader) loadTable() error {
	m, t := l.m, l.t
	// Chains first, as nft sends them before the rules; each base chain
	// registers its hook now.
	first := len(m.chains)
	for _, c := range t.Chains {
		if _, dup := l.chainIdx[c.Name]; dup {
			return l.errf(c, nil, "", errExist)
		}
		l.chainIdx[c.Name] = int32(len(m.chains))
		ch := chain{table: l.ti, src: c}
		if c.Hook != nil {
			ch.base = true
			ch.policy = c.Hook.Policy.Code
			if ch.policy != ruleset.VerdictAccept && ch.policy != ruleset.VerdictDrop {
				return l.errf(c, nil, "", errInval)
			}
			ch.nat = c.Hook.Type == "nat"
			if ch.nat {
				if c.Hook.Priority <= ruleset.PriorityConntrack {
					return l.errf(c, nil, "", errNotSupp)
				}
				if c.Hook.Hook == ruleset.HookForward {
					return l.errf(c, nil, "", errNotSupp)
				}
				l.takeConntrack()
				for _, af := range tableAFs(t.Family) {
					if m.natSeq[af] < 0 {
						m.natSeq[af] = *l.seq
						*l.seq++
					}
				}
			}
			ch.regSeq = *l.seq
			*l.seq++
			ch.polDec = Decision{Family: t.Family, Table: t.Name, Chain: c.Name, Policy: true}
		}
		m.chains = append(m.chains, ch)
	}
	// Sets: a set bound to a dynset with no size gets 65535 (nft_dynset_init).
	bound := map[string]bool{}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if d, ok := e.(*ruleset.Dynset); ok {
					bound[d.Set] = true
				}
			}
		}
	}
	for _, def := range t.Sets {
		cp := *def
		if bound[def.Name] && cp.Size == 0 {
			cp.Size = 65535
		}
		for _, e := range cp.Exprs {
			if _, ok := e.(*ruleset.Connlimit); ok {
				if cp.Flags&ruleset.SetTimeout != 0 {
					return l.errf(nil, nil, "connlimit", errNotSupp)
				}
				l.takeConntrack()
			}
		}
		s, err := sets.New(&cp)
		if err != nil {
			return &LoadError{Family: t.Family, Table: t.Name, Err: err}
		}
		idx := len(m.sets)
		sr := setRef{s: s, def: &cp, dlen: int(cp.DataLen), vmap: cp.IsMap() && cp.DataType == ruleset.DataVerdict}
		m.sets = append(m.sets, sr)
		m.setTable = append(m.setTable, l.ti)
		l.setIdx[def.Name] = idx
		if def.ID != 0 {
			l.setByID[def.ID] = idx
		}
	}
	if err := l.loadObjects(); err != nil {
		return err
	}
	if err := l.loadFlowtables(); err != nil {
		return err
	}
	for i, c := range t.Chains {
		ch := &m.chains[first+i]
		ch.rules = make([]rule, 0, len(c.Rules))
		ch.state = make([][]int32, 0, len(c.Rules))
		for ri, r := range c.Rules {
			code, st, err := l.loadRule(c, r)
			if err != nil {
				return err
			}
			ch.state = append(ch.state, st)
			lr := rule{start: int32(len(ch.code)), dec: &Decision{Family: t.Family, Table: t.Name, Chain: c.Name, Handle: r.Handle, RuleIndex: ri}}
			ch.code = append(ch.code, code...)
			lr.end = int32(len(ch.code))
			ch.rules = append(ch.rules, lr)
		}
		ch.code = ch.code[:len(ch.code):len(ch.code)]
	}
	return nil
}

func (l *loader) loadRule(c *ruleset.Chain, r *ruleset.Rule) ([]insn, []int32, error) {
	state := make([]int32, len(r.Exprs))
	l.written = 0
	code := make([]insn, 0, len(r.Exprs))
	for i, e := range r.Exprs {
		state[i] = -1
		if usesConntrack(e) {
			if err := ctFamilyErr(l.t.Family, e); err != nil {
				return nil, nil, l.errf(c, r, e.Name(), err)
			}
			l.takeConntrack()
		}
		in, st, err := l.loadExpr(c, e)
		if err != nil {
			return nil, nil, l.errf(c, r, e.Name(), err)
		}
		state[i] = st
		if in.op != opNop {
			code = append(code, in)
		}
	}
	return fuse(code, l.m.pool), state, nil
}

// load and store validate registers and track which slots the rule wrote.
func (l *loader) load(r ruleset.Register, n int) (uint8, error) {
	off, err := loadReg(r, n)
	if err != nil {
		return 0, err
	}
	for s := int(off) / 4; s < (int(off)+n+3)/4; s++ {
		if l.written&(1<<s) == 0 {
			return 0, errNoData
		}
	}
	return off, nil
}

func (l *loader) store(r ruleset.Register, n int) (uint8, error) {
	off, err := storeReg(r, n)
	if err != nil {
		return 0, err
	}
	for s := int(off) / 4; s < (int(off)+n+3)/4; s++ {
		l.written |= 1 << s
	}
	return off, nil
}

// loadExpr turns one expression into an instruction, with the checks the
// expression's init function makes. st is the index of its counter or
// quota state for Snapshot, or -1.
func (l *loader) loadExpr(c *ruleset.Chain, e ruleset.Expr) (in insn, st int32, err error) {
	m := l.m
	st = -1
	switch x := e.(type) {
	case *ruleset.Immediate:
		// Ref: net/netfilter/nft_immediate.c — nft_immediate_init.
		if x.DReg == 0 {
			in.op = opImmVerdict
			in.key = uint32(int32(x.Verdict.Code))
			switch x.Verdict.Code {
			case ruleset.VerdictAccept, ruleset.VerdictDrop, ruleset.VerdictContinue, ruleset.VerdictBreak, ruleset.VerdictReturn:
			case ruleset.VerdictJump, ruleset.VerdictGoto:
				idx, ok := l.chainIdx[x.Verdict.Chain]
				if !ok {
					return in, st, errNoEnt
				}
				if m.chains[idx].base {
					return in, st, errNotSupp
				}
				in.idx = idx
			default:
				return in, st, errInval
			}
			return in, st, nil
		}
		n := len(x.Data)
		if n == 0 || n > 16 {
			return in, st, errInval
		}
		in.op, in.len = opImm, uint8(n)
		in.idx = m.addData(x.Data)
		in.dreg, err = l.store(x.DReg, n)
	case *ruleset.Cmp:
		// Ref: net/netfilter/nft_cmp.c — nft_cmp_init, nft_cmp_select_ops.
		n := len(x.Data)
		if n == 0 || n > 16 || x.Op > ruleset.CmpGte {
			return in, st, errInval
		}
		if in.sreg, err = l.load(x.SReg, n); err != nil {
			return in, st, err
		}
		in.idx = m.addData(x.Data)
		in.len, in.aux = uint8(n), uint8(x.Op)
		in.op = opCmp
		if n <= 4 && (x.Op == ruleset.CmpEq || x.Op == ruleset.CmpNeq) {
			var w [4]byte
			copy(w[:], x.Data)
			in.op = opCmp4
			in.imm = binary.LittleEndian.Uint32(w[:])
			in.mask = ^uint32(0) >> (32 - 8*n)
			in.aux = 0
			if x.Op == ruleset.CmpNeq {
				in.aux = 1
			}
		}
	case *ruleset.Range:
		// Ref: net/netfilter/nft_range.c — nft_range_init.
		n := len(x.From)
		if n == 0 || n > 16 || len(x.To) != n || (x.Op != ruleset.CmpEq && x.Op != ruleset.CmpNeq) {
			return in, st, errInval
		}
		if in.sreg, err = l.load(x.SReg, n); err != nil {
			return in, st, err
		}
		in.op, in.len, in.aux = opRange, uint8(n), uint8(x.Op)
		in.idx = m.addData(x.From)
		m.addData(x.To)
	case *ruleset.Bitwise:
		// Ref: net/netfilter/nft_bitwise.c — nft_bitwise_init.
		n := int(x.Len)
		if n == 0 || n > maxRegLen {
			return in, st, errInval
		}
		if in.sreg, err = l.load(x.SReg, n); err != nil {
			return in, st, err
		}
		if in.dreg, err = l.store(x.DReg, n); err != nil {
			return in, st, err
		}
		if overlap(in.sreg, in.dreg, n) {
			return in, st, errInval
		}
		in.len = uint8(n)
		switch x.Op {
		case ruleset.BitwiseMaskXor:
			if n > 16 || len(x.Mask) != n || len(x.Xor) != n {
				return in, st, errInval
			}
			in.op = opBitwise
			in.idx = m.addData(x.Mask)
			m.addData(x.Xor)
		case ruleset.BitwiseLshift, ruleset.BitwiseRshift:
			if x.Shift == 0 || x.Shift >= 32 {
				return in, st, errInval
			}
			in.op = opLshift
			if x.Op == ruleset.BitwiseRshift {
				in.op = opRshift
			}
			in.key = x.Shift
		default:
			return in, st, errNotSupp
		}
	case *ruleset.Byteorder:
		// Ref: net/netfilter/nft_byteorder.c — nft_byteorder_init.
		if x.Size != 2 && x.Size != 4 && x.Size != 8 {
			return in, st, errInval
		}
		if x.Op != ruleset.NtoH && x.Op != ruleset.HtoN {
			return in, st, errInval
		}
		if x.Len != x.Size {
			return in, st, errNotSupp
		}
		n := int(x.Len)
		if in.sreg, err = l.load(x.SReg, n); err != nil {
			return in, st, err
		}
		if in.dreg, err = l.store(x.DReg, n); err != nil {
			return in, st, err
		}
		if overlap(in.sreg, in.dreg, n) {
			return in, st, errInval
		}
		in.op, in.len, in.aux, in.aux2 = opByteorder, uint8(n), uint8(x.Op), uint8(x.Size)
	case *ruleset.Payload:
		// Ref: net/netfilter/nft_payload.c — nft_payload_init.
		if x.Len == 0 || x.Len > 255 || x.Offset > 255 {
			return in, st, errInval
		}
		if in.dreg, err = l.store(x.DReg, int(x.Len)); err != nil {
			return in, st, err
		}
		in.len, in.off = uint8(x.Len), x.Offset
		switch x.Base {
		case ruleset.BaseLink:
			in.op = opPayloadLL
		case ruleset.BaseNetwork:
			in.op = opPayloadNet
		case ruleset.BaseTransport:
			in.op = opPayloadTh
		case ruleset.BaseInner:
			in.op = opPayloadInner
		default:
			return in, st, errInval
		}
	case *ruleset.PayloadWrite:
		// Ref: net/netfilter/nft_payload.c — nft_payload_set_init.
		if x.Len == 0 || x.Len > 255 || x.Offset > 255 || x.Base > ruleset.BaseTransport {
			return in, st, errInval
		}
		if x.CsumType > csumInet {
			return in, st, errNotSupp
		}
		if in.sreg, err = l.load(x.SReg, int(x.Len)); err != nil {
			return in, st, err
		}
		in.op, in.len, in.off, in.aux = opPayloadWrite, uint8(x.Len), x.Offset, uint8(x.Base)
		in.aux2, in.key, in.mask = uint8(x.CsumType), x.CsumOffset, x.CsumFlags
	case *ruleset.Meta:
		// Ref: net/netfilter/nft_meta.c — nft_meta_get_init, nft_meta_set_init.
		if x.Set {
			n := 4
			switch x.Key {
			case ruleset.MetaMark, ruleset.MetaPriority, ruleset.MetaSecmark:
			case ruleset.MetaPkttype, ruleset.MetaNftrace:
				n = 1
			default:
				return in, st, errNotSupp
			}
			if in.sreg, err = l.load(x.SReg, n); err != nil {
				return in, st, err
			}
			in.op, in.key = opMetaSet, uint32(x.Key)
			return in, st, nil
		}
		n, ok := metaLen(x.Key)
		if !ok {
			return in, st, errNotSupp
		}
		if in.dreg, err = l.store(x.DReg, n); err != nil {
			return in, st, err
		}
		in.op, in.key, in.len = opMeta, uint32(x.Key), uint8(n)
	case *ruleset.Ct:
		// Ref: net/netfilter/nft_ct.c — nft_ct_get_init, nft_ct_set_init.
		if x.Set {
			n := 4
			switch x.Key {
			case ruleset.CtMark, ruleset.CtEventmask:
			case ruleset.CtZone:
				n = 2
			case ruleset.CtLabels:
				n = 16
			default:
				return in, st, errNotImpl
			}
			if in.sreg, err = l.load(x.SReg, n); err != nil {
				return in, st, err
			}
			in.op, in.key = opCtSet, uint32(x.Key)
			return in, st, nil
		}
		n, err := ctLen(x.Key, x.Direction, l.t.Family)
		if err != nil {
			return in, st, err
		}
		if in.dreg, err = l.store(x.DReg, n); err != nil {
			return in, st, err
		}
		in.op, in.key, in.len = opCt, uint32(x.Key), uint8(n)
		if x.Direction == ruleset.CtDirReply {
			in.aux = 1
		}
		in.aux2 = 2 // both directions
		if x.Direction != ruleset.CtDirUnset {
			in.aux2 = uint8(x.Direction)
		}
		switch x.Key {
		case ruleset.CtPkts, ruleset.CtBytes, ruleset.CtAvgpkt:
			// nf_ct_set_acct(net, true): the rule turns accounting on.
			l.m.acct = true
		}
	case *ruleset.Counter:
		in.op, in.idx = opCounter, int32(len(m.counters))
		st = in.idx
		m.counters = append(m.counters, counterState{x.Packets, x.Bytes})
	case *ruleset.Limit:
		ls, err := newLimit(x)
		if err != nil {
			return in, st, err
		}
		in.op, in.idx = opLimit, int32(len(m.limits))
		m.limits = append(m.limits, ls)
	case *ruleset.Quota:
		in.op, in.idx = opQuota, int32(len(m.quotas))
		st = in.idx
		m.quotas = append(m.quotas, quotaState{quota: x.Bytes, consumed: x.Consumed, inv: x.Flags&ruleset.QuotaInvert != 0})
	case *ruleset.Log:
		in.op, in.idx = opLog, int32(len(m.logPrefixes))
		m.logPrefixes = append(m.logPrefixes, x.Prefix)
	case *ruleset.Reject:
		if l.t.Family == ruleset.FamilyARP || l.t.Family == ruleset.FamilyBridge {
			// No reject expression is registered for NFPROTO_ARP, nor
			// for NFPROTO_BRIDGE on the 6.18 reference kernel (built
			// without CONFIG_NFT_BRIDGE_REJECT; measured ENOENT).
			return in, st, errNoEnt
		}
		if x.Type > ruleset.RejectICMPXUnreach {
			return in, st, errInval
		}
		in.op, in.idx = opReject, int32(len(m.rejects))
		m.rejects = append(m.rejects, *x)
	case *ruleset.Queue:
		// Ref: net/netfilter/nft_queue.c — nft_queue_init, nft_queue_sreg_init.
		if x.Flags&^3 != 0 {
			return in, st, errInval
		}
		in.op, in.key, in.off, in.aux = opQueue, uint32(x.Num), uint32(x.Total), uint8(x.Flags)
		if x.SRegNum != 0 {
			if in.sreg, err = l.load(x.SRegNum, 4); err != nil {
				return in, st, err
			}
			in.aux2 = 1
		}
	case *ruleset.Notrack:
		in.op = opNotrack
	case *ruleset.Lookup:
		return l.loadLookup(x)
	case *ruleset.Dynset:
		return l.loadDynset(x)
	case *ruleset.Connlimit:
		in.op, in.idx, in.key, in.aux = opConnlimit, int32(len(m.conns)), x.Count, uint8(x.Flags&ruleset.ConnlimitInvert)
		m.conns = append(m.conns, connlimit.List{})
	case *ruleset.NAT:
		return l.loadNAT(c, x)
	case *ruleset.Objref:
		return l.loadObjref(x)
	case *ruleset.Exthdr:
		return l.loadExthdr(x)
	case *ruleset.Numgen:
		return l.loadNumgen(x)
	case *ruleset.Hash:
		return l.loadHash(x)
	case *ruleset.Fib:
		return l.loadFib(x)
	case *ruleset.Rt:
		return l.loadRt(x)
	case *ruleset.Socket:
		return l.loadSocket(x)
	case *ruleset.Dup:
		return l.loadDup(x)
	case *ruleset.Fwd:
		return l.loadFwd(x)
	case *ruleset.Masq:
		return l.loadProtoRange(opMasq, x.ProtoMin, x.ProtoMax, x.Flags)
	case *ruleset.Redir:
		return l.loadProtoRange(opRedir, x.ProtoMin, x.ProtoMax, x.Flags)
	case *ruleset.Generic:
		if x.Kind == "flow_offload" {
			return l.loadFlowOffload(x)
		}
		return l.loadGeneric(x)
	default:
		return in, st, errNotImpl
	}
	return in, st, err
}

// overlap is nft_reg_overlap: partial overlap of source and destination
// is refused, the same register is fine.
func overlap(s, d uint8, n int) bool {
	if s == d {
		return false
	}
	a, b := int(s), int(d)
	return a < b+n && b < a+n
}

func (l *loader) findSet(name string, id uint32) (int, bool) {
	if i, ok := l.setIdx[name]; ok && name != "" {
		return i, true
	}
	i, ok := l.setByID[id]
	return i, ok
}

// loadLookup is nft_lookup_init.
func (l *loader) loadLookup(x *ruleset.Lookup) (in insn, st int32, err error) {
	st = -1
	si, ok := l.findSet(x.Set, x.SetID)
	if !ok {
		return in, st, errNoEnt
	}
	def := l.m.sets[si].def
	klen := int(def.KeyLen)
	if in.sreg, err = l.load(x.SReg, klen); err != nil {
		return in, st, err
	}
	in.op, in.idx, in.len, in.aux = opLookup, int32(si), uint8(klen), uint8(x.Flags&ruleset.LookupInvert)
	if x.Flags&^ruleset.LookupInvert != 0 {
		return in, st, errInval
	}
	if x.HasDReg {
		if x.Flags&ruleset.LookupInvert != 0 || !def.IsMap() {
			return in, st, errInval
		}
		in.aux2 = 1
		if x.DReg == 0 {
			if def.DataType != ruleset.DataVerdict {
				return in, st, errInval
			}
		} else {
			if def.DataType == ruleset.DataVerdict {
				return in, st, errInval
			}
			if in.dreg, err = l.store(x.DReg, int(def.DataLen)); err != nil {
				return in, st, err
			}
		}
	} else if def.IsMap() && def.Flags&ruleset.SetAnonymous != 0 {
		return in, st, errInval
	}
	return in, st, nil
}

// loadDynset is nft_dynset_init.
func (l *loader) loadDynset(x *ruleset.Dynset) (in insn, st int32, err error) {
	st = -1
	m := l.m
	si, ok := l.findSet(x.Set, x.SetID)
	if !ok {
		return in, st, errNoEnt
	}
	def := m.sets[si].def
	if x.Flags&^(dynsetInv|dynsetExpr) != 0 || x.Op > ruleset.DynsetDelete {
		return in, st, errInval
	}
	if def.Flags&ruleset.SetConstant != 0 {
		return in, st, errBusy
	}
	if def.Flags&(ruleset.SetInterval|ruleset.SetObject) != 0 {
		// rbtree and pipapo have no update operation.
		return in, st, errNotSupp
	}
	if x.Timeout != 0 && def.Flags&ruleset.SetTimeout == 0 {
		return in, st, errInval
	}
	d := dynsetState{set: si, op: x.Op, klen: int(def.KeyLen), inv: x.Flags&dynsetInv != 0, timeout: int64(x.Timeout) * 1e6}
	if in.sreg, err = l.load(x.SRegKey, d.klen); err != nil {
		return in, st, err
	}
	if x.HasData {
		if !def.IsMap() || def.DataType == ruleset.DataVerdict {
			return in, st, errInval
		}
		d.hasData, d.dlen = true, int(def.DataLen)
		if d.sdata, err = l.load(x.SRegData, d.dlen); err != nil {
			return in, st, err
		}
	} else if def.IsMap() && x.Op != ruleset.DynsetDelete {
		return in, st, errInval
	}
	d.tmpl = x.Exprs
	if len(d.tmpl) == 0 {
		d.tmpl = def.Exprs
	}
	for _, e := range x.Exprs {
		switch e.(type) {
		case *ruleset.Counter, *ruleset.Limit, *ruleset.Quota:
		case *ruleset.Connlimit:
			// NFT_EXPR_GC expressions cannot live in timeout sets.
			if def.Flags&ruleset.SetTimeout != 0 {
				return in, st, errNotSupp
			}
		default:
			return in, st, errNotSupp
		}
		if def.Flags&ruleset.SetEval == 0 {
			return in, st, errNotSupp
		}
	}
	in.op, in.idx = opDynset, int32(len(m.dynsets))
	m.dynsets = append(m.dynsets, d)
	return in, st, nil
}

// loadNAT is nft_nat_init with nft_nat_validate's hook checks.
func (l *loader) loadNAT(c *ruleset.Chain, x *ruleset.NAT) (in insn, st int32, err error) {
	st = -1
	if x.Type != ruleset.NATSnat && x.Type != ruleset.NATDnat {
		return in, st, errInval
	}
	alen := 4
	switch x.Family {
	case ruleset.FamilyIPv4:
	case ruleset.FamilyIPv6:
		alen = 16
	default:
		return in, st, errAFNoSupport
	}
	in, st, err = l.loadProtoRange(opNAT, x.ProtoMin, x.ProtoMax, x.Flags)
	if err != nil {
		return in, st, err
	}
	in.len, in.off = uint8(x.Type), uint32(alen)
	if x.AddrMin != 0 {
		if in.sreg, err = l.load(x.AddrMin, alen); err != nil {
			return in, st, err
		}
		in.dreg = in.sreg
		if x.AddrMax != 0 {
			if in.dreg, err = l.load(x.AddrMax, alen); err != nil {
				return in, st, err
			}
		}
		in.aux |= 1
	}
	return in, st, nil
}

func (l *loader) loadProtoRange(op opcode, pmin, pmax ruleset.Register, flags uint32) (in insn, st int32, err error) {
	st = -1
	in.op, in.mask = op, flags
	if pmin != 0 {
		if in.aux2, err = l.load(pmin, 2); err != nil {
			return in, st, err
		}
		mx := in.aux2
		if pmax != 0 {
			if mx, err = l.load(pmax, 2); err != nil {
				return in, st, err
			}
		}
		in.key = uint32(mx)
		in.aux |= 2
	}
	return in, st, nil
}

// validateDepth walks from every base chain through jumps, gotos and
// verdict-map elements; a chain at depth 16 (or a loop, which reaches it)
// is -EMLINK.
//
// Ref: net/netfilter/nf_tables_api.c — nft_chain_validate, nft_setelem_validate.
func (m *machine) validateDepth() error {
	const maxDepth = 16
	height := make([]int8, len(m.chains)) // 0 unknown, -1 on stack, else height+1
	var walk func(ci int32) (int, bool)
	walk = func(ci int32) (int, bool) {
		switch h := height[ci]; {
		case h == -1:
			return 0, false
		case h > 0:
			return int(h) - 1, true
		}
		height[ci] = -1
		best := 0
		for _, t := range m.targets(ci) {
			if m.chains[t].base {
				return 0, false // ELOOP in the kernel; jumps to base chains fail earlier
			}
			h, ok := walk(t)
			if !ok {
				return 0, false
			}
			if h+1 > best {
				best = h + 1
			}
			if best >= maxDepth {
				return best, false
			}
		}
		height[ci] = int8(best + 1)
		return best, true
	}
	for ci := range m.chains {
		c := &m.chains[ci]
		if !c.base {
			continue
		}
		if h, ok := walk(int32(ci)); !ok || h >= maxDepth {
			t := m.rs.Tables[c.table]
			return &LoadError{Family: t.Family, Table: t.Name, Chain: c.src.Name, Err: errMLink}
		}
	}
	return nil
}

// targets lists the chains a chain can jump or go to.
func (m *machine) targets(ci int32) []int32 {
	var out []int32
	c := &m.chains[ci]
	for _, r := range c.rules {
		code := c.code[r.start:r.end]
		for i := range code {
			in := &code[i]
			switch in.op {
			case opImmVerdict:
				v := ruleset.VerdictCode(int32(in.key))
				if v == ruleset.VerdictJump || v == ruleset.VerdictGoto {
					out = append(out, in.idx)
				}
			case opLookup:
				sr := &m.sets[in.idx]
				if !sr.vmap {
					continue
				}
				for _, e := range sr.def.Elements {
					if e.Verdict != nil && (e.Verdict.Code == ruleset.VerdictJump || e.Verdict.Code == ruleset.VerdictGoto) {
						if t, ok := m.chainByName[m.setTable[in.idx]][e.Verdict.Chain]; ok {
							out = append(out, t)
						}
					}
				}
			}
		}
	}
	return out
}

// buildHooks sorts each hook's entries: ascending priority, and among equal
// priorities the later registration first.
//
// Ref: net/netfilter/core.c — nf_hook_entries_grow; net/netfilter/nf_nat_core.c — nf_nat_register_fn.
func (m *machine) buildHooks() {
	add := func(af int, h ruleset.Hook, e hookEntry) {
		m.hooks[af][h] = append(m.hooks[af][h], e)
	}
	for ci := range m.chains {
		c := &m.chains[ci]
		if !c.base {
			continue
		}
		t := m.rs.Tables[c.table]
		if t.Flags&1 != 0 { // dormant
			continue
		}
		h := c.src.Hook.Hook
		if t.Family == ruleset.FamilyNetdev || (t.Family == ruleset.FamilyINet && h == ruleset.HookIngress) {
			// Ingress and egress hooks hang off their devices; inet
			// ingress chains join the device's netdev ingress list
			// (nf_register_net_hook). Devices the host lacks never see
			// a packet.
			e := hookEntry{kind: entChain, prio: c.src.Hook.Priority, seq: c.regSeq, chain: ci}
			if t.Family == ruleset.FamilyNetdev {
				e.pf = uint8(ruleset.FamilyNetdev)
			}
			for _, dev := range c.src.Hook.Devices {
				i := m.host.byName[dev]
				if i == nil {
					continue
				}
				if t.Family == ruleset.FamilyNetdev && h == ruleset.HookNetdevEgress {
					i.egress = append(i.egress, e)
				} else {
					i.ingress = append(i.ingress, e)
				}
			}
			continue
		}
		if t.Family == ruleset.FamilyARP {
			if h <= ruleset.HookARPOut {
				m.arpHooks[h] = append(m.arpHooks[h], hookEntry{kind: entChain, prio: c.src.Hook.Priority, seq: c.regSeq, chain: ci, pf: nfprotoARP})
			}
			continue
		}
		if h > ruleset.HookPostrouting {
			continue
		}
		for _, af := range tableAFs(t.Family) {
			if c.nat {
				m.natChains[af][h] = append(m.natChains[af][h], ci)
				continue
			}
			add(af, h, hookEntry{kind: entChain, prio: c.src.Hook.Priority, seq: c.regSeq, chain: ci})
		}
	}
	for _, es := range m.arpHooks {
		sort.SliceStable(es, func(a, b int) bool {
			if es[a].prio != es[b].prio {
				return es[a].prio < es[b].prio
			}
			return es[a].seq > es[b].seq
		})
	}
	for _, i := range m.host.ifaces {
		for _, es := range [][]hookEntry{i.ingress, i.egress} {
			sort.SliceStable(es, func(a, b int) bool {
				if es[a].prio != es[b].prio {
					return es[a].prio < es[b].prio
				}
				return es[a].seq > es[b].seq
			})
		}
	}
	for af := 0; af < 2; af++ {
		if m.natSeq[af] >= 0 {
			s := m.natSeq[af]
			add(af, ruleset.HookPrerouting, hookEntry{kind: entNAT, prio: ruleset.PriorityNATDst, seq: s})
			add(af, ruleset.HookOutput, hookEntry{kind: entNAT, prio: ruleset.PriorityNATDst, seq: s})
			add(af, ruleset.HookPostrouting, hookEntry{kind: entNAT, prio: ruleset.PriorityNATSrc, seq: s})
			add(af, ruleset.HookInput, hookEntry{kind: entNAT, prio: ruleset.PriorityNATSrc, seq: s})
		}
		if m.ctSeqAF[af] < 0 && m.tproxyDefrag[af] {
			// Defrag without conntrack (Ref: nft_tproxy.c — nft_tproxy_init).
			for _, h := range []ruleset.Hook{ruleset.HookPrerouting, ruleset.HookOutput} {
				add(af, h, hookEntry{kind: entDefrag, prio: ruleset.PriorityConntrackDefrag, seq: -1})
			}
		}
		if s := m.ctSeqAF[af]; s >= 0 {
			for _, h := range []ruleset.Hook{ruleset.HookPrerouting, ruleset.HookOutput} {
				add(af, h, hookEntry{kind: entDefrag, prio: ruleset.PriorityConntrackDefrag, seq: s})
				add(af, h, hookEntry{kind: entCtIn, prio: ruleset.PriorityConntrack, seq: s})
			}
			add(af, ruleset.HookPostrouting, hookEntry{kind: entConfirm, prio: ruleset.PriorityConntrackConfirm, seq: s})
			inPrio := int32(ruleset.PriorityConntrackConfirm)
			if af == af6 {
				inPrio-- // NF_IP6_PRI_LAST - 1
			}
			add(af, ruleset.HookInput, hookEntry{kind: entConfirm, prio: inPrio, seq: s})
		}
		for h := range m.hooks[af] {
			es := m.hooks[af][h]
			sort.SliceStable(es, func(i, j int) bool {
				if es[i].prio != es[j].prio {
					return es[i].prio < es[j].prio
				}
				return es[i].seq > es[j].seq
			})
			nc := m.natChains[af][h]
			sort.SliceStable(nc, func(i, j int) bool {
				a, b := &m.chains[nc[i]], &m.chains[nc[j]]
				if a.src.Hook.Priority != b.src.Hook.Priority {
					return a.src.Hook.Priority < b.src.Hook.Priority
				}
				return a.regSeq > b.regSeq
			})
		}
	}
}

// addData puts a constant (at most one struct nft_data, 16 bytes) in the
// pool and returns its index.
func (m *machine) addData(b []byte) int32 {
	var d [16]byte
	copy(d[:], b)
	m.pool = append(m.pool, d)
	return int32(len(m.pool) - 1)
}

// fuse merges a word-sized load and the cmp of its register into one
// instruction (the kernel's fast paths do the same work per expression).
// A bitwise mask/xor of the loaded word between them folds into the
// compare's mask and value when nothing reads the masked word afterwards:
// ((w & m) ^ x) & c == v is w & (m & c) == v ^ (x & c).
func fuse(code []insn, pool [][16]byte) []insn {
	out := code[:0]
	for i := 0; i < len(code); i++ {
		in := code[i]
		if i+2 < len(code) && fusableLoad(&in) {
			bw, nx := &code[i+1], &code[i+2]
			if bw.op == opBitwise && bw.sreg == in.dreg && bw.dreg == in.dreg && bw.len <= 4 &&
				nx.op == opCmp4 && nx.sreg == in.dreg && regDead(code[i+3:], in.dreg) {
				bm := binary.LittleEndian.Uint32(pool[bw.idx][:])
				bx := binary.LittleEndian.Uint32(pool[bw.idx+1][:])
				f := *nx
				f.imm ^= bx & f.mask
				f.mask &= bm
				code[i+2] = f
				code[i+1] = in
				continue
			}
		}
		if i+1 < len(code) {
			nx := &code[i+1]
			if nx.op == opCmp4 && nx.sreg == in.dreg && fusableLoad(&in) && nx.len <= in.len {
				f := in
				switch in.op {
				case opPayloadNet:
					f.op = opPayloadNetCmp
				case opPayloadTh:
					f.op = opPayloadThCmp
				case opCt:
					f.op = opCtStateCmp
				case opMeta:
					f.op = opMetaCmp
					switch ruleset.MetaKey(in.key) {
					case ruleset.MetaL4proto:
						f.op = opL4protoCmp
					case ruleset.MetaNfproto:
						f.op = opNfprotoCmp
					}
				}
				f.imm, f.mask, f.aux = nx.imm, nx.mask, nx.aux
				out = append(out, f)
				i++
				continue
			}
		}
		out = append(out, in)
	}
	// A fused compare's register store is dead when nothing later in the
	// rule reads it: registers are only read by later expressions of the
	// same rule, and if a later load BREAKs the rule ends.
	for i := range out {
		switch out[i].op {
		case opPayloadNetCmp, opPayloadThCmp, opL4protoCmp, opNfprotoCmp, opCtStateCmp:
			if regDead(out[i+1:], out[i].dreg) {
				out[i].aux2 = deadStore
			}
		}
	}
	return out
}

// fusableLoad reports a load of at most one word that a following cmp4
// can fuse with.
func fusableLoad(in *insn) bool {
	if in.len == 0 || in.len > 4 {
		return false
	}
	switch in.op {
	case opPayloadNet, opPayloadTh, opMeta:
		return true
	case opCt:
		return ruleset.CtKey(in.key) == ruleset.CtState
	}
	return false
}

// regDead reports whether the word at reg is never read by rest (the
// instructions after it in its rule): rest reaches the rule's end or a load
// that overwrites the word, running only instructions that read no
// register on the way.
func regDead(rest []insn, reg uint8) bool {
	for i := range rest {
		switch op := rest[i].op; {
		case op == opCounter || op == opImmVerdict || op == opLimit || op == opQuota || op == opLog || op == opNotrack:
		case pureLoad(op):
			return rest[i].dreg == reg
		default:
			return false
		}
	}
	return true
}

// deadStore in a fused compare's aux2: the loaded word need not be stored.
const deadStore = 1

// pureLoad reports instructions that read no register and, unless they
// end the rule, store at least the first word of their destination.
func pureLoad(op opcode) bool {
	switch op {
	case opPayloadNet, opPayloadTh, opPayloadLL, opPayloadNetCmp, opPayloadThCmp, opL4protoCmp, opNfprotoCmp, opMetaCmp, opImm:
		return true
	}
	return false
}

// validateHooks runs the expressions' validate checks for every base chain
// and each chain it reaches by jump, goto or verdict map: the hook and
// chain type of the base chain decide (reject, nat, masquerade, redirect,
// meta set pkttype; notrack has no such check: it loads in forward too).
//
// Ref: net/netfilter/nf_tables_api.c — nft_chain_validate; nft_reject.c —
// nft_reject_validate; nft_nat.c — nft_nat_validate; nft_masq.c;
// nft_redir.c; nft_meta.c — nft_meta_set_validate.
func (m *machine) validateHooks() error {
	for ci := range m.chains {
		bc := &m.chains[ci]
		if !bc.base {
			continue
		}
		t := m.rs.Tables[bc.table]
		seen := map[int32]bool{}
		var walk func(c int32) error
		walk = func(c int32) error {
			if seen[c] {
				return nil
			}
			seen[c] = true
			for _, r := range m.chains[c].src.Rules {
				for _, e := range r.Exprs {
					err := hookAllows(e, t.Family, bc.src.Hook)
					if err == nil {
						err = objrefMapHooks(t, e, bc.src.Hook)
					}
					if err != nil {
						// A validate error names no attribute (nft then
						// shows the whole rule), unlike an init error.
						return &LoadError{Family: t.Family, Table: t.Name, Chain: m.chains[c].src.Name, Handle: r.Handle, Err: err}
					}
				}
			}
			for _, n := range m.targets(c) {
				if err := walk(n); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(int32(ci)); err != nil {
			return err
		}
	}
	return nil
}

// hookAllows is one expression's validate op for a base chain's hook.
func hookAllows(e ruleset.Expr, fam ruleset.Family, h *ruleset.ChainHook) error {
	in := func(hooks ...ruleset.Hook) bool {
		for _, x := range hooks {
			if h.Hook == x {
				return true
			}
		}
		return false
	}
	netdev := fam == ruleset.FamilyNetdev
	switch x := e.(type) {
	case *ruleset.Reject:
		if netdev || fam == ruleset.FamilyBridge || fam == ruleset.FamilyARP {
			return nil
		}
		if !in(ruleset.HookPrerouting, ruleset.HookInput, ruleset.HookForward, ruleset.HookOutput) &&
			!(fam == ruleset.FamilyINet && h.Hook == ruleset.HookIngress) {
			return errNotSupp
		}
	case *ruleset.NAT:
		if h.Type != "nat" {
			return errNotSupp
		}
		if x.Type == ruleset.NATSnat && !in(ruleset.HookPostrouting, ruleset.HookInput) {
			return errNotSupp
		}
		if x.Type == ruleset.NATDnat && !in(ruleset.HookPrerouting, ruleset.HookOutput) {
			return errNotSupp
		}
	case *ruleset.Masq:
		if h.Type != "nat" || !in(ruleset.HookPostrouting) {
			return errNotSupp
		}
	case *ruleset.Redir:
		if h.Type != "nat" || !in(ruleset.HookPrerouting, ruleset.HookOutput) {
			return errNotSupp
		}
	case *ruleset.Fib:
		return fibAllows(x, fam, h)
	case *ruleset.Rt:
		if x.Key == rtTCPMSS && !in(ruleset.HookForward, ruleset.HookOutput, ruleset.HookPostrouting) {
			return errNotSupp
		}
	case *ruleset.Socket:
		if !in(ruleset.HookPrerouting, ruleset.HookInput, ruleset.HookOutput) {
			return errNotSupp
		}
	case *ruleset.Fwd:
		if !netdev {
			return errNotSupp
		}
	case *ruleset.Generic:
		if x.Kind == "flow_offload" {
			return flowOffloadAllowed(fam, h)
		}
		return genericHooks(x, fam, h)
	case *ruleset.Objref:
		if x.Type == objSynproxy {
			return synproxyHooks(fam, h)
		}
	case *ruleset.Meta:
		if x.Set && x.Key == ruleset.MetaPkttype {
			if netdev && h.Hook != ruleset.HookNetdevIngress || !netdev && !in(ruleset.HookPrerouting) {
				return errNotSupp
			}
		}
	}
	return nil
}

// checkShape refuses a ruleset with nil tables, chains, rules, sets or
// expressions: hand-built IR must not make the loader panic.
func checkShape(rs *ruleset.Ruleset) error {
	for _, t := range rs.Tables {
		if t == nil {
			return &LoadError{Err: errInval}
		}
		for _, c := range t.Chains {
			if c == nil {
				return &LoadError{Family: t.Family, Table: t.Name, Err: errInval}
			}
			for _, r := range c.Rules {
				if r == nil {
					return &LoadError{Family: t.Family, Table: t.Name, Chain: c.Name, Err: errInval}
				}
				for _, e := range r.Exprs {
					if e == nil {
						return &LoadError{Family: t.Family, Table: t.Name, Chain: c.Name, Handle: r.Handle, Err: errInval}
					}
					if d, ok := e.(*ruleset.Dynset); ok {
						for _, x := range d.Exprs {
							if x == nil {
								return &LoadError{Family: t.Family, Table: t.Name, Chain: c.Name, Handle: r.Handle, Err: errInval}
							}
						}
					}
				}
			}
		}
		for _, s := range t.Sets {
			if s == nil {
				return &LoadError{Family: t.Family, Table: t.Name, Err: errInval}
			}
		}
	}
	return nil
}
