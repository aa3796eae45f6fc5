#!/bin/bash
# SPDX-License-Identifier: MIT
#
# zcinfo, zcbench and examples/p2pcopy.c on PCIe peer memory, as a user
# runs them, over the fake machine of test_p2p_bar (its sysfs tree for the
# file's directory, $ZC_SYSFS_ROOT, and the PCI topology DUMP,
# $ZC_PCI_DUMP): the file's disk is NVMe 0000:03:00.0, which publishes
# p2pmem itself; 0000:04:00.0 publishes behind the same switch (2 + 2
# hops), 0000:05:00.0 only through the host bridge, 0000:07:00.0 outside
# the topology. Each p2pmem/allocate is a regular file, so data moves.
#
#   p2p_tools_test.sh TEST_P2P_BAR DUMP ZCINFO ZCBENCH [ZC_P2PCOPY]
#
# zcinfo's JSON must list the four publishers for the file, nearest first,
# with reach and distance (03:00.0 at 0, 04:00.0 at 4, 07:00.0 unreachable),
# and the machine's list with the reach unknown; zcbench --p2p must run on
# p2p_bar with the memory and the provider in its JSON, on bounce when
# forced or without O_DIRECT, and what it writes must come from the
# device memory; zc-p2pcopy must copy and verify on p2p_bar and exit 3
# on a machine without p2pmem.
#
# Exit status: 0 pass, 1 fail, 77 skip (no jq, no ext4 directory that
# takes O_DIRECT), with the reason printed.
set -u

tree=${1:-} dump=${2:-} zci=${3:-} zcb=${4:-} cp=${5:-}
dir=

say() { echo "p2p_tools_test: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$dir" ] && rm -rf "$dir"; }
trap cleanup EXIT

[ -x "$tree" ] && [ -r "$dump" ] && [ -x "$zci" ] && [ -x "$zcb" ] ||
	fail "usage: p2p_tools_test.sh TEST_P2P_BAR DUMP ZCINFO ZCBENCH [ZC_P2PCOPY]"
command -v jq >/dev/null || skip "jq is not installed (Debian package 'jq')"

# a directory on ext4 that takes O_DIRECT: the fake tree puts its disk on NVMe
for d in ${ZC_TEST_EXT4_DIR:-} /var/tmp /tmp; do
	[ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ] || continue
	dir=$(mktemp -d "$d/p2p-tools.XXXXXX") || continue
	if dd if=/dev/zero of="$dir/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
		break
	fi
	rm -rf "$dir"
	dir=
done
[ -n "$dir" ] || skip "no ext4 directory taking O_DIRECT (\$ZC_TEST_EXT4_DIR, /var/tmp, /tmp)"
root=$("$tree" tree "$dir") || fail "test_p2p_bar tree $dir exited $?"
export ZC_SYSFS_ROOT=$root ZC_PCI_DUMP=$dump
unset ZC_FAULT ZC_BACKENDS
f=$dir/data
head -c $((4 << 20)) /dev/urandom >"$f" || fail "cannot write $f"

# ------------------------------------------------------------------
# zcinfo

json=$("$zci" --json "$f") || fail "zcinfo --json $f exited $?"
jq -e . >/dev/null <<<"$json" || fail "zcinfo --json is not JSON: $json"
prov() { # BDF -> the file's provider object
	jq -c --arg b "$1" '.files[0].p2p_providers[] | select(.pci_bdf == $b)' <<<"$json"
}
[ "$(jq '.files[0].p2p_providers | length' <<<"$json")" = 4 ] ||
	fail "the file has not 4 providers: $(jq -c .files[0].p2p_providers <<<"$json")"
[ "$(jq -r '.files[0].p2p_error' <<<"$json")" = null ] || fail "p2p_error for the file"
[ "$(jq -r '.files[0].p2p_providers[0].pci_bdf' <<<"$json")" = 0000:03:00.0 ] ||
	fail "the nearest provider is not the file's own 0000:03:00.0"
p=$(prov 0000:03:00.0)
[ "$(jq -c '[.reachable, .distance, .published, .size]' <<<"$p")" = "[true,0,true,8388608]" ] ||
	fail "0000:03:00.0: $p"
p=$(prov 0000:04:00.0)
[ "$(jq -c '[.reachable, .distance]' <<<"$p")" = "[true,4]" ] || fail "0000:04:00.0: $p"
jq -r .reason <<<"$p" | grep -q 0000:01:00.0 || fail "0000:04:00.0's reason names no switch: $p"
p=$(prov 0000:07:00.0)
[ "$(jq -c '[.reachable, .distance]' <<<"$p")" = "[false,null]" ] || fail "0000:07:00.0: $p"
[ -n "$(jq -r .reason <<<"$p")" ] || fail "0000:07:00.0 has no reason: $p"
# the machine's list: every publisher, reach unknown without a file
[ "$(jq -c '[.p2p.providers[] | [.reachable, .distance]] | unique' <<<"$json")" = "[[null,null]]" ] ||
	fail "the machine's list claims a reach: $(jq -c .p2p <<<"$json")"
