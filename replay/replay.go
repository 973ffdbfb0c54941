// Package replay runs the records of a capture through a vm.Machine the way
// the kernel oracle injects them into a network namespace: one packet at a
// time, in file order, on the replay clock of the record timestamps, each
// entering the host where its source address says it comes from. It is the
// loop behind `nftgo --replay` and is meant to be reused by `nftgo test`.
package replay

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/nftgo/nftgo/ct"
	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/vm"
)

// Config configures a replay.
type Config struct {
	Host vm.Host
	CT   ct.Config
	// Verdicts receives one JSON object per packet and line, in the format
	// ../shared/scenarios/compare.py reads; nil writes none.
	Verdicts io.Writer
	// Text receives one human-readable line per packet; nil writes none.
	Text io.Writer
	// Trace adds the path of each packet (ingress, egress) to Text.
	Trace bool
	// OnPacket, when set, sees every packet's outcome after the vm ran it
	// (for `nftgo test` and library users). The Event and what it points to
	// are reused for the next packet: copy what must be kept.
	OnPacket func(*Event)
	// Accepted and Dropped, when set, receive every frame by its fate as
	// the vm left it (NAT and TTL rewrites included); the replies the host
	// sends (reject, ICMP time exceeded) go to Accepted, or to Dropped when
	// output or postrouting dropped them. A frame the IP layer discards is
	// dropped; one that is not IP passes (no hook sees it). Queue and
	// stolen count as not dropped, as in Stats.
	Accepted, Dropped *PcapWriter
	// Progress, when set, is called every 16384 records with the bytes of
	// the capture file read so far and its size (0 when unknown).
	Progress func(read, size int64)
}

// Event is one replayed packet and what happened to it.
type Event struct {
	Index int
	Time  int64 // replay clock, ns
	// Packet is the decoded packet (after the vm ran it: NAT and TTL
	// changes are visible); for a DecodeErr it holds what could be decoded.
	Packet *packet.Packet
	// Result is the vm's answer; nil when DecodeErr is set.
	Result *vm.Result
	// Ingress is the interface the packet entered on ("" when Local or
	// unrouted); Local marks a locally generated packet (output path).
	Ingress string
	Local   bool
	// DecodeErr is set for a frame the IP layer drops (packet.Decode error,
	// reported as a kernel drop at stage "ip") or that is not IP
	// (packet.ErrNotIP: no ip/ip6/inet hook sees it).
	DecodeErr error
}

// Stats counts what happened over a replay.
type Stats struct {
	Packets  int
	Accepted int
	Dropped  int
	// KernelDrops are drops outside nf_tables (conntrack table full,
	// routing); IPDrops are frames the IP layer discards before any hook
	// (packet.Decode errors); NotIP counts frames no ip/ip6/inet hook sees.
	KernelDrops, IPDrops, NotIP int
	// First and Last are the replay clock at the first and last packet.
	First, Last int64
	// Stopped is set when a truncated or corrupt record ended the replay.
	Stopped *Stopped
}

// Replay is one replay in progress: the machine and the reused per-packet
// state (one Packet and one output buffer for every record).
type Replay struct {
	M     *vm.Machine
	Stats Stats

	cfg   Config
	rt    *router
	hooks map[chainKey]string
	pkt   packet.Packet
	buf   []byte
	tbuf  []byte // --trace lines of the current packet
	ev    Event
	res   vm.Result
	index int
	clock int64

	rs       *ruleset.Ruleset
	vc       vm.Config
	shards   []*Replay // set when RunWorkers sharded the replay (shard.go)
	shared   bool      // the last packet ran shared state (vm.Result.Shared)
	sharedAt bool      // the sharded run stopped at such a packet
	// thread CPU times of the last sharded run (ThreadCPU)
	readerCPU int64
	workerCPU []int64
}

type chainKey struct {
	family       ruleset.Family
	table, chain string
}

// New loads rs into a fresh machine for cfg.Host.
func New(rs *ruleset.Ruleset, cfg Config) (*Replay, error) {
	rt, err := newRouter(cfg.Host)
	if err != nil {
		return nil, err
	}
	r := &Replay{cfg: cfg, rt: rt, hooks: map[chainKey]string{}, buf: make([]byte, 0, 512)}
	vc := vm.Config{Host: cfg.Host, CT: cfg.CT}
	if cfg.Trace && cfg.Text != nil {
		vc.Trace = r.onTrace
		r.tbuf = make([]byte, 0, 512)
	}
	m, err := vm.New(rs, vc)
	if err != nil {
		return nil, err
	}
	r.M = m
	r.rs, r.vc = rs, vc
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.Hook != nil {
				r.hooks[chainKey{t.Family, t.Name, c.Name}] = ruleset.HookName(t.Family, c.Hook.Hook)
			}
		}
	}
	return r, nil
}

