#!/bin/sh
# Regenerates the reference side of the golden files from the real nft
# 1.0.6, each ruleset in a fresh network namespace (run as root):
#   sh compiler/list/testdata/refresh.sh
# Writes next to each ruleset.nft: netlink.txt (nft --debug=netlink -f),
# list.txt (nft list ruleset), list-a.txt (nft -a list ruleset) and
# list.json (nft -j list ruleset).
set -e
cd "$(dirname "$0")"
for d in */; do
	d=${d%/}
	[ -f "$d/ruleset.nft" ] || continue
	ns=nftgo-list-$$
	ip netns add $ns
	ip netns exec $ns nft --debug=netlink -f "$d/ruleset.nft" > "$d/netlink.txt"
	ip netns exec $ns nft list ruleset > "$d/list.txt"
	ip netns exec $ns nft -a list ruleset > "$d/list-a.txt"
	ip netns exec $ns nft -j list ruleset > "$d/list.json"
	ip netns del $ns
done
