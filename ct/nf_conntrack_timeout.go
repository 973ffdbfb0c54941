package ct

import (
	"fmt"

	"github.com/nftgo/nftgo/packet"
)

// Timeout policies: a `ct timeout` object replaces, for the entries a rule
// gives it to, the per-state timeouts the protocol tracker would take
// from the sysctls.

// TimeoutPolicy is one protocol's timeout table (struct nf_ct_timeout),
// in jiffies: the sysctl values at the object's creation with the
// policy's own values over them.
type TimeoutPolicy struct {
	L4  uint8
	tcp [tcpTimeoutMax]uint32
	udp [2]uint32 // unreplied, replied
}

// tcpPolicyStates are the state names nft uses in a tcp policy, by slot.
var tcpPolicyStates = map[string]int{
	"syn_sent": tcpSynSent, "syn_recv": tcpSynRecv, "established": tcpEstablished,
	"fin_wait": tcpFinWait, "close_wait": tcpCloseWait, "last_ack": tcpLastAck,
	"time_wait": tcpTimeWait, "close": tcpClose, "syn_sent2": tcpSynSent2,
	"retrans": tcpRetrans, "unacknowledged": tcpUnack,
}

// tcpSysctlNames maps policy state names to their sysctl suffixes.
var tcpSysctlNames = map[string]string{
	"syn_sent": "syn_sent", "syn_recv": "syn_recv", "established": "established",
	"fin_wait": "fin_wait", "close_wait": "close_wait", "last_ack": "last_ack",
	"time_wait": "time_wait", "close": "close", "retrans": "max_retrans",
	"unacknowledged": "unacknowledged",
}

// NewTimeoutPolicy builds the policy of a `ct timeout` object for
// protocol l4 from state name -> seconds (nft's lower-case names). Only
// TCP and UDP (and UDP-Lite, which shares UDP's table) are modelled. The
// defaults are the sysctls of cfg, the namespace the object is made in.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_timeout_obj_init;
// nf_conntrack_proto_tcp.c — tcp_timeout_nlattr_to_obj;
// nf_conntrack_proto_udp.c — udp_timeout_nlattr_to_obj
func NewTimeoutPolicy(cfg Config, l4 uint8, values map[string]uint32) (*TimeoutPolicy, error) {
	p := &TimeoutPolicy{L4: l4}
	j := func(k string) uint32 { return uint32(cfg.sysctl(k)) * hz }
	switch l4 {
	case packet.ProtoTCP:
		for name, i := range tcpPolicyStates {
			if name != "syn_sent2" {
				p.tcp[i] = j("nf_conntrack_tcp_timeout_" + tcpSysctlNames[name])
			}
		}
		p.tcp[tcpSynSent2] = 120 * hz // no sysctl
		for k, v := range values {
			i, ok := tcpPolicyStates[k]
			if !ok {
				return nil, fmt.Errorf("unknown tcp timeout state %q", k)
			}
			p.tcp[i] = v * hz
		}
		p.tcp[tcpNone] = p.tcp[tcpSynSent]
	case packet.ProtoUDP, packet.ProtoUDPLite:
		p.udp = [2]uint32{j("nf_conntrack_udp_timeout"), j("nf_conntrack_udp_timeout_stream")}
		for k, v := range values {
			switch k {
			case "unreplied":
				p.udp[0] = v * hz
			case "replied":
				p.udp[1] = v * hz
			default:
				return nil, fmt.Errorf("unknown udp timeout state %q", k)
			}
		}
	default:
		return nil, fmt.Errorf("timeout policies for protocol %d are not modelled", l4)
	}
	return p, nil
}

// SetTimeout is nft_ct_timeout_obj_eval for a packet of transport
// protocol l4 with unconfirmed entry c: the entry takes the policy and
// the policy's first value (SYN_SENT for TCP, UNREPLIED for UDP) as its
// timeout now.
//
// Ref: net/netfilter/nft_ct.c — nft_ct_timeout_obj_eval
func (t *Table) SetTimeout(c *Conn, l4 uint8, p *TimeoutPolicy) {
	if p == nil || p.L4 != l4 || c == nil || c.Status&StatusConfirmed != 0 {
		return
	}
	t.extOf(c).timeouts = p
	first := p.udp[0]
	if p.L4 == packet.ProtoTCP {
		first = p.tcp[tcpNone]
	}
	if c.Status&statusFixedTimeout == 0 {
		c.timeout = first
	}
}

// tcpTimeouts is the table the TCP tracker uses for c
// (nf_ct_timeout_lookup, or the sysctls).
func (t *Table) tcpTimeouts(c *Conn) *[tcpTimeoutMax]uint32 {
	if c.ext != 0 {
		if p := t.exts[c.ext-1].timeouts; p != nil && p.L4 == packet.ProtoTCP {
			return &p.tcp
		}
	}
	return &t.p.tcp
}

// udpTimeouts returns the unreplied and replied (stream) timeouts for c.
func (t *Table) udpTimeouts(c *Conn) (uint32, uint32) {
	if c.ext != 0 {
		if p := t.exts[c.ext-1].timeouts; p != nil && p.L4 != packet.ProtoTCP {
			return p.udp[0], p.udp[1]
		}
	}
	return t.p.udp, t.p.udpStream
}