// onTrace records one rule or policy the packet met, in the spirit of
// `nft monitor trace`: hook, chain, rule position and handle, verdict.
func (r *Replay) onTrace(ev vm.TraceEvent) {
	d := ev.Rule
	b := append(r.tbuf, "\n        "...)
	if d == nil {
		r.tbuf = append(b, ev.Verdict.String()...)
		return
	}
	b = append(b, ruleset.HookName(d.Family, ev.Hook)...)
	b = append(b, ": "...)
	b = append(b, d.Family.String()...)
	b = append(b, ' ')
	b = append(b, d.Table...)
	b = append(b, ' ')
	b = append(b, d.Chain...)
	if d.Policy {
		b = append(b, " policy "...)
	} else {
		b = append(b, " rule "...)
		b = strconv.AppendInt(b, int64(d.RuleIndex), 10)
		b = append(b, " (handle "...)
		b = strconv.AppendUint(b, d.Handle, 10)
		b = append(b, ") "...)
	}
	switch ev.Verdict {
	case ruleset.VerdictContinue:
		b = append(b, "matched"...)
	default:
		b = append(b, ev.Verdict.String()...)
	}
	r.tbuf = b
}

// Now is the replay clock: the latest record timestamp seen so far.
func (r *Replay) Now() int64 { return r.clock }

// Run replays every record of c. It returns nil at the end of the capture
// and also when a corrupt record stopped it (then r.Stats.Stopped says
// where); other errors are output write errors.
func (r *Replay) Run(c *Capture) error {
	for {
		data, ts, lt, err := c.Next()
		if err != nil {
			return r.stop(err)
		}
		if err := r.Packet(lt, data, ts); err != nil {
			return err
		}
		if r.cfg.Progress != nil && r.index&16383 == 0 {
			r.cfg.Progress(c.Progress())
		}
	}
}

// stop ends Run on a reader error. It is a function of its own so that
// errors.As's target, which escapes, is not allocated per record.
func (r *Replay) stop(err error) error {
	if err == io.EOF {
		return nil
	}
	var st *Stopped
	if errors.As(err, &st) {
		r.Stats.Stopped = st
		return nil
	}
	return err
}

// Packet replays one frame captured at ts (ns). data must stay unchanged
// until Packet returns; nothing of it is kept.
func (r *Replay) Packet(lt packet.LinkType, data []byte, ts int64) error {
	// The replay clock never runs backwards: an out-of-order timestamp is
	// taken as "no time passed", as a monotonic kernel clock would see it.
	idx := r.index
	r.index++
	return r.packetAt(idx, lt, data, ts)
}

// packetAt is Packet for the record numbered idx (a shard sees only some).
func (r *Replay) packetAt(idx int, lt packet.LinkType, data []byte, ts int64) error {
	r.tick(ts)
	p := &r.pkt
	var derr error
	if !Supported(lt) {
		derr = unsupported(lt)
		*p = packet.Packet{}
	} else {
		derr = p.Decode(lt, data)
	}
	if derr != nil {
		if f := r.cfg.OnPacket; f != nil {
			r.ev = Event{Index: idx, Time: r.clock, Packet: p, DecodeErr: derr}
			f(&r.ev)
		}
		if errors.Is(derr, packet.ErrNotIP) && Supported(lt) {
			r.Stats.NotIP++
			r.Stats.Accepted++
			if w := r.cfg.Accepted; w != nil {
				if err := w.Write(r.clock, lt, data); err != nil {
					return err
				}
			}
			return r.emitSkipped(idx, p, derr)
		}
		r.Stats.IPDrops++
		r.Stats.Dropped++
		if w := r.cfg.Dropped; w != nil {
			if err := w.Write(r.clock, lt, data); err != nil {
				return err
			}
		}
		return r.emitIPDrop(idx, derr)
	}
	return r.run(idx, lt, p)
}

// packetDecoded is packetAt for a packet the caller decoded already (the
// sharded reader does, to pick the worker).
func (r *Replay) packetDecoded(idx int, lt packet.LinkType, p *packet.Packet, ts int64) error {
	r.tick(ts)
	r.pkt = *p
	return r.run(idx, lt, &r.pkt)
}

// tick moves the replay clock to the record's timestamp.
func (r *Replay) tick(ts int64) {
	if r.Stats.Packets == 0 || ts > r.clock {
		r.clock = ts
	}
	if r.Stats.Packets == 0 {
		r.Stats.First = r.clock
	}
	r.Stats.Last = r.clock
	r.Stats.Packets++
	r.M.Advance(r.clock)
}

