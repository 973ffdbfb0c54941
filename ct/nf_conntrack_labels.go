package ct

// Connection labels (connlabel): 128 bits per entry that `ct label set`
// turns on and `ct label` reads. Linux adds the labels extension to every
// new entry once a rule uses labels; an entry without stored labels here
// reads as all zeros, which is the same.

// Labels returns the entry's 128 label bits as the kernel stores them
// (nf_conn_labels.bits: bit n is bit n%8 of byte n/8), for `ct label`.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_get_eval (NFT_CT_LABELS)
func (t *Table) Labels(c *Conn) (b [16]byte) {
	e := t.extFind(c)
	if e == nil {
		return b
	}
	for i := 0; i < 16; i++ {
		b[i] = byte(e.labels[i/8] >> (8 * (i % 8)))
	}
	return b
}

// SetLabels is nf_connlabels_replace with mask = data, as `ct label set`
// calls it: the bits of data are added to the entry's labels (none is
// cleared); a change is an IPCT_LABEL event.
//
// Ref: net/netfilter/nf_conntrack_labels.c — nf_connlabels_replace
func (t *Table) SetLabels(c *Conn, data []byte) {
	if c == nil {
		return
	}
	var add [2]uint64
	for i := 0; i < 16 && i < len(data); i++ {
		add[i/8] |= uint64(data[i]) << (8 * (i % 8))
	}
	if add == ([2]uint64{}) {
		return
	}
	e := t.extOf(c)
	if e.labels[0]|add[0] == e.labels[0] && e.labels[1]|add[1] == e.labels[1] {
		return
	}
	e.labels[0] |= add[0]
	e.labels[1] |= add[1]
	t.cacheEvent(c, evLabel)
}
