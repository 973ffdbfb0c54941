package compiler

import (
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/syntax"
)

// stmtSpan is one statement of a rule as written: its first word and where
// it stands, so a kernel error about one of the rule's expressions can be
// shown under the statement that produced it.
type stmtSpan struct {
	word  string
	start lexer.Position
	end   int // last column
	line  int // line of the last token
}

// stmtWords names, per kernel expression, the statement keywords that
// produce it: nft reports a kernel error at the netlink attribute the kernel
// blamed (src/cmd.c — nft_cmd_error), which for these is the statement.
var stmtWords = map[string][]string{
	"immediate": {"jump", "goto", "accept", "drop", "return", "continue"},
	"dynset":    {"add", "update", "delete", "meter"},
	"connlimit": {"ct"},
	"reject":    {"reject"},
	"nat":       {"snat", "dnat"},
	"masq":      {"masquerade"},
	"redir":     {"redirect"},
	"meta":      {"meta"},
	"tproxy":    {"tproxy"},
	"queue":     {"queue"},
	"dup":       {"dup"},
	"fwd":       {"fwd"},
}

// KernelError places msg — the error the kernel returned when the batch was
// committed, already worded as nft words it ("Could not process rule: Too
// many links") — at the rule it blames, in nft's error shape. handle 0
// names a chain-level error (jump depth, loops): nft then shows the first
// rule of that chain that jumps or goes to another chain. expr is the
// kernel name of the blamed expression ("" for the whole rule). It returns
// nil when the rule cannot be found in the source.
// ObjectError places a kernel error reported at the named object of a
// table (nft underlines the object's name); nil when there is no such
// object.
func (c *Compiled) ObjectError(fam ruleset.Family, table, object, msg string) error {
	for _, t := range c.Ruleset.Tables {
		if t.Family != fam || t.Name != table {
			continue
		}
		for _, o := range t.Objects {
			if n := c.objs[o]; o.Name == object && n != nil {
				return &syntax.Error{Pos: n.Pos, EndCol: n.Pos.Column + len(n.Text()) - 1, Msg: msg, Src: c.srcs[n.Pos.Filename]}
			}
		}
	}
	return nil
}

func (c *Compiled) KernelError(fam ruleset.Family, table, chain string, handle uint64, expr, msg string) error {
	var rule *ruleset.Rule
	for _, t := range c.Ruleset.Tables {
		if t.Family != fam || t.Name != table {
			continue
		}
		for _, ch := range t.Chains {
			if ch.Name != chain {
				continue
			}
			for _, r := range ch.Rules {
				if handle != 0 && r.Handle == handle {
					rule = r
					break
				}
				if handle == 0 && jumps(r) {
					rule, expr = r, "immediate"
					break
				}
			}
		}
	}
	spans := c.stmts[rule]
	if rule == nil || len(spans) == 0 {
		return nil
	}
	first, last := spans[0], spans[len(spans)-1]
	e := &syntax.Error{Pos: first.start, EndCol: last.end, Msg: msg, Src: c.srcs[first.start.Filename]}
	if last.line != first.start.Line {
		e.EndCol = first.end
	}
	for _, w := range stmtWords[expr] {
		for _, sp := range spans {
			if sp.word == w {
				e.Pos, e.EndCol = sp.start, sp.end
				return e
			}
		}
	}
	return e
}

func jumps(r *ruleset.Rule) bool {
	for _, x := range r.Exprs {
		if im, ok := x.(*ruleset.Immediate); ok && im.DReg == 0 &&
			(im.Verdict.Code == ruleset.VerdictJump || im.Verdict.Code == ruleset.VerdictGoto) {
			return true
		}
	}
	return false
}
