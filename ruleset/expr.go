package ruleset

// Expr is one kernel expression of a rule. Each type mirrors one nf_tables
// expression (net/netfilter/nft_*.c) and carries exactly its netlink
// attributes, so printing and loading need nothing else. Registers are
// netlink register numbers as nft prints them: 0 is the verdict register,
// 1..4 the 16-byte registers, 8..23 the 32-bit ones (reg 9 is NFT_REG32_01).
type Expr interface {
	// Name is the expression's kernel name ("payload", "cmp", …).
	Name() string
}

// Register is a netlink register number.
type Register uint32

// Payload bases (enum nft_payload_bases).
type PayloadBase uint32

const (
	BaseLink      PayloadBase = 0
	BaseNetwork   PayloadBase = 1
	BaseTransport PayloadBase = 2
	BaseInner     PayloadBase = 3
)

// Payload loads Len bytes at Offset from Base into DReg (nft_payload.c).
type Payload struct {
	Base   PayloadBase
	Offset uint32
	Len    uint32
	DReg   Register
}

// PayloadWrite mangles the packet from SReg (nft_payload.c — nft_payload_set_eval).
type PayloadWrite struct {
	Base       PayloadBase
	Offset     uint32
	Len        uint32
	SReg       Register
	CsumType   uint32
	CsumOffset uint32
	CsumFlags  uint32
}

// CmpOp is a comparison operator (enum nft_cmp_ops).
type CmpOp uint32

const (
	CmpEq  CmpOp = 0
	CmpNeq CmpOp = 1
	CmpLt  CmpOp = 2
	CmpLte CmpOp = 3
	CmpGt  CmpOp = 4
	CmpGte CmpOp = 5
)

// String returns the libnftnl name of the operator.
func (o CmpOp) String() string {
	switch o {
	case CmpEq:
		return "eq"
	case CmpNeq:
		return "neq"
	case CmpLt:
		return "lt"
	case CmpLte:
		return "lte"
	case CmpGt:
		return "gt"
	case CmpGte:
		return "gte"
	}
	return "unknown"
}

// Cmp compares len(Data) register bytes with Data (nft_cmp.c).
type Cmp struct {
	Op   CmpOp
	SReg Register
	Data []byte
}

// Range matches From <= reg <= To (Op eq) or its negation (nft_range.c).
type Range struct {
	Op       CmpOp // only CmpEq or CmpNeq
	SReg     Register
	From, To []byte
}

// BitwiseOp is enum nft_bitwise_ops.
type BitwiseOp uint32

const (
	BitwiseMaskXor BitwiseOp = 0
	BitwiseLshift  BitwiseOp = 1
	BitwiseRshift  BitwiseOp = 2
)

// Bitwise computes DReg = (SReg & Mask) ^ Xor over Len bytes, or a shift by
// Shift bits (nft_bitwise.c).
type Bitwise struct {
	Op        BitwiseOp
	SReg      Register
	DReg      Register
	Len       uint32
	Mask, Xor []byte
	Shift     uint32
}

// ByteorderOp is enum nft_byteorder_ops.
type ByteorderOp uint32

const (
	NtoH ByteorderOp = 0
	HtoN ByteorderOp = 1
)

// Byteorder converts Len bytes of Size-byte words (nft_byteorder.c).
type Byteorder struct {
	Op   ByteorderOp
	SReg Register
	DReg Register
	Len  uint32
	Size uint32
}

// Immediate stores constant data or, into register 0, a verdict (nft_immediate.c).
type Immediate struct {
	DReg    Register
	Data    []byte
	Verdict Verdict // used when DReg == 0
}

// MetaKey is enum nft_meta_keys.
type MetaKey uint32

