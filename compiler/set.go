package compiler

// Sets, maps and their elements as nft sends them.
// Ref: src/evaluate.c — set_evaluate, expr_evaluate_set; src/segtree.c —
// set_to_intervals (interval start/end elements, the leading end element of
// 1.0.6); src/netlink.c — alloc_nftnl_set; src/mnl.c — mnl_nft_set_add.

import (
	"bytes"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/syntax"
)

// elem is one parsed element before encoding.
type elem struct {
	key     rval
	data    *rval
	verdict *ruleset.Verdict
	timeout uint64
	comment string
	exprs   []ruleset.Expr
	t       tok
}

// keyTypeID packs concatenated datatypes 6 bits each (TYPE_BITS).
func keyTypeID(x *xexpr) uint32 {
	if x.kind != xConcat {
		return x.dt.id
	}
	var id uint32
	for _, f := range x.fields {
		id = id<<6 | f.dt.id
	}
	return id
}

func keyTypeName(x *xexpr) string {
	if x.kind == xConcat {
		return concatName(x)
	}
	return x.dt.name
}

// newAnon makes an anonymous set with a provisional name; nameAnon gives
// the final one in batch order, as the kernel numbers them.
func (r *rulectx) newAnon(prefix string) *ruleset.Set {
	r.c.setID++
	return &ruleset.Set{Name: fmt.Sprintf("%s#%d", prefix, r.c.setID), ID: r.c.setID}
}

// nameAnon numbers the rule's anonymous sets per table in batch order
// (nf_tables_set_alloc_name picks the lowest free __set%d) and renames
// the references to them.
func (r *rulectx) nameAnon() {
	ren := map[string]string{}
	for _, s := range r.anon {
		i := strings.IndexByte(s.Name, '#')
		if i < 0 {
			continue
		}
		prefix := s.Name[:i]
		var n int
		switch prefix {
		case "__set":
			n = r.ts.anonSet
			r.ts.anonSet++
		case "__map":
			n = r.ts.anonMap
			r.ts.anonMap++
		default:
			n = r.ts.anonObj
			r.ts.anonObj++
		}
		name := fmt.Sprintf("%s%d", prefix, n)
		ren[s.Name] = name
		s.Name = name
	}
	var fix func(es []ruleset.Expr)
	fix = func(es []ruleset.Expr) {
		for _, e := range es {
			switch x := e.(type) {
			case *ruleset.Lookup:
				if n, ok := ren[x.Set]; ok {
					x.Set = n
				}
			case *ruleset.Dynset:
				if n, ok := ren[x.Set]; ok {
					x.Set = n
				}
				fix(x.Exprs)
			case *ruleset.Objref:
				if n, ok := ren[x.SetName]; ok {
					x.SetName = n
				}
			}
		}
	}
	fix(r.exprs)
}

// parseElems reads set-literal elements against key (and data for maps).
func (c *compiler) parseElems(key *xexpr, data *xexpr, verdictMap bool, elems [][]tok) ([]elem, bool) {
	return c.parseElemsInto(nil, key, data, verdictMap, elems)
}

