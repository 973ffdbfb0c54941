// Package list prints a ruleset as `nft list ruleset` and `nft -j list
// ruleset` do: rules are decompiled from their kernel expressions, the way
// nft's netlink_delinearize reads them back from a kernel dump, so a
// snapshot taken after a replay lists exactly like the kernel's answer.
package list

import (
	"bufio"
	"io"

	"github.com/nftgo/nftgo/ruleset"
)

// Options selects what is printed.
type Options struct {
	Handles bool // -a: `# handle N`
}

// Text writes rs as `nft list ruleset` prints it.
func Text(w io.Writer, rs *ruleset.Ruleset, opt Options) error {
	bw := bufio.NewWriter(w)
	if rs != nil {
		for _, t := range rs.Tables {
			if t == nil {
				continue
			}
			writeTable(bw, t, opt)
		}
	}
	return bw.Flush()
}

// JSON writes rs as `nft -j list ruleset` prints it (libnftables JSON).
func JSON(w io.Writer, rs *ruleset.Ruleset, opt Options) error {
	bw := bufio.NewWriter(w)
	writeJSON(bw, rulesetJSON(rs))
	bw.WriteByte('\n')
	return bw.Flush()
}
