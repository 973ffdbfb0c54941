package syntax

// A hand-written scanner for nft's file syntax. The regex lexers participle
// ships are several times slower than nft itself on large rulesets
// (../shared/docs/performance.md), so this one walks the bytes once and hands
// participle ready-made tokens through lexer.Definition.
//
// Ref: nftables src/scanner.l — the token classes below are coarser than
// flex's: an address, a number, a time or a name are all one Word, and the
// compiler decides what a word means from the type it is matched against,
// the way nft's evaluator resolves symbol expressions.

import (
	"io"
	"sort"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types.
const (
	EOF    lexer.TokenType = lexer.EOF
	Word   lexer.TokenType = -2
	String lexer.TokenType = -3 // "…", Value keeps the quotes
	Punct  lexer.TokenType = -4
	Comma  lexer.TokenType = -5
	LBrace lexer.TokenType = -6
	RBrace lexer.TokenType = -7
	Semi   lexer.TokenType = -8
	NL     lexer.TokenType = -9
	// RuleText is a complete rule inside a chain block (see Rule.Raw).
	RuleText lexer.TokenType = -10
)

type definition struct{}

// Lexer is the participle lexer.Definition for nft files.
var Lexer lexer.Definition = definition{}

func (definition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": EOF, "Word": Word, "String": String, "Punct": Punct,
		"Comma": Comma, "LBrace": LBrace, "RBrace": RBrace, "Semi": Semi, "NL": NL, "RuleText": RuleText,
	}
}

func (d definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexBytes(filename, b)
}

func (d definition) LexString(filename string, s string) (lexer.Lexer, error) {
	return d.LexBytes(filename, []byte(s))
}

func (definition) LexBytes(filename string, b []byte) (lexer.Lexer, error) {
	toks, err := Scan(filename, b)
	if err != nil {
		return nil, err
	}
	return &tokenStream{toks: collapseRules(toks, b)}, nil
}

type tokenStream struct {
	toks []lexer.Token
	i    int
}

func (t *tokenStream) Next() (lexer.Token, error) {
	if t.i >= len(t.toks) {
		last := t.toks[len(t.toks)-1]
		return lexer.Token{Type: EOF, Pos: last.Pos}, nil
	}
	tok := t.toks[t.i]
	t.i++
	return tok, nil
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '*'
}

func isWordChar(c byte) bool {
	return isWordStart(c) || c == '.' || c == '/' || c == ':' || c == '-' || c == '%'
}

// ScanError is a lexical error at a position.
type ScanError struct {
	Pos lexer.Position
	Msg string
}

func (e *ScanError) Error() string { return e.Msg }

// Scan splits src into tokens. The last token is always EOF.
func Scan(filename string, src []byte) ([]lexer.Token, error) {
	// About one token per six bytes in real rulesets; append grows the rest.
	toks := make([]lexer.Token, 0, len(src)/6+1)
	// One copy of the source; token values are substrings of it, not one
	// allocation each.
	str := string(src)
	line, lineStart := 1, 0
	pos := func(i int) lexer.Position {
		return lexer.Position{Filename: filename, Offset: i, Line: line, Column: i - lineStart + 1}
	}
	emit := func(t lexer.TokenType, i, j int) {
		toks = append(toks, lexer.Token{Type: t, Value: str[i:j], Pos: pos(i)})
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n':
			i += 2
			line++
			lineStart = i
		case c == '\\' && i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
			i += 3
			line++
			lineStart = i
		case c == '\n':
			emit(NL, i, i+1)
			i++
			line++
			lineStart = i
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return toks, &ScanError{Pos: pos(i), Msg: "syntax error, unexpected junk"}
			}
			emit(String, i, j+1)
			i = j + 1
		case c == '{':
			emit(LBrace, i, i+1)
			i++
		case c == '}':
			emit(RBrace, i, i+1)
			i++
		case c == ';':
			emit(Semi, i, i+1)
			i++
		case c == ',':
			emit(Comma, i, i+1)
			i++
		case isWordStart(c) || c == ':' && i+1 < len(src) && src[i+1] == ':':
			j := i + 1
			for j < len(src) && isWordChar(src[j]) {
				j++
			}
			emit(Word, i, j)
			i = j
		default:
			j := i + 1
			if i+1 < len(src) {
				two := string(src[i : i+2])
				switch two {
				case "==", "!=", "<=", ">=", "<<", ">>":
					j = i + 2
				}
			}
			switch c {
			case '=', '!', '<', '>', '&', '|', '^', '.', ':', '-', '+', '/', '@', '$', '(', ')', '[', ']':
			default:
				return toks, &ScanError{Pos: pos(i), Msg: "syntax error, unexpected junk"}
			}
			emit(Punct, i, j)
			i = j
		}
	}
	toks = append(toks, lexer.Token{Type: EOF, Pos: pos(i)})
	return toks, nil
}

const (
	blockOther = iota
	blockChain
	blockSet
)

// chainKeywords start the non-rule lines of a chain block.
var chainKeywords = map[string]bool{"type": true, "policy": true, "comment": true, "devices": true,
	"define": true, "redefine": true, "undefine": true, "include": true, "flags": true}

