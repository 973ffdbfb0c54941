package replay

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nftgo/nftgo/internal/testpkt"
	"github.com/nftgo/nftgo/packet"
)

// sharedPcaps is the reference capture collection beside the repository.
const sharedPcaps = "../../shared/data/pcaps"

// readAll reads every record of a capture through Decode and AppendSummary,
// the path a replay takes before the vm, and returns how many records
// decoded, how many did not, and how the capture ended.
func readAll(t testing.TB, r io.Reader) (ok, bad int, stopped *Stopped, err error) {
	c, err := NewCapture(r)
	if err != nil {
		return 0, 0, nil, err
	}
	var p packet.Packet
	buf := make([]byte, 0, 256)
	for {
		data, _, lt, err := c.Next()
		if err == io.EOF {
			return ok, bad, nil, nil
		}
		if err != nil {
			if !errors.As(err, &stopped) {
				t.Fatalf("Next returned %T %v, want io.EOF or *Stopped", err, err)
			}
			return ok, bad, stopped, nil
		}
		if derr := p.Decode(lt, data); derr != nil {
			bad++
			continue
		}
		ok++
		buf = AppendSummary(buf[:0], &p)
	}
}

func captureBytes(t *testing.T, recs []testpkt.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := testpkt.WritePcap(&b, recs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCaptureTruncation(t *testing.T) {
	recs, err := testpkt.Sequence(time.Second,
		testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN},
		testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1001, Dport: 80, Flags: testpkt.SYN},
		testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "udp", Sport: 53, Dport: 53},
	)
	if err != nil {
		t.Fatal(err)
	}
	full := captureBytes(t, recs)
	// pcap: 24-byte file header, then 16-byte record headers.
	rec1 := int64(24 + 16 + len(recs[0].Data))
	rec2 := rec1 + int64(16+len(recs[1].Data))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(full[:len(full)-3])
	zw.Close()
	for _, tc := range []struct {
		name       string
		data       []byte
		wantOK     int
		wantStop   bool
		wantRecord int
		wantOffset int64
	}{
		{"complete", full, 3, false, 0, 0},
		{"cut in third record body", full[:len(full)-3], 2, true, 2, rec2},
		{"cut in second record header", full[:rec1+7], 1, true, 1, rec1},
		{"cut exactly after second record", full[:rec2], 2, false, 0, 0},
		{"gzip, cut in third record body", gz.Bytes(), 2, true, 2, rec2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, bad, st, err := readAll(t, bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || bad != 0 {
				t.Errorf("decoded %d ok, %d bad; want %d ok", ok, bad, tc.wantOK)
			}
			if (st != nil) != tc.wantStop {
				t.Fatalf("stopped = %v, want stopped %v", st, tc.wantStop)
			}
			if st != nil && (st.Record != tc.wantRecord || st.Offset != tc.wantOffset) {
				t.Errorf("stopped at record %d offset %d, want record %d offset %d (%v)", st.Record, st.Offset, tc.wantRecord, tc.wantOffset, st)
			}
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a capture file"},
		{"garbage", []byte("hello, world, this is not a pcap file"), "not a pcap or pcapng file"},
		// LINKTYPE_IEEE802_11 (105), little-endian microsecond pcap
		{"unknown link type", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 105, 0, 0, 0}, "unsupported link type 105"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCapture(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewCapture error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestSharedCaptures reads every real and malformed capture of
// ../shared/data/pcaps: each gives records or a clear error, never a panic.
func TestSharedCaptures(t *testing.T) {
	files := sharedCaptureFiles(t)
	var opened, failed, stopped, records int
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		ok, bad, st, err := readAll(t, fh)
		fh.Close()
		switch {
		case err != nil:
			failed++
			if strings.Contains(f, "/real/") && strings.Contains(filepath.Base(f), ".pcap") {
				t.Errorf("%s: a real capture must open: %v", f, err)
			}
			if err.Error() == "" {
				t.Errorf("%s: empty error", f)
			}
		default:
			opened++
			records += ok + bad
			if st != nil {
				stopped++
				// Real captures are whole, except the one dpkt keeps cut on purpose.
				if strings.Contains(f, "/real/") && !strings.Contains(f, "truncated") {
					t.Errorf("%s: %v", f, st)
				}
			}
		}
	}
	t.Logf("%d files: %d read (%d records, %d stopped early), %d refused with an error", len(files), opened, records, stopped, failed)
	if opened == 0 {
		t.Error("no capture could be read")
	}
}

func sharedCaptureFiles(t testing.TB) []string {
	if _, err := os.Stat(sharedPcaps); err != nil {
		t.Skipf("%s not present: %v", sharedPcaps, err)
	}
	var files []string
	filepath.Walk(sharedPcaps, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		n := info.Name()
		if strings.HasSuffix(n, ".tsv") || strings.HasPrefix(n, "COPY") || strings.HasPrefix(n, "LICENSE") || strings.HasSuffix(n, ".md") {
			return nil
		}
		files = append(files, p)
		return nil
	})
	return files
}

// FuzzCapture feeds arbitrary bytes to the capture reader and the decoder:
// nothing may panic, and every failure is io.EOF, a *Stopped or a header
// error.
func FuzzCapture(f *testing.F) {
	recs, _ := testpkt.Sequence(time.Millisecond,
		testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: 1000, Dport: 80, Flags: testpkt.SYN},
		testpkt.Spec{Src: "2001:db8:1::2", Dst: "2001:db8:2::10", Proto: "icmpv6", Type: 128, ID: 1},
	)
	var b bytes.Buffer
	testpkt.WritePcap(&b, recs)
	f.Add(b.Bytes())
	for _, p := range []string{"real/gopacket/pcapgo-tests/le/test001.pcapng", "real/gopacket/test_loopback.pcap", "real/dpkt/truncated_dns.pcap"} {
		if d, err := os.ReadFile(filepath.Join(sharedPcaps, p)); err == nil && len(d) < 64<<10 {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readAll(t, bytes.NewReader(data))
	})
}

// BenchmarkReadDecode is the floor under every replay: pcapgo record
// reading plus packet.Decode and the per-packet summary, no vm.
func BenchmarkReadDecode(b *testing.B) {
	var specs []testpkt.Spec
	for i := 0; i < 1000; i++ {
		specs = append(specs, testpkt.Spec{Src: "198.51.100.2", Dst: "203.0.113.10", Proto: "tcp", Sport: uint16(1000 + i), Dport: 443, Flags: testpkt.PSHACK, Payload: make([]byte, 100)})
	}
	recs, err := testpkt.Sequence(time.Microsecond, specs...)
	if err != nil {
		b.Fatal(err)
	}
	var capb bytes.Buffer
	if err := testpkt.WritePcap(&capb, recs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	var p packet.Packet
	sum := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		c, err := NewCapture(bytes.NewReader(capb.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		for {
			data, _, lt, err := c.Next()
			if err != nil {
				break
			}
			if p.Decode(lt, data) == nil {
				sum = AppendSummary(sum[:0], &p)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
}
