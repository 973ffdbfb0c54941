// Package nfttest runs golden-file tests of nftables rulesets: a test file
// (*.nfttest) names the ruleset under test by path, the host it is loaded
// on, and cases of traffic written as text, each packet with what Linux
// should do with it beside it; a case may end with expectations on
// counters, set elements and the conntrack table. Every case runs on a
// fresh machine through the replay loop (package replay), so its packets
// meet the same vm, conntrack and sets as `nftgo --replay`.
//
// The format is documented with examples in docs/testing.md. `nftgo test`
// is the command line; Run runs the same cases from a Go test:
//
//	func TestFirewall(t *testing.T) { nfttest.Run(t, "testdata/firewall.nfttest") }
package nfttest
