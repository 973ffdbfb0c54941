#!/bin/sh
# Regenerates testdata/roundtrip from the real nft (run as root from
# compiler/jsonin): for every .nft ruleset of the repository, load it into a
# scratch network namespace, save `nft -j list ruleset` as NAME.json, then
# `nft --debug=netlink -c -j -f NAME.json` as NAME.nl (NAME.nft-err when nft
# rejects it) and `nft --debug=netlink -c -f RULESET.nft` as NAME.text.nl.
# testdata/documents/NAME.json are written by hand; NAME.nl is nft's batch.
# NAME is the ruleset's path from the repository root with "/" as "__".
set -e
ns=jsonin-regen-$$
ip netns add $ns
trap 'ip netns del $ns' EXIT
out=$(pwd)/testdata/roundtrip
for d in testdata/documents/*.json; do
	ip netns exec $ns nft flush ruleset
	ip netns exec $ns nft --debug=netlink -c -j -f "$d" >"${d%.json}.nl"
done
cd ../..
find . -name '*.nft' -not -path './.*' -not -path './compiler/jsonin/*' | sort | while read -r f; do
	name=$(echo "${f#./}" | sed 's|\.nft$||; s|/|__|g')
	ip netns exec $ns nft flush ruleset
	if ! (cd "$(dirname "$f")" && ip netns exec $ns nft -f "$(basename "$f")") 2>/dev/null; then
		echo "skip $f: nft rejects it" >&2
		continue
	fi
	ip netns exec $ns nft -j list ruleset >"$out/$name.json"
	ip netns exec $ns nft flush ruleset
	rm -f "$out/$name.nl" "$out/$name.nft-err"
	if ! ip netns exec $ns nft --debug=netlink -c -j -f "$out/$name.json" >"$out/$name.nl" 2>"$out/$name.nft-err"; then
		rm -f "$out/$name.nl"
	else
		rm -f "$out/$name.nft-err"
	fi
	(cd "$(dirname "$f")" && ip netns exec $ns nft --debug=netlink -c -f "$(basename "$f")") >"$out/$name.text.nl"
done
