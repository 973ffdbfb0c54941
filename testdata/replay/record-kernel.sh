#!/bin/bash
# Records what the running Linux kernel and nft do with each replay case
# (ruleset.nft + traffic.pcap + params.json) and stores it as the case's
# kernel.json (netlink.txt and listing.txt: what nft --debug=netlink -c and
# nft list ruleset print), the references the golden tests check nftgo against.
#
# The kernel side is the project's own harness (internal/kernel, normalised by
# internal/scenario), driven by `go test ./replay -run TestKernel`: each case
# runs -kernel-runs times (2) in a throwaway network namespace and kernel.json
# is only written when the runs agree; global sysctls (nf_conntrack_max) are
# restored. Needs root, Go, nft, conntrack and iproute2 (run from anywhere):
#     sudo testdata/replay/record-kernel.sh [--check] [CASE...]
# --check re-runs the kernel and compares with the stored files instead of
# writing them (exit 1 on a difference).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mode=-record
if [ "${1:-}" = "--check" ]; then
	mode=-kernel
	shift
fi
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in "$here"/*/; do cases+=("$(basename "$d")"); done
fi
status=0
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for c in "${cases[@]}"; do
	if ! (cd "$repo" && go test ./replay -run '^TestKernel$' -count=1 -v -args "$mode" -kernel-case "$c") >"$stage/log" 2>&1; then
		status=1
		cat "$stage/log"
	else
		grep -E 'recorded|SKIP|--- ' "$stage/log" || true
	fi
done
# nft's own view of each ruleset: the bytecode it sends and the listing
# after the load, each from a fresh namespace (cmd/nftgo's tests compare).
# (No global sysctl changes here, so no lock with internal/kernel's runs.)
ns=nftgo_record_$$
for c in "${cases[@]}"; do
	mkdir -p "$stage/$c"
	ip netns add "$ns"
	(cd "$here/$c" && ip netns exec "$ns" nft --debug=netlink -c -f ruleset.nft) >"$stage/$c/netlink.txt" || status=1
	ip netns exec "$ns" nft -f "$here/$c/ruleset.nft" || status=1
	ip netns exec "$ns" nft list ruleset >"$stage/$c/listing.txt" || status=1
	ip netns del "$ns"
	for f in netlink.txt listing.txt; do
		if [ "$mode" = -kernel ]; then
			diff -u "$here/$c/$f" "$stage/$c/$f" || status=1
		else
			cp "$stage/$c/$f" "$here/$c/$f"
		fi
	done
done
exit $status
