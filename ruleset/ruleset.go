// Package ruleset holds a ruleset the way the kernel holds it after a commit:
// tables, chains, sets with their elements, stateful objects, and rules as
// lists of kernel expressions (the nf_tables bytecode nft sends over netlink).
//
// It is the one representation every stage shares. The compiler produces it
// from nft text, the netlink notation (notation.go) prints it exactly as
// `nft --debug=netlink` does, the listing decompiles it back to nft text as
// `nft list ruleset` does, and the VM loads it. A Ruleset carries values, not
// behaviour: counters hold the numbers the kernel would dump, sets the
// elements it would list. The VM's Snapshot fills them in after a replay, the
// same way the kernel answers a dump request.
package ruleset

// Family is a table family, by its NFPROTO number.
type Family uint8

// NFPROTO values (include/uapi/linux/netfilter.h).
const (
	FamilyUnspec Family = 0
	FamilyINet   Family = 1
	FamilyIPv4   Family = 2
	FamilyARP    Family = 3
	FamilyNetdev Family = 5
	FamilyBridge Family = 7
	FamilyIPv6   Family = 10
)

// String returns the name nft uses for the family.
func (f Family) String() string {
	switch f {
	case FamilyINet:
		return "inet"
	case FamilyIPv4:
		return "ip"
	case FamilyARP:
		return "arp"
	case FamilyNetdev:
		return "netdev"
	case FamilyBridge:
		return "bridge"
	case FamilyIPv6:
		return "ip6"
	}
	return "unspec"
}

// ParseFamily maps an nft family keyword to its Family.
func ParseFamily(s string) (Family, bool) {
	switch s {
	case "ip":
		return FamilyIPv4, true
	case "ip6":
		return FamilyIPv6, true
	case "inet":
		return FamilyINet, true
	case "arp":
		return FamilyARP, true
	case "bridge":
		return FamilyBridge, true
	case "netdev":
		return FamilyNetdev, true
	}
	return FamilyUnspec, false
}

// HookName is the nft keyword of hook h in family f: hook numbers mean
// different hooks per family (arp and netdev reuse small numbers). It
// returns "unknown" for a number the family has no hook for.
//
// Ref: nftables src/rule.c — hooknum2str
func HookName(f Family, h Hook) string {
	switch f {
	case FamilyARP:
		switch h {
		case HookARPIn:
			return "input"
		case HookARPOut:
			return "output"
		case HookARPForward:
			return "forward"
		}
		return "unknown"
	case FamilyNetdev:
		switch h {
		case HookNetdevIngress:
			return "ingress"
		case HookNetdevEgress:
			return "egress"
		}
		return "unknown"
	}
	switch h {
	case HookPrerouting:
		return "prerouting"
	case HookInput:
		return "input"
	case HookForward:
		return "forward"
	case HookOutput:
		return "output"
	case HookPostrouting:
		return "postrouting"
	case HookIngress:
		return "ingress"
	}
	return "unknown"
}

// Hook numbers (include/uapi/linux/netfilter.h). The inet-style numbers are
// shared by ip, ip6, inet and bridge; arp and netdev reuse small numbers for
// their own hooks, so a Hook is only meaningful together with its Family.
type Hook uint8

const (
	HookPrerouting  Hook = 0
	HookInput       Hook = 1
	HookForward     Hook = 2
	HookOutput      Hook = 3
	HookPostrouting Hook = 4
	HookIngress     Hook = 5 // inet ingress

	HookARPIn      Hook = 0
	HookARPOut     Hook = 1
	HookARPForward Hook = 2

	HookNetdevIngress Hook = 0
	HookNetdevEgress  Hook = 1
)

// Standard hook priorities (include/uapi/linux/netfilter_ipv4.h).
const (
	PriorityConntrackDefrag  = -400
	PriorityRaw              = -300
	PriorityConntrack        = -200
	PriorityMangle           = -150
	PriorityNATDst           = -100
	PriorityFilter           = 0
	PrioritySecurity         = 50
	PriorityNATSrc           = 100
	PriorityConntrackConfirm = 1<<31 - 1
)

// Ruleset is everything committed to one network namespace.
type Ruleset struct {
	Tables []*Table
}

// Table is an nf_tables table.
type Table struct {
	Family  Family
	Name    string
	Handle  uint64
	Flags   uint32 // NFT_TABLE_F_DORMANT 1, NFT_TABLE_F_OWNER 2
	Comment string

	Chains  []*Chain
	Sets    []*Set // named and anonymous sets and maps, in creation order
	Objects []*Object
}

// Chain is a base chain (Hook != nil) or a user chain.
type Chain struct {
	Name    string
	Handle  uint64
	Hook    *ChainHook // nil for a user chain
	Comment string
	Rules   []*Rule
	// Packets and Bytes are the base chain's own counters (bumped when the
	// policy decides), as the kernel dumps them.
	Packets, Bytes uint64
}

// ChainHook is what makes a chain a base chain.
type ChainHook struct {
	Type     string // filter, nat, route
	Hook     Hook
	Priority int32
	Policy   Verdict  // VerdictAccept or VerdictDrop
	Devices  []string // netdev and inet ingress
}

