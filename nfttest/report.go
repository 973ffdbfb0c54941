package nfttest

import (
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Find returns the test files under paths: a file is taken as given, a
// directory is searched recursively for *.nfttest, in lexical order.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, Ext) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// FileResult is one test file's run: its cases, or the error that kept it
// from running (it does not parse).
type FileResult struct {
	Path  string
	File  *File
	Err   error
	Cases []*CaseResult
}

// Failed reports whether the file failed to parse or any case failed.
func (r *FileResult) Failed() bool {
	if r.Err != nil {
		return true
	}
	for _, c := range r.Cases {
		if c.Failed() {
			return true
		}
	}
	return false
}

// RunPaths parses and runs every test file under paths.
func RunPaths(paths []string, opt Options) ([]*FileResult, error) {
	files, err := Find(paths)
	if err != nil {
		return nil, err
	}
	var out []*FileResult
	for _, p := range files {
		fr := &FileResult{Path: p}
		fr.File, fr.Err = ParseFile(p)
		if fr.Err == nil {
			fr.Cases = RunFile(fr.File, opt)
		}
		out = append(out, fr)
	}
	return out, nil
}

// WriteCase writes one case's line ("ok   NAME (TIME)" or "FAIL NAME
// (TIME)") and, for a failure or with verbose, what happened.
func WriteCase(w io.Writer, r *CaseResult, verbose bool) {
	status := "ok  "
	if r.Failed() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s (%s)\n", status, r.FullName(), round(r.Elapsed))
	if verbose {
		for i := range r.Packets {
			p := &r.Packets[i]
			e := p.Got.Expect
			if e.By == "none" {
				e.By = ""
			}
			fmt.Fprintf(w, "    %s => %s\n", packetText(p), e)
		}
		for _, e := range r.Ends {
			fmt.Fprintf(w, "    %s\n", e.Got)
		}
	}
	if r.Failed() {
		WriteFailure(w, r)
	}
}

// packetText is how output names a packet: the traffic line for a single
// packet written in the file, the summary (pasteable as input) otherwise,
// with "#N" for a pcap record.
func packetText(p *PacketResult) string {
	switch p.Step.Kind {
	case StepRecord, StepPcap:
		return fmt.Sprintf("#%d %s", p.Index, p.Got.Packet)
	}
	return p.Got.Packet
}

// WriteFailure writes why a case failed: for each packet that did not
// match, where it is, the packet, what was expected, what happened and the
// rule trace; for each end expectation, the expected and actual line.
func WriteFailure(w io.Writer, r *CaseResult) {
	if r.Err != nil {
		msg := strings.TrimRight(r.Err.Error(), "\n")
		if r.File != nil && !strings.HasPrefix(msg, r.File.Path) {
			fmt.Fprintf(w, "    %s:%d: ruleset %s:\n", r.File.Path, r.File.RulesetLine, r.File.Ruleset)
		}
		writeIndented(w, "        ", msg)
		return
	}
	for i := range r.Packets {
		p := &r.Packets[i]
		if p.OK {
			continue
		}
		where := fmt.Sprintf("%s:%d", r.File.Path, p.Step.Line)
		if len(p.Step.Specs) > 1 {
			where += fmt.Sprintf(" (packet %d of %d: %s)", p.Index+1, len(p.Step.Specs), p.Step.Text)
		}
		fmt.Fprintf(w, "    %s\n", where)
		fmt.Fprintf(w, "        packet:   %s\n", packetText(p))
		fmt.Fprintf(w, "        expected: %s\n", p.Want)
		fmt.Fprintf(w, "        got:      %s\n", got(p))
		if p.Got.Trace != "" {
			fmt.Fprintf(w, "        trace:\n")
			writeIndented(w, "            ", p.Got.Trace)
		}
	}
	for _, e := range r.Ends {
		if e.OK {
			continue
		}
		fmt.Fprintf(w, "    %s:%d\n", r.File.Path, e.End.Line)
		fmt.Fprintf(w, "        expected: %s\n", strings.TrimSpace(stripComment(r.File.Lines[e.End.Line-1])))
		fmt.Fprintf(w, "        got:      %s\n", e.Got)
	}
}

// got prints the outcome with the same parts the expectation names, so
// the line can be pasted back.
func got(p *PacketResult) string {
	g := p.Got.Expect
	if p.Want != nil {
		if strings.Contains(p.Want.By, " handle ") && p.Got.HandleBy != "" {
			g.By = p.Got.HandleBy
		}
		if p.Want.CT == "" {
			g.CT = ""
		}
	}
	return g.String()
}

func round(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

// JUnit XML, in the shape CI systems (Jenkins, GitLab, GitHub actions)
// read: one testsuite per file, one testcase per case.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML.
func WriteJUnit(w io.Writer, results []*FileResult) error {
	var out junitSuites
	for _, fr := range results {
		s := junitSuite{Name: fr.Path}
		var total time.Duration
		if fr.Err != nil {
			s.Tests, s.Errors = 1, 1
			s.Cases = append(s.Cases, junitCase{Name: "(parse)", Classname: fr.Path, Time: "0",
				Error: &junitFailure{Message: "test file does not parse", Text: fr.Err.Error()}})
		}
		for _, c := range fr.Cases {
			s.Tests++
			total += c.Elapsed
			jc := junitCase{Name: c.Case.Name, Classname: strings.TrimSuffix(filepath.Base(fr.Path), Ext), Time: secs(c.Elapsed)}
			if c.Failed() {
				s.Failures++
				var b strings.Builder
				WriteFailure(&b, c)
				msg := "expectations not met"
				if c.Err != nil {
					msg = "case could not run"
				}
				jc.Failure = &junitFailure{Message: msg, Text: b.String()}
			}
			s.Cases = append(s.Cases, jc)
		}
		s.Time = secs(total)
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }
