package list

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nftgo/nftgo/ruleset"
)

type prioTag struct {
	val  int32
	name string
}

var stdPrios = []prioTag{{-300, "raw"}, {-150, "mangle"}, {-100, "dstnat"}, {0, "filter"}, {50, "security"}, {100, "srcnat"}}
var bridgePrios = []prioTag{{-300, "dstnat"}, {-200, "filter"}, {100, "out"}, {300, "srcnat"}}

// prioCompat says whether a standard priority name may be used for this
// family and hook.
//
// Ref: nftables src/rule.c — std_prio_family_hook_compat
func prioCompat(prio int32, f ruleset.Family, h ruleset.Hook) bool {
	if f == ruleset.FamilyBridge {
		switch prio {
		case -300:
			return h == ruleset.HookPrerouting
		case -200:
			return true
		case 100:
			return h == ruleset.HookOutput
		case 300:
			return h == ruleset.HookPostrouting
		}
		return false
	}
	ipish := f == ruleset.FamilyINet || f == ruleset.FamilyIPv4 || f == ruleset.FamilyIPv6
	switch prio {
	case 0:
		return ipish || f == ruleset.FamilyARP || f == ruleset.FamilyNetdev
	case -300, -150, 50:
		return ipish
	case -100:
		return ipish && h == ruleset.HookPrerouting
	case 100:
		return ipish && h == ruleset.HookPostrouting
	}
	return false
}

// prioText prints a chain priority by name within ±10 of a standard one.
//
// Ref: nftables src/rule.c — prio2str
func prioText(f ruleset.Family, h ruleset.Hook, prio int32) string {
	tags := stdPrios
	if f == ruleset.FamilyBridge {
		tags = bridgePrios
	}
	for _, t := range tags {
		d := prio - t.val
		if d >= -10 && d <= 10 {
			if !prioCompat(t.val, f, h) {
				break
			}
			switch {
			case d > 0:
				return fmt.Sprintf("%s + %d", t.name, d)
			case d < 0:
				return fmt.Sprintf("%s - %d", t.name, -d)
			}
			return t.name
		}
	}
	return strconv.Itoa(int(prio))
}

func policyName(v ruleset.Verdict) string {
	if v.Code == ruleset.VerdictDrop {
		return "drop"
	}
	return "accept"
}

// writeTable prints one table: objects, named sets, chains, one blank line
// between them.
//
// Ref: nftables src/rule.c — table_print
func writeTable(w *bufio.Writer, t *ruleset.Table, opt Options, errs *[]error) {
	fmt.Fprintf(w, "table %s %s {", t.Family, t.Name)
	if opt.Handles || t.Flags&2 != 0 {
		w.WriteString(" #")
	}
	if opt.Handles {
		fmt.Fprintf(w, " handle %d", t.Handle)
	}
	if t.Flags&2 != 0 {
		w.WriteString(" progname nft")
	}
	w.WriteString("\n")
	delim := ""
	if t.Flags&1 != 0 {
		w.WriteString("\tflags dormant\n")
		delim = "\n"
	}
	if t.Comment != "" {
		fmt.Fprintf(w, "\tcomment %q\n", t.Comment)
	}
	for _, o := range t.Objects {
		if o.Kind == "flowtable" {
			continue
		}
		w.WriteString(delim)
		writeObject(w, o, opt)
		delim = "\n"
	}
	for _, s := range t.Sets {
		if s.Flags&ruleset.SetAnonymous != 0 {
			continue
		}
		w.WriteString(delim)
		writeSet(w, t, s, opt)
		delim = "\n"
	}
	for _, o := range t.Objects {
		if o.Kind == "flowtable" {
			w.WriteString(delim)
			writeFlowtable(w, o, opt)
			delim = "\n"
		}
	}
	for _, c := range t.Chains {
		w.WriteString(delim)
		writeChain(w, t, c, opt, errs)
		delim = "\n"
	}
	w.WriteString("}\n")
}

// writeChain prints a chain header and its rules.
//
// Ref: nftables src/rule.c — chain_print_declaration, chain_rules_print
func writeChain(w *bufio.Writer, t *ruleset.Table, c *ruleset.Chain, opt Options, errs *[]error) {
	fmt.Fprintf(w, "\tchain %s {", c.Name)
	if opt.Handles {
		fmt.Fprintf(w, " # handle %d", c.Handle)
	}
	if c.Comment != "" {
		fmt.Fprintf(w, "\n\t\tcomment %q", c.Comment)
	}
	w.WriteString("\n")
	if h := c.Hook; h != nil {
		fmt.Fprintf(w, "\t\ttype %s hook %s", h.Type, ruleset.HookName(t.Family, h.Hook))
		if len(h.Devices) == 1 {
			fmt.Fprintf(w, " device %q", h.Devices[0])
		} else if len(h.Devices) > 1 {
			w.WriteString(" devices = { " + strings.Join(sortedDevices(h.Devices), ", ") + " }")
		}
		fmt.Fprintf(w, " priority %s; policy %s;\n", prioText(t.Family, h.Hook, h.Priority), policyName(h.Policy))
	}
	for _, r := range c.Rules {
		w.WriteString("\t\t")
		w.WriteString(ruleText(t, r, errs))
		if r.Comment != "" {
			fmt.Fprintf(w, " comment %q", r.Comment)
		}
		if opt.Handles {
			fmt.Fprintf(w, " # handle %d", r.Handle)
		}
		w.WriteString("\n")
	}
	w.WriteString("\t}\n")
}

func ruleText(t *ruleset.Table, r *ruleset.Rule, errs *[]error) string {
	s, _, err := renderRule(t, r)
	if err != nil {
		*errs = append(*errs, err)
	}
	return s
}

// setSize is the size the kernel reports: a set bound to a dynset without
// a size gets 65535 (nft_dynset_init).
func setSize(t *ruleset.Table, s *ruleset.Set) uint32 {
	if s.Size != 0 || s.Flags&ruleset.SetConstant != 0 {
		return s.Size
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if d, ok := e.(*ruleset.Dynset); ok && d.Set == s.Name {
					return 65535
				}
			}
		}
	}
	return 0
}

func setKindName(s *ruleset.Set) string {
	if s.IsMap() || s.Flags&ruleset.SetObject != 0 {
		return "map"
	}
	return "set"
}

// typeofParts splits a typeof declaration kept whole in KeyTypeof
// ("tcp dport : ip daddr") into key and data.
func typeofParts(s *ruleset.Set) (key, data string) {
	key, data = s.KeyTypeof, s.DataTypeof
	if data == "" {
		if k, d, ok := strings.Cut(key, " : "); ok {
			key, data = k, d
		}
	}
	return key, data
}

func keyTypeText(s *ruleset.Set) string {
	if k, _ := typeofParts(s); k != "" {
		return k
	}
	if s.KeyTypeName != "" {
		return s.KeyTypeName
	}
	n := len(s.FieldLens)
	if n == 0 {
		n = 1
	}
	var names []string
	for _, d := range typesFromNum(s.KeyType, n) {
		names = append(names, d.name)
	}
	return strings.Join(names, " . ")
}

func dataTypeText(s *ruleset.Set) string {
	if _, d := typeofParts(s); d != "" && s.KeyTypeof != "" {
		return d
	}
	if s.DataTypeName != "" {
		return s.DataTypeName
	}
	var names []string
	for _, d := range setDataTypes(s) {
		names = append(names, d.name)
	}
	return strings.Join(names, " . ")
}

var objTypeNames = map[uint32]string{1: "counter", 2: "quota", 3: "ct helper", 4: "limit", 7: "ct timeout", 8: "secmark", 9: "ct expectation", 10: "synproxy"}

// writeSet prints a named set or map declaration and its elements.
//
// Ref: nftables src/rule.c — set_print_declaration, do_set_print
func writeSet(w *bufio.Writer, t *ruleset.Table, s *ruleset.Set, opt Options) {
	fmt.Fprintf(w, "\t%s %s {", setKindName(s), s.Name)
	if opt.Handles {
		fmt.Fprintf(w, " # handle %d", s.Handle)
	}
	w.WriteString("\n")
	kw := "type"
	if s.KeyTypeof != "" {
		kw = "typeof"
	}
	w.WriteString("\t\t" + kw + " " + keyTypeText(s))
	if s.IsMap() {
		w.WriteString(" : " + dataTypeText(s))
	} else if s.Flags&ruleset.SetObject != 0 {
		w.WriteString(" : " + objTypeNames[s.ObjType])
	}
	w.WriteString("\n")
	if s.Flags&ruleset.SetConstant == 0 {
		if s.Policy == 1 {
			w.WriteString("\t\tpolicy memory\n")
		}
		if sz := setSize(t, s); sz > 0 {
			fmt.Fprintf(w, "\t\tsize %d\n", sz)
		}
	}
	flags := s.Flags
	if s.Timeout != 0 {
		flags &^= ruleset.SetTimeout
	}
	// the test drops "timeout" when a default timeout exists, the names
	// come from the unmodified flags (so `flags dynamic,timeout` stays)
	if flags&(ruleset.SetConstant|ruleset.SetInterval|ruleset.SetTimeout|ruleset.SetEval) != 0 {
		var fl []string
		if s.Flags&ruleset.SetConstant != 0 {
			fl = append(fl, "constant")
		}
		if s.Flags&ruleset.SetEval != 0 {
			fl = append(fl, "dynamic")
		}
		if s.Flags&ruleset.SetInterval != 0 {
			fl = append(fl, "interval")
		}
		if s.Flags&ruleset.SetTimeout != 0 {
			fl = append(fl, "timeout")
		}
		w.WriteString("\t\tflags " + strings.Join(fl, ",") + "\n")
	}
	if len(s.Exprs) > 0 {
		var parts []string
		for _, e := range s.Exprs {
			var b strings.Builder
			stateless(exprStmt(t.Family, e)).text(&b)
			parts = append(parts, b.String())
		}
		w.WriteString("\t\t" + strings.Join(parts, " ") + "\n")
	}
	if s.AutoMerge {
		w.WriteString("\t\tauto-merge\n")
	}
	if s.Timeout != 0 {
		w.WriteString("\t\ttimeout " + timeText(s.Timeout) + "\n")
	}
	if s.GCInterval != 0 {
		w.WriteString("\t\tgc-interval " + timeText(uint64(s.GCInterval)) + "\n")
	}
	if s.Comment != "" {
		fmt.Fprintf(w, "\t\tcomment %q\n", s.Comment)
	}
	if els := decodeElements(s, nil, nil, nil, nil, nil); len(els) > 0 {
		se := &setExpr{elems: els, dt: setElemDtype(s)}
		var b strings.Builder
		se.text(&b)
		w.WriteString("\t\telements = " + b.String() + "\n")
	}
	w.WriteString("\t}\n")
}

// setElemDtype is the type calculate_delim looks at: the key type, or
// nothing for concatenations.
func setElemDtype(s *ruleset.Set) *dtype {
	parts := setKeyParts(s, nil, nil)
	if len(parts) != 1 {
		return nil
	}
	return parts[0].dt
}

// writeObject prints a named stateful object.
//
// Ref: nftables src/rule.c — obj_print_data
func writeObject(w *bufio.Writer, o *ruleset.Object, opt Options) {
	fmt.Fprintf(w, "\t%s %s {", o.Kind, o.Name)
	if opt.Handles {
		fmt.Fprintf(w, " # handle %d", o.Handle)
	}
	w.WriteString("\n")
	if o.Comment != "" {
		fmt.Fprintf(w, "\t\tcomment %q\n", o.Comment)
	}
	switch x := o.Expr.(type) {
	case *ruleset.Counter:
		fmt.Fprintf(w, "\t\tpackets %d bytes %d\n", x.Packets, x.Bytes)
	case *ruleset.Quota:
		over := ""
		if x.Flags&ruleset.QuotaInvert != 0 {
			over = "over "
		}
		v, u := getRate(x.Bytes)
		fmt.Fprintf(w, "\t\t%s%d %s", over, v, u)
		if x.Consumed != 0 {
			v, u = getRate(x.Consumed)
			fmt.Fprintf(w, " used %d %s", v, u)
		}
		w.WriteString("\n")
	case *ruleset.Limit:
		var b strings.Builder
		(&limitStmt{l: *x}).text(&b)
		w.WriteString("\t\t" + strings.TrimPrefix(b.String(), "limit ") + "\n")
	default:
		for _, a := range objectAttrs(o) {
			w.WriteString("\t\t" + a.Key)
			if a.Value != "" {
				w.WriteString(" " + a.Value)
			}
			w.WriteString("\n")
		}
	}
	w.WriteString("\t}\n")
}

