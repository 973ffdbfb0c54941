#!/bin/bash
# Records what the running Linux kernel and nft do with each replay case
# (ruleset.nft + traffic.pcap + params.json) and stores it as the case's
# kernel.json (netlink.txt and listing.txt: what nft --debug=netlink -c and
# nft list ruleset print), the references the golden tests check nftgo against.
#
# Needs root, nft, conntrack, /usr/bin/python3 with python3-scapy, and the
# kernel oracle of ../shared/oracle (run from anywhere in the repository):
#     sudo testdata/replay/record-kernel.sh [--check] [CASE...]
# --check re-runs the kernel and compares with the stored kernel.json
# instead of writing it (exit 1 on a difference).
# The oracle runs each case twice in a throwaway network namespace and only
# writes kernel.json when both runs agree; global sysctls it changes
# (nf_conntrack_max) are restored.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
oracle=${ORACLE:-$here/../../../shared/oracle}
if [ ! -x "$oracle/runscen.py" ]; then
	echo "record-kernel: no kernel oracle at $oracle (set ORACLE=DIR)" >&2
	exit 2
fi
check=()
if [ "${1:-}" = "--check" ]; then
	check=(--check)
	shift
fi
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in "$here"/*/; do cases+=("$(basename "$d")"); done
fi
# The oracle changes the global nf_conntrack_max for table-full cases: hold
# the lock internal/kernel's runs share (exclusive), so no other kernel run
# of this project happens meanwhile.
mkdir -p /run/nftgo-kernel
exec 9>>/run/nftgo-kernel/lock
flock -x 9
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for c in "${cases[@]}"; do
	mkdir -p "$stage/$c"
	cp "$here/$c/ruleset.nft" "$here/$c/params.json" "$stage/$c/"
	cp "$here/$c/traffic.pcap" "$stage/$c/packets.pcap"
	if [ -f "$here/$c/kernel.json" ]; then cp "$here/$c/kernel.json" "$stage/$c/"; fi
done
status=0
(cd "$stage" && "$oracle/runscen.py" --runs 2 "${check[@]}" "${cases[@]/#/$stage/}") || status=$?
# nft's own view of each ruleset: the bytecode it sends and the listing
# after the load, each from a fresh namespace (cmd/nftgo's tests compare).
ns=nftgo_record_$$
for c in "${cases[@]}"; do
	ip netns add "$ns"
	(cd "$here/$c" && ip netns exec "$ns" nft --debug=netlink -c -f ruleset.nft) >"$stage/$c/netlink.txt" || status=1
	ip netns exec "$ns" nft -f "$here/$c/ruleset.nft" || status=1
	ip netns exec "$ns" nft list ruleset >"$stage/$c/listing.txt" || status=1
	ip netns del "$ns"
	for f in netlink.txt listing.txt; do
		if [ ${#check[@]} -gt 0 ]; then
			diff -u "$here/$c/$f" "$stage/$c/$f" || status=1
		else
			cp "$stage/$c/$f" "$here/$c/$f"
		fi
	done
done
[ ${#check[@]} -gt 0 ] && exit $status
for c in "${cases[@]}"; do
	if [ -f "$stage/$c/kernel.json" ]; then
		cp "$stage/$c/kernel.json" "$here/$c/kernel.json"
		echo "recorded $c/kernel.json"
	fi
done
exit $status
