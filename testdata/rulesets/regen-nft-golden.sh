#!/bin/sh
# Regenerates the reference side of the compiler goldens with the real nft
# (1.0.6) in a throwaway network namespace. Run as root from anywhere:
#   sh testdata/rulesets/regen-nft-golden.sh
# For each testdata/rulesets/<name>/ruleset.nft it writes
#   nft.golden      `nft --debug=netlink -c -f ruleset.nft` (stdout, or stderr on error)
#   handles.golden  `nft -a list ruleset` after `nft -f ruleset.nft` (handles as the kernel assigns them)
# nftgo's side (bytecode.golden) is rewritten by `go test ./compiler/ -update`.
set -e
cd "$(dirname "$0")"
for d in */; do
	d=${d%/}
	[ -f "$d/ruleset.nft" ] || continue
	ns=nftgo_golden_$$
	ip netns add "$ns"
	trap 'ip netns del "$ns" 2>/dev/null' EXIT
	(cd "$d" && ip netns exec "$ns" nft --debug=netlink -c -f ruleset.nft >nft.golden 2>&1) || true
	# A fresh namespace for the load: `nft -c` uses up table handles.
	ip netns del "$ns"
	ip netns add "$ns"
	if (cd "$d" && ip netns exec "$ns" nft -f ruleset.nft 2>/dev/null); then
		ip netns exec "$ns" nft -a list ruleset >"$d/handles.golden"
	else
		: >"$d/handles.golden"
	fi
	ip netns del "$ns"
	trap - EXIT
	echo "$d"
done
