package main

import (
	"fmt"
	"strings"
)

// options is the parsed command line. Flags may appear anywhere, before or
// after the command words, as run-nftgo puts `--verdicts` after `list
// ruleset`; `--` ends the flags.
type options struct {
	file     string
	check    bool
	debug    []string
	json     bool
	handles  bool
	includes []string

	replay    string
	ifaces    []string
	routes    []string
	locals    []string
	sysctls   []string
	verdicts  string
	conntrack string
	trace     bool
	// --write-accepted/--write-dropped: pcaps of the packets by fate;
	// --stats: packets per second on stderr at the end.
	writeAccepted, writeDropped string
	stats                       bool
	workers                     string

	help, version bool
	cmd           []string
}

// usageError is a command-line mistake (nft exits 1 on them too).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parseArgs(args []string) (*options, error) {
	o := &options{}
	// value flags: long name -> destination
	str := map[string]*string{
		"file": &o.file, "replay": &o.replay, "verdicts": &o.verdicts, "conntrack": &o.conntrack,
		"write-accepted": &o.writeAccepted, "write-dropped": &o.writeDropped, "workers": &o.workers,
	}
	list := map[string]*[]string{
		"includepath": &o.includes, "iface": &o.ifaces, "route": &o.routes, "local": &o.locals,
		"sysctl": &o.sysctls, "debug": &o.debug,
	}
	boolean := map[string]*bool{
		"check": &o.check, "json": &o.json, "handle": &o.handles, "trace": &o.trace, "stats": &o.stats,
		"help": &o.help, "version": &o.version,
	}
	shortVal := map[byte]string{'f': "file", 'I': "includepath"}
	shortBool := map[byte]string{'c': "check", 'j': "json", 'a': "handle", 'h': "help", 'v': "version"}

	set := func(name, val string) {
		if p, ok := str[name]; ok {
			*p = val
			return
		}
		if name == "debug" {
			for _, d := range strings.Split(val, ",") {
				o.debug = append(o.debug, strings.TrimSpace(d))
			}
			return
		}
		*list[name] = append(*list[name], val)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.cmd = append(o.cmd, args[i+1:]...)
			return o, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			if p, ok := boolean[name]; ok {
				if hasVal {
					return nil, usageError{fmt.Sprintf("option '--%s' doesn't allow an argument", name)}
				}
				*p = true
				continue
			}
			_, isStr := str[name]
			_, isList := list[name]
			if !isStr && !isList {
				return nil, usageError{fmt.Sprintf("unrecognized option '%s'", a)}
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, usageError{fmt.Sprintf("option '--%s' requires an argument", name)}
				}
				i++
				val = args[i]
			}
			set(name, val)
		case len(a) > 1 && a[0] == '-':
			// getopt-style clusters: -jc, -cf FILE, -fFILE
			for j := 1; j < len(a); j++ {
				c := a[j]
				if name, ok := shortBool[c]; ok {
					*boolean[name] = true
					continue
				}
				name, ok := shortVal[c]
				if !ok {
					return nil, usageError{fmt.Sprintf("invalid option -- '%c'", c)}
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, usageError{fmt.Sprintf("option requires an argument -- '%c'", c)}
					}
					i++
					val = args[i]
				}
				set(name, val)
				break
			}
		default:
			o.cmd = append(o.cmd, a)
		}
	}
	return o, nil
}

func (o *options) debugNetlink() bool {
	for _, d := range o.debug {
		if d == "netlink" || d == "all" {
			return true
		}
	}
	return false
}

const usage = `Usage: nftgo [ options ] [ cmds... ]

nftgo answers "what will Linux do with this ruleset and this traffic?".

Options (as nft):
  -f, --file FILE             read the ruleset from FILE
  -c, --check                 check the ruleset, do not load it (exit 0, or the error and exit 1)
      --debug=netlink         print the netlink batch nft would send
  -j, --json                  list in JSON (libnftables format)
  -a, --handle                list rule handles
  -I, --includepath DIR       add DIR to the include search path

Replay (nftgo's own):
      --replay CAPTURE        run the packets of a pcap/pcapng file (also .gz) through the ruleset
      --iface NAME=ADDR/PLEN[,ADDR/PLEN...]
                              an interface of the modelled router and its own addresses
      --route PREFIX@NAME     a route (default@NAME for the default route)
      --local ADDR            a local address (local mode: host with one interface)
      --sysctl KEY=VALUE      a net.netfilter sysctl, e.g. net.netfilter.nf_conntrack_max=7
      --verdicts FILE         write one JSON line per packet to FILE (- for stdout)
      --conntrack FILE        write the conntrack table as 'conntrack -L' at the end (- for stdout)
      --trace                 add each packet's path to the per-packet lines
      --write-accepted FILE   write the packets that passed (and the host's replies) to a pcap
      --write-dropped FILE    write the dropped packets to a pcap (same link type as the capture)
      --stats                 print packets, seconds and packets per second on stderr at the end
      --workers N             shard the replay by flow over N cores (docs/compatibility.md)

Commands:
  list ruleset                print the ruleset (after a replay: with counters and set elements)
  list table FAMILY NAME
  list set|map FAMILY TABLE NAME

Subcommands:
  nftgo diff-kernel ...       compare nftgo with the running kernel
  nftgo test [PATH...]        run the *.nfttest ruleset tests (nftgo test -h)
`
