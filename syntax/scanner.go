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
)

type definition struct{}

// Lexer is the participle lexer.Definition for nft files.
var Lexer lexer.Definition = definition{}

func (definition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": EOF, "Word": Word, "String": String, "Punct": Punct,
		"Comma": Comma, "LBrace": LBrace, "RBrace": RBrace, "Semi": Semi, "NL": NL,
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
	return &tokenStream{toks: toks}, nil
}

type tokenStream struct {
	toks []lexer.Token
	i    int
}

func (t *tokenStream) Next() (lexer.Token, error) {
	if t.i >= len(t.toks) {
		return t.toks[len(t.toks)-1], nil
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
	toks := make([]lexer.Token, 0, len(src)/4+1)
	line, lineStart := 1, 0
	pos := func(i int) lexer.Position {
		return lexer.Position{Filename: filename, Offset: i, Line: line, Column: i - lineStart + 1}
	}
	emit := func(t lexer.TokenType, i, j int) {
		toks = append(toks, lexer.Token{Type: t, Value: string(src[i:j]), Pos: pos(i)})
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
