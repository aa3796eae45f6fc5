#!/bin/bash
# SPDX-License-Identifier: MIT
#
# zcinfo, zcbench and zc-p2pcopy on this machine's real p2pmem (the test
# guest of tests/vm: two NVMe CMBs behind one switch, the file on the
# first NVMe's ext4):
#
#   p2p_real_tools_test.sh ZCINFO ZCBENCH P2PCOPY
#
# zcinfo must list the file's own controller at distance 0 and a peer
# behind the switch, both reachable; zcbench --p2p -d must run on p2p_bar
# and -B bounce on bounce over the same memory; zc-p2pcopy must copy on
# p2p_bar. Exit status: 0 pass, 1 fail, 77 skip (no p2pmem, not root, no
# ext4 directory on a PCI disk, no jq), with the reason printed.
set -u

zci=$1 zcb=$2 copy=${3:-}
say() { echo "p2p_real_tools: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }

command -v jq >/dev/null || skip "jq is not installed (Debian package 'jq')"
ls /sys/bus/pci/devices/*/p2pmem/size >/dev/null 2>&1 ||
	skip "no p2pmem publisher in /sys/bus/pci/devices"
((EUID == 0)) || skip "p2pmem/allocate is root's"
dir=${ZC_TEST_EXT4_DIR:-}
[ -n "$dir" ] && [ -d "$dir" ] || skip "ZC_TEST_EXT4_DIR names no directory"
f=$dir/p2p-real-tools.$$
trap 'rm -f "$f"' EXIT
head -c $((8 << 20)) /dev/urandom >"$f" || fail "cannot write $f"

json=$("$zci" --json "$f") || fail "zcinfo --json $f exited $?"
bdf=$(jq -r '.files[0].pci_bdf // empty' <<<"$json")
[ -n "$bdf" ] || skip "$f is not on a PCI disk"
provs=$(jq -c '[.files[0].p2p_providers[] | [.pci_bdf, .reachable, .distance]]' <<<"$json")
say "file on $bdf; providers [bdf, reachable, distance]: $provs"
[ "$(jq -r '.files[0].p2p_providers[0].pci_bdf' <<<"$json")" = "$bdf" ] ||
	fail "the file's own controller $bdf is not first: $provs"
[ "$(jq -r '.files[0].p2p_providers[0].distance' <<<"$json")" = 0 ] ||
	fail "the own controller is not at distance 0: $provs"
peer=$(jq -r '[.files[0].p2p_providers[] | select(.reachable == true and .distance > 0)][0].pci_bdf // empty' <<<"$json")
[ -n "$peer" ] || fail "no reachable peer publisher: $provs"
say "peer $peer: $(jq -r --arg b "$peer" '.files[0].p2p_providers[] | select(.pci_bdf == $b) | .reason' <<<"$json")"

for be in p2p_bar bounce; do
	out=$("$zcb" -j -d --p2p="$peer" -B "$be" -s 8M -b 1M -r read -n 256 --no-create "$f" 2>&1) ||
		fail "zcbench --p2p=$peer -B $be exited $?: $out"
	grep -q "\"backend\":\"$be\"" <<<"$out" || fail "zcbench -B $be ran elsewhere: $out"
	say "zcbench --p2p=$peer -B $be: $(tr ',' '\n' <<<"$out" | grep -E '"(backend|mem|p2p_provider|ops|bytes|bw_mib_s)"' | tr '\n' ' ')"
done

if [ -z "$copy" ]; then
	say "PASS (zc-p2pcopy not built)"
	exit 0
fi
out=$("$copy" "$f" 4096 1048576 $((4 << 20)) 2>&1) || fail "zc-p2pcopy exited $?: $out"
grep -q p2p_bar <<<"$out" || fail "zc-p2pcopy did not run on p2p_bar: $out"
cmp <(tail -c +4097 "$f" | head -c 1048576) <(tail -c +$(((4 << 20) + 1)) "$f" | head -c 1048576) ||
	fail "zc-p2pcopy's copy differs from the source range"
say "zc-p2pcopy: $(grep -m1 -i 'backend' <<<"$out")"
say "PASS"
