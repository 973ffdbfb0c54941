package ruleset

// Expressions added by the compiler owner for the rest of nft's language.
// Each carries exactly its netlink attributes, like the types in expr.go.

// Exthdr ops (enum nft_exthdr_op).
const (
	ExthdrOpIPv6   = 0
	ExthdrOpTCPOpt = 1
	ExthdrOpIPv4   = 2
	ExthdrOpSCTP   = 3
	ExthdrOpDCCP   = 4
)

// Exthdr flags.
const ExthdrFPresent = 0x1

// Exthdr loads Len bytes at Offset of extension header/option Type into
// DReg (with ExthdrFPresent: one byte, 1 if the header exists), or writes
// SReg there (Write), or removes the option (Reset) (nft_exthdr.c).
type Exthdr struct {
	Op     uint32
	Type   uint8
	Offset uint32
	Len    uint32
	DReg   Register
	SReg   Register
	Flags  uint32
	Write  bool
	Reset  bool
}

// Objref runs a named object (nft_objref.c); with SetName set it picks the
// object by a map lookup of SReg.
type Objref struct {
	Type    uint32
	ObjName string
	SReg    Register
	SetName string
	SetID   uint32
}

// Numgen generates a number (nft_numgen.c): Type 0 incremental, 1 random.
type Numgen struct {
	DReg    Register
	Modulus uint32
	Type    uint32
	Offset  uint32
}

// Hash hashes SReg (jhash, Type 0) or the packet (symhash, Type 1) (nft_hash.c).
type Hash struct {
	SReg    Register
	DReg    Register
	Len     uint32
	Modulus uint32
	Seed    uint32
	HasSeed bool
	Offset  uint32
	Type    uint32
}

// Fib looks up the routing table (nft_fib.c). Flags are NFTA_FIB_F_*,
// Result NFT_FIB_RESULT_*.
type Fib struct {
	DReg   Register
	Result uint32
	Flags  uint32
}

// Rt loads routing information (nft_rt.c).
type Rt struct {
	Key  uint32
	DReg Register
}

// Socket loads socket information (nft_socket.c).
type Socket struct {
	Key   uint32
	DReg  Register
	Level uint32
}

// Dup duplicates the packet (nft_dup_netdev.c, nft_dup_ipv4/6.c).
type Dup struct {
	SRegAddr Register
	SRegDev  Register
}

// Fwd forwards the packet (nft_fwd_netdev.c).
type Fwd struct {
	SRegDev  Register
	SRegAddr Register
	NFProto  uint32
}

func (*Exthdr) Name() string { return "exthdr" }
func (*Objref) Name() string { return "objref" }
func (*Numgen) Name() string { return "numgen" }
func (*Hash) Name() string   { return "hash" }
func (*Fib) Name() string    { return "fib" }
func (*Rt) Name() string     { return "rt" }
func (*Socket) Name() string { return "socket" }
func (*Dup) Name() string    { return "dup" }
func (*Fwd) Name() string    { return "fwd" }
