package replay

import (
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/packet"
	"github.com/nftgo/nftgo/ruleset"
	"github.com/nftgo/nftgo/vm"
)

// Sharded replay (--workers N). Each worker owns a whole machine (its own
// conntrack table, sets and counters) and sees the packets of the address
// pairs hashed to it, like RSS spreads flows over receive queues: the hash
// is symmetric, so both directions of a flow meet, and it covers the
// addresses only (RSS's 2-tuple hash, which NICs use for fragments), so
// fragments, the ICMP errors quoting a flow and every flow between two
// hosts meet too. What a packet meets then depends only on packets of its
// own shard, in file order, on the same replay clock — the same answers as
// one machine, as long as nothing shared between flows decides. Rulesets
// that share state across flows (shardable) run on one worker; the one
// global the run cannot rule out beforehand, a full conntrack table, is
// checked while the results are merged in file order (see merge).

// roundSize is how many records the reader hands to the workers at once.
const roundSize = 8192

// appendWriter collects writes in a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// span is one packet's bytes in a worker's output of a round.
type span struct{ start, end int32 }

type shardRec struct {
	idx      int
	ts       int64
	lt       packet.LinkType
	off, n   int // frame in round.arena
	shard    int
	inserts  uint64        // conntrack entries the packet confirmed
	pkt      packet.Packet // decoded by the reader (Data set by the worker) when decoded
	decoded  bool
	shared   bool // it ran an expression whose state all flows share
	vt, tx   span // --verdicts and text output
	acc, drp span // --write-accepted / --write-dropped frames
}

// round is a batch of records with each worker's output for them.
type round struct {
	arena []byte
	recs  []shardRec
	mine  [][]int // per worker: positions in recs
	out   []workerOut
	wg    sync.WaitGroup
	errs  []error
}

type workerOut struct{ vt, tx, acc, drp []byte }

// worker is one shard: a Replay writing into per-round buffers.
type worker struct {
	r                *Replay
	vt, tx, acc, drp appendWriter
	accW, drpW       *PcapWriter
	work             chan *round
	id               int
	cpu              int64 // thread CPU time spent in process
}

// Shardable reports whether a replay of rs can be sharded over workers
// with the same results as one machine, and if not, why.
func Shardable(rs *ruleset.Ruleset, cfg Config) (bool, string) {
	if cfg.OnPacket != nil {
		return false, "a per-packet callback sees packets in file order"
	}
	for _, t := range rs.Tables {
		for _, o := range t.Objects {
			switch o.Kind {
			// A flowtable's state is per flow: one entry per offloaded
			// connection, found by that connection's tuples, and its gc
			// runs on the replay clock's whole seconds in every machine
			// alike (TestWorkersFlowtable).
			case "counter", "ct timeout", "quota", "limit", "flowtable":
			default:
				return false, fmt.Sprintf("named %s object %s (state shared by every flow)", o.Kind, o.Name)
			}
		}
		for _, s := range t.Sets {
			for _, e := range s.Exprs {
				if _, ok := e.(*ruleset.Counter); !ok {
					return false, fmt.Sprintf("set %s has %s on its elements (state shared by every flow)", s.Name, e.Name())
				}
			}
			for _, el := range s.Elements {
				for _, e := range el.Exprs {
					if _, ok := e.(*ruleset.Counter); !ok {
						return false, fmt.Sprintf("set %s has an element with %s (state shared by every flow)", s.Name, e.Name())
					}
				}
			}
		}
		for _, c := range t.Chains {
			for _, ru := range c.Rules {
				for _, e := range ru.Exprs {
					if why := unshardable(e); why != "" {
						return false, fmt.Sprintf("%s %s %s rule handle %d: %s", t.Family, t.Name, c.Name, ru.Handle, why)
					}
				}
			}
		}
	}
	return true, ""
}

// unshardable says why e makes packets of different flows depend on each
// other, or "".
func unshardable(e ruleset.Expr) string {
	// limit, quota, dynset, ct count, NAT, numgen, objref and meta random
	// share state too, but only once a packet runs them: the vm reports
	// that per packet (vm.Result.Shared) and the merge stops there.
	switch x := e.(type) {
	case *ruleset.Ct:
		switch x.Key {
		case ruleset.CtID:
			return "ct id (allocation order across flows)"
		case ruleset.CtHelper:
			return "ct helper (expectations create other flows)"
		}
	}
	return ""
}

