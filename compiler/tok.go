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