const (
	MetaLen          MetaKey = 0
	MetaProtocol     MetaKey = 1
	MetaPriority     MetaKey = 2
	MetaMark         MetaKey = 3
	MetaIif          MetaKey = 4
	MetaOif          MetaKey = 5
	MetaIifname      MetaKey = 6
	MetaOifname      MetaKey = 7
	MetaIiftype      MetaKey = 8
	MetaOiftype      MetaKey = 9
	MetaSkuid        MetaKey = 10
	MetaSkgid        MetaKey = 11
	MetaNftrace      MetaKey = 12
	MetaRtclassid    MetaKey = 13
	MetaSecmark      MetaKey = 14
	MetaNfproto      MetaKey = 15
	MetaL4proto      MetaKey = 16
	MetaBriIifname   MetaKey = 17
	MetaBriOifname   MetaKey = 18
	MetaPkttype      MetaKey = 19
	MetaCPU          MetaKey = 20
	MetaIifgroup     MetaKey = 21
	MetaOifgroup     MetaKey = 22
	MetaCgroup       MetaKey = 23
	MetaPrandom      MetaKey = 24
	MetaSecpath      MetaKey = 25
	MetaIifkind      MetaKey = 26
	MetaOifkind      MetaKey = 27
	MetaBriIifpvid   MetaKey = 28
	MetaBriIifvproto MetaKey = 29
	MetaTimeNS       MetaKey = 30
	MetaTimeDay      MetaKey = 31
	MetaTimeHour     MetaKey = 32
	MetaSdif         MetaKey = 33
	MetaSdifname     MetaKey = 34
	MetaBriBroute    MetaKey = 35
)

// Meta loads packet metadata into DReg, or with Set, writes SReg into it
// (nft_meta.c).
type Meta struct {
	Key  MetaKey
	DReg Register
	Set  bool
	SReg Register
}

// CtKey is enum nft_ct_keys.
type CtKey uint32

const (
	CtState      CtKey = 0
	CtDirection  CtKey = 1
	CtStatus     CtKey = 2
	CtMark       CtKey = 3
	CtSecmark    CtKey = 4
	CtExpiration CtKey = 5
	CtHelper     CtKey = 6
	CtL3Protocol CtKey = 7
	CtSrc        CtKey = 8
	CtDst        CtKey = 9
	CtProtocol   CtKey = 10
	CtProtoSrc   CtKey = 11
	CtProtoDst   CtKey = 12
	CtLabels     CtKey = 13
	CtPkts       CtKey = 14
	CtBytes      CtKey = 15
	CtAvgpkt     CtKey = 16
	CtZone       CtKey = 17
	CtEventmask  CtKey = 18
	CtSrcIP      CtKey = 19
	CtDstIP      CtKey = 20
	CtSrcIP6     CtKey = 21
	CtDstIP6     CtKey = 22
	CtID         CtKey = 23
)

// Ct directions; CtDirUnset means the attribute is absent.
const (
	CtDirOriginal = 0
	CtDirReply    = 1
	CtDirUnset    = -1
)

// Ct loads a conntrack key into DReg, or with Set writes SReg into it (nft_ct.c).
type Ct struct {
	Key       CtKey
	Direction int // CtDirOriginal, CtDirReply or CtDirUnset
	DReg      Register
	Set       bool
	SReg      Register
}

// Lookup flags.
const LookupInvert = 0x1

// Lookup looks SReg up in a set; with DReg set (maps) it loads the data
// (DReg 0: a verdict map) (nft_lookup.c).
type Lookup struct {
	Set     string
	SetID   uint32
	SReg    Register
	DReg    Register
	HasDReg bool
	Flags   uint32
}

// DynsetOp is enum nft_dynset_ops.
type DynsetOp uint32

const (
	DynsetAdd    DynsetOp = 0
	DynsetUpdate DynsetOp = 1
	DynsetDelete DynsetOp = 2
)

// Dynset adds, updates or deletes an element from the packet path (nft_dynset.c).
type Dynset struct {
	Op       DynsetOp
	Set      string
	SetID    uint32
	SRegKey  Register
	SRegData Register
	HasData  bool
	Timeout  uint64 // ms; 0 when absent
	Flags    uint32 // NFT_DYNSET_F_INV 1, NFT_DYNSET_F_EXPR 2
	Exprs    []Expr // template expressions cloned into new elements
}

// Connlimit flags.
const ConnlimitInvert = 0x1

// Connlimit is `ct count [over] N` (nft_connlimit.c). Count is the limit;
// the number of connections is runtime state the VM keeps.
type Connlimit struct {
	Count uint32
	Flags uint32
}

// Counter counts packets and bytes (nft_counter.c).
type Counter struct {
	Packets, Bytes uint64
}

// Limit types and flags.
const (
	LimitPackets = 0
	LimitBytes   = 1
	LimitInvert  = 0x1
)

// Limit is a token bucket (nft_limit.c). Unit is in seconds.
type Limit struct {
	Rate  uint64
	Unit  uint64
	Burst uint32
	Type  uint32
	Flags uint32
}

