// Package compiler turns nft ruleset text into kernel expressions exactly as
// nft 1.0.6 does: evaluation with nft's datatypes and byte orders, implicit
// protocol dependencies, linearisation with nft's register allocation, and
// the `nft --debug=netlink` notation of the resulting batch.
package compiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/syntax"
)

// Options configures compilation.
type Options struct {
	// IncludePaths are searched for `include` files that do not start with
	// "/", "./" or "../" (nft's -I; the default is /etc).
	IncludePaths []string
	// QuotedNames accepts quoted table, chain, set and object names (see
	// syntax.ParseOptions); set by the JSON front end only.
	QuotedNames bool
}

// Compiled is the result of compiling one file: the ruleset the kernel would
// hold after the commit, and the batch in the order nft sends it.
type Compiled struct {
	Ruleset *ruleset.Ruleset
	batch   []msg
	openEnd map[*ruleset.Element]bool
	// stmts holds each rule's statements with their source spans, to place
	// the errors the kernel reports when the batch is loaded (KernelError).
	stmts map[*ruleset.Rule][]stmtSpan
	// objs holds each named object's name span, for the errors the kernel
	// reports at an object (NEWOBJ).
	objs map[*ruleset.Object]*syntax.Name
	srcs map[string][]byte
}

// maxErrors mirrors nft's parser_max_errors.
const maxErrors = 10

// CompileFile reads, parses, evaluates and linearises the file at path. Its
// error, if any, prints in nft's shape (file:line:col-col: Error: …, the
// line, a caret underline), one block per error.
func CompileFile(path string, opt Options) (*Compiled, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("internal:0:0-0: Error: Could not open file %q: %s", path, errnoText(err))
	}
	return CompileSource(path, src, opt)
}

func errnoText(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "Permission denied"
	}
	return err.Error()
}

// CompileSource is CompileFile for text already in memory; name is used in
// error locations.
func CompileSource(name string, src []byte, opt Options) (c *Compiled, err error) {
	defer func() {
		// Nothing may panic on bad input; a bug becomes an error instead.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%s:0:0-0: Error: internal error: %v", name, r)
		}
	}()
	cc := &compiler{
		opt:     opt,
		rs:      &ruleset.Ruleset{},
		srcs:    map[string][]byte{},
		scopes:  []map[string]*define{{}},
		setKeys: map[*ruleset.Set]setKey{},
		openEnd: map[*ruleset.Element]bool{},
	}
	cc.file(name, src, 0)
	if len(cc.errs) > 0 {
		return nil, cc.errs
	}
	if len(cc.kernelErrs) > 0 {
		return nil, cc.kernelErrs
	}
	return &Compiled{Ruleset: cc.rs, batch: cc.batch, openEnd: cc.openEnd, stmts: cc.stmts, objs: cc.objs, srcs: cc.srcs}, nil
}

type define struct {
	toks []tok
}

type compiler struct {
	opt         Options
	rs          *ruleset.Ruleset
	batch       []msg
	errs        syntax.Errors
	srcs        map[string][]byte
	scopes      []map[string]*define
	tableHandle uint64
	setID       uint32
	depth       int
	tables      map[*ruleset.Table]*tableState
	setKeys     map[*ruleset.Set]setKey
	// skippedEnds counts end elements the last encoding left out because
	// the next map interval starts there (nft still counts them in size).
	skippedEnds int
	// openEnd marks interval elements nft flags as open-ended (userdata).
	openEnd map[*ruleset.Element]bool
	// kernelErrs are errors the kernel would report for the batch.
	kernelErrs syntax.Errors
	// slab backs small token slices (tokBuf).
	slab []tok
	// stmts records each rule's statements (see Compiled.stmts).
	stmts map[*ruleset.Rule][]stmtSpan
	objs  map[*ruleset.Object]*syntax.Name
}