// shardOf is the worker of a decoded packet: a symmetric hash of its
// source and destination addresses (for an ICMP error, of the packet it
// quotes, whose flow it belongs to). Frames that are not IP go to worker 0:
// no machine state sees them.
func shardOf(p *packet.Packet, n int) int {
	nw := p.Network()
	var a, b []byte
	switch p.NFProto {
	case packet.NFProtoIPv4:
		if len(nw) < 20 {
			return 0
		}
		a, b = nw[12:16], nw[16:20]
		if th := p.Transport(); p.L4Proto == packet.ProtoICMP && len(th) >= 8+20 {
			switch th[0] {
			case 3, 4, 5, 11, 12:
				if in := th[8:]; in[0]>>4 == 4 {
					a, b = in[12:16], in[16:20]
				}
			}
		}
	case packet.NFProtoIPv6:
		if len(nw) < 40 {
			return 0
		}
		a, b = nw[8:24], nw[24:40]
		if th := p.Transport(); p.L4Proto == packet.ProtoICMPv6 && len(th) >= 8+40 && th[0] < 128 {
			if in := th[8:]; in[0]>>4 == 6 {
				a, b = in[8:24], in[24:40]
			}
		}
	default:
		return 0
	}
	ha, hb := fold(a), fold(b)
	if ha > hb {
		ha, hb = hb, ha
	}
	h := ha*0x9e3779b97f4a7c15 ^ hb
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return int(h % uint64(n))
}

// fold mixes an address into 64 bits.
func fold(a []byte) uint64 {
	var h uint64
	for len(a) >= 4 {
		h = (h ^ uint64(binary.BigEndian.Uint32(a))) * 0x100000001b3
		a = a[4:]
	}
	return h
}

// RunWorkers replays the capture open returns over workers machines (see
// the comment at the top of shard.go). It returns the number of workers
// that ran and, when that is 1 although more were asked for, why. The
// outputs, Stats, Snapshot, ConntrackCount and WriteConntrack are those of
// a one-machine replay (conntrack -L lists the shards one after the other).
func (r *Replay) RunWorkers(open func() (*Capture, error), workers int) (used int, why string, err error) {
	if workers > 1 {
		if ok, w := Shardable(r.rs, r.cfg); !ok {
			why = w
			workers = 1
		}
	}
	c, err := open()
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if workers <= 1 {
		return 1, why, r.Run(c)
	}
	stop, err := r.runSharded(c, workers)
	if err != nil || stop < 0 {
		return workers, "", err
	}
	// The merge found that from record stop on a full conntrack table
	// could have decided: replay the written prefix again on one machine
	// without output, then go on there.
	c.Close()
	c2, err := open()
	if err != nil {
		return 1, "", err
	}
	defer c2.Close()
	if err := r.restartAt(c2, stop); err != nil {
		return 1, "", err
	}
	if r.sharedAt {
		why = fmt.Sprintf("from record %d on, which runs an expression whose state all flows share (limit, quota, dynset, ct count, NAT, numgen, meta random)", stop)
	} else {
		why = fmt.Sprintf("from record %d on, a full conntrack table (nf_conntrack_max %d) could decide", stop, r.cfg.CT.Max)
	}
	return 1, why, r.Run(c2)
}