// collapseRules replaces the tokens of each rule line inside a chain block
// by one RuleText token holding the line's source text.
func collapseRules(toks []lexer.Token, src []byte) []lexer.Token {
	str := ""
	if len(toks) > 0 {
		str = string(src)
	}
	out := make([]lexer.Token, 0, len(toks)/4+8)
	// stack of open blocks
	var stack []int
	lineStart := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		top := 0
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if lineStart && t.Type == Word && (top == blockChain && !chainKeywords[t.Value] || top == blockSet) {
			// collect to the separator at depth 0 or the closing brace
			depth := 0
			j := i
		scan:
			for ; j < len(toks); j++ {
				switch toks[j].Type {
				case LBrace:
					depth++
				case RBrace:
					if depth == 0 {
						break scan
					}
					depth--
				case Semi, NL:
					if depth == 0 {
						break scan
					}
				case EOF:
					break scan
				}
			}
			last := toks[j-1]
			end := last.Pos.Offset + len(last.Value)
			// Consecutive rule lines of a chain become one RuleText
			// (Rule.Rules splits them again): participle's cost is per
			// token it sees, whatever the token holds.
			if top == blockChain && merging(out) {
				k := len(out) - 1
				for out[k].Type == NL || out[k].Type == Semi {
					k--
				}
				out[k].Value = str[out[k].Pos.Offset:end]
				out = out[:k+1]
			} else {
				out = append(out, lexer.Token{Type: RuleText, Value: str[t.Pos.Offset:end], Pos: t.Pos})
			}
			i = j - 1
			lineStart = false
			continue
		}
		switch t.Type {
		case LBrace:
			kind := blockKind(out)
			stack = append(stack, kind)
			lineStart = true
		case RBrace:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			lineStart = false
		case Semi, NL:
			lineStart = true
		default:
			lineStart = false
		}
		out = append(out, t)
	}
	return out
}

// merging reports whether out ends with a chain rule (RuleText) and only
// newlines/semicolons after it, so the next rule line can join it.
func merging(out []lexer.Token) bool {
	k := len(out) - 1
	for k >= 0 && (out[k].Type == NL || out[k].Type == Semi) {
		k--
	}
	return k >= 0 && out[k].Type == RuleText
}

// Rules returns the terms of each rule in r: a collapsed RuleText may hold
// several rule lines, split here at their top-level newlines and
// semicolons.
func (r *Rule) Rules() ([][]*Term, error) {
	if r.Raw == "" {
		return [][]*Term{r.Terms}, nil
	}
	toks, err := r.scanRaw()
	if err != nil {
		return nil, err
	}
	var out [][]*Term
	i := 0
	for i < len(toks) {
		switch toks[i].Type {
		case EOF:
			return out, nil
		case NL, Semi, RBrace:
			i++
			continue
		}
		// Terms of one rule share one backing array.
		n := 0
		for j := i; j < len(toks); j++ {
			if tt := toks[j].Type; tt == NL || tt == Semi || tt == EOF {
				break
			}
			n++
		}
		terms := make([]*Term, 0, n)
		for i < len(toks) {
			tt := toks[i].Type
			if tt == NL || tt == Semi || tt == EOF || tt == RBrace {
				break
			}
			terms = append(terms, buildOne(toks, &i))
		}
		out = append(out, terms)
	}
	return out, nil
}

// RuleTokens is Rules without the terms: the scanner tokens of each rule
// in r, split at top-level newlines and semicolons (EOF not included).
// The compiler reads these directly; building a Term per token first
// costs more than the rest of compiling a simple rule.
func (r *Rule) RuleTokens() ([][]lexer.Token, error) {
	if r.Raw == "" {
		return nil, nil
	}
	toks, err := r.scanRaw()
	if err != nil {
		return nil, err
	}
	var out [][]lexer.Token
	depth, start := 0, 0
	for i, t := range toks {
		switch t.Type {
		case LBrace:
			depth++
		case RBrace:
			if depth > 0 {
				depth--
			}
		case NL, Semi, EOF:
			if depth == 0 || t.Type == EOF {
				if i > start {
					out = append(out, toks[start:i:i])
				}
				start = i + 1
			}
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:len(toks):len(toks)])
	}
	return out, nil
}

func (r *Rule) scanRaw() ([]lexer.Token, error) {
	if r.toks != nil {
		return r.toks, nil
	}
	toks, err := Scan(r.Pos.Filename, []byte(r.Raw))
	if err != nil {
		return nil, err
	}
	for k := range toks {
		p := &toks[k].Pos
		if p.Line == 1 {
			p.Column += r.Pos.Column - 1
		}
		p.Line += r.Pos.Line - 1
		p.Offset += r.Pos.Offset
	}
	return toks, nil
}

// Terms returns the rule's terms, rescanning a collapsed rule line.
func (r *Rule) TermList() ([]*Term, error) {
	if r.Raw == "" {
		return r.Terms, nil
	}
	toks, err := r.scanRaw()
	if err != nil {
		return nil, err
	}
	i := 0
	return buildTerms(toks, &i, false), nil
}

