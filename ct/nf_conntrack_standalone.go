package ct

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// sysctlDefaults are the per-netns net.netfilter values of a fresh network
// namespace on the target kernel (6.18), read from /proc/sys/net/netfilter.
// Timeouts are in seconds, as proc_dointvec_jiffies shows them.
//
// Ref: net/netfilter/nf_conntrack_standalone.c — nf_ct_sysctl_table
var sysctlDefaults = map[string]int64{
	"nf_conntrack_acct":                           0,
	"nf_conntrack_checksum":                       1,
	"nf_conntrack_events":                         2,
	"nf_conntrack_expect_max":                     4096,
	"nf_conntrack_frag6_high_thresh":              4194304,
	"nf_conntrack_frag6_low_thresh":               3145728,
	"nf_conntrack_frag6_timeout":                  60,
	"nf_conntrack_generic_timeout":                600,
	"nf_conntrack_gre_timeout":                    30,
	"nf_conntrack_gre_timeout_stream":             180,
	"nf_conntrack_icmp_timeout":                   30,
	"nf_conntrack_icmpv6_timeout":                 30,
	"nf_conntrack_log_invalid":                    0,
	"nf_conntrack_sctp_timeout_closed":            10,
	"nf_conntrack_sctp_timeout_cookie_echoed":     3,
	"nf_conntrack_sctp_timeout_cookie_wait":       3,
	"nf_conntrack_sctp_timeout_established":       210,
	"nf_conntrack_sctp_timeout_heartbeat_sent":    30,
	"nf_conntrack_sctp_timeout_shutdown_ack_sent": 3,
	"nf_conntrack_sctp_timeout_shutdown_recd":     3,
	"nf_conntrack_sctp_timeout_shutdown_sent":     3,
	"nf_conntrack_tcp_be_liberal":                 0,
	"nf_conntrack_tcp_ignore_invalid_rst":         0,
	"nf_conntrack_tcp_loose":                      1,
	"nf_conntrack_tcp_max_retrans":                3,
	"nf_conntrack_tcp_timeout_close":              10,
	"nf_conntrack_tcp_timeout_close_wait":         60,
	"nf_conntrack_tcp_timeout_established":        432000,
	"nf_conntrack_tcp_timeout_fin_wait":           120,
	"nf_conntrack_tcp_timeout_last_ack":           30,
	"nf_conntrack_tcp_timeout_max_retrans":        300,
	"nf_conntrack_tcp_timeout_syn_recv":           60,
	"nf_conntrack_tcp_timeout_syn_sent":           120,
	"nf_conntrack_tcp_timeout_time_wait":          120,
	"nf_conntrack_tcp_timeout_unacknowledged":     300,
	"nf_conntrack_timestamp":                      0,
	"nf_conntrack_udp_timeout":                    30,
	"nf_conntrack_udp_timeout_stream":             120,
	"nf_hooks_lwtunnel":                           0,
	// Idle timeouts of offloaded flows (vm flowtables); the kernel has
	// them with CONFIG_NF_FLOW_TABLE.
	"nf_flowtable_tcp_timeout": 30,
	"nf_flowtable_udp_timeout": 30,
}

const sysctlPrefix = "net.netfilter."

// Keys handled outside Sysctls, and the read-only one.
const (
	keyMax     = "nf_conntrack_max"
	keyBuckets = "nf_conntrack_buckets"
	keyCount   = "nf_conntrack_count"
)

// defaultBuckets is the hash size nf_conntrack_init_start computes on a
// 64-bit machine with more than 4 GiB of RAM (this 24 GiB host): 262144,
// and nf_conntrack_max equals it (factor 1 for the automatic size).
const defaultBuckets = 262144

// DefaultConfig returns the defaults of a 24 GiB, 64-bit machine (the
// kernel sizes the table from RAM: 262144 buckets, max = buckets).
//
// Ref: net/netfilter/nf_conntrack_core.c — nf_conntrack_init_start
func DefaultConfig() Config {
	s := make(map[string]int64, len(sysctlDefaults))
	for k, v := range sysctlDefaults {
		s[sysctlPrefix+k] = v
	}
	return Config{Max: defaultBuckets, Buckets: defaultBuckets, Sysctls: s}
}

// SetSysctl sets one net.netfilter.* (or net.nf_conntrack_max) key. Values
// are what one would write to /proc: integers, timeouts in seconds. Unknown
// keys, read-only keys and values the kernel would refuse are errors.
func (c *Config) SetSysctl(key, value string) error {
	name, ok := strings.CutPrefix(key, sysctlPrefix)
	if !ok {
		if key != "net.nf_conntrack_max" {
			return fmt.Errorf("ct: unknown sysctl %q (want net.netfilter.nf_conntrack_* or net.nf_conntrack_max)", key)
		}
		name = keyMax
	}
	v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return fmt.Errorf("ct: sysctl %s: invalid value %q: not an integer", key, value)
	}
	switch name {
	case keyCount:
		return fmt.Errorf("ct: sysctl %s is read-only", key)
	case keyMax:
		if v < 0 || v > 1<<31-1 {
			return fmt.Errorf("ct: sysctl %s: value %d out of range", key, v)
		}
		c.Max = int(v)
		return nil
	case keyBuckets:
		// nf_conntrack_hash_sysctl: the size is rounded up to whole pages
		// of bucket heads (512 on 4 KiB pages); 0 is refused.
		if v <= 0 || v > 1<<26 {
			return fmt.Errorf("ct: sysctl %s: value %d out of range", key, v)
		}
		c.Buckets = int((v + 511) / 512 * 512)
		return nil
	}
	if _, ok := sysctlDefaults[name]; !ok {
		return fmt.Errorf("ct: unknown sysctl %q; known: %s", key, knownKeys())
	}
	if v < 0 || v > 1<<31-1 {
		return fmt.Errorf("ct: sysctl %s: value %d out of range", key, v)
	}
	if c.Sysctls == nil {
		c.Sysctls = map[string]int64{}
	}
	c.Sysctls[sysctlPrefix+name] = v
	return nil
}

func knownKeys() string {
	ks := []string{keyMax, keyBuckets}
	for k := range sysctlDefaults {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return "net.netfilter." + strings.Join(ks, ", net.netfilter.")
}

// sysctl returns the value of a net.netfilter key, the default when unset.
func (c *Config) sysctl(name string) int64 {
	if v, ok := c.Sysctls[sysctlPrefix+name]; ok {
		return v
	}
	return sysctlDefaults[name]
}