// parseElemsInto is parseElems appending to buf[:0] when it has room.
func (c *compiler) parseElemsInto(buf []elem, key *xexpr, data *xexpr, verdictMap bool, elems [][]tok) ([]elem, bool) {
	out := buf[:0]
	if cap(out) < len(elems) {
		out = make([]elem, 0, len(elems))
	}
	for _, et := range elems {
		if len(et) == 0 {
			continue
		}
		// split key part from ": data"
		colon := -1
		for i, t := range et {
			if t.kind == 'o' && t.s == ":" {
				colon = i
				break
			}
		}
		if colon < 0 && (verdictMap || data != nil) {
			et = splitColonWord(key, et)
			for i, t := range et {
				if t.kind == 'o' && t.s == ":" {
					colon = i
					break
				}
			}
		}
		keyToks := et
		if colon >= 0 {
			keyToks = et[:colon]
		}
		// element options after the key: timeout, expires, comment, counter
		e := elem{t: et[0]}
		kt := keyToks
		for i := 0; i < len(kt); i++ {
			if kt[i].kind == 'w' && (kt[i].s == "timeout" || kt[i].s == "expires" || kt[i].s == "comment" || kt[i].s == "counter") && i > 0 {
				opts := kt[i:]
				kt = kt[:i]
				for j := 0; j < len(opts); j++ {
					switch opts[j].s {
					case "timeout", "expires":
						if j+1 < len(opts) {
							ms, err := parseTime(opts[j+1].s)
							if err != nil {
								c.errorTok(opts[j+1], "%s", err.Error())
								return nil, false
							}
							if opts[j].s == "timeout" {
								e.timeout = ms
							}
							j++
						}
					case "comment":
						if j+1 < len(opts) {
							e.comment = opts[j+1].s
							j++
						}
					case "counter":
						e.exprs = append(e.exprs, &ruleset.Counter{})
					}
				}
				break
			}
		}
		if len(kt) == 1 && kt[0].kind == 'w' && kt[0].s == "*" {
			e.key = rval{t: kt[0], prefix: -1, wildcard: -1}
		} else {
			if len(kt) == 0 {
				c.errorTok(et[0], "syntax error, unexpected colon")
				return nil, false
			}
			v, err := c.evalValue(key, kt)
			if err != nil {
				c.errorAt(kt[0].pos, kt[len(kt)-1].end, "%s", err.Error())
				return nil, false
			}
			e.key = v
		}
		if colon >= 0 {
			dt := et[colon+1:]
			if len(dt) == 0 {
				c.errorTok(et[colon], "syntax error, unexpected end of file")
				return nil, false
			}
			if verdictMap {
				code, ok := verdictWords[dt[0].s]
				if !ok {
					c.errorTok(dt[0], "syntax error, unexpected %s", dt[0].s)
					return nil, false
				}
				v := ruleset.Verdict{Code: code}
				if code == ruleset.VerdictJump || code == ruleset.VerdictGoto {
					if len(dt) < 2 {
						c.errorTok(dt[0], "syntax error, unexpected end of file")
						return nil, false
					}
					v.Chain = dt[1].s
				}
				e.verdict = &v
			} else if data != nil {
				v, err := c.evalValue(data, dt)
				if err != nil {
					c.errorAt(dt[0].pos, dt[len(dt)-1].end, "%s", err.Error())
					return nil, false
				}
				e.data = &v
			}
		}
		out = append(out, e)
	}
	return out, true
}

// encodeElems turns parsed elements into what the kernel stores.
func (c *compiler) encodeElems(key *xexpr, interval bool, elems []elem) []*ruleset.Element {
	return c.encodeElemsMerge(key, interval, elems, true)
}

