#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End-to-end check of examples/fileserver.c:
#
#   fileserver_test.sh PATH/TO/zc-fileserver
#
# Serves a 1 MiB tmpfs file over loopback and checks every byte a client
# gets; rewrites the file from another process, which breaks the server's
# write lease: that open must not wait for lease-break-time, and the next
# client must get the NEW contents (the server re-registers on the
# revocation event); rewrites it once more; then checks the server's exit
# status after --max clients, and that SIGTERM stops it cleanly.
#
# Exit status: 0 pass, 1 fail, 77 skip (no tmpfs /dev/shm, or no io_uring
# pinning / file leases on this machine), with the reason printed.
set -u

srv=${1:-}
size=$((1 << 20))
max_open_ms=10000 # a lease the library failed to release holds an open 45 s
dir=
pid=

say() { echo "fileserver_test: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() {
	say "FAIL: $*"
	[ -n "$dir" ] && [ -f "$dir/log" ] && sed 's/^/  server| /' "$dir/log"
	exit 1
}
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$dir" ] && rm -rf "$dir"
}
trap cleanup EXIT

[ -n "$srv" ] || { echo "usage: $0 PATH/TO/zc-fileserver" >&2; exit 1; }
[ -x "$srv" ] || fail "$srv is not an executable"
if [ ! -d /dev/shm ] || [ ! -w /dev/shm ]; then
	skip "/dev/shm is missing or not writable"
fi
[ "$(stat -f -c %T /dev/shm)" = tmpfs ] || skip "/dev/shm is not tmpfs"
dir=$(mktemp -d /dev/shm/zc-fileserver-test.XXXXXX) ||
	skip "cannot create a directory in /dev/shm"
file=$dir/served

# Random contents: a misplaced page or a stale one cannot pass cmp.
for v in a b c; do
	head -c "$size" /dev/urandom >"$dir/$v" || fail "cannot write $dir/$v"
done
cp "$dir/a" "$file" || fail "cannot create $file"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_server ARGS...: sets pid and port once the server listens
start_server() {
	"$srv" "$@" "$file" >"$dir/log" 2>&1 &
	pid=$!
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/log")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "the server did not start listening"
}

# stop_wait SECONDS: waits for the server to exit; its status must be 0
stop_wait() {
	local rc

	for _ in $(seq $(($1 * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "the server did not exit within $1 s"
	wait "$pid"
	rc=$?
	pid=
	[ "$rc" -eq 0 ] || fail "the server exited with status $rc"
}

# fetch N EXPECTED: client N gets the file; it must equal EXPECTED
fetch() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 20 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && cat <&3 >"$2"' \
		_ "$port" "$dir/got$1" || fail "client $1: connection failed or timed out"
	cmp "$dir/got$1" "$2" || fail "client $1: wrong contents (expected $(basename "$2"))"
	say "client $1: $size bytes match $(basename "$2"): $(grep "^client $1: " "$dir/log")"
}

# rewrite FROM: another process overwrites the file in place
rewrite() {
	local t0 ms
	t0=$(now_ms)
	dd if="$1" of="$file" bs=1M conv=notrunc status=none || fail "dd into $file failed"
	ms=$(($(now_ms) - t0))
	say "rewrite with $(basename "$1") took $ms ms (its open breaks a lease)"
	[ "$ms" -le "$max_open_ms" ] ||
		fail "rewrite took $ms ms: the lease was not released promptly"
}

start_server --max 3
if ! grep -q "on backend pin_lease" "$dir/log"; then
	why=$(grep -E '^ +pin_lease ' "$dir/log" | tr -s ' ')
	grep -qE 'no pinning agent|leases disabled|RLIMIT_MEMLOCK' <<<"$why" &&
		skip "no pin_lease here:${why#*pin_lease}"
	fail "the registration did not land on pin_lease"
fi

fetch 1 "$dir/a"
grep -q "^client 1: sent $size bytes ($size by send_zc" "$dir/log" ||
	grep -q "^client 1: send_zc: " "$dir/log" ||
	fail "client 1 was neither served by send_zc nor told why not"

rewrite "$dir/b"
fetch 2 "$dir/b"
grep -q "^event: revoked, pin_lease -> bounce" "$dir/log" ||
	fail "the server did not report the revocation"
grep -q "^registering .* again" "$dir/log" || fail "the server did not re-register"
say "re-registered on $(grep "on backend" "$dir/log" | sed -n '2s/.*on backend \([a-z_]*\).*/\1/p')"

rewrite "$dir/c"
fetch 3 "$dir/c"
stop_wait 10
say "served 3 clients, then exited with status 0; it reported:"
grep -E "^(event|registering|/)" "$dir/log" | sed 's/^/  server| /'

start_server
kill -TERM "$pid"
stop_wait 10
grep -q "stopping" "$dir/log" || fail "SIGTERM: the server did not say it stopped"
say "SIGTERM: stopped with status 0"
say PASS
exit 0
