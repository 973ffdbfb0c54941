package ct

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"

	"github.com/nftgo/nftgo/internal/scenario"
	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// scenarios is the kernel-recorded scenario corpus (reference only: read
// at test time, never copied).
const scenarios = "../../shared/scenarios"

// TestScenarios replays the public scenarios' captures through the table
// alone, taking each packet's fate from the kernel's verdicts (accepted →
// Confirm, dropped by a rule → Release, dropped outside nf_tables → must be
// a conntrack drop here), and compares the final table with the kernel's,
// normalised like kjson.py (timeouts to the nearest 10 s).
func TestScenarios(t *testing.T) {
	dirs := []string{}
	for _, name := range []string{"tcp-handshake-fin", "icmp-error-related", "ipv6-inet", "ct-table-full",
		"real-http-dpkt", "connlimit-set", "local-input-connlimit"} {
		dirs = append(dirs, filepath.Join(scenarios, name))
	}
	// The project's own kernel-recorded corpus, where conntrack is active
	// (the ruleset has ct expressions) and no packet the kernel
	// itself generated (reject), no NAT rewrite and no rule writing to the
	// entry (ct mark set, ct label set, helpers, timeout policies,
	// expectations) is involved: those need the vm.
	// Conntrack runs for the families whose tables take it (the vm's
	// nf_ct_netns_get), and packets the host generates need the vm too:
	// only inet tables are replayed here, and the vm's known failures
	// (XFAIL) are left to the vm's own test.
	xfail := map[string]bool{}
	if b, err := os.ReadFile("../testdata/scenarios/XFAIL"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
				xfail[f[0]] = true
			}
		}
	}
	own, _ := filepath.Glob("../testdata/scenarios/*/kernel.golden")
	for _, g := range own {
		dir := filepath.Dir(g)
		rs, _ := os.ReadFile(filepath.Join(dir, "ruleset.nft"))
		if xfail[filepath.Base(dir)] || !strings.Contains(string(rs), "table inet") ||
			strings.Contains(string(rs), "table ip ") || strings.Contains(string(rs), "table ip6 ") ||
			!strings.Contains(string(rs), "ct ") || strings.Contains(string(rs), "nat") ||
			strings.Contains(string(rs), "reject") || strings.Contains(string(rs), "notrack") ||
			strings.Contains(string(rs), "mark set") || strings.Contains(string(rs), "label set") ||
			strings.Contains(string(rs), "ct helper") || strings.Contains(string(rs), "ct timeout") ||
			strings.Contains(string(rs), "ct expectation") {
			continue
		}
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(dir); err != nil {
				t.Skip("scenario corpus not found")
			}
			var params struct {
				Mode   string            `json:"mode"`
				Local  []string          `json:"local"`
				Sysctl map[string]string `json:"sysctl"`
			}
			var kern struct {
				Verdicts []struct {
					Verdict   string         `json:"verdict"`
					DecidedBy map[string]any `json:"decided_by"`
				} `json:"verdicts"`
				Conntrack []map[string]any `json:"conntrack"`
				LoadError string           `json:"load_error"`
			}
			readJSON(t, filepath.Join(dir, "params.json"), &params)
			kj := filepath.Join(dir, "kernel.json")
			if _, err := os.Stat(kj); err != nil {
				kj = filepath.Join(dir, "kernel.golden")
			}
			readJSON(t, kj, &kern)
			if kern.LoadError != "" {
				t.Skip("the kernel refused the ruleset: no packets")
			}
			cfg := DefaultConfig()
			for k, v := range params.Sysctl {
				if err := cfg.SetSysctl(k, v); err != nil {
					t.Fatal(err)
				}
			}
			tab := NewTable(cfg)
			recs, err := records(dir)
			if err != nil {
				t.Skip(err)
			}
			local := map[netip.Addr]bool{}
			for _, a := range params.Local {
				local[netip.MustParseAddr(a)] = true
			}
			var last int64
			for i, rec := range recs {
				var p packet.Packet
				if err := p.Decode(packet.LinkRaw, rec.Data); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				now := rec.Time.UnixNano()
				last = now
				tab.Expire(now)
				hook := uint8(HookPrerouting)
				if tup, ok := TupleOf(&p); ok && local[addrOf(tup.Src, tup.L3)] {
					hook = HookOutput
				}
				c, info, drop := tab.In(&p, hook, now)
				v := kern.Verdicts[i]
				kernelDrop := v.DecidedBy != nil && v.DecidedBy["kernel"] != nil
				if drop != kernelDrop {
					t.Errorf("packet %d: conntrack drop %v, kernel %v", i, drop, v.DecidedBy)
				}
				if drop {
					continue
				}
				if v.Verdict == "accept" {
					tab.Confirm(c, info, now)
				} else {
					tab.Release(c)
				}
			}
			got := normList(t, list(t, tab, last))
			want := canonical(t, kern.Conntrack)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("conntrack:\n got %s\nwant %s\n%s", strings.Join(got, "\n     "), strings.Join(want, "\n     "), list(t, tab, last))
			}
		})
	}
}