type tableState struct {
	t       *ruleset.Table
	next    uint64 // next object handle in this table
	anonSet int
	anonMap int
	anonObj int
}

// errorAt records an error located at [pos, endCol].
func (c *compiler) errorAt(pos lexer.Position, endCol int, format string, a ...any) {
	if len(c.errs) >= maxErrors {
		return
	}
	c.errs = append(c.errs, &syntax.Error{Pos: pos, EndCol: endCol, Msg: fmt.Sprintf(format, a...), Src: c.srcs[pos.Filename]})
}

func (c *compiler) errorTok(t tok, format string, a ...any) {
	c.errorAt(t.pos, t.end, format, a...)
}

func (c *compiler) file(name string, src []byte, depth int) {
	c.srcs[name] = src
	f, err := syntax.ParseWith(name, src, syntax.ParseOptions{QuotedNames: c.opt.QuotedNames})
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	for _, it := range f.Items {
		if len(c.errs) >= maxErrors {
			return
		}
		switch {
		case it.Define != nil:
			c.define(it.Define)
		case it.Undefine != nil:
			delete(c.scopes[len(c.scopes)-1], it.Undefine.Name.Text())
		case it.Include != nil:
			c.include(it.Include, depth)
		case it.Table != nil:
			c.tableBlock(it.Table.Family, it.Table.Name, it.Table.Items, true)
		case it.Command != nil:
			c.command(it.Command)
		}
	}
}

func (c *compiler) define(d *syntax.Define) {
	scope := c.scopes[len(c.scopes)-1]
	name := d.Name.Text()
	if _, ok := scope[name]; ok && d.Kind == "define" {
		c.errorAt(d.Name.Pos, d.Name.Pos.Column+len(name)-1, "redefinition of symbol '%s'", name)
		return
	}
	toks, ok := c.flatten(d.Value)
	if !ok {
		return
	}
	scope[name] = &define{toks: toks}
}

func (c *compiler) lookupDefine(name string) *define {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		if d, ok := c.scopes[i][name]; ok {
			return d
		}
	}
	return nil
}

func (c *compiler) include(inc *syntax.Include, depth int) {
	path := strings.Trim(inc.Path, `"`)
	endCol := inc.Pos.Column + len("include ") + len(inc.Path) - 1
	if depth >= 16 {
		c.errorAt(inc.Pos, endCol, "Include nested too deeply, max 16 levels")
		return
	}
	var candidates []string
	if strings.HasPrefix(path, "/") || strings.HasPrefix(path, "./") || strings.HasPrefix(path, "../") {
		candidates = []string{path}
	} else {
		dirs := c.opt.IncludePaths
		if len(dirs) == 0 {
			dirs = []string{"/etc"}
		}
		for _, d := range dirs {
			candidates = append(candidates, filepath.Join(d, path))
		}
	}
	for _, cand := range candidates {
		matches := []string{cand}
		if strings.ContainsAny(cand, "*?[") {
			matches, _ = filepath.Glob(cand)
			sort.Strings(matches)
			if len(matches) == 0 {
				return // an empty glob is not an error
			}
		}
		found := false
		for _, m := range matches {
			src, err := os.ReadFile(m)
			if err != nil {
				continue
			}
			found = true
			c.file(m, src, depth+1)
		}
		if found {
			return
		}
	}
	c.errorAt(inc.Pos, endCol, "File not found: %s", path)
}

// table returns the table, creating it (and its batch message) if needed.
func (c *compiler) table(famName string, name *syntax.Name, create bool) (*tableState, bool) {
	fam := ruleset.FamilyIPv4
	if famName != "" {
		fam, _ = ruleset.ParseFamily(famName)
	}
	for _, t := range c.rs.Tables {
		if t.Family == fam && t.Name == name.Text() {
			return c.tables[t], true
		}
	}
	if !create {
		c.errorAt(name.Pos, name.Pos.Column+len(name.Text())-1, "Could not process rule: No such file or directory")
		return nil, false
	}
	c.tableHandle++
	t := &ruleset.Table{Family: fam, Name: name.Text(), Handle: c.tableHandle}
	c.rs.Tables = append(c.rs.Tables, t)
	if c.tables == nil {
		c.tables = map[*ruleset.Table]*tableState{}
	}
	ts := &tableState{t: t, next: 1}
	c.tables[t] = ts
	return ts, true
}