// encodeElemsMerge encodes elements; merge joins adjacent intervals as the
// auto-merge of anonymous sets does, overlapping ones are always joined.
func (c *compiler) encodeElemsMerge(key *xexpr, interval bool, elems []elem, merge bool) []*ruleset.Element {
	c.skippedEnds = 0
	var out []*ruleset.Element
	mk := func(e elem, k []byte) *ruleset.Element {
		el := &ruleset.Element{Key: k, Timeout: e.timeout, Comment: e.comment, Exprs: e.exprs}
		if e.verdict != nil {
			v := *e.verdict
			el.Verdict = &v
		} else if e.data != nil {
			el.Data = e.data.from
		}
		return el
	}
	if !interval {
		seen := map[string]bool{}
		for _, e := range elems {
			if e.key.from == nil && e.key.t.s == "*" {
				el := mk(e, nil)
				el.Flags = ruleset.ElemCatchall
				out = append(out, el)
				continue
			}
			k := string(e.key.from)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, mk(e, e.key.from))
		}
		return out
	}
	if key.kind == xConcat {
		for _, e := range elems {
			from, to := e.key.from, e.key.to
			if !e.key.isRange {
				to = from
			}
			el := mk(e, concatBE(key, from))
			el.KeyEnd = concatBE(key, to)
			out = append(out, el)
		}
		return out
	}
	type iv struct {
		a, b []byte
		e    elem
	}
	var ivs []iv
	for _, e := range elems {
		a, b := e.key.from, e.key.from
		switch {
		case e.key.isRange:
			b = e.key.to
		case e.key.prefix >= 0:
			b = prefixEnd(e.key.from, e.key.prefix)
		}
		if key.order == hostEndian && key.dt.kind != kString {
			a, b = reverse(a), reverse(b)
		}
		ivs = append(ivs, iv{a, b, e})
	}
	sort.SliceStable(ivs, func(i, j int) bool { return bytes.Compare(ivs[i].a, ivs[j].a) < 0 })
	// merge overlapping/adjacent intervals (sets only: map data differs)
	isMap := len(elems) > 0 && (elems[0].data != nil || elems[0].verdict != nil)
	if isMap {
		for i := 1; i < len(ivs); i++ {
			if bytes.Compare(ivs[i].a, ivs[i-1].b) <= 0 {
				return nil
			}
		}
	}
	var merged []iv
	for _, v := range ivs {
		if n := len(merged); n > 0 && !isMap {
			last := &merged[n-1]
			nb, ok := incr(last.b)
			if !merge {
				nb, ok = last.b, true
			}
			if !ok || bytes.Compare(v.a, nb) <= 0 {
				if bytes.Compare(v.b, last.b) > 0 {
					last.b = v.b
				}
				continue
			}
		}
		merged = append(merged, v)
	}
	if len(merged) > 0 && !isZero(merged[0].a) {
		out = append(out, &ruleset.Element{Key: make([]byte, len(merged[0].a)), Flags: ruleset.ElemIntervalEnd})
	}
	for i, v := range merged {
		out = append(out, mk(v.e, v.a))
		end, ok := incr(v.b)
		if ok && i+1 < len(merged) && bytes.Equal(end, merged[i+1].a) && isMap {
			c.skippedEnds++
			continue // the next interval starts right here
		}
		if ok {
			out = append(out, &ruleset.Element{Key: end, Flags: ruleset.ElemIntervalEnd})
		} else if i == len(merged)-1 {
			// An interval up to the maximum has no end element; nft
			// marks it open in the element's user data.
			c.openEnd[out[len(out)-1]] = true
		}
	}
	return out
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// incr returns b+1 (big-endian), false on overflow.
func incr(b []byte) ([]byte, bool) {
	out := append([]byte(nil), b...)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			return out, true
		}
	}
	return nil, false
}

func anyInterval(elems []elem) bool {
	for _, e := range elems {
		if e.key.isRange || e.key.prefix >= 0 {
			return true
		}
	}
	return false
}

// anonSet builds an anonymous set from a literal for lookup by lhs.
func (r *rulectx) anonSet(lhs *xexpr, lit [][]tok, _ bool, at tok) *ruleset.Set {
	elems, ok := r.c.parseElems(lhs, nil, false, lit)
	if !ok {
		r.bad = true
		return nil
	}
	return r.anonFromElems(lhs, elems, at)
}

func (r *rulectx) anonSetFromVals(lhs *xexpr, vals []rval) *ruleset.Set {
	elems := make([]elem, len(vals))
	for i, v := range vals {
		elems[i] = elem{key: v, t: v.t}
	}
	return r.anonFromElems(lhs, elems, vals[0].t)
}

func (r *rulectx) anonFromElems(lhs *xexpr, elems []elem, at tok) *ruleset.Set {
	if len(elems) == 0 {
		r.fail(at, "Set is empty")
		return nil
	}
	s := r.newAnon("__set")
	s.Flags = ruleset.SetAnonymous | ruleset.SetConstant
	interval := anyInterval(elems)
	if interval {
		s.Flags |= ruleset.SetInterval
		if lhs.kind == xConcat {
			s.Flags |= ruleset.SetConcat
		}
	}
	r.fillKey(s, lhs)
	s.Elements = r.c.encodeElems(lhs, interval, elems)
	s.Size = uint32(len(s.Elements))
	if n := len(s.Elements); n > 0 && r.c.openEnd[s.Elements[n-1]] {
		s.Size++
	}
	s.SizeSet = true
	r.anon = append(r.anon, s)
	return s
}