// records reads a scenario's capture: packets.pcap (shared corpus, raw
// IP) or the traffic spec of the project's corpus.
func records(dir string) ([]testpkt.Record, error) {
	if _, err := os.Stat(filepath.Join(dir, "packets.pcap")); err == nil {
		return records2(filepath.Join(dir, "packets.pcap"))
	}
	s, err := scenario.Load(dir)
	if err != nil {
		return nil, err
	}
	pk, err := s.Packets()
	if err != nil {
		return nil, err
	}
	out := make([]testpkt.Record, len(pk))
	for i, p := range pk {
		out[i] = testpkt.Record{Time: p.Time, Data: p.Data}
	}
	return out, nil
}

// records2 reads a pcap file.
func records2(path string) ([]testpkt.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, err
	}
	var out []testpkt.Record
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out, nil
		}
		out = append(out, testpkt.Record{Time: ci.Timestamp, Data: data})
	}
}

func addrOf(b [16]byte, l3 uint8) netip.Addr {
	if l3 == packet.NFProtoIPv4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// canonical renders entries as sorted canonical JSON strings.
func canonical(t *testing.T, es []map[string]any) []string {
	out := []string{}
	for _, e := range es {
		if e["state"] == nil {
			delete(e, "state") // kernel.golden leaves it out
		}
		b, err := json.Marshal(e) // map keys are sorted
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// normList parses `conntrack -L` lines the way kjson.parse_conntrack_text
// and norm_conntrack do.
func normList(t *testing.T, text string) []string {
	var es []map[string]any
	for _, line := range lines(text) {
		f := strings.Fields(line)
		e := map[string]any{"proto": f[0], "mark": 0, "state": nil}
		to, _ := strconv.Atoi(f[2])
		e["timeout"] = (to + 5) / 10 * 10
		i := 3
		if !strings.Contains(f[3], "=") && !strings.HasPrefix(f[3], "[") {
			e["state"] = f[3]
			i = 4
		}
		var tuples []map[string]any
		flags := []string{}
		for _, tok := range f[i:] {
			if strings.HasPrefix(tok, "[") {
				flags = append(flags, strings.Trim(tok, "[]"))
				continue
			}
			k, v, _ := strings.Cut(tok, "=")
			switch k {
			case "src":
				if len(tuples) < 2 {
					tuples = append(tuples, map[string]any{})
				}
				tuples[len(tuples)-1][k] = v
			case "dst":
				tuples[len(tuples)-1][k] = v
			case "sport", "dport", "type", "code", "id":
				n, _ := strconv.Atoi(v)
				tuples[len(tuples)-1][k] = n
			case "mark":
				n, _ := strconv.Atoi(v)
				e["mark"] = n
			}
		}
		e["orig"], e["reply"] = tuples[0], tuples[1]
		e["l3"] = "ipv4"
		if strings.Contains(tuples[0]["src"].(string), ":") {
			e["l3"] = "ipv6"
		}
		sort.Strings(flags)
		e["flags"] = flags
		es = append(es, e)
	}
	// Round-trip through JSON so numbers compare like the kernel file's.
	b, _ := json.Marshal(es)
	var back []map[string]any
	json.Unmarshal(b, &back)
	return canonical(t, back)
}
