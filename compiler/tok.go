package compiler

import (
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/nftgo/nftgo/syntax"
)

// tok is one rule token after $variable expansion.
type tok struct {
	s       string // text, quotes removed
	kind    byte   // 'w' word, 's' quoted string, 'o' operator, '{' set literal
	set     [][]tok
	pos     lexer.Position
	end     int // last column
	fromVar bool
}

func termTok(t *syntax.Term) tok {
	end := t.EndPos.Column - 1
	if t.EndPos.Line != t.Pos.Line || end < t.Pos.Column {
		end = t.Pos.Column
	}
	switch {
	case t.Word != "":
		return tok{s: t.Word, kind: 'w', pos: t.Pos, end: t.Pos.Column + len(t.Word) - 1}
	case t.Str != "":
		return tok{s: t.Text(), kind: 's', pos: t.Pos, end: t.Pos.Column + len(t.Str) - 1}
	case t.Op != "":
		return tok{s: t.Op, kind: 'o', pos: t.Pos, end: t.Pos.Column + len(t.Op) - 1}
	}
	return tok{kind: '{', pos: t.Pos, end: end}
}

// flatten turns terms into tokens, expanding $variables.
func (c *compiler) flatten(terms []*syntax.Term) ([]tok, bool) {
	out := make([]tok, 0, len(terms))
	for i := 0; i < len(terms); i++ {
		t := terms[i]
		if t.Op == "$" && i+1 < len(terms) && terms[i+1].Word != "" {
			name := terms[i+1].Word
			d := c.lookupDefine(name)
			n := terms[i+1]
			if d == nil {
				c.errorAt(n.Pos, n.Pos.Column+len(name)-1, "unknown identifier '%s'", name)
				return nil, false
			}
			for _, dt := range d.toks {
				dt.pos, dt.end = t.Pos, n.Pos.Column+len(name)-1
				dt.fromVar = true
				out = append(out, dt)
			}
			i++
			continue
		}
		tk := termTok(t)
		if t.Set != nil {
			s, ok := c.setToks(t.Set)
			if !ok {
				return nil, false
			}
			tk.set = s
		}
		out = append(out, tk)
	}
	return out, true
}

func (c *compiler) setToks(sl *syntax.SetLit) ([][]tok, bool) {
	out := make([][]tok, 0, len(sl.Elems))
	for _, e := range sl.Elems {
		terms := make([]*syntax.Term, len(e.Terms))
		for i, et := range e.Terms {
			terms[i] = et.AsTerm()
		}
		ts, ok := c.flatten(terms)
		if !ok {
			return nil, false
		}
		// A variable holding a set expands into its elements.
		if len(ts) == 1 && ts[0].kind == '{' {
			out = append(out, ts[0].set...)
			continue
		}
		out = append(out, ts)
	}
	return out, true
}

// lexFlatten turns scanner tokens straight into compiler tokens, as
// syntax's buildTerms followed by flatten would, without building a Term
// per token first (most of the allocation of a large ruleset). Newlines,
// semicolons and stray '}' at the top level are skipped as buildTerms does.
func (c *compiler) lexFlatten(lt []lexer.Token) ([]tok, bool) {
	i := 0
	return c.lexSeq(lt, &i, false)
}

// lexSeq reads terms from lt[*i]: to the end at the top level, or, inside
// a set literal (inSet), to the comma, newline, semicolon or '}' that ends
// the element.
func (c *compiler) lexSeq(lt []lexer.Token, i *int, inSet bool) ([]tok, bool) {
	// Room for the terms at this level: a set literal is one term.
	n, depth := 0, 0
	for j := *i; j < len(lt); j++ {
		tt := lt[j].Type
		if depth == 0 && (tt == syntax.EOF || inSet && (tt == syntax.Comma || tt == syntax.NL || tt == syntax.Semi || tt == syntax.RBrace)) {
			break
		}
		switch tt {
		case syntax.LBrace:
			depth++
		case syntax.RBrace:
			depth--
		}
		if depth == 0 {
			n++
		}
	}
	out := c.tokBuf(n)
	for *i < len(lt) {
		t := lt[*i]
		switch t.Type {
		case syntax.EOF:
			return out, true
		case syntax.Comma, syntax.NL, syntax.Semi, syntax.RBrace:
			if inSet {
				return out, true
			}
			if t.Type != syntax.Comma {
				*i++
				continue
			}
		}
		if t.Type == syntax.Punct && t.Value == "$" && *i+1 < len(lt) && lt[*i+1].Type == syntax.Word {
			nt := lt[*i+1]
			name := nt.Value
			d := c.lookupDefine(name)
			if d == nil {
				c.errorAt(nt.Pos, nt.Pos.Column+len(name)-1, "unknown identifier '%s'", name)
				return nil, false
			}
			for _, dt := range d.toks {
				dt.pos, dt.end = t.Pos, nt.Pos.Column+len(name)-1
				dt.fromVar = true
				out = append(out, dt)
			}
			*i += 2
			continue
		}
		tk, ok := c.lexTerm(lt, i)
		if !ok {
			return nil, false
		}
		out = append(out, tk)
	}
	return out, true
}

// lexTerm reads one token, or a whole `{ … }` literal with its elements.
func (c *compiler) lexTerm(lt []lexer.Token, i *int) (tok, bool) {
	t := lt[*i]
	*i++
	end := t.Pos.Column + len(t.Value) - 1
	switch t.Type {
	case syntax.Word:
		return tok{s: t.Value, kind: 'w', pos: t.Pos, end: end}, true
	case syntax.String:
		s := t.Value
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
		return tok{s: s, kind: 's', pos: t.Pos, end: end}, true
	case syntax.LBrace:
	default:
		return tok{s: t.Value, kind: 'o', pos: t.Pos, end: end}, true
	}
	var set [][]tok
	for *i < len(lt) && lt[*i].Type != syntax.RBrace && lt[*i].Type != syntax.EOF {
		switch lt[*i].Type {
		case syntax.Comma, syntax.NL, syntax.Semi:
			*i++
			continue
		}
		el, ok := c.lexSeq(lt, i, true)
		if !ok {
			return tok{}, false
		}
		// A variable holding a set expands into its elements.
		if len(el) == 1 && el[0].kind == '{' {
			set = append(set, el[0].set...)
			continue
		}
		set = append(set, el)
	}
	end = t.Pos.Column
	if *i < len(lt) && lt[*i].Type == syntax.RBrace {
		rb := lt[*i]
		if e := rb.Pos.Column + len(rb.Value) - 1; rb.Pos.Line == t.Pos.Line && e >= t.Pos.Column {
			end = e
		}
		*i++
	}
	return tok{kind: '{', pos: t.Pos, end: end, set: set}, true
}

// tokBuf returns an empty slice with room for n tokens, carved from a
// shared block when small: a set of 100k elements is then a few hundred
// allocations instead of 100k. Appending past n reallocates (the capacity
// is capped), so neighbours are never overwritten.
func (c *compiler) tokBuf(n int) []tok {
	if n > 64 {
		return make([]tok, 0, n)
	}
	if cap(c.slab)-len(c.slab) < n {
		c.slab = make([]tok, 0, 1024)
	}
	l := len(c.slab)
	c.slab = c.slab[:l+n]
	return c.slab[l : l : l+n]
}