// runSharded returns -1 when every record was replayed, or the index of
// the first record whose result could depend on the global conntrack count.
func (r *Replay) runSharded(c *Capture, n int) (stop int, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r.readerCPU = 0
	ws := make([]*worker, n)
	for i := range ws {
		cfg := r.cfg
		cfg.OnPacket, cfg.Progress = nil, nil
		cfg.CT.Log, cfg.CT.Event = nil, nil
		w := &worker{id: i, work: make(chan *round, 1)}
		if cfg.Verdicts != nil {
			cfg.Verdicts = &w.vt
		}
		if cfg.Text != nil {
			cfg.Text = &w.tx
		}
		if cfg.Accepted != nil {
			w.accW = bufferPcap(&w.acc, cfg.Accepted.Link)
			cfg.Accepted = w.accW
		}
		if cfg.Dropped != nil {
			w.drpW = bufferPcap(&w.drp, cfg.Dropped.Link)
			cfg.Dropped = w.drpW
		}
		wr, err := New(r.rs, cfg)
		if err != nil {
			return -1, err
		}
		w.r = wr
		ws[i] = w
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One thread per worker (it blocks once a round), so its
			// CPU time is the worker's.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for rd := range w.work {
				t0 := threadCPU()
				rd.errs[w.id] = w.process(rd)
				w.cpu += threadCPU() - t0
				rd.wg.Done()
			}
		}()
	}
	defer func() {
		for _, w := range ws {
			close(w.work)
		}
		wg.Wait()
	}()

	newRound := func() *round {
		rd := &round{mine: make([][]int, n), out: make([]workerOut, n), errs: make([]error, n)}
		return rd
	}
	rounds := [2]*round{newRound(), newRound()}
	var p packet.Packet
	eof := false
	// fill reads the next records into rd and assigns them to workers.
	fill := func(rd *round) error {
		rd.arena, rd.recs = rd.arena[:0], rd.recs[:0]
		for i := range rd.mine {
			rd.mine[i] = rd.mine[i][:0]
		}
		for len(rd.recs) < roundSize && !eof {
			data, ts, lt, err := c.Next()
			if err != nil {
				eof = true
				if err := r.stop(err); err != nil {
					return err
				}
				break
			}
			if r.index == 0 || ts > r.clock {
				r.clock = ts
			}
			if r.index == 0 {
				r.Stats.First = r.clock
			}
			r.Stats.Last = r.clock
			sh, ok := 0, false
			if Supported(lt) && p.Decode(lt, data) == nil {
				sh, ok = shardOf(&p, n), true
			}
			rd.recs = append(rd.recs, shardRec{idx: r.index, ts: r.clock, lt: lt, off: len(rd.arena), n: len(data), shard: sh, pkt: p, decoded: ok})
			if ok {
				// Data is a prefix of the frame (link padding cut): the
				// worker points it into the arena again.
				rd.recs[len(rd.recs)-1].pkt.Data = data[:len(p.Data):len(p.Data)]
			}
			rd.mine[sh] = append(rd.mine[sh], len(rd.recs)-1)
			rd.arena = append(rd.arena, data...)
			r.index++
			if r.cfg.Progress != nil && r.index&16383 == 0 {
				r.cfg.Progress(c.Progress())
			}
		}
		return nil
	}
	start := func(rd *round) {
		rd.wg.Add(n)
		for _, w := range ws {
			w.work <- rd
		}
	}
	var cum uint64
	ctMax := uint64(0)
	if r.cfg.CT.Max > 0 {
		ctMax = uint64(r.cfg.CT.Max)
	}
	if err := fill(rounds[0]); err != nil {
		return -1, err
	}
	if len(rounds[0].recs) == 0 {
		r.shards = wsReplays(ws)
		return -1, nil
	}
	start(rounds[0])
	for k := 0; ; k++ {
		cur, next := rounds[k&1], rounds[(k+1)&1]
		// The reader fills the next round while the workers run this one,
		// and the workers run the next while this one is merged.
		t0 := threadCPU()
		ferr := fill(next)
		r.readerCPU += threadCPU() - t0
		cur.wg.Wait()
		for _, e := range cur.errs {
			if e != nil {
				return -1, e
			}
		}
		if ferr != nil {
			return -1, ferr
		}
		if len(next.recs) > 0 {
			start(next)
		}
		t0 = threadCPU()
		stop, err := r.merge(cur, &cum, ctMax)
		r.readerCPU += threadCPU() - t0
		if err != nil || stop >= 0 {
			if len(next.recs) > 0 {
				next.wg.Wait()
			}
			return stop, err
		}
		if len(next.recs) == 0 {
			break
		}
	}
	// Totals: the reader counted records and the clock, the shards what
	// happened to them.
	r.Stats.Packets = r.index
	for _, w := range ws {
		s := &w.r.Stats
		r.Stats.Accepted += s.Accepted
		r.Stats.Dropped += s.Dropped
		r.Stats.KernelDrops += s.KernelDrops
		r.Stats.IPDrops += s.IPDrops
		r.Stats.NotIP += s.NotIP
		if w.accW != nil {
			r.cfg.Accepted.Skipped += w.accW.Skipped
		}
		if w.drpW != nil {
			r.cfg.Dropped.Skipped += w.drpW.Skipped
		}
	}
	r.shards = wsReplays(ws)
	r.workerCPU = make([]int64, n)
	for i, w := range ws {
		r.workerCPU[i] = w.cpu
	}
	return -1, nil
}