// run runs a decoded IP packet through the machine and writes its results.
func (r *Replay) run(idx int, lt packet.LinkType, p *packet.Packet) error {
	iface, local := r.rt.ingress(p)
	var res *vm.Result
	if local {
		res = r.M.SendRef(p, r.clock)
	} else {
		res = r.M.ReceiveRef(p, iface, r.clock)
	}
	r.shared = res.Shared
	if res.Verdict == ruleset.VerdictDrop {
		r.Stats.Dropped++
		if res.KernelDrop != "" {
			r.Stats.KernelDrops++
		}
	} else {
		r.Stats.Accepted++
	}
	if f := r.cfg.OnPacket; f != nil {
		r.res = *res
		r.ev = Event{Index: idx, Time: r.clock, Packet: p, Result: &r.res, Ingress: iface, Local: local}
		f(&r.ev)
	}
	if r.cfg.Accepted != nil || r.cfg.Dropped != nil {
		if err := r.writeFate(lt, p, res); err != nil {
			return err
		}
	}
	return r.emit(idx, p, res, iface, local)
}

// writeFate writes the packet, then the host's reply to it, to the
// capture of their fate.
func (r *Replay) writeFate(lt packet.LinkType, p *packet.Packet, res *vm.Result) error {
	w := r.cfg.Accepted
	if res.Verdict == ruleset.VerdictDrop {
		w = r.cfg.Dropped
	}
	if w != nil {
		if err := w.Write(r.clock, lt, p.Data); err != nil {
			return err
		}
	}
	if res.Reply == nil {
		return nil
	}
	w = r.cfg.Accepted
	if res.ReplyVerdict == ruleset.VerdictDrop {
		w = r.cfg.Dropped
	}
	if w == nil {
		return nil
	}
	return w.WriteReply(r.clock, lt, p, res.Reply)
}

// kernelName maps the vm's drop stage to the name the verdict files use: a
// prerouting drop outside nf_tables is conntrack's (nf_conntrack_in).
func kernelName(stage string) string {
	if stage == "prerouting" {
		return "conntrack"
	}
	return stage
}