func (r *rulectx) fillKey(s *ruleset.Set, lhs *xexpr) {
	s.KeyType = keyTypeID(lhs)
	s.KeyTypeName = keyTypeName(lhs)
	s.KeyLen = uint32(lhs.bytesLen())
	if lhs.kind == xConcat {
		for _, f := range lhs.fields {
			s.FieldLens = append(s.FieldLens, uint32(f.bytesLen()))
		}
	}
}

// setDecl declares a named set or map. Ref: src/evaluate.c — set_evaluate.
// expandItems rescans set-block lines the scanner collapsed.
func (c *compiler) expandItems(items []*syntax.SetItem) bool {
	for _, it := range items {
		if err := it.Expand(); err != nil {
			c.errs = append(c.errs, err)
			return false
		}
	}
	return true
}

func (c *compiler) setDecl(ts *tableState, kind string, name *syntax.Name, items []*syntax.SetItem) {
	if !c.expandItems(items) {
		return
	}
	if ts.set(name.Text()) != nil {
		// Adding to an existing set only adds elements.
		s := ts.set(name.Text())
		for _, it := range items {
			if it.Key.Text() == "elements" {
				c.setElementsItem(ts, s, it)
			}
		}
		return
	}
	s := &ruleset.Set{Name: name.Text()}
	var key, data *xexpr
	var elemItem *syntax.SetItem
	isMap := kind == "map"
	verdictMap := false
	hasType := false
	for _, it := range items {
		toks, ok := c.flatten(it.Args)
		if !ok {
			return
		}
		k := it.Key.Text()
		switch k {
		case "type", "typeof":
			var err error
			key, data, verdictMap, err = c.setType(ts, k == "typeof", toks, isMap)
			if err != nil {
				at := tok{pos: it.Key.Pos, end: it.Key.Pos.Column + len(k) - 1}
				if len(toks) > 0 {
					at = tok{pos: toks[0].pos, end: toks[len(toks)-1].end}
				}
				c.errorTok(at, "%s", err.Error())
				return
			}
			hasType = true
			if k == "typeof" {
				s.KeyTypeof = joinSpaced(toks)
			}
		case "flags":
			for _, t := range toks {
				switch t.s {
				case ",":
				case "constant":
					s.Flags |= ruleset.SetConstant
				case "interval":
					s.Flags |= ruleset.SetInterval
				case "timeout":
					s.Flags |= ruleset.SetTimeout
				case "dynamic":
					s.Flags |= ruleset.SetEval
				default:
					c.errorTok(t, "syntax error, unexpected %s", t.s)
					return
				}
			}
		case "timeout":
			if len(toks) > 0 {
				ms, err := parseTime(toks[0].s)
				if err != nil {
					c.errorTok(toks[0], "%s", err.Error())
					return
				}
				s.Timeout = ms
				s.Flags |= ruleset.SetTimeout
			}
		case "gc-interval":
			if len(toks) > 0 {
				ms, err := parseTime(toks[0].s)
				if err != nil {
					c.errorTok(toks[0], "%s", err.Error())
					return
				}
				s.GCInterval = uint32(ms)
			}
		case "size":
			if len(toks) > 0 {
				n, ok := parseUint(toks[0].s)
				if !ok {
					c.errorTok(toks[0], "syntax error, unexpected %s", toks[0].s)
					return
				}
				s.Size = uint32(n.Uint64())
				s.SizeSet = true
			}
		case "policy":
			if len(toks) > 0 {
				switch toks[0].s {
				case "performance":
					s.Policy = 0
				case "memory":
					s.Policy = 1
				}
				s.PolicySet = true
			}
		case "auto-merge":
			s.AutoMerge = true
		case "comment":
			if len(toks) > 0 {
				s.Comment = toks[0].s
			}
		case "elements":
			elemItem = it
		case "counter":
			s.Exprs = append(s.Exprs, &ruleset.Counter{})
		default:
			c.errorAt(it.Key.Pos, it.Key.Pos.Column+len(k)-1, "syntax error, unexpected %s", k)
			return
		}
	}
	if !hasType {
		c.errorAt(name.Pos, name.Pos.Column+len(name.Text())-1, "set definition does not specify key")
		return
	}
	if isMap {
		s.Flags |= ruleset.SetMap
		if verdictMap {
			s.DataType = ruleset.DataVerdict
			s.DataTypeName = "verdict"
		} else if data != nil {
			s.DataType = keyTypeID(data)
			s.DataTypeName = keyTypeName(data)
			s.DataLen = uint32(data.bytesLen())
		}
	}
	if key.kind == xConcat && s.Flags&ruleset.SetInterval != 0 {
		s.Flags |= ruleset.SetConcat
	}
	rc := &rulectx{c: c, ts: ts}
	rc.fillKey(s, key)
	c.setID++
	s.ID = c.setID
	s.Handle = ts.handle()
	ts.t.Sets = append(ts.t.Sets, s)
	c.setKeys[s] = setKey{key, data, verdictMap}
	c.batch = append(c.batch, msg{kind: msgSet, table: ts.t, set: s})
	if elemItem != nil {
		c.setElementsItem(ts, s, elemItem)
	}
}