// ThreadCPU returns, after a sharded replay, the CPU time of the thread
// that read, dispatched and merged, and of each worker's thread (nil
// otherwise). On a busy machine wall time says little about parallelism;
// the largest of these against their sum does.
func (r *Replay) ThreadCPU() (reader int64, workers []int64) {
	return r.readerCPU, r.workerCPU
}

// threadCPU is the calling thread's CPU time, CLOCK_THREAD_CPUTIME_ID:
// exact to the nanosecond, unlike getrusage's RUSAGE_THREAD or schedstat,
// which only advance at ticks and context switches. Called twice a round,
// not per packet.
func threadCPU() int64 {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0); e != 0 { // CLOCK_THREAD_CPUTIME_ID
		return 0
	}
	return ts.Nano()
}

// merge writes the outputs of rd in file order. A record may be written
// only when the count of one machine could not have reached
// nf_conntrack_max before it: that count is at most the entries confirmed
// so far (each one once, expiry only lowers it) plus the packet's own
// unconfirmed entry and its reply's. merge returns the index of the first
// record that fails the test, or -1.
func (r *Replay) merge(rd *round, cum *uint64, ctMax uint64) (int, error) {
	for i := range rd.recs {
		rec := &rd.recs[i]
		if ctMax > 0 && *cum+2 >= ctMax {
			return rec.idx, nil
		}
		if rec.shared {
			r.sharedAt = true
			return rec.idx, nil
		}
		o := &rd.out[rec.shard]
		if r.cfg.Verdicts != nil {
			if _, err := r.cfg.Verdicts.Write(o.vt[rec.vt.start:rec.vt.end]); err != nil {
				return -1, err
			}
		}
		if r.cfg.Text != nil {
			if _, err := r.cfg.Text.Write(o.tx[rec.tx.start:rec.tx.end]); err != nil {
				return -1, err
			}
		}
		if w := r.cfg.Accepted; w != nil {
			if _, err := w.bw.Write(o.acc[rec.acc.start:rec.acc.end]); err != nil {
				return -1, err
			}
		}
		if w := r.cfg.Dropped; w != nil {
			if _, err := w.bw.Write(o.drp[rec.drp.start:rec.drp.end]); err != nil {
				return -1, err
			}
		}
		*cum += rec.inserts
	}
	return -1, nil
}

func wsReplays(ws []*worker) []*Replay {
	out := make([]*Replay, len(ws))
	for i, w := range ws {
		out[i] = w.r
	}
	return out
}

// bufferPcap is a PcapWriter without a file header writing records into w.
func bufferPcap(w *appendWriter, lt packet.LinkType) *PcapWriter {
	return &PcapWriter{Link: lt, w: pcapgo.NewWriterNanos(w), hdr: make([]byte, 0, 64)}
}

// process replays the worker's records of rd, keeping each packet's output
// apart.
func (w *worker) process(rd *round) error {
	o := &rd.out[w.id]
	w.vt.b, w.tx.b, w.acc.b, w.drp.b = o.vt[:0], o.tx[:0], o.acc[:0], o.drp[:0]
	ct := w.r.M.Conntrack()
	for _, i := range rd.mine[w.id] {
		rec := &rd.recs[i]
		v0, t0, a0, d0 := len(w.vt.b), len(w.tx.b), len(w.acc.b), len(w.drp.b)
		before := ct.Stats.Insert
		var err error
		if rec.decoded {
			pk := rec.pkt
			pk.Data = rd.arena[rec.off : rec.off+len(pk.Data)]
			err = w.r.packetDecoded(rec.idx, rec.lt, &pk, rec.ts)
		} else {
			err = w.r.packetAt(rec.idx, rec.lt, rd.arena[rec.off:rec.off+rec.n], rec.ts)
		}
		if err != nil {
			return err
		}
		rec.inserts = ct.Stats.Insert - before
		rec.shared = w.r.shared
		rec.vt = span{int32(v0), int32(len(w.vt.b))}
		rec.tx = span{int32(t0), int32(len(w.tx.b))}
		rec.acc = span{int32(a0), int32(len(w.acc.b))}
		rec.drp = span{int32(d0), int32(len(w.drp.b))}
	}
	o.vt, o.tx, o.acc, o.drp = w.vt.b, w.tx.b, w.acc.b, w.drp.b
	return nil
}