func (ts *tableState) handle() uint64 {
	h := ts.next
	ts.next++
	return h
}

func (ts *tableState) chain(name string) *ruleset.Chain {
	for _, ch := range ts.t.Chains {
		if ch.Name == name {
			return ch
		}
	}
	return nil
}

func (ts *tableState) set(name string) *ruleset.Set {
	for _, s := range ts.t.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// tableBlock evaluates a table block in the order nft 1.0.6 sends it:
// chains, objects, sets with their elements, flowtables, then each chain's
// rules.
func (c *compiler) tableBlock(fam string, name *syntax.Name, items []*syntax.TableItem, create bool) {
	ts, ok := c.table(fam, name, create)
	if !ok {
		return
	}
	c.scopes = append(c.scopes, map[string]*define{})
	defer func() { c.scopes = c.scopes[:len(c.scopes)-1] }()
	type pending struct {
		ch    *ruleset.Chain
		items []*syntax.ChainItem
	}
	var chains []pending
	for _, it := range items {
		switch {
		case it.Define != nil:
			c.define(it.Define)
		case it.Chain != nil:
			ch := c.chainDecl(ts, it.Chain.Name, it.Chain.Items)
			if ch != nil {
				chains = append(chains, pending{ch, it.Chain.Items})
			}
		case it.Comment != "":
			ts.t.Comment = strings.Trim(it.Comment, `"`)
		case it.Flags != nil:
			for _, f := range it.Flags {
				switch f.Text() {
				case "dormant":
					ts.t.Flags |= 1
				case "owner":
					ts.t.Flags |= 2
				default:
					c.errorAt(f.Pos, f.Pos.Column+len(f.Text())-1, "syntax error, unexpected %s", f.Text())
				}
			}
		}
	}
	for _, it := range items {
		switch {
		case it.Object != nil:
			c.objectDecl(ts, it.Object.Kind, it.Object.Name, it.Object.Items)
		case it.CtObject != nil:
			c.objectDecl(ts, "ct "+it.CtObject.Kind, it.CtObject.Name, it.CtObject.Items)
		}
	}
	for _, it := range items {
		if it.Set != nil {
			c.setDecl(ts, it.Set.Kind, it.Set.Name, it.Set.Items)
		}
	}
	for _, it := range items {
		if it.Flowtable != nil {
			c.flowtableDecl(ts, it.Flowtable)
		}
	}
	for _, p := range chains {
		c.scopes = append(c.scopes, map[string]*define{})
		for _, ci := range p.items {
			switch {
			case ci.Define != nil:
				c.define(ci.Define)
			case ci.Rule != nil:
				if ci.Rule.Raw == "" {
					c.rule(ts, p.ch, ci.Rule.Terms, nil)
					continue
				}
				rules, err := ci.Rule.RuleTokens()
				if err != nil {
					c.errs = append(c.errs, err)
				}
				for _, lt := range rules {
					if toks, ok := c.lexFlatten(lt); ok {
						c.ruleToks(ts, p.ch, toks, nil)
					}
				}
			}
		}
		c.scopes = c.scopes[:len(c.scopes)-1]
	}
}

func (c *compiler) flowtableDecl(ts *tableState, o *syntax.Object) {
	obj := &ruleset.Object{Kind: "flowtable", Name: o.Name.Text(), Handle: ts.handle()}
	hook, prio, flags := "", int32(0), 0
	var devs []string
	if !c.expandItems(o.Items) {
		return
	}
	for _, it := range o.Items {
		toks, ok := c.flatten(it.Args)
		if !ok {
			return
		}
		switch it.Key.Text() {
		case "hook":
			if len(toks) > 0 {
				hook = toks[0].s
			}
			for i, t := range toks {
				if t.s == "priority" {
					if prio, ok = c.flowtablePriority(toks[i:]); !ok {
						return
					}
					break
				}
			}
		case "devices":
			for _, t := range toks {
				if t.kind == '{' {
					for _, el := range t.set {
						for _, e := range el {
							devs = append(devs, e.s)
						}
					}
				}
			}
			// Prepended one by one, as for chain devices (deviceNames).
			slices.Reverse(devs)
		case "counter":
			flags |= flowtableCounter
		case "flags":
			for _, t := range toks {
				if t.s == "offload" {
					flags |= flowtableHWOffload
				}
			}
		}
	}
	obj.Attrs = append(obj.Attrs, ruleset.ObjectAttr{Key: "hook", Value: hook},
		ruleset.ObjectAttr{Key: "priority", Value: fmt.Sprint(prio)})
	if flags != 0 {
		obj.Attrs = append(obj.Attrs, ruleset.ObjectAttr{Key: "flags", Value: fmt.Sprint(flags)})
	}
	for _, d := range devs {
		obj.Attrs = append(obj.Attrs, ruleset.ObjectAttr{Key: "device", Value: d})
	}
	ts.t.Objects = append(ts.t.Objects, obj)
	c.batch = append(c.batch, msg{kind: msgFlowtable, table: ts.t, obj: obj})
}

// Flowtable flags (enum nft_flowtable_flags).
const (
	flowtableHWOffload = 1
	flowtableCounter   = 2
)

// flowtablePriority reads `priority PRIO` of a flowtable hook: a number,
// or `filter` (the one standard priority of the netdev family's ingress)
// with an optional `+ N` / `- N`.
//
// Ref: nftables src/evaluate.c — flowtable_evaluate, evaluate_priority
func (c *compiler) flowtablePriority(toks []tok) (int32, bool) {
	end := len(toks)
	for i, t := range toks {
		if i > 0 && (t.kind == 'o' && t.s == ";" || t.s == "devices") {
			end = i
			break
		}
	}
	toks = toks[:end]
	bad := func() (int32, bool) {
		last := toks[len(toks)-1]
		c.errorAt(toks[0].pos, last.end, "invalid priority expression value.")
		return 0, false
	}
	rest := toks[1:]
	neg := false
	if len(rest) > 0 && rest[0].s == "-" {
		neg, rest = true, rest[1:]
	}
	if len(rest) == 0 {
		return bad()
	}
	var v int64
	if n, ok := parseUint(rest[0].s); ok && n.IsInt64() && n.Int64() <= 1<<31 {
		v = n.Int64()
		if len(rest) > 1 {
			// Only a named priority takes an offset in nft's grammar.
			c.errorTok(rest[1], "syntax error, unexpected %s, expecting newline or semicolon", rest[1].s)
			return 0, false
		}
	} else if rest[0].s == "filter" && !neg {
		v = 0
	} else {
		return bad()
	}
	if neg {
		v = -v
	}
	rest = rest[1:]
	if len(rest) == 2 && (rest[0].s == "+" || rest[0].s == "-") {
		n, ok := parseUint(rest[1].s)
		if !ok || !n.IsInt64() {
			return bad()
		}
		if rest[0].s == "+" {
			v += n.Int64()
		} else {
			v -= n.Int64()
		}
	} else if len(rest) != 0 {
		return bad()
	}
	return int32(v), true
}

var stdPrios = map[string]int32{"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
var bridgePrios = map[string]int32{"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}

func hookNumber(fam ruleset.Family, name string) (ruleset.Hook, bool) {
	switch fam {
	case ruleset.FamilyARP:
		switch name {
		case "input":
			return ruleset.HookARPIn, true
		case "output":
			return ruleset.HookARPOut, true
		}
		return 0, false
	case ruleset.FamilyNetdev:
		switch name {
		case "ingress":
			return ruleset.HookNetdevIngress, true
		case "egress":
			return ruleset.HookNetdevEgress, true
		}
		return 0, false
	}
	switch name {
	case "prerouting":
		return ruleset.HookPrerouting, true
	case "input":
		return ruleset.HookInput, true
	case "forward":
		return ruleset.HookForward, true
	case "output":
		return ruleset.HookOutput, true
	case "postrouting":
		return ruleset.HookPostrouting, true
	case "ingress":
		if fam == ruleset.FamilyINet {
			return ruleset.HookIngress, true
		}
	}
	return 0, false
}

// chainDecl creates (or finds) a chain and applies its hook and policy.
// Ref: nftables src/evaluate.c — chain_evaluate; src/rule.c — std_prios.
func (c *compiler) chainDecl(ts *tableState, name *syntax.Name, items []*syntax.ChainItem) *ruleset.Chain {
	ch := ts.chain(name.Text())
	isNew := ch == nil
	if isNew {
		ch = &ruleset.Chain{Name: name.Text(), Handle: ts.handle()}
		ts.t.Chains = append(ts.t.Chains, ch)
	}
	fam := ts.t.Family
	for _, it := range items {
		switch {
		case it.Hook != nil:
			h := it.Hook
			hk, ok := hookNumber(fam, h.Hook.Text())
			if !ok {
				c.errorAt(h.Hook.Pos, h.Hook.Pos.Column+len(h.Hook.Text())-1, "unknown chain hook")
				continue
			}
			prio, ok := c.priority(fam, hk, h.Hook.Text(), h.Priority)
			if !ok {
				continue
			}
			ch.Hook = &ruleset.ChainHook{Type: h.Type.Text(), Hook: hk, Priority: prio, Policy: ruleset.Verdict{Code: ruleset.VerdictAccept}}
			for _, d := range []*syntax.Term{h.Device, h.Devices, h.Device2} {
				if d != nil {
					ch.Hook.Devices = append(ch.Hook.Devices, c.deviceNames(d)...)
				}
			}
			// Ref: nftables src/evaluate.c — chain_evaluate
			if h.Device == nil && h.Devices == nil && h.Device2 == nil &&
				(fam == ruleset.FamilyNetdev || fam == ruleset.FamilyINet && hk == ruleset.HookIngress) {
				c.errorAt(h.Pos, h.Priority.EndPos.Column-1, "Missing `device' in this chain definition")
				continue
			}
		case it.Policy != nil:
			switch it.Policy.Text() {
			case "accept":
				if ch.Hook != nil {
					ch.Hook.Policy = ruleset.Verdict{Code: ruleset.VerdictAccept}
				}
			case "drop":
				if ch.Hook != nil {
					ch.Hook.Policy = ruleset.Verdict{Code: ruleset.VerdictDrop}
				}
			default:
				c.errorAt(it.Policy.Pos, it.Policy.Pos.Column+len(it.Policy.Text())-1, "syntax error, unexpected %s, expecting accept or drop or '$'", it.Policy.Text())
			}
		case it.Comment != "":
			ch.Comment = strings.Trim(it.Comment, `"`)
		}
	}
	if isNew {
		c.batch = append(c.batch, msg{kind: msgChain, table: ts.t, chain: ch})
	}
	return ch
}

func (c *compiler) deviceNames(t *syntax.Term) []string {
	if t.Set == nil {
		if t.Op == "$" {
			return nil
		}
		return []string{t.Text()}
	}
	var out []string
	for _, e := range t.Set.Elems {
		for _, et := range e.Terms {
			out = append(out, et.AsTerm().Text())
		}
	}
	// nft 1.0.6 builds the device array by prepending: the kernel gets
	// (and --debug=netlink prints) the devices in reverse order.
	slices.Reverse(out)
	return out
}

func (c *compiler) priority(fam ruleset.Family, hk ruleset.Hook, hookName string, p *syntax.Priority) (int32, bool) {
	end := p.EndPos.Column - 1
	bad := func() (int32, bool) {
		c.errorAt(p.Pos, end, "'%s' is invalid priority in this context.", priorityText(p))
		return 0, false
	}
	base := p.Base
	if p.Var != "" {
		d := c.lookupDefine(p.Var)
		if d == nil || len(d.toks) != 1 {
			c.errorAt(p.Pos, end, "unknown identifier '%s'", p.Var)
			return 0, false
		}
		base = d.toks[0].s
	}
	var v int32
	if n, ok := parseUint(base); ok {
		if !n.IsInt64() || n.Int64() > 1<<31 {
			return bad()
		}
		v = int32(n.Int64())
	} else {
		table := stdPrios
		if fam == ruleset.FamilyBridge {
			table = bridgePrios
		}
		pv, ok := table[base]
		if !ok {
			return bad()
		}
		switch {
		case fam == ruleset.FamilyBridge:
			if base == "dstnat" && hookName != "prerouting" || base == "out" && hookName != "output" || base == "srcnat" && hookName != "postrouting" {
				return bad()
			}
		case base == "filter":
			if fam != ruleset.FamilyINet && fam != ruleset.FamilyIPv4 && fam != ruleset.FamilyIPv6 && fam != ruleset.FamilyARP && fam != ruleset.FamilyNetdev {
				return bad()
			}
		default:
			if fam != ruleset.FamilyINet && fam != ruleset.FamilyIPv4 && fam != ruleset.FamilyIPv6 {
				return bad()
			}
			if base == "dstnat" && hookName != "prerouting" || base == "srcnat" && hookName != "postrouting" {
				return bad()
			}
		}
		v = pv
	}
	if p.Neg {
		v = -v
	}
	if p.Offset != "" {
		n, ok := parseUint(p.Offset)
		if !ok || !n.IsInt64() {
			return bad()
		}
		if p.Op == "-" {
			v -= int32(n.Int64())
		} else {
			v += int32(n.Int64())
		}
	}
	return v, true
}

func priorityText(p *syntax.Priority) string {
	s := p.Base
	if p.Var != "" {
		s = "$" + p.Var
	}
	if p.Neg {
		s = "-" + s
	}
	if p.Op != "" {
		s += " " + p.Op + " " + p.Offset
	}
	return s
}

func (c *compiler) command(cmd *syntax.Command) {
	switch cmd.Verb {
	case "add", "create", "insert", "replace":
	case "flush", "delete", "destroy", "reset", "list", "rename":
		// Nothing to send for the checks nftgo models: flushing or deleting
		// what this file has not created yet is a no-op in a fresh namespace.
		return
	}
	switch {
	case cmd.Table != nil:
		if cmd.Table.Body {
			c.tableBlock(cmd.Table.Family, cmd.Table.Name, cmd.Table.Items, true)
		} else {
			c.table(cmd.Table.Family, cmd.Table.Name, true)
		}
	case cmd.Chain != nil:
		ts, ok := c.table(cmd.Chain.Spec.Family, cmd.Chain.Spec.Table, false)
		if !ok || cmd.Chain.Spec.Object == nil {
			return
		}
		c.chainDecl(ts, cmd.Chain.Spec.Object, cmd.Chain.Items)
	case cmd.Rule != nil:
		ts, ok := c.table(cmd.Rule.Spec.Family, cmd.Rule.Spec.Table, false)
		if !ok || cmd.Rule.Spec.Object == nil || cmd.Rule.Rule == nil {
			return
		}
		ch := ts.chain(cmd.Rule.Spec.Object.Text())
		if ch == nil {
			o := cmd.Rule.Spec.Object
			c.errorAt(o.Pos, o.Pos.Column+len(o.Text())-1, "No such file or directory")
			return
		}
		terms, err := cmd.Rule.Rule.TermList()
		if err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.rule(ts, ch, terms, &ruleCmd{PosKind: cmd.Rule.PosKind, PosValue: cmd.Rule.PosValue, Insert: cmd.Verb == "insert"})
	case cmd.Set != nil:
		ts, ok := c.table(cmd.Set.Spec.Family, cmd.Set.Spec.Table, false)
		if !ok || cmd.Set.Spec.Object == nil {
			return
		}
		c.setDecl(ts, cmd.Set.Kind, cmd.Set.Spec.Object, cmd.Set.Items)
	case cmd.Element != nil:
		ts, ok := c.table(cmd.Element.Spec.Family, cmd.Element.Spec.Table, false)
		if !ok || cmd.Element.Spec.Object == nil {
			return
		}
		s := ts.set(cmd.Element.Spec.Object.Text())
		if s == nil {
			o := cmd.Element.Spec.Object
			c.errorAt(o.Pos, o.Pos.Column+len(o.Text())-1, "No such file or directory")
			return
		}
		c.addElements(ts, s, cmd.Element.Set)
	}
}

var fileCache = map[string][]byte{}

func readFileCached(name string) ([]byte, error) {
	if b, ok := fileCache[name]; ok {
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	fileCache[name] = b
	return b, nil
}

// objectDecl declares a named stateful object.
func (c *compiler) objectDecl(ts *tableState, kind string, name *syntax.Name, items []*syntax.SetItem) {
	if !c.expandItems(items) {
		return
	}
	obj := &ruleset.Object{Kind: kind, Name: name.Text()}
	if c.objs == nil {
		c.objs = map[*ruleset.Object]*syntax.Name{}
	}
	c.objs[obj] = name
	var toks []tok
	for _, it := range items {
		ts2, ok := c.flatten(it.Args)
		if !ok {
			return
		}
		if it.Key.Text() == "comment" && len(ts2) == 1 {
			// NFTA_OBJ_USERDATA, printed first by obj_print_data.
			obj.Comment = strings.Trim(ts2[0].s, `"`)
			continue
		}
		toks = append(toks, tok{s: it.Key.Text(), kind: 'w', pos: it.Key.Pos, end: it.Key.Pos.Column + len(it.Key.Text()) - 1})
		toks = append(toks, ts2...)
	}
	switch kind {
	case "counter":
		cnt := &ruleset.Counter{}
		for i := 0; i+1 < len(toks); i += 2 {
			n, _ := parseUint(toks[i+1].s)
			if n == nil {
				continue
			}
			if toks[i].s == "packets" {
				cnt.Packets = n.Uint64()
			} else if toks[i].s == "bytes" {
				cnt.Bytes = n.Uint64()
			}
		}
		obj.Expr = cnt
	case "quota", "limit":
		r := &rulectx{c: c, ts: ts, fam: ts.t.Family, toks: append([]tok{{s: kind, kind: 'w'}}, toks...)}
		if len(toks) > 0 {
			r.lastTok = toks[len(toks)-1]
		}
		if kind == "limit" && len(toks) > 0 && toks[0].s != "rate" {
			r.toks = append([]tok{{s: kind, kind: 'w'}, {s: "rate", kind: 'w'}}, toks...)
		}
		r.stmt()
		if r.bad || len(r.exprs) != 1 {
			return
		}
		obj.Expr = r.exprs[0]
	default:
		obj.Attrs = append(obj.Attrs, ruleset.ObjectAttr{Key: "body", Value: c.objectBody(ts.t.Family, obj, kind, toks)})
	}
	obj.Handle = ts.handle()
	ts.t.Objects = append(ts.t.Objects, obj)
	c.batch = append(c.batch, msg{kind: msgObject, table: ts.t, obj: obj})
}