// UnitName is the name nft and libnftnl give a limit's unit in seconds
// ("second" … "week"; "error" for any other value, as libnftnl prints it).
func (l *Limit) UnitName() string {
	switch l.Unit {
	case 1:
		return "second"
	case 60:
		return "minute"
	case 3600:
		return "hour"
	case 86400:
		return "day"
	case 604800:
		return "week"
	}
	return "error"
}

// Quota flags.
const (
	QuotaInvert   = 0x1
	QuotaDepleted = 0x2
)

// Quota matches until Bytes are consumed (nft_quota.c).
type Quota struct {
	Bytes    uint64
	Consumed uint64
	Flags    uint32
}

// Log records the packet (nft_log.c). Fields are present when their Has* flag is set.
type Log struct {
	Prefix     string
	HasPrefix  bool
	Group      uint16
	HasGroup   bool
	Snaplen    uint32
	HasSnaplen bool
	Qthreshold uint16
	HasQthresh bool
	Level      uint32
	HasLevel   bool
	Flags      uint32
}

// Reject types (enum nft_reject_types).
const (
	RejectICMPUnreach  = 0
	RejectTCPRst       = 1
	RejectICMPXUnreach = 2
)

// Reject sends an error back and drops (nft_reject.c).
type Reject struct {
	Type uint32
	Code uint8
}

// NAT types.
const (
	NATSnat = 0
	NATDnat = 1
)

// NAT range flags (include/uapi/linux/netfilter/nf_nat.h).
const (
	NATRangeMapIPs        = 0x1
	NATRangeProtoSpecific = 0x2
	NATRangeProtoRandom   = 0x4
	NATRangePersistent    = 0x8
	NATRangeProtoRandFull = 0x10
	NATRangeProtoOffset   = 0x20
	NATRangeNetmap        = 0x40
)

// NAT is snat/dnat (nft_nat.c). A zero register means the attribute is absent.
type NAT struct {
	Type     uint32
	Family   Family
	AddrMin  Register
	AddrMax  Register
	ProtoMin Register
	ProtoMax Register
	Flags    uint32
	HasFlags bool
}

// Masq is masquerade (nft_masq.c).
type Masq struct {
	ProtoMin Register
	ProtoMax Register
	Flags    uint32
	HasFlags bool
}

// Redir is redirect (nft_redir.c).
type Redir struct {
	ProtoMin Register
	ProtoMax Register
	Flags    uint32
	HasFlags bool
}

// Notrack marks the packet untracked (nft_ct.c — nft_notrack_eval).
type Notrack struct{}

// Queue hands the packet to userspace (nft_queue.c).
type Queue struct {
	Num     uint16
	Total   uint16
	Flags   uint16 // NFT_QUEUE_FLAG_BYPASS 1, NFT_QUEUE_FLAG_CPU_FANOUT 2
	SRegNum Register
}

// Generic is any expression the IR has no dedicated type for yet: its
// netlink debug body is kept verbatim so it still prints, and the VM refuses
// to load it.
type Generic struct {
	Kind string
	Body string
}

func (*Payload) Name() string      { return "payload" }
func (*PayloadWrite) Name() string { return "payload" }
func (*Cmp) Name() string          { return "cmp" }
func (*Range) Name() string        { return "range" }
func (*Bitwise) Name() string      { return "bitwise" }
func (*Byteorder) Name() string    { return "byteorder" }
func (*Immediate) Name() string    { return "immediate" }
func (*Meta) Name() string         { return "meta" }
func (*Ct) Name() string           { return "ct" }
func (*Lookup) Name() string       { return "lookup" }
func (*Dynset) Name() string       { return "dynset" }
func (*Connlimit) Name() string    { return "connlimit" }
func (*Counter) Name() string      { return "counter" }
func (*Limit) Name() string        { return "limit" }
func (*Quota) Name() string        { return "quota" }
func (*Log) Name() string          { return "log" }
func (*Reject) Name() string       { return "reject" }
func (*NAT) Name() string          { return "nat" }
func (*Masq) Name() string         { return "masq" }
func (*Redir) Name() string        { return "redir" }
func (*Notrack) Name() string      { return "notrack" }
func (*Queue) Name() string        { return "queue" }
func (g *Generic) Name() string    { return g.Kind }