// restartAt replays records [0, stop) of c on a fresh machine without
// output (they were written by the sharded run, with the same results) and
// leaves c at record stop.
func (r *Replay) restartAt(c *Capture, stop int) error {
	m, err := vm.New(r.rs, r.vc)
	if err != nil {
		return err
	}
	r.M, r.shards = m, nil
	r.Stats, r.index, r.clock = Stats{}, 0, 0
	saved := r.cfg
	r.cfg.Verdicts, r.cfg.Text, r.cfg.Accepted, r.cfg.Dropped, r.cfg.Progress = nil, nil, nil, nil, nil
	defer func() { r.cfg = saved }()
	for r.index < stop {
		data, ts, lt, err := c.Next()
		if err != nil {
			return r.stop(err)
		}
		if err := r.Packet(lt, data, ts); err != nil {
			return err
		}
		r.tbuf = r.tbuf[:0]
	}
	return nil
}

// Snapshot is the machine's ruleset at now; after a sharded replay, the
// shards' counters summed (every other state of a shardable ruleset is the
// same in every shard).
func (r *Replay) Snapshot(now int64) *ruleset.Ruleset {
	if len(r.shards) == 0 {
		return r.M.Snapshot(now)
	}
	base := r.shards[0].M.Snapshot(now)
	for _, s := range r.shards[1:] {
		addCounters(base, s.M.Snapshot(now))
	}
	return base
}

// addCounters adds the counters of o (a snapshot of the same ruleset) to
// those of base.
func addCounters(base, o *ruleset.Ruleset) {
	add := func(a, b []ruleset.Expr) {
		for i := range a {
			if i < len(b) {
				if ca, ok := a[i].(*ruleset.Counter); ok {
					if cb, ok := b[i].(*ruleset.Counter); ok {
						ca.Packets += cb.Packets
						ca.Bytes += cb.Bytes
					}
				}
			}
		}
	}
	for ti, t := range base.Tables {
		if ti >= len(o.Tables) {
			return
		}
		ot := o.Tables[ti]
		for ci, c := range t.Chains {
			if ci >= len(ot.Chains) {
				break
			}
			oc := ot.Chains[ci]
			c.Packets += oc.Packets
			c.Bytes += oc.Bytes
			for ri, ru := range c.Rules {
				if ri < len(oc.Rules) {
					add(ru.Exprs, oc.Rules[ri].Exprs)
				}
			}
		}
		for oi, ob := range t.Objects {
			if oi < len(ot.Objects) && ob.Expr != nil {
				add([]ruleset.Expr{ob.Expr}, []ruleset.Expr{ot.Objects[oi].Expr})
			}
		}
		for si, s := range t.Sets {
			if si >= len(ot.Sets) {
				break
			}
			for ei, el := range s.Elements {
				if ei < len(ot.Sets[si].Elements) {
					add(el.Exprs, ot.Sets[si].Elements[ei].Exprs)
				}
			}
		}
	}
}

// ConntrackCount is nf_conntrack_count at the end (all shards).
func (r *Replay) ConntrackCount() int {
	if len(r.shards) == 0 {
		return r.M.Conntrack().Count()
	}
	n := 0
	for _, s := range r.shards {
		n += s.M.Conntrack().Count()
	}
	return n
}

// WriteConntrack writes the conntrack table as `conntrack -L` (all shards,
// one after the other: the kernel's own order is its hash order, which
// depends on a random seed).
func (r *Replay) WriteConntrack(w io.Writer, now int64) error {
	if len(r.shards) == 0 {
		return r.M.Conntrack().WriteList(w, now)
	}
	for _, s := range r.shards {
		if err := s.M.Conntrack().WriteList(w, now); err != nil {
			return err
		}
	}
	return nil
}