// sortedDevices is a device list as nft 1.0.6 lists it from the kernel:
// sorted by name (qsort with strcmp when the hook attributes are parsed).
func sortedDevices(devs []string) []string {
	out := slices.Clone(devs)
	slices.Sort(out)
	return out
}

// flowtableAttrs reads a flowtable object's hook priority, flags and devices.
func flowtableAttrs(o *ruleset.Object) (prio int32, flags int, devs []string) {
	for _, a := range o.Attrs {
		switch a.Key {
		case "priority":
			n, _ := strconv.ParseInt(a.Value, 10, 32)
			prio = int32(n)
		case "flags":
			flags, _ = strconv.Atoi(a.Value)
		case "device":
			devs = append(devs, a.Value)
		}
	}
	return prio, flags, sortedDevices(devs)
}

// writeFlowtable prints a flowtable declaration.
//
// Ref: nftables src/rule.c — flowtable_print_declaration
func writeFlowtable(w *bufio.Writer, o *ruleset.Object, opt Options) {
	prio, flags, devs := flowtableAttrs(o)
	fmt.Fprintf(w, "\tflowtable %s {", o.Name)
	if opt.Handles {
		fmt.Fprintf(w, " # handle %d", o.Handle)
	}
	fmt.Fprintf(w, "\n\t\thook ingress priority %s\n", prioText(ruleset.FamilyNetdev, ruleset.HookNetdevIngress, prio))
	if len(devs) > 0 {
		w.WriteString("\t\tdevices = { " + strings.Join(devs, ", ") + " }\n")
	}
	if flags&1 != 0 {
		w.WriteString("\t\tflags offload\n")
	}
	if flags&2 != 0 {
		w.WriteString("\t\tcounter\n")
	}
	w.WriteString("\t}\n")
}

// objectAttrs turns a non-expression object's attributes into listing
// lines. The compiler records them in nft's order; an attribute "body"
// (the libnftnl debug text) is decoded only for a ct helper without
// attributes (an IR built by hand); "kind" placeholders are skipped.
//
// Ref: nftables src/rule.c — obj_print_data
func objectAttrs(o *ruleset.Object) []ruleset.ObjectAttr {
	attr := map[string]string{}
	body := ""
	for _, a := range o.Attrs {
		attr[a.Key] = a.Value
		if a.Key == "body" {
			body = a.Value
		}
	}
	switch o.Kind {
	case "ct helper":
		if attr["type"] != "" {
			return []ruleset.ObjectAttr{{Key: "type", Value: strconv.Quote(attr["type"]) + " protocol " + attr["protocol"]},
				{Key: "l3proto", Value: attr["l3proto"]}}
		}
		f := strings.Fields(strings.Trim(body, "[] "))
		if len(f) >= 7 && f[0] == "ct_helper" {
			proto := map[string]string{"6": "tcp", "17": "udp"}[f[6]]
			l3 := map[string]string{"2": "ip", "10": "ip6", "1": "inet", "0": "ip"}[f[4]]
			return []ruleset.ObjectAttr{{Key: "type", Value: strconv.Quote(f[2]) + " protocol " + proto},
				{Key: "l3proto", Value: l3}}
		}
	}
	var out []ruleset.ObjectAttr
	for _, a := range o.Attrs {
		switch {
		case a.Key == "kind" || a.Key == "body":
		case o.Kind == "ct timeout" && a.Key == "policy":
			out = append(out, ruleset.ObjectAttr{Key: "policy", Value: "= { " + a.Value + " }"})
		case o.Kind == "ct expectation" && a.Key == "timeout":
			ms, err := strconv.ParseUint(a.Value, 10, 64)
			if err != nil {
				out = append(out, a)
				continue
			}
			out = append(out, ruleset.ObjectAttr{Key: "timeout", Value: timeText(ms)})
		case o.Kind == "synproxy" && a.Key == "flags":
			out = append(out, ruleset.ObjectAttr{Key: a.Value})
		default:
			out = append(out, a)
		}
	}
	return out
}