type setKey struct {
	key, data  *xexpr
	verdictMap bool
}

func (c *compiler) setElementsItem(ts *tableState, s *ruleset.Set, it *syntax.SetItem) {
	var toks []tok
	var ok bool
	if raw := it.RawArgs(); raw != nil {
		if c.streamElems(ts, s, raw) {
			return
		}
		toks, ok = c.lexFlatten(raw)
	} else {
		toks, ok = c.flatten(it.Args)
	}
	if !ok {
		return
	}
	for _, t := range toks {
		if t.kind == '{' {
			c.addElemToks(ts, s, t.set)
			return
		}
	}
}

// streamElems adds a large non-interval set's `elements = { … }` straight
// from the scanner tokens, lexing elemChunk elements at a time into one
// reused token buffer: a 100k-element set then never holds a compiler token
// per element (about a third of the compile's allocation). It reports false,
// having done nothing, when the item is not such a literal; the general path
// then handles it.
func (c *compiler) streamElems(ts *tableState, s *ruleset.Set, raw []lexer.Token) bool {
	sk, ok := c.setKeys[s]
	if !ok || s.Flags&ruleset.SetInterval != 0 {
		return false
	}
	// `= { … }` and nothing after it; count the elements (top-level commas).
	i := 0
	if i < len(raw) && raw[i].Type == syntax.Punct && raw[i].Value == "=" {
		i++
	}
	if i >= len(raw) || raw[i].Type != syntax.LBrace {
		return false
	}
	start, n, depth, end := i+1, 1, 0, -1
	for j := start; j < len(raw) && end < 0; j++ {
		switch raw[j].Type {
		case syntax.LBrace:
			depth++
		case syntax.RBrace:
			if depth == 0 {
				end = j
			}
			depth--
		case syntax.Comma, syntax.NL, syntax.Semi:
			if depth == 0 {
				n++
			}
		case syntax.Punct:
			if raw[j].Value == "$" {
				return false // variables may expand to several elements
			}
		}
	}
	if end < 0 || n <= elemChunk {
		return false
	}
	for j := end + 1; j < len(raw); j++ {
		if t := raw[j].Type; t != syntax.NL && t != syntax.Semi && t != syntax.EOF {
			return false
		}
	}
	pos := start
	var slab []tok
	var lit [][]tok
	next := func() ([][]tok, bool) {
		lit = lit[:0]
		saved := c.slab
		c.slab = slab[:0]
		ntok := 0
		for pos < end && len(lit) < elemChunk {
			switch raw[pos].Type {
			case syntax.Comma, syntax.NL, syntax.Semi:
				pos++
				continue
			}
			el, ok := c.lexSeq(raw[:end], &pos, true)
			if !ok {
				c.slab = saved
				return nil, false
			}
			lit = append(lit, el)
			ntok += len(el)
		}
		slab, c.slab = c.slab, saved
		if cap(slab) < ntok {
			// the chunk outgrew the buffer: the next ones get one block
			// big enough (tokBuf carves small requests from c.slab)
			slab = make([]tok, 0, ntok+ntok/4)
		}
		return lit, true
	}
	c.addElemsFlat(ts, s, sk, n, next)
	return true
}

