#!/bin/bash
# Records what the running Linux kernel does with each replay case
# (ruleset.nft + traffic.pcap + params.json) and stores it as the case's
# kernel.json, the reference the golden tests check nftgo against.
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
[ ${#check[@]} -gt 0 ] && exit $status
for c in "${cases[@]}"; do
	if [ -f "$stage/$c/kernel.json" ]; then
		cp "$stage/$c/kernel.json" "$here/$c/kernel.json"
		echo "recorded $c/kernel.json"
	fi
done
exit $status
