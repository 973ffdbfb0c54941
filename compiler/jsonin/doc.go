// Package jsonin reads libnftables JSON rulesets ({"nftables": [...]}, the
// form `nft -j list ruleset` prints and firewalld generates) into the same
// compiler that reads nft text, as `nft -j -f FILE` does.
//
// Route: each JSON command is translated into one line of nft text and the
// whole document is compiled with compiler.CompileSource. The compiler's
// syntax tree keeps rule bodies as token lists whose meaning is fixed only
// during evaluation (see package syntax), so building that tree from JSON
// would mean producing the very same tokens with invented positions; the
// compiler exposes no typed expression tree to build instead. Text keeps a
// single evaluator for both inputs, which is what makes the bytecode equal.
// It also mirrors libnftables closely: its JSON parser turns immediates into
// symbol expressions that the shared evaluator resolves by datatype, exactly
// as it does for words of a text ruleset.
//
// Where nft 1.0.6's JSON parser and its text parser disagree, the
// translation follows the JSON parser, checked against nft itself: a
// "family" in ct expressions is ignored (the family is part of the key,
// "ip saddr"), set flags are read only from an array and "dynamic" is
// rejected, limit objects are created in packets, there is no "map"
// statement, and element statements in a set without set statements turn
// into a dynamic set (ct count) or are not sent.
//
// CompileFile and Compile mirror `nft -j -f`: valid JSON is read as JSON,
// anything else as nft text.
//
// Each generated line remembers the JSON path of the command and of every
// statement on it, so a compile error names the JSON object at fault
// (nftables[3].rule.expr[1]) together with the nft text it was read as.
//
// Ref: nftables src/parser_json.c — json_parse_cmd, json_parse_stmt,
// json_parse_expr; doc/libnftables-json.adoc.
package jsonin