func (c *compiler) addElements(ts *tableState, s *ruleset.Set, lit *syntax.SetLit) {
	et, ok := c.setToks(lit)
	if !ok {
		return
	}
	c.addElemToks(ts, s, et)
}

func (c *compiler) addElemToks(ts *tableState, s *ruleset.Set, lit [][]tok) {
	sk, ok := c.setKeys[s]
	if !ok {
		return
	}
	interval := s.Flags&ruleset.SetInterval != 0
	if !interval && len(lit) > elemChunk {
		lo := 0
		c.addElemsFlat(ts, s, sk, len(lit), func() ([][]tok, bool) {
			chunk := lit[lo:min(lo+elemChunk, len(lit))]
			lo += len(chunk)
			return chunk, true
		})
		return
	}
	elems, ok := c.parseElems(sk.key, sk.data, sk.verdictMap, lit)
	if !ok {
		return
	}
	for _, e := range elems {
		if e.verdict != nil && (e.verdict.Code == ruleset.VerdictJump || e.verdict.Code == ruleset.VerdictGoto) && ts.chain(e.verdict.Chain) == nil {
			c.errorTok(e.t, "No such file or directory")
			return
		}
	}
	if !interval && anyInterval(elems) {
		c.errorTok(elems[0].t, "You must add 'flags interval' to your set declaration if you want to add ranges")
		return
	}
	encoded := c.encodeElemsMerge(sk.key, interval, elems, s.AutoMerge)
	if len(encoded) == 0 {
		return
	}
	s.Elements = append(s.Elements, encoded...)
	c.batch = append(c.batch, msg{kind: msgElems, table: ts.t, set: s, elems: encoded})
}

// elemChunk is how many elements addElemsFlat parses at a time.
const elemChunk = 4096

