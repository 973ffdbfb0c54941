package vm

import "github.com/nftgo/nftgo/ct"

// A packet the kernel builds in answer to another — a reject's TCP reset
// or ICMP error, the ICMP error ip_forward sends when the TTL runs out — is
// not new to conntrack: nf_send_reset, nf_send_unreach and the ICMP glue
// (icmp_glue_bits, icmpv6_getfrag) hand it the answered packet's entry with
// nf_ct_attach. Conntrack's own hooks then leave it alone (it has an
// entry), nft reads the answered flow's entry with ct state related, the
// NAT core runs the nat chains for it while that entry's mapping is not set
// up, and the confirm at the last hook inserts the entry when the answer
// travels in the original direction (the answer to an answer).
//
// Ref: net/netfilter/core.c — nf_ct_attach;
// net/netfilter/nf_conntrack_core.c — nf_conntrack_attach.

// maxReplyDepth bounds answers to answers. The kernel needs no bound (no
// reset answers a reset, no ICMP error an ICMP error, so a chain of answers
// ends after two), this one only keeps a recursion finite whatever the
// reply builders do.
const maxReplyDepth = 3

// attachInfo is the ctinfo an answer carries: it travels against the
// answered packet, so an original-direction packet's answer is
// RELATED_REPLY and a reply-direction packet's answer RELATED.
func attachInfo(info ct.Info) ct.Info {
	if ct.Direction(info) == 0 {
		return ct.RelatedReply
	}
	return ct.Related
}

// ctAttach is what the answer to the current packet carries: its entry
// with attachInfo; the conntrack template of a packet rejected before
// conntrack ran but after `ct zone set` (nf_conntrack_attach hands any
// attached ct on, and nf_conntrack_in tracks the answer with the template,
// in its zone); or nothing for an untracked packet or one conntrack has
// not seen (the answer meets conntrack afresh).
func (m *machine) ctAttach() replyAttach {
	if m.conn == nil {
		if m.tmpl {
			return replyAttach{set: true, info: ct.NoInfo, tmpl: true, zone: m.zone}
		}
		return replyAttach{}
	}
	return replyAttach{set: true, conn: m.conn, info: attachInfo(m.info)}
}