func tokEnd(t lexer.Token) lexer.Position {
	e := t.Pos
	e.Column += len(t.Value)
	e.Offset += len(t.Value)
	return e
}

// buildTerms turns a rule's scanner tokens into terms.
func buildTerms(toks []lexer.Token, i *int, _ bool) []*Term {
	var out []*Term
	for *i < len(toks) {
		switch toks[*i].Type {
		case EOF:
			return out
		case NL, Semi, RBrace:
			*i++
			continue
		}
		out = append(out, buildOne(toks, i))
	}
	return out
}

// buildOne builds one term: a token, or a whole set literal.
func buildOne(toks []lexer.Token, i *int) *Term {
	t := toks[*i]
	*i++
	if t.Type != LBrace {
		term := &Term{Pos: t.Pos, EndPos: tokEnd(t)}
		switch t.Type {
		case Word:
			term.Word = t.Value
		case String:
			term.Str = t.Value
		default:
			term.Op = t.Value
		}
		return term
	}
	sl := &SetLit{Pos: t.Pos}
	for *i < len(toks) && toks[*i].Type != RBrace && toks[*i].Type != EOF {
		switch toks[*i].Type {
		case Comma, NL, Semi:
			*i++
			continue
		}
		el := &Elem{Pos: toks[*i].Pos}
		for *i < len(toks) {
			tt := toks[*i].Type
			if tt == Comma || tt == NL || tt == Semi || tt == RBrace || tt == EOF {
				break
			}
			sub := buildOne(toks, i)
			el.Terms = append(el.Terms, &ElemTerm{Pos: sub.Pos, EndPos: sub.EndPos, Set: sub.Set, Word: sub.Word, Str: sub.Str, Op: sub.Op})
		}
		sl.Elems = append(sl.Elems, el)
	}
	sl.EndPos = t.Pos
	if *i < len(toks) && toks[*i].Type == RBrace {
		sl.EndPos = tokEnd(toks[*i])
		*i++
	}
	return &Term{Pos: t.Pos, EndPos: sl.EndPos, Set: sl}
}

// blockKind classifies the block a '{' opens from the statement before it:
// `chain NAME {`, `set|map NAME {`, `add chain|set|map … {`.
func blockKind(out []lexer.Token) int {
	k := len(out) - 1
	for k >= 0 {
		tt := out[k].Type
		if tt == NL || tt == Semi || tt == LBrace || tt == RBrace {
			break
		}
		k--
	}
	k++
	if k < len(out) && out[k].Type == Word {
		switch out[k].Value {
		case "add", "create", "insert", "replace":
			k++
		}
	}
	if k >= len(out) || out[k].Type != Word {
		return blockOther
	}
	switch out[k].Value {
	case "chain":
		return blockChain
	case "set", "map":
		return blockSet
	}
	return blockOther
}

// attachTokens hands each collapsed rule and set line the tokens the file
// scan already produced (toks, in offset order), so they are not scanned
// again. Lines it does not reach are rescanned from Raw.
func attachTokens(f *File, toks []lexer.Token) {
	span := func(p lexer.Position, raw string) []lexer.Token {
		lo := sort.Search(len(toks), func(i int) bool { return toks[i].Pos.Offset >= p.Offset })
		hi := sort.Search(len(toks), func(i int) bool { return toks[i].Pos.Offset >= p.Offset+len(raw) })
		if lo >= hi || toks[lo].Pos.Offset != p.Offset || toks[lo].Pos.Filename != p.Filename {
			return nil
		}
		return toks[lo:hi:hi]
	}
	setItems := func(items []*SetItem) {
		for _, it := range items {
			if it != nil && it.Raw != "" {
				it.toks = span(it.Pos, it.Raw)
			}
		}
	}
	chainItems := func(items []*ChainItem) {
		for _, ci := range items {
			if ci != nil && ci.Rule != nil && ci.Rule.Raw != "" {
				ci.Rule.toks = span(ci.Rule.Pos, ci.Rule.Raw)
			}
		}
	}
	tableItems := func(items []*TableItem) {
		for _, ti := range items {
			switch {
			case ti == nil:
			case ti.Chain != nil:
				chainItems(ti.Chain.Items)
			case ti.Set != nil:
				setItems(ti.Set.Items)
			case ti.Flowtable != nil:
				setItems(ti.Flowtable.Items)
			case ti.CtObject != nil:
				setItems(ti.CtObject.Items)
			case ti.Object != nil:
				setItems(ti.Object.Items)
			}
		}
	}
	for _, it := range f.Items {
		switch {
		case it == nil:
		case it.Table != nil:
			tableItems(it.Table.Items)
		case it.Command != nil && it.Command.Table != nil:
			tableItems(it.Command.Table.Items)
		case it.Command != nil && it.Command.Chain != nil:
			chainItems(it.Command.Chain.Items)
		case it.Command != nil && it.Command.Set != nil:
			setItems(it.Command.Set.Items)
		}
	}
}
