package syntax

import "github.com/alecthomas/participle/v2/lexer"

// The AST mirrors nft's file structure (parser_bison.y — input, line,
// common_block, table_block, chain_block, set_block, map_block). Rule bodies
// are kept as term lists: nft's rule grammar is keyword-driven with the
// meaning of most words fixed only by the datatype they meet, so the
// compiler reads statements from the terms (compiler/stmt.go) and resolves
// symbols during evaluation, as nft's evaluate.c does.

// File is one ruleset file.
type File struct {
	Pos   lexer.Position
	Items []*TopItem `parser:"( @@ | Semi | NL )*"`
}

// TopItem is one top-level line.
type TopItem struct {
	Pos      lexer.Position
	Define   *Define   `parser:"( @@"`
	Undefine *Undefine `parser:"| @@"`
	Include  *Include  `parser:"| @@"`
	Table    *Table    `parser:"| \"table\" @@"`
	Command  *Command  `parser:"| @@ )"`
	// A top-level line ends at a separator or the end of the file
	// (parser_bison.y line: base_cmd stmt_separator | base_cmd TOKEN_EOF).
	End string `parser:"@(Semi|NL|EOF)"`
}

// Define is `define NAME = VALUE` (or redefine).
type Define struct {
	Pos   lexer.Position
	Kind  string  `parser:"@(\"define\"|\"redefine\")"`
	Name  *Name   `parser:"@@ \"=\""`
	Value []*Term `parser:"@@+"`
}

// Undefine is `undefine NAME`.
type Undefine struct {
	Pos  lexer.Position
	Name *Name `parser:"\"undefine\" @@"`
}

// Include is `include "path"`.
type Include struct {
	Pos  lexer.Position
	Path string `parser:"\"include\" @String"`
}

// Name is an identifier, bare or quoted.
type Name struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Word   string `parser:"  @Word"`
	Quoted string `parser:"| @String"`
}

// Text returns the name without quotes.
func (n *Name) Text() string {
	if n == nil {
		return ""
	}
	if n.Quoted != "" {
		return unquote(n.Quoted)
	}
	return n.Word
}

// Spec names a table, chain or set: [family] table [chain|set].
type Spec struct {
	Pos    lexer.Position
	Family string `parser:"@(\"ip\"|\"ip6\"|\"inet\"|\"arp\"|\"bridge\"|\"netdev\")?"`
	Table  *Name  `parser:"@@"`
	Object *Name  `parser:"@@?"`
}

// Table is `table [FAMILY] NAME { … }` (after the keyword).
type Table struct {
	Pos    lexer.Position
	Family string       `parser:"@(\"ip\"|\"ip6\"|\"inet\"|\"arp\"|\"bridge\"|\"netdev\")?"`
	Name   *Name        `parser:"@@"`
	Body   bool         `parser:"@\"{\""`
	Items  []*TableItem `parser:"( @@ | Semi | NL )* \"}\""`
}

// CmdTable is `[FAMILY] NAME [{ … }]` after `add table`.
type CmdTable struct {
	Pos    lexer.Position
	Family string       `parser:"@(\"ip\"|\"ip6\"|\"inet\"|\"arp\"|\"bridge\"|\"netdev\")?"`
	Name   *Name        `parser:"@@"`
	Body   bool         `parser:"( @\"{\""`
	Items  []*TableItem `parser:"  ( @@ | Semi | NL )* \"}\" )?"`
}

// TableItem is one line of a table block.
type TableItem struct {
	Pos       lexer.Position
	Define    *Define   `parser:"( @@"`
	Undefine  *Undefine `parser:"| @@"`
	Include   *Include  `parser:"| @@"`
	Chain     *Chain    `parser:"| \"chain\" @@"`
	Set       *Set      `parser:"| @@"`
	Flowtable *Object   `parser:"| \"flowtable\" @@"`
	CtObject  *CtObject `parser:"| \"ct\" @@"`
	Object    *TypedObj `parser:"| @@"`
	Flags     []*Name   `parser:"| \"flags\" @@ ( Comma @@ )*"`
	Comment   string    `parser:"| \"comment\" @String )"`
	// Every table line ends in a separator, a closing brace of a chain,
	// set or object block included (parser_bison.y table_block):
	// `table t { chain c { } }` on one line is a syntax error in nft.
	End string `parser:"@(Semi|NL)"`
}

// Chain is `chain NAME { … }` (after the keyword).
type Chain struct {
	Pos   lexer.Position
	Name  *Name        `parser:"@@"`
	Body  bool         `parser:"@\"{\""`
	Items []*ChainItem `parser:"( @@ | Semi | NL )* \"}\""`
}