// addElemsFlat is addElemToks for a large set without intervals: elements
// are parsed and encoded a chunk at a time, so the parsed form of only one
// chunk is live (a 100k-element set otherwise holds ~40 MB of it), and the
// kernel elements share one allocation. Errors are reported as addElemToks
// reports them: the first parse error, else the first jump to an unknown
// chain, else a range in a set without the interval flag.
//
// n is about how many elements there are; next returns the next chunk of
// element tokens (empty at the end), which it may overwrite on the
// following call.
func (c *compiler) addElemsFlat(ts *tableState, s *ruleset.Set, sk setKey, n int, next func() ([][]tok, bool)) {
	seen := make(map[string]struct{}, n)
	store := make([]ruleset.Element, 0, n)
	encoded := make([]*ruleset.Element, 0, n)
	var jumpErr, rangeErr *tok
	var first tok
	var buf []elem
	for {
		chunk, ok := next()
		if !ok {
			return
		}
		if len(chunk) == 0 {
			break
		}
		elems, ok := c.parseElemsInto(buf, sk.key, sk.data, sk.verdictMap, chunk)
		if !ok {
			return
		}
		buf = elems
		if len(elems) == 0 {
			continue
		}
		if first.kind == 0 {
			first = elems[0].t
		}
		for i := range elems {
			e := &elems[i]
			if jumpErr == nil && e.verdict != nil && (e.verdict.Code == ruleset.VerdictJump || e.verdict.Code == ruleset.VerdictGoto) && ts.chain(e.verdict.Chain) == nil {
				t := e.t
				jumpErr = &t
			}
			if e.key.isRange || e.key.prefix >= 0 {
				rangeErr = &first
			}
			el := ruleset.Element{Timeout: e.timeout, Comment: e.comment, Exprs: e.exprs}
			if e.key.from == nil && e.key.t.s == "*" {
				el.Flags = ruleset.ElemCatchall
			} else {
				if _, dup := seen[string(e.key.from)]; dup {
					continue
				}
				seen[string(e.key.from)] = struct{}{}
				el.Key = e.key.from
			}
			if e.verdict != nil {
				v := *e.verdict
				el.Verdict = &v
			} else if e.data != nil {
				el.Data = e.data.from
			}
			store = append(store, el)
			encoded = append(encoded, &store[len(store)-1])
		}
	}
	switch {
	case jumpErr != nil:
		c.errorTok(*jumpErr, "No such file or directory")
		return
	case rangeErr != nil:
		c.errorTok(*rangeErr, "You must add 'flags interval' to your set declaration if you want to add ranges")
		return
	}
	c.skippedEnds = 0
	if len(encoded) == 0 {
		return
	}
	s.Elements = append(s.Elements, encoded...)
	c.batch = append(c.batch, msg{kind: msgElems, table: ts.t, set: s, elems: encoded})
}

func joinSpaced(ts []tok) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.s
	}
	return strings.Join(parts, " ")
}

// setType evaluates `type A [. B…] [: V]` or `typeof EXPR [: EXPR]`.
func (c *compiler) setType(ts *tableState, typeof bool, toks []tok, isMap bool) (key, data *xexpr, verdict bool, err error) {
	colon := len(toks)
	for i, t := range toks {
		if t.kind == 'o' && t.s == ":" {
			colon = i
		}
	}
	if isMap && colon == len(toks) {
		return nil, nil, false, errf("map definition does not specify data type")
	}
	kt := toks[:colon]
	key, err = c.typeExpr(ts, typeof, kt)
	if err != nil {
		return
	}
	if colon < len(toks) {
		dt := toks[colon+1:]
		if len(dt) == 1 && dt[0].s == "verdict" {
			return key, nil, true, nil
		}
		data, err = c.typeExpr(ts, typeof, dt)
	}
	return
}

func (c *compiler) typeExpr(ts *tableState, typeof bool, toks []tok) (*xexpr, error) {
	if len(toks) == 0 {
		return nil, errf("syntax error, unexpected newline")
	}
	if typeof {
		r := &rulectx{c: c, ts: ts, fam: ts.t.Family, toks: toks, lastTok: toks[len(toks)-1]}
		x := r.keyExpr()
		if x == nil || r.bad {
			return nil, errf("syntax error")
		}
		return x, nil
	}
	var fields []*xexpr
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == 'o' && t.s == "." {
			continue
		}
		dt, ok := setTypes[t.s]
		if !ok || dt == nil {
			return nil, errf("unknown datatype %s", t.s)
		}
		x := &xexpr{kind: xMeta, dt: dt, bits: dt.bits, order: dt.order, t0: t}
		if dt.kind == kIPv4 || dt.kind == kIPv6 || dt.kind == kEther {
			x.order = bigEndian
		}
		if dt.bits == 0 {
			return nil, errf("unknown datatype %s", t.s)
		}
		fields = append(fields, x)
	}
	if len(fields) == 1 {
		return fields[0], nil
	}
	cat := &xexpr{kind: xConcat, fields: fields, dt: &dtype{name: "concat"}}
	cat.bits = cat.bytesLen() * 8
	return cat, nil
}

