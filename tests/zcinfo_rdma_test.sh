#!/bin/bash
# SPDX-License-Identifier: MIT
#
# zcinfo on a machine with an RDMA device (rxe in the test guest):
#
#   zcinfo_rdma_test.sh PATH/TO/zcinfo
#
# Its JSON must report odp_mr available, and every rxe device (vendor id
# 0xffffff: rxe devices are named by the user, so not the name) must list
# the quirk rxe-odp-subpage with its reason and the kernel it was seen on:
# a user reading zcinfo learns both that ODP is there and why remote
# registrations will not use it by default.
#
# Exit status: 0 pass, 1 fail, 77 skip (no RDMA device, or no jq to read
# the JSON), with the reason printed.
set -u

zci=${1:-}
say() { echo "zcinfo_rdma_test: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }

[ -x "$zci" ] || fail "usage: zcinfo_rdma_test.sh PATH/TO/zcinfo"
command -v jq >/dev/null || skip "jq is not installed (Debian package 'jq')"
json=$("$zci" --json) || fail "zcinfo --json exited $?"
jq -e . >/dev/null <<<"$json" || fail "zcinfo --json is not JSON: $json"
ndev=$(jq '.rdma.devices | length' <<<"$json")
if [ "$ndev" = 0 ]; then
	skip "no RDMA device: $(jq -r '.rdma.devices_reason' <<<"$json")"
fi

odp=$(jq -c '.backends[] | select(.name == "odp_mr")' <<<"$json")
say "odp_mr: $odp"
[ "$(jq -r .available <<<"$odp")" = true ] || fail "odp_mr is not available"

nrxe=0
while read -r dev; do
	name=$(jq -r .name <<<"$dev")
	quirk=$(jq -c '[.quirks[]? | select(.name == "rxe-odp-subpage")][0]' <<<"$dev")
	say "device $name (vendor 0x$(printf %x "$(jq .vendor_id <<<"$dev")")," \
		"odp $(jq -c .odp_caps <<<"$dev")): quirk $quirk"
	if [ "$(jq .vendor_id <<<"$dev")" = 16777215 ]; then
		nrxe=$((nrxe + 1))
		[ "$quirk" != null ] || fail "rxe device $name does not list rxe-odp-subpage"
		[ -n "$(jq -r '.reason // empty' <<<"$quirk")" ] &&
			[ -n "$(jq -r '.seen_on // empty' <<<"$quirk")" ] ||
			fail "the quirk on $name lacks a reason or a kernel: $quirk"
	elif [ "$quirk" != null ]; then
		fail "device $name is not rxe but lists rxe-odp-subpage"
	fi
done < <(jq -c '.rdma.devices[]' <<<"$json")
say "PASS: odp_mr available; $nrxe rxe device(s) of $ndev list rxe-odp-subpage"
