package syntax

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var parser = participle.MustBuild[File](
	participle.Lexer(Lexer),
	participle.UseLookahead(1),
)

// Parse parses one nft file. Errors are *Error values printed in nft's shape.
func Parse(filename string, src []byte) (f *File, err error) {
	return ParseWith(filename, src, ParseOptions{})
}

// ParseOptions relax the grammar for text nftgo writes itself.
type ParseOptions struct {
	// QuotedNames accepts quoted table, chain, set and object names, which
	// nft's text grammar refuses: the JSON front end writes a name that nft
	// would scan as a keyword ("fwd") quoted, as nft's JSON parser takes it.
	QuotedNames bool
}

// ParseWith is Parse with options.
func ParseWith(filename string, src []byte, opt ParseOptions) (f *File, err error) {
	defer func() {
		// participle panics on some grammar corner cases; bad input must
		// never crash the caller.
		if r := recover(); r != nil {
			f, err = nil, &Error{Pos: lexer.Position{Filename: filename, Line: 1, Column: 1}, EndCol: 1,
				Msg: fmt.Sprintf("syntax error (%v)", r), Src: src}
		}
	}()
	toks, err := Scan(filename, src)
	if err != nil {
		var se *ScanError
		if errors.As(err, &se) {
			return nil, &Error{Pos: se.Pos, EndCol: se.Pos.Column, Msg: se.Msg, Src: src}
		}
		return nil, err
	}
	// The tokens scanned above feed participle directly (ParseBytes would
	// scan the file a second time).
	pl, err := lexer.Upgrade(&tokenStream{toks: collapseRules(toks, src)})
	if err != nil {
		return nil, err
	}
	f, err = parser.ParseFromLexer(pl)
	if err != nil {
		return nil, convertError(err, src, toks)
	}
	if err := reservedName(f, src, opt.QuotedNames); err != nil {
		return nil, err
	}
	attachTokens(f, toks)
	return f, nil
}

// tokenName spells a token the way nft's bison parser names it in
// "unexpected X" (parser_bison.y %token aliases).
func tokenName(t lexer.Token) string {
	switch t.Type {
	case EOF:
		return "end of file"
	case NL:
		return "newline"
	case Semi:
		return "semicolon"
	case Comma:
		return "comma"
	case LBrace:
		return "'{'"
	case RBrace:
		return "'}'"
	case String:
		return "quoted string"
	case Word:
		if isNumber(t.Value) {
			return "number"
		}
		if keywords[t.Value] {
			return t.Value
		}
		return "string"
	}
	switch t.Value {
	case "=":
		return "'='"
	case "-":
		return "'-'"
	case "$":
		return "'$'"
	case "@":
		return "'@'"
	case ".":
		return "dot"
	case ":":
		return "colon"
	case "/":
		return "slash"
	}
	return t.Value
}

func isNumber(s string) bool {
	if strings.HasPrefix(s, "0x") && len(s) > 2 {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func convertError(err error, src []byte, toks []lexer.Token) error {
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) {
		t := ute.Unexpected
		// participle reports a failed line at its first token; bison stops
		// at the token that cannot follow, typically a '}' that closes a
		// block before the line's separator.
		for i := range toks {
			if toks[i].Pos.Offset != t.Pos.Offset || t.Type == RBrace {
				continue
			}
			depth := 0
		scan:
			for _, n := range toks[i:] {
				switch n.Type {
				case LBrace:
					depth++
				case RBrace:
					if depth == 0 {
						t = n
						ute = &participle.UnexpectedTokenError{Unexpected: n, Expect: "Semi"}
						break scan
					}
					depth--
				case Semi, NL, EOF:
					if depth == 0 {
						break scan
					}
				}
			}
			break
		}
		end := t.Pos.Column + len(t.Value) - 1
		if t.Type == EOF || t.Type == NL || end < t.Pos.Column {
			end = t.Pos.Column
		}
		msg := "syntax error, unexpected " + tokenName(t)
		switch {
		case t.Type == RBrace && (strings.Contains(ute.Expect, "Semi") || strings.Contains(ute.Error(), "<semi>")):
			msg += ", expecting newline or semicolon"
		case strings.Contains(ute.Error(), "(expected (<semi> | <nl> | <eof>))"):
			// a second command on a top-level line
			msg += ", expecting end of file or newline or semicolon"
		}
		return &Error{Pos: t.Pos, EndCol: end, Msg: msg, Src: src}
	}
	var pe participle.Error
	if errors.As(err, &pe) {
		p := pe.Position()
		return &Error{Pos: p, EndCol: p.Column, Msg: "syntax error, " + pe.Message(), Src: src}
	}
	return err
}

// keywords are words nft's scanner turns into keyword tokens; bison names
// them by their text.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`table chain rule set map element add create insert replace delete flush
		type hook priority policy accept drop jump goto return continue counter ip ip6 inet arp bridge netdev
		tcp udp meta ct define include comment elements flags size timeout typeof queue log limit quota
		reject snat dnat masquerade redirect notrack fwd dup tproxy synproxy vmap ether vlan icmp icmpv6
		filter nat route input output forward prerouting postrouting ingress egress device devices`) {
		keywords[k] = true
	}
}