// parseTime parses nft time strings (1d2h3m4s5ms, or plain seconds) into ms.
// Ref: src/datatype.c — time_parse.
func parseTime(s string) (uint64, error) {
	if n, ok := parseUint(s); ok {
		return n.Uint64() * 1000, nil
	}
	var total uint64
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, errf("wrong time format")
		}
		n, _ := strconv.ParseUint(s[i:j], 10, 64)
		k := j
		for k < len(s) && (s[k] < '0' || s[k] > '9') {
			k++
		}
		switch s[j:k] {
		case "d":
			total += n * 86400000
		case "h":
			total += n * 3600000
		case "m":
			total += n * 60000
		case "s":
			total += n * 1000
		case "ms":
			total += n
		default:
			return 0, errf("wrong time format")
		}
		i = k
	}
	return total, nil
}

func parseClassid(s string) (uint64, bool) {
	switch s {
	case "root":
		return 0xffffffff, true
	case "none":
		return 0, true
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		maj, err1 := strconv.ParseUint(s[:i], 16, 16)
		min, err2 := strconv.ParseUint(s[i+1:], 16, 16)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return maj<<16 | min, true
	}
	return 0, false
}

func realm(s string) (uint64, bool) {
	if s == "default" {
		return 0, true
	}
	n, ok := parseUint(s)
	if !ok {
		return 0, false
	}
	return n.Uint64(), true
}

func userOrGroup(user bool, name string) (uint64, bool) {
	file := "/etc/group"
	if user {
		file = "/etc/passwd"
	}
	b, err := readFileCached(file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Split(line, ":")
		if len(fs) >= 3 && fs[0] == name {
			n, err := strconv.ParseUint(fs[2], 10, 32)
			return n, err == nil
		}
	}
	return 0, false
}

var _ = big.NewInt

// splitColonWord splits `key:data` written without spaces (one scanner
// word) into key, ':' and data tokens.
func splitColonWord(key *xexpr, et []tok) []tok {
	for i, t := range et {
		if t.kind != 'w' || !strings.Contains(t.s, ":") {
			continue
		}
		j := strings.LastIndexByte(t.s, ':')
		if j == len(t.s)-1 && j > 0 && i+1 < len(et) {
			if _, err := parseValue(key.dt, key.bits, key.order, t.s, false); err != nil || key.dt.kind != kIPv6 {
				lt := t
				lt.s, lt.end = t.s[:j], t.end-1
				ct := t
				ct.s, ct.kind = ":", 'o'
				ct.pos.Column = t.end
				ct.end = t.end
				out := append([]tok(nil), et[:i]...)
				out = append(out, lt, ct)
				return append(out, et[i+1:]...)
			}
		}
		if j <= 0 || j == len(t.s)-1 {
			continue
		}
		left, right := t.s[:j], t.s[j+1:]
		if key.kind != xConcat && (key.dt.kind == kIPv6 || key.dt.kind == kEther || key.dt == tClassid) {
			if _, ok := verdictWords[right]; !ok {
				if _, err := parseValue(key.dt, key.bits, key.order, t.s, false); err == nil {
					continue
				}
			}
		}
		lt := t
		lt.s, lt.end = left, t.pos.Column+len(left)-1
		ct := t
		ct.s, ct.kind = ":", 'o'
		ct.pos.Column += len(left)
		ct.end = ct.pos.Column
		rt := t
		rt.s = right
		rt.pos.Column = ct.pos.Column + 1
		out := append([]tok(nil), et[:i]...)
		out = append(out, lt, ct, rt)
		return append(out, et[i+1:]...)
	}
	return et
}

// concatBE puts host-order fields of an interval concatenation in network
// order, as the interval backend compares keys with memcmp.
func concatBE(key *xexpr, b []byte) []byte {
	out := append([]byte(nil), b...)
	off := 0
	for _, f := range key.fields {
		n := f.bytesLen()
		if f.order == hostEndian && f.dt.kind != kString && n > 1 && off+n <= len(out) {
			copy(out[off:off+n], reverse(out[off:off+n]))
		}
		off += (n + 3) &^ 3
	}
	return out
}