// ChainItem is one line of a chain block.
type ChainItem struct {
	Pos      lexer.Position
	Define   *Define   `parser:"  @@"`
	Undefine *Undefine `parser:"| @@"`
	Include  *Include  `parser:"| @@"`
	Hook     *Hook     `parser:"| @@"`
	Policy   *Term     `parser:"| \"policy\" @@"`
	Comment  string    `parser:"| \"comment\" @String"`
	Flags    []*Name   `parser:"| \"flags\" @@ ( Comma @@ )*"`
	Rule     *Rule     `parser:"| @@"`
	End      string    `parser:"@(Semi|NL)"`
}

// Hook is `type T hook H [device D] priority P`.
type Hook struct {
	Pos      lexer.Position
	Type     *Name     `parser:"\"type\" @@"`
	Hook     *Name     `parser:"\"hook\" @@"`
	Device   *Term     `parser:"( \"device\" @@"`
	Devices  *Term     `parser:"| \"devices\" \"=\" @@ )?"`
	Priority *Priority `parser:"\"priority\" @@"`
	Device2  *Term     `parser:"( \"device\" @@ )?"`
}

// Priority is `[-]BASE [(+|-) N]`.
type Priority struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Neg    bool   `parser:"@\"-\"?"`
	Var    string `parser:"( \"$\" @Word"`
	Base   string `parser:"| @Word )"`
	Op     string `parser:"( @(\"+\"|\"-\")"`
	Offset string `parser:"  @Word )?"`
}

// Set is a set or map block.
type Set struct {
	Pos   lexer.Position
	Kind  string     `parser:"@(\"set\"|\"map\")"`
	Name  *Name      `parser:"@@"`
	Items []*SetItem `parser:"\"{\" ( @@ | Semi | NL )* \"}\""`
}

// SetItem is one line of a set block: a keyword and its arguments
// (type, typeof, flags, timeout, gc-interval, size, policy, auto-merge,
// elements, comment, counter, …).
type SetItem struct {
	Pos lexer.Position
	// Raw is a set/map block line the scanner collapsed (see Expand).
	Raw  string  `parser:"  @RuleText"`
	Key  *Name   `parser:"| @@"`
	Args []*Term `parser:"  @@*"`
	// rawArgs are the scanner tokens after the key of a collapsed
	// `elements = { … }` line; Args stays empty for it (see RawArgs).
	rawArgs []lexer.Token
	toks    []lexer.Token // Raw's tokens from the file scan
}

// RawArgs returns the scanner tokens after the key of a collapsed
// `elements` line (nil otherwise; then Args holds the arguments). A
// 100k-element set is 200k terms the compiler need not build.
func (it *SetItem) RawArgs() []lexer.Token { return it.rawArgs }

// Expand fills Key and Args from a collapsed line; it is a no-op otherwise.
func (it *SetItem) Expand() error {
	if it.Raw == "" || it.Key != nil {
		return nil
	}
	r := &Rule{Pos: it.Pos, Raw: it.Raw, toks: it.toks}
	toks, err := r.scanRaw()
	if err != nil {
		return err
	}
	if len(toks) > 1 && toks[0].Type == Word && toks[0].Value == "elements" {
		k := toks[0]
		it.Key = &Name{Pos: k.Pos, EndPos: tokEnd(k), Word: k.Value}
		it.rawArgs = toks[1:]
		return nil
	}
	i := 0
	terms := buildTerms(toks, &i, false)
	if len(terms) == 0 || terms[0].Word == "" && terms[0].Str == "" {
		return &Error{Pos: it.Pos, EndCol: it.Pos.Column, Msg: "syntax error, unexpected " + it.Raw}
	}
	k := terms[0]
	it.Key = &Name{Pos: k.Pos, EndPos: k.EndPos, Word: k.Word, Quoted: k.Str}
	it.Args = terms[1:]
	return nil
}

// Object is a named object with a generic body (flowtable, …).
type Object struct {
	Pos   lexer.Position
	Name  *Name      `parser:"@@"`
	Items []*SetItem `parser:"( \"{\" ( @@ | Semi | NL )* \"}\" )?"`
}

// CtObject is `ct helper|timeout|expectation NAME { … }`.
type CtObject struct {
	Pos   lexer.Position
	Kind  string     `parser:"@(\"helper\"|\"timeout\"|\"expectation\")"`
	Name  *Name      `parser:"@@"`
	Items []*SetItem `parser:"\"{\" ( @@ | Semi | NL )* \"}\""`
}

