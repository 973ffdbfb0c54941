package vm

import (
	"github.com/nftgo/nftgo/connlimit"
	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/sets"
)

// rule is one loaded rule: its instructions and the decision it reports
// when one of them ends the packet's traversal of a base chain. It is kept
// small and its code sits next to its neighbours' (one backing array per
// chain): a walk over non-matching rules is a walk over memory.
type rule struct {
	// start and end delimit the rule's instructions in its chain's code.
	start, end int32
	dec        *Decision
}

// chain is one loaded chain. Jumps name chains by their index in
// machine.chains.
type chain struct {
	rules []rule
	// code holds every rule's instructions back to back.
	code []insn
	// state maps each expression of each rule to its side-table index
	// (counters, quotas) for Snapshot; -1 for stateless ones. It is kept
	// apart from rules so the walk over rules touches only their code.
	state  [][]int32
	table  int
	src    *ruleset.Chain
	base   bool
	nat    bool
	policy ruleset.VerdictCode
	polDec Decision
	// regSeq orders hook registration: among equal priorities the entry
	// registered later runs first (nf_hook_entries_grow).
	regSeq int
}

type setRef struct {
	s   *sets.Set
	def *ruleset.Set
	// dlen is the map data length.
	dlen int
	vmap bool
}

type counterState struct{ packets, bytes uint64 }

// limitState is one token bucket (struct nft_limit_priv) in nanoseconds of
// the replay clock; last 0 means not yet started (the bucket starts full).
type limitState struct {
	tokens, last int64
	max, cost    int64
	nsecs, rate  int64
	bytes, inv   bool
}

type quotaState struct {
	quota, consumed uint64
	inv             bool
}

// Hook entry kinds: user base chains and the kernel's own hook functions
// that sit among them.
const (
	entChain = iota
	entDefrag
	entCtIn
	entNAT
	entConfirm
	entFlowtable // a flowtable's ingress hook (nft_flow_offload.go)
)

type hookEntry struct {
	kind  int
	prio  int32
	seq   int
	chain int
	// pf overrides the hook's protocol family while the chain runs:
	// netdev chains see NFPROTO_NETDEV (meta nfproto 5).
	pf uint8
}

// Address families the hook tables are indexed by.
const (
	af4 = 0
	af6 = 1
)

type machine struct {
	// notes are the approximations this ruleset's load relies on
	// (Machine.Notes), each said once.
	notes []string
	loadExtra
	cfg Config
	rs  *ruleset.Ruleset

	// lastIn caches host.byName[lastInName] for receive.
	lastIn     *iface
	lastInName string
	// setGCDue is the earliest next GC run of any set: advance calls no
	// set's GC before it (each would only compare the clock and return).
	setGCDue int64
	// jstack is doChain's jump stack (never nested: no expression runs a
	// chain), kept here so that a chain's entry does not zero it.
	jstack [jumpStackSize]jumpFrame

	chains   []chain
	pool     [][16]byte
	sets     []setRef
	counters []counterState
	limits   []limitState
	quotas   []quotaState
	conns    []connlimit.List
	// chainByName resolves verdict-map jumps: per table, chain name → index.
	chainByName []map[string]int32

	hooks     [2][5][]hookEntry
	arpHooks  [2][]hookEntry // arp in, arp out
	natChains [2][5][]int
	ctActive  bool
	flow      flowState
	frags     map[fragKey]*fragQueue
	qFree     []*fragQueue
	bufFree   [][]byte
	reasm     []byte
	fragMem   int
	freeBytes int
	trace     func(TraceEvent)
	traceAll  bool
	ct        *ct.Table
	host      host

	regs    [regBytes]byte
	verdict ruleset.VerdictCode
	vchain  int32
	rnd     uint64

	// Per-packet state (struct sk_buff and nft_pktinfo fields nf_tables reads).
	pkt       *packet.Packet
	now       int64
	af        int
	nfproto   uint8
	hook      ruleset.Hook
	in, out   *iface
	conn      *ct.Conn
	info      ct.Info
	mark      uint32
	priority  uint32
	nftrace   uint8
	pkttype   uint8
	untracked bool
	replying  bool // sending a packet the kernel built in answer to another
	// replyDepth counts answers to answers being sent (see maxReplyDepth).
	replyDepth uint8
	// replyCt is the conntrack a reply the kernel builds carries from the
	// packet it answers (synproxy's SYN/ACK: nf_ct_set of the SYN's), taken
	// over by the reply's begin.
	replyCt replyAttach
	// pendingErr is an ICMP error the IP layer sends for the current
	// packet (TTL exceeded), sent when its traversal ends.
	pendingErr []byte
	// tmpl is a conntrack template attached by `ct zone set` before
	// conntrack ran; zone is its zone.
	tmpl bool
	zone uint16
	res  Result
}

// note records an approximation the loaded ruleset relies on, once.
func (m *machine) note(s string) {
	for _, n := range m.notes {
		if n == s {
			return
		}
	}
	m.notes = append(m.notes, s)
}
