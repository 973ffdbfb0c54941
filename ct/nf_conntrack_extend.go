package ct

// connExt holds an entry's optional extensions (the kernel's nf_ct_ext
// area): the helper and its private data, the expectation master's
// helper, a timeout policy and connlabels. Most entries have none, so
// they live outside Conn, found through Conn.ext (index+1, 0 = none):
// the fast path pays one compare for an entry without extensions.
//
// Ref: net/netfilter/nf_conntrack_extend.c — nf_ct_ext_add
type connExt struct {
	// help is set when the entry has a help extension (nf_conn_help):
	// from `ct helper set`, or from an `ct expectation` object that needs
	// one to hang its expectations on. helper may still be nil then.
	help   bool
	helper *Helper
	// master is the helper of the expectation's master for an entry
	// created by an expectation (`ct helper` reads nfct_help(ct->master)).
	master *Helper
	// expecting counts this entry's live expectations per class
	// (nf_conn_help.expecting).
	expecting [expectClassMax]uint8
	timeouts  *TimeoutPolicy
	labels    [2]uint64 // connlabel bits 0..127, bit n in word n/64
	ftp       ftpInfo
	seqadj    [2]seqAdjWay // nf_ct_seqadj, per direction
}

// extOf returns the entry's extensions, adding an empty record when it
// has none (nf_ct_ext_add; callers add only to unconfirmed entries, as
// the kernel does, except labels which are always present in Linux once
// a rule uses them and so are added lazily here).
func (t *Table) extOf(c *Conn) *connExt {
	if c.ext == 0 {
		if n := len(t.extFree); n > 0 {
			c.ext = t.extFree[n-1]
			t.extFree = t.extFree[:n-1]
			t.exts[c.ext-1] = connExt{}
		} else {
			t.exts = append(t.exts, connExt{})
			c.ext = uint32(len(t.exts))
		}
	}
	return &t.exts[c.ext-1]
}

// extFind returns the entry's extensions or nil.
func (t *Table) extFind(c *Conn) *connExt {
	if c == nil || c.ext == 0 || int(c.ext) > len(t.exts) {
		return nil
	}
	return &t.exts[c.ext-1]
}

// extRelease drops an entry's extensions when its slot is freed: its
// pending expectations go with it (nf_ct_remove_expectations).
func (t *Table) extRelease(c *Conn) {
	e := t.extFind(c)
	if e == nil {
		return
	}
	if e.help && len(t.expects) > 0 {
		t.removeExpectations(c)
	}
	t.exts[c.ext-1] = connExt{}
	t.extFree = append(t.extFree, c.ext)
	c.ext = 0
}