// TypedObj is `counter|quota|limit|secmark|synproxy NAME { … }`.
type TypedObj struct {
	Pos   lexer.Position
	Kind  string     `parser:"@(\"counter\"|\"quota\"|\"limit\"|\"secmark\"|\"synproxy\")"`
	Name  *Name      `parser:"@@"`
	Items []*SetItem `parser:"( \"{\" ( @@ | Semi | NL )* \"}\" )?"`
}

// Rule is one rule: the statement terms up to the separator.
type Rule struct {
	Pos lexer.Position
	// Raw is a whole rule line the scanner collapsed into one token (rules
	// inside chain blocks); Terms() rescans it. Parsing 50k rules term by
	// term through participle's reflection costs most of the compile time.
	Raw   string  `parser:"  @RuleText"`
	Terms []*Term `parser:"| @@+"`
	// toks are Raw's tokens from the file scan (see attachTokens).
	toks []lexer.Token
}

// Term is one token of a rule, or a brace-enclosed set/map literal.
type Term struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Set    *SetLit `parser:"  @@"`
	Word   string  `parser:"| @Word"`
	Str    string  `parser:"| @String"`
	Op     string  `parser:"| @(Punct|Comma)"`
}

// SetLit is `{ e1, e2, … }`; each element is a run of terms.
type SetLit struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Elems  []*Elem `parser:"\"{\" ( @@ | Comma | NL | Semi )* \"}\""`
}

// Elem is one set element (or, in a command block, one line).
type Elem struct {
	Pos   lexer.Position
	Terms []*ElemTerm `parser:"@@+"`
}

// ElemTerm is a term inside a set literal, where commas separate elements.
type ElemTerm struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Set    *SetLit `parser:"  @@"`
	Word   string  `parser:"| @Word"`
	Str    string  `parser:"| @String"`
	Op     string  `parser:"| @Punct"`
}

// Command is `VERB OBJECT …` (add, create, insert, replace, delete, flush, …).
type Command struct {
	Pos     lexer.Position
	Verb    string    `parser:"@(\"add\"|\"create\"|\"insert\"|\"replace\"|\"delete\"|\"destroy\"|\"flush\"|\"reset\"|\"list\"|\"rename\")"`
	Ruleset bool      `parser:"( @\"ruleset\""`
	Table   *CmdTable `parser:"| \"table\" @@"`
	Chain   *CmdChain `parser:"| \"chain\" @@"`
	Rule    *CmdRule  `parser:"| \"rule\" @@"`
	Set     *CmdSet   `parser:"| @@"`
	Element *CmdElem  `parser:"| \"element\" @@"`
	Other   []*Term   `parser:"| @@+ )"`
}

// CmdChain is `[family] table chain [{ … }]`.
type CmdChain struct {
	Pos   lexer.Position
	Spec  *Spec        `parser:"@@"`
	Body  bool         `parser:"( @\"{\""`
	Items []*ChainItem `parser:"  ( @@ | Semi | NL )* \"}\" )?"`
}

// CmdRule is `[family] table chain [handle|position|index N] RULE`.
type CmdRule struct {
	Pos      lexer.Position
	Spec     *Spec  `parser:"@@"`
	PosKind  string `parser:"( @(\"handle\"|\"position\"|\"index\")"`
	PosValue string `parser:"  @Word )?"`
	Rule     *Rule  `parser:"@@?"`
}

// CmdSet is `set|map [family] table set { … }`.
type CmdSet struct {
	Pos   lexer.Position
	Kind  string     `parser:"@(\"set\"|\"map\")"`
	Spec  *Spec      `parser:"@@"`
	Items []*SetItem `parser:"( \"{\" ( @@ | Semi | NL )* \"}\" )?"`
}

// CmdElem is `element [family] table set { … }`.
type CmdElem struct {
	Pos  lexer.Position
	Spec *Spec   `parser:"@@"`
	Set  *SetLit `parser:"@@"`
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// Text returns a term's token text (quotes removed from strings).
func (t *Term) Text() string {
	switch {
	case t.Word != "":
		return t.Word
	case t.Str != "":
		return unquote(t.Str)
	}
	return t.Op
}

// AsTerm converts an element term to a rule term.
func (t *ElemTerm) AsTerm() *Term {
	return &Term{Pos: t.Pos, EndPos: t.EndPos, Set: t.Set, Word: t.Word, Str: t.Str, Op: t.Op}
}