// Rule is one rule: its expressions run in order until one sets a verdict.
type Rule struct {
	Handle   uint64
	Exprs    []Expr
	Comment  string
	Position uint64 // handle of the rule this one was added after/inserted before, 0 for none
}

// VerdictCode is a netfilter or nf_tables verdict (include/uapi/linux/netfilter.h,
// include/uapi/linux/netfilter/nf_tables.h).
type VerdictCode int32

const (
	VerdictDrop     VerdictCode = 0
	VerdictAccept   VerdictCode = 1
	VerdictStolen   VerdictCode = 2
	VerdictQueue    VerdictCode = 3
	VerdictRepeat   VerdictCode = 4
	VerdictStop     VerdictCode = 5
	VerdictContinue VerdictCode = -1
	VerdictBreak    VerdictCode = -2
	VerdictJump     VerdictCode = -3
	VerdictGoto     VerdictCode = -4
	VerdictReturn   VerdictCode = -5
)

// String returns the name libnftnl prints (src/utils.c — nftnl_verdict2str).
func (v VerdictCode) String() string {
	switch v {
	case VerdictDrop:
		return "drop"
	case VerdictAccept:
		return "accept"
	case VerdictStolen:
		return "stolen"
	case VerdictQueue:
		return "queue"
	case VerdictRepeat:
		return "repeat"
	case VerdictStop:
		return "stop"
	case VerdictContinue:
		return "continue"
	case VerdictBreak:
		return "break"
	case VerdictJump:
		return "jump"
	case VerdictGoto:
		return "goto"
	case VerdictReturn:
		return "return"
	}
	return "unknown"
}

// Verdict is verdict data: a code and, for jump and goto, the target chain.
type Verdict struct {
	Code  VerdictCode
	Chain string
}

// Set flags (include/uapi/linux/netfilter/nf_tables.h — enum nft_set_flags).
const (
	SetAnonymous = 0x1
	SetConstant  = 0x2
	SetInterval  = 0x4
	SetMap       = 0x8
	SetTimeout   = 0x10
	SetEval      = 0x20 // nft "dynamic"
	SetObject    = 0x40
	SetConcat    = 0x80
	SetExpr      = 0x100
)

// Set element flags.
const (
	ElemIntervalEnd = 0x1
	ElemCatchall    = 0x2
)

// Set is a named or anonymous set or map. Key and data types are nft datatype
// numbers as nft stores them in NFTA_SET_KEY_TYPE/NFTA_SET_DATA_TYPE (for a
// concatenation, the types packed 6 bits each); KeyTypeName and DataTypeName
// keep the source spelling ("ipv4_addr", "ipv4_addr . inet_service") so the
// listing can print them back without a type table.
type Set struct {
	Name   string
	Handle uint64
	ID     uint32
	Flags  uint32

	KeyType      uint32
	KeyLen       uint32 // bytes, each concatenated field rounded up to 4
	KeyTypeName  string
	FieldLens    []uint32 // NFTA_SET_DESC_CONCAT field lengths, for concatenations
	DataType     uint32   // NFT_DATA_VERDICT (0xffffff00) for verdict maps
	DataLen      uint32
	DataTypeName string
	ObjType      uint32 // object maps
	// Typeof keeps `typeof EXPR` declarations for printing.
	KeyTypeof, DataTypeof string

	Timeout    uint64 // default element timeout, ms
	GCInterval uint32 // ms; 0 means the kernel default (1 s)
	Size       uint32 // 0 means unlimited (65535 once bound to a dynset)
	Policy     uint32 // 0 performance, 1 memory; PolicySet tells whether nft sent one
	PolicySet  bool
	SizeSet    bool // whether nft sent NFTA_SET_DESC_SIZE
	AutoMerge  bool
	Comment    string

	// Exprs are the stateful expressions every element gets (set-level
	// `counter`, `ct count …` declarations).
	Exprs    []Expr
	Elements []*Element
}

// IsMap reports whether the set is a map (NFT_SET_MAP).
func (s *Set) IsMap() bool { return s.Flags&SetMap != 0 }

// DataVerdict is the data type of verdict maps (NFT_DATA_VERDICT).
const DataVerdict = 0xffffff00

// Element is one set element as the kernel stores it: for interval sets nft
// sends a start element and an end element (ElemIntervalEnd) per range, or a
// Key/KeyEnd pair for concatenated intervals.
type Element struct {
	Key     []byte
	KeyEnd  []byte
	Data    []byte
	Verdict *Verdict
	ObjRef  string
	Flags   uint32
	Timeout uint64 // ms, 0 for the set default
	Expires uint64 // ms remaining, as dumped; 0 when no timeout
	Comment string
	// Exprs are the element's own stateful expressions (counter, quota,
	// limit, connlimit) with the values the kernel would dump.
	Exprs []Expr
}

// Object is a named stateful object (counter, quota, limit, ct helper, …).
type Object struct {
	Kind    string // "counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation", "synproxy", "secmark"
	Name    string
	Handle  uint64
	Comment string
	// Expr holds the object's state for counter, quota and limit; other
	// kinds keep their attributes in Attrs, in declaration order.
	Expr  Expr
	Attrs []ObjectAttr
}

// ObjectAttr is one attribute of a non-expression object.
type ObjectAttr struct {
	Key, Value string
}