[ "$(jq '.p2p.providers | length' <<<"$json")" = 4 ] || fail "the machine's list: $(jq -c .p2p <<<"$json")"
# the text carries the same facts
text=$("$zci" "$f") || fail "zcinfo $f exited $?"
grep -q '^PCIe peer memory:' <<<"$text" || fail "zcinfo's text has no PCIe peer memory section"
grep -A6 '^      provider 0000:04:00.0:' <<<"$text" | grep -q 'distance: *4 PCI hops' ||
	fail "zcinfo's text lacks 0000:04:00.0 at 4 hops: $text"
say "zcinfo: $(jq -c '[.files[0].p2p_providers[] | [.pci_bdf, .reachable, .distance]]' <<<"$json")"

# ------------------------------------------------------------------
# zcbench

field() { jq -r "$2" <<<"$1"; }
bench() { # EXPECTED_BACKEND ARGS...
	local want=$1 out
	shift
	out=$("$zcb" -j -s 4M "$@" "$f" 2>/dev/null) || fail "zcbench $* exited $?: $out"
	[ "$(field "$out" .mem)" = p2p ] || fail "zcbench $*: mem $(field "$out" .mem)"
	[ "$(field "$out" .backend)" = "$want" ] ||
		fail "zcbench $*: backend $(field "$out" .backend), not $want: $out"
	[ "$(field "$out" .errors)" = 0 ] || fail "zcbench $*: errors: $out"
	[ "$(field "$out" ".stats.${want}_ops")" = "$(field "$out" .ops)" ] ||
		fail "zcbench $*: not every operation on $want: $(field "$out" .stats)"
	REPLY=$out
}
bench p2p_bar --p2p -d -b 64k -r randread -n 200
[ "$(field "$REPLY" .p2p_provider)" = 0000:03:00.0 ] ||
	fail "--p2p: provider $(field "$REPLY" .p2p_provider), not the nearest 0000:03:00.0"
bench p2p_bar --p2p -d -B p2p_bar -b 64k -r read -n 64 --no-create
bench bounce --p2p -d -B bounce -b 64k -r read -n 64 --no-create
[ "$(field "$REPLY" .p2p_provider)" = 0000:03:00.0 ] || fail "-B bounce: provider $(field "$REPLY" .p2p_provider)"
bench bounce --p2p -b 64k -r read -n 64 --no-create # buffered: staged
# a named peer; what lands in the file comes from its memory
bench p2p_bar --p2p=0000:04:00.0 -d -b 64k -r write -n 16 --no-create
[ "$(field "$REPLY" .p2p_provider)" = 0000:04:00.0 ] || fail "--p2p=0000:04:00.0: $(field "$REPLY" .p2p_provider)"
pattern=$(perl -e 'print pack("C*", map { ($_ * 31 + 1) & 255 } 0 .. 65535)' | md5sum)
[ "$(head -c 65536 "$f" | md5sum)" = "$pattern" ] ||
	fail "the first block written does not hold zcbench's buffer"
[ "$(head -c 65536 "$root/bus/pci/devices/0000:04:00.0/p2pmem/allocate" | md5sum)" = "$pattern" ] ||
	fail "zcbench's buffer is not in 0000:04:00.0's p2pmem"
# p2p_bar alone with host memory: refused, saying what is missing
out=$("$zcb" -j -d -B p2p_bar -s 4M -n 10 --no-create "$f" 2>&1)
[ $? = 1 ] && grep -q 'add --p2p' <<<"$out" || fail "-B p2p_bar without --p2p: $out"
# no p2pmem at all
mkdir -p "$dir/empty/bus/pci/devices"
out=$(ZC_SYSFS_ROOT=$dir/empty "$zcb" -j -d --p2p -s 4M -n 10 --no-create "$f" 2>&1)
[ $? = 1 ] && grep -q 'no device publishes p2pmem' <<<"$out" || fail "--p2p without p2pmem: $out"
say "zcbench: --p2p on p2p_bar, -B bounce and buffered on bounce"

# ------------------------------------------------------------------
# examples/p2pcopy.c

if [ -n "$cp" ]; then
	[ -x "$cp" ] || fail "$cp is not an executable"
	out=$("$cp" "$f" 1000 70000 $((2 << 20)) 2>&1) || fail "zc-p2pcopy exited $?: $out"
	grep -q 'bytes of p2pmem from 0000:03:00.0' <<<"$out" || fail "zc-p2pcopy: not the nearest: $out"
	grep -q '^backend p2p_bar' <<<"$out" || fail "zc-p2pcopy: not on p2p_bar: $out"
	cmp -s <(tail -c +1001 "$f" | head -c 70000) <(tail -c +$(((2 << 20) + 1)) "$f" | head -c 70000) ||
		fail "zc-p2pcopy: the range at 2 MiB is not the range at 1000"
	out=$(ZC_SYSFS_ROOT=$dir/empty "$cp" "$f" 0 4096 8192 2>&1)
	rc=$?
	[ $rc = 3 ] && grep -q 'no PCIe peer memory' <<<"$out" ||
		fail "zc-p2pcopy without p2pmem exited $rc: $out"
	say "zc-p2pcopy: copied on p2p_bar, exit 3 without p2pmem"
fi
say "pass"
