package vm

import (
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

// netlinkBody is the netlink debug text of an expression the IR carries as
// ruleset.Generic (libnftnl's snprintf of its attributes), split in words.
// The loader reads the attributes back from it.
type netlinkBody struct {
	fields []string
}

func parseBody(s string) netlinkBody { return netlinkBody{fields: strings.Fields(s)} }

// num is the number after the word key ("dreg 1", "mss 1460").
func (b netlinkBody) num(key string) (uint64, bool) {
	for i := 0; i+1 < len(b.fields); i++ {
		if b.fields[i] == key {
			return parseUint(b.fields[i+1])
		}
	}
	return 0, false
}

// reg is a register number after key, allowing "key reg N" and "key N".
func (b netlinkBody) reg(key string) (ruleset.Register, bool) {
	for i := 0; i+1 < len(b.fields); i++ {
		if b.fields[i] != key {
			continue
		}
		v := b.fields[i+1]
		if v == "reg" && i+2 < len(b.fields) {
			v = b.fields[i+2]
		}
		n, ok := parseUint(v)
		if !ok || n > 255 {
			return 0, false
		}
		return ruleset.Register(n), true
	}
	return 0, false
}

func parseUint(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 0, 32)
	return n, err == nil
}

// loadGeneric loads the expressions the compiler emits as ruleset.Generic.
// Anything else stays unsupported.
func (l *loader) loadGeneric(x *ruleset.Generic) (in insn, st int32, err error) {
	b := parseBody(x.Body)
	switch x.Kind {
	case "osf":
		return l.loadOsf(b)
	case "xfrm":
		return l.loadXfrm(b)
	case "tproxy":
		return l.loadTproxy(b)
	case "synproxy":
		return l.loadSynproxy(b)
	}
	return in, -1, errNotImpl
}

// genericHooks is the validate op of a Generic expression.
func genericHooks(x *ruleset.Generic, fam ruleset.Family, h *ruleset.ChainHook) error {
	switch x.Kind {
	case "osf":
		return osfHooks(fam, h)
	case "xfrm":
		return xfrmHooks(parseBody(x.Body), fam, h)
	case "tproxy":
		return tproxyHooks(fam, h)
	case "synproxy":
		return synproxyHooks(fam, h)
	}
	return nil
}

// ctFamilyErr is nf_ct_netns_get's answer for a table family: conntrack
// has no netdev or arp hooks (EPROTO), and bridge conntrack needs
// nf_conntrack_bridge, which the 6.18 reference kernel is built without
// (CONFIG_NF_CONNTRACK_BRIDGE unset; measured: `ct state` and `ct count`
// in bridge, netdev and arp tables fail with "Protocol error"). notrack
// takes no conntrack reference and loads everywhere.
//
// Ref: net/netfilter/nf_conntrack_proto.c — nf_ct_netns_get.
func ctFamilyErr(f ruleset.Family, e ruleset.Expr) error {
	switch f {
	case ruleset.FamilyIPv4, ruleset.FamilyIPv6, ruleset.FamilyINet:
		return nil
	}
	switch e.(type) {
	case *ruleset.Ct, *ruleset.Connlimit, *ruleset.Dynset:
		return errProto
	}
	return nil
}
