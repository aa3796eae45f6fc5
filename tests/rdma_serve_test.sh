#!/bin/bash
# SPDX-License-Identifier: MIT
#
# examples/rdma_serve.c end to end on a real RDMA device (rxe in the test
# guest):
#
#   rdma_serve_test.sh PATH/TO/zc-rdma-serve
#
# A file of random bytes on ext4 ($ZC_TEST_EXT4_DIR, else a temporary
# directory) is served twice: a range at an odd offset and length as the
# library chooses by default (rxe-odp-subpage in force: not odp_mr), and a
# page-aligned range with ZC_QUIRKS=ignore:rxe-odp-subpage, which must be
# odp_mr on a device with ODP. Each time the client's READs must match
# pread byte for byte (the example checks and says so).
#
# Exit status: 0 pass, 1 fail, 77 skip (no RDMA device: the example's own
# 77), with the reason printed.
set -u

zcs=${1:-}
dir=
say() { echo "rdma_serve_test: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$dir" ] && rm -rf "$dir"; }
trap cleanup EXIT

[ -x "$zcs" ] || fail "usage: rdma_serve_test.sh PATH/TO/zc-rdma-serve"
dir=$(mktemp -d "${ZC_TEST_EXT4_DIR:-${TMPDIR:-/tmp}}/zt-rdma-serve.XXXXXX") ||
	fail "mktemp -d"
head -c $((3 * 1024 * 1024 + 4321)) /dev/urandom >"$dir/f" || fail "cannot write $dir/f"

run() { # expected-backend-or-empty, then the example's arguments
	local want=$1 out rc
	shift
	out=$("$zcs" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	((rc == 77)) && skip "$(tail -n 1 <<<"$out")"
	((rc == 0)) || fail "zc-rdma-serve $* exited $rc"
	grep -q '^zc-rdma-serve: every byte right$' <<<"$out" ||
		fail "zc-rdma-serve $*: no verdict line"
	grep -q ': 0 bytes differ from pread of the file$' <<<"$out" ||
		fail "zc-rdma-serve $*: the client's count of wrong bytes is missing"
	if [ -n "$want" ]; then
		grep -q "^server: backend $want," <<<"$out" ||
			fail "zc-rdma-serve $*: not served by $want"
	fi
}

run "" "$dir/f" 1000 $((2 * 1024 * 1024 + 777))
ZC_QUIRKS=ignore:rxe-odp-subpage run odp_mr "$dir/f" 4096 $((2 * 1024 * 1024))
say "PASS"