func (r *Replay) emit(idx int, p *packet.Packet, res *vm.Result, iface string, local bool) error {
	if w := r.cfg.Verdicts; w != nil {
		b := r.jsonHead(idx, res.Verdict.String())
		switch d := res.Decided; {
		case res.KernelDrop != "":
			b = append(b, `,"kernel":`...)
			b = appendJSONString(b, kernelName(res.KernelDrop))
			b = append(b, `,"stage":`...)
			b = appendJSONString(b, res.KernelDrop)
		case d != nil:
			if h := r.hooks[chainKey{d.Family, d.Table, d.Chain}]; h != "" {
				b = append(b, `,"hook":`...)
				b = appendJSONString(b, h)
			}
			b = append(b, `,"family":`...)
			b = appendJSONString(b, d.Family.String())
			b = append(b, `,"table":`...)
			b = appendJSONString(b, d.Table)
			b = append(b, `,"chain":`...)
			b = appendJSONString(b, d.Chain)
			if d.Policy {
				b = append(b, `,"handle":"policy"`...)
			} else {
				b = append(b, `,"handle":`...)
				b = strconv.AppendUint(b, d.Handle, 10)
				b = append(b, `,"rule_index":`...)
				b = strconv.AppendInt(b, int64(d.RuleIndex), 10)
			}
		}
		b = append(b, "}\n"...)
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if w := r.cfg.Text; w != nil {
		b := r.textHead(idx, p)
		b = append(b, res.Verdict.String()...)
		b = append(b, "  "...)
		switch d := res.Decided; {
		case res.KernelDrop != "":
			b = append(b, "by kernel ("...)
			b = append(b, kernelName(res.KernelDrop)...)
			b = append(b, " at "...)
			b = append(b, res.KernelDrop...)
			b = append(b, ')')
		case d != nil:
			b = append(b, "by "...)
			b = append(b, d.Family.String()...)
			b = append(b, ' ')
			b = append(b, d.Table...)
			b = append(b, ' ')
			b = append(b, d.Chain...)
			if d.Policy {
				b = append(b, " policy"...)
			} else {
				b = append(b, " handle "...)
				b = strconv.AppendUint(b, d.Handle, 10)
				b = append(b, " (rule "...)
				b = strconv.AppendInt(b, int64(d.RuleIndex), 10)
				b = append(b, ')')
			}
		default:
			b = append(b, "(no base chain decided)"...)
		}
		if res.Logged > 0 {
			b = append(b, "  log"...)
			if res.LogPrefix != "" {
				b = append(b, ' ')
				b = strconv.AppendQuote(b, res.LogPrefix)
			}
		}
		if res.Reject != nil {
			b = append(b, "  (rejected: the host answers)"...)
		}
		if r.cfg.Trace {
			b = append(b, r.tbuf...)
			r.tbuf = r.tbuf[:0]
			b = append(b, "\n        path: "...)
			if local {
				b = append(b, "local out"...)
			} else {
				b = append(b, "in "...)
				if iface == "" {
					iface = "?"
				}
				b = append(b, iface...)
			}
			b = append(b, " -> "...)
			switch {
			case res.Out != "":
				b = append(b, "out "...)
				b = append(b, res.Out...)
			case res.Verdict == ruleset.VerdictDrop:
				b = append(b, "dropped"...)
			default:
				b = append(b, "delivered locally"...)
			}
		}
		b = append(b, '\n')
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// emitIPDrop reports a frame the IP layer discards before netfilter
// (ip_rcv_core, ipv6_rcv): a kernel drop at stage "ip".
func (r *Replay) emitIPDrop(idx int, derr error) error {
	if w := r.cfg.Verdicts; w != nil {
		b := r.jsonHead(idx, "drop")
		b = append(b, `,"kernel":"ip","reason":`...)
		b = appendJSONString(b, derr.Error())
		b = append(b, "}\n"...)
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if w := r.cfg.Text; w != nil {
		b := r.buf[:0]
		b = appendIndex(b, idx)
		b = append(b, "(undecodable frame)  drop  by kernel (ip: "...)
		b = append(b, derr.Error()...)
		b = append(b, ")\n"...)
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// emitSkipped reports a frame that is not IPv4/IPv6 (ARP, LLDP, …): no
// ip, ip6 or inet hook sees it, so no chain decides.
func (r *Replay) emitSkipped(idx int, p *packet.Packet, derr error) error {
	if w := r.cfg.Verdicts; w != nil {
		b := r.jsonHead(idx, "accept")
		b = append(b, `,"skipped":"not ip"}`...)
		b = append(b, '\n')
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if w := r.cfg.Text; w != nil {
		b := r.buf[:0]
		b = appendIndex(b, idx)
		b = append(b, "ethertype 0x"...)
		b = strconv.AppendUint(b, uint64(p.Protocol), 16)
		b = append(b, "  accept  (not IP: no ip/ip6/inet hook sees it)\n"...)
		r.buf = b
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replay) jsonHead(idx int, verdict string) []byte {
	b := r.buf[:0]
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(b, `,"time":"`...)
	b = time.Unix(0, r.clock).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","verdict":"`...)
	b = append(b, verdict...)
	b = append(b, '"')
	return b
}

func (r *Replay) textHead(idx int, p *packet.Packet) []byte {
	b := appendIndex(r.buf[:0], idx)
	b = AppendSummary(b, p)
	return append(b, "  "...)
}

func appendIndex(b []byte, idx int) []byte {
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(idx), 10)
	return append(b, ' ')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// WriteSummary writes the closing lines of a human-readable replay.
func (r *Replay) WriteSummary(w io.Writer) error {
	s := &r.Stats
	b := make([]byte, 0, 256)
	b = strconv.AppendInt(b, int64(s.Packets), 10)
	b = append(b, " packets: "...)
	b = strconv.AppendInt(b, int64(s.Accepted), 10)
	b = append(b, " accepted, "...)
	b = strconv.AppendInt(b, int64(s.Dropped), 10)
	b = append(b, " dropped"...)
	switch {
	case s.KernelDrops > 0 && s.IPDrops > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(s.KernelDrops), 10)
		b = append(b, " outside nf_tables, "...)
		b = strconv.AppendInt(b, int64(s.IPDrops), 10)
		b = append(b, " by the IP layer)"...)
	case s.KernelDrops > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(s.KernelDrops), 10)
		b = append(b, " outside nf_tables)"...)
	case s.IPDrops > 0:
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(s.IPDrops), 10)
		b = append(b, " by the IP layer)"...)
	}
	if s.NotIP > 0 {
		b = append(b, ", "...)
		b = strconv.AppendInt(b, int64(s.NotIP), 10)
		b = append(b, " not IP"...)
	}
	b = append(b, "; conntrack entries: "...)
	b = strconv.AppendInt(b, int64(r.ConntrackCount()), 10)
	b = append(b, '\n')
	if s.Stopped != nil {
		b = append(b, s.Stopped.Error()...)
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}
