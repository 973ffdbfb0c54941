// Package list prints a ruleset as `nft list ruleset` and `nft -j list
// ruleset` do: rules are decompiled from their kernel expressions, the way
// nft's netlink_delinearize reads them back from a kernel dump, so a
// snapshot taken after a replay lists exactly like the kernel's answer.
package list

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/nftgo/nftgo/ruleset"
)

// Options selects what is printed.
type Options struct {
	Handles bool // -a: `# handle N`
}

// Text writes rs as `nft list ruleset` prints it. A rule that cannot be
// decompiled prints as a comment and is reported in the error; the rest
// of the listing is still written.
func Text(w io.Writer, rs *ruleset.Ruleset, opt Options) (err error) {
	var errs []error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("list: %v", p)
		}
	}()
	bw := bufio.NewWriter(w)
	if rs != nil {
		for _, t := range rs.Tables {
			if t == nil {
				continue
			}
			writeTable(bw, t, opt, &errs)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// JSON writes rs as `nft -j list ruleset` prints it (libnftables JSON).
func JSON(w io.Writer, rs *ruleset.Ruleset, opt Options) (err error) {
	var errs []error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("list: %v", p)
		}
	}()
	doc := rulesetJSON(rs, &errs)
	bw := bufio.NewWriter(w)
	writeJSON(bw, doc)
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
