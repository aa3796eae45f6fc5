#!/bin/bash
# SPDX-License-Identifier: MIT
#
# zcbench, as a user runs it:
#
#   zcbench_test.sh PATH/TO/zcbench [PATH/TO/zcinfo]
#
# Short runs (a fixed number of operations) on a tmpfs file and, where
# there is one that takes O_DIRECT, an ext4 file: synchronous and queued,
# reads and writes, submission batches, a forced backend, the memcpy
# probe. Each report must count exactly the operations asked for, with no
# errors, the bytes they move, the mode, batch and backend asked for, a
# path that matches the file system, and a file written through zcbench
# must hold what a write of zcbench's buffer puts there. Bad arguments
# exit 2, a missing file with --no-create exits 1.
#
# Exit status: 0 pass, 1 fail, 77 skip (no tmpfs at /dev/shm), with the
# reason printed.
set -u

zcb=${1:-}
zci=${2:-$(dirname "${1:-.}")/zcinfo} # the file's O_DIRECT alignment
dir=
ext=

say() { echo "zcbench_test: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; exit 1; }
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	[ -n "$dir" ] && rm -rf "$dir"
	[ -n "$ext" ] && rm -rf "$ext"
}
trap cleanup EXIT

[ -n "$zcb" ] || { echo "usage: $0 PATH/TO/zcbench [PATH/TO/zcinfo]" >&2; exit 1; }
[ -x "$zcb" ] || fail "$zcb is not an executable"
[ -x "$zci" ] || fail "$zci is not an executable (zcinfo: the second argument)"
[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || skip "/dev/shm is not tmpfs"
dir=$(mktemp -d /dev/shm/zcbench-test.XXXXXX) || fail "mktemp in /dev/shm"

# the value of the first field NAME in zcbench's one-line JSON (the
# top-level one: attempts, stats and samples come after it)
field() { # JSON NAME
	grep -o "\"$2\":[^,}]*" <<<"$1" | head -n 1 | cut -d: -f2- | tr -d '"'
}

# run ARGS...: zcbench -j with ARGS, checked against what they ask for
run() {
	local out ops bs rc want_ops=0 want_bs=4096 want_mode=sync want_batch=1 qd=32 a
	local -a args=("$@")

	for ((a = 0; a < ${#args[@]}; a++)); do
		case ${args[a]} in
		-n) want_ops=${args[a + 1]} ;;
		-b) want_bs=${args[a + 1]} ;;
		-m) want_mode=${args[a + 1]} ;;
		-q) qd=${args[a + 1]} ;;
		--batch) want_batch=${args[a + 1]} ;;
		--memcpy) want_mode=memcpy ;;
		esac
	done
	want_bs=$(numfmt --from=iec "${want_bs^^}")
	((want_batch > qd)) && want_batch=$qd # zcbench caps it at the depth
	out=$("$zcb" -j "$@" 2>&1)
	rc=$?
	[ $rc = 0 ] || fail "zcbench $* exited $rc: $out"
	ops=$(field "$out" ops)
	bs=$(field "$out" bs)
	[ "$ops" = "$want_ops" ] || fail "zcbench $*: $ops operations, asked for $want_ops"
	[ "$(field "$out" errors)" = 0 ] || fail "zcbench $*: errors: $out"
	[ "$bs" = "$want_bs" ] || fail "zcbench $*: bs $bs, asked for $want_bs"
	[ "$(field "$out" bytes)" = $((ops * bs)) ] ||
		fail "zcbench $*: $(field "$out" bytes) bytes for $ops operations of $bs"
	[ "$(field "$out" mode)" = "$want_mode" ] ||
		fail "zcbench $*: mode $(field "$out" mode), asked for $want_mode"
	if [ "$want_mode" = async ]; then
		[ "$(field "$out" batch)" = "$want_batch" ] ||
			fail "zcbench $*: batch $(field "$out" batch), asked for $want_batch"
	fi
	REPLY=$out
}

f=$dir/data
run -s 16M -b 4k -r randread -n 2000 "$f"
[ "$(field "$REPLY" path)" = sync ] || fail "synchronous run reports path $(field "$REPLY" path)"
[ "$(field "$REPLY" fs)" = tmpfs ] || fail "fs $(field "$REPLY" fs) for a file in /dev/shm"
[ "$(stat -c %s "$f")" = $((16 << 20)) ] || fail "the file was not laid out to 16 MiB"

# queued operations on tmpfs run inside zc_submit
run -s 16M -b 64k -r read -m async -q 8 -n 1000 --no-create "$f"
[ "$(field "$REPLY" path)" = inline ] || fail "tmpfs queue reports path $(field "$REPLY" path)"
run -s 16M -b 4k -r randwrite -m async -q 16 --batch 4 -n 3000 --no-create "$f"
run -s 16M -b 128k -r write -m async -q 4 --batch 9 -n 200 --no-create "$f"
[ "$(field "$REPLY" batch)" = 4 ] || fail "--batch above the queue depth not capped: $(field "$REPLY" batch)"

# a forced backend is the one used
run -s 16M -b 4k -r randread -B bounce -n 500 --no-create "$f"
[ "$(field "$REPLY" backend)" = bounce ] || fail "-B bounce ran on $(field "$REPLY" backend)"
[ "$(field "$REPLY" remote)" = 0 ] || fail "remote $(field "$REPLY" remote) without --remote"
grep -q '"quirks_applied":\[\],"prefetch":null,' <<<"$REPLY" ||
	fail "without --remote: quirks or a prefetch outcome reported: $REPLY"
# --remote: where the registration cannot have a memory region (no RDMA
# device) it fails, saying so, instead of running without one; where it
# has one, the report gives the prefetch outcome and where the MR is
out=$("$zcb" -j --remote -s 16M -b 4k -r randread -n 100 --no-create "$f" 2>&1)
rc=$?
if [ $rc = 0 ]; then
	[ "$(field "$out" remote)" = 1 ] || fail "--remote: remote is not 1: $out"
	grep -q '"prefetch":{"error":-\?[0-9]*,"result":"[^"]*"}' <<<"$out" ||
		fail "--remote: no prefetch outcome: $out"
	grep -q '"quirks_applied":\[' <<<"$out" || fail "--remote: no quirks_applied: $out"
	say "--remote: $(grep -o '"backend":"[a-z_]*"' <<<"$out" | head -n 1)," \
		"$(grep -o '"quirks_applied":[^]]*]' <<<"$out"), $(grep -o '"prefetch":{[^}]*}' <<<"$out")"
else
	[ $rc = 1 ] && grep -q 'zc_reg_create (backends auto, remote access): ' <<<"$out" ||
		fail "--remote failed without saying why (exit $rc): $out"
	say "--remote here: $out"
fi
run -s 16M -b 1M -r read --memcpy -n 50 --no-create "$f"

# what a write puts in the file: zcbench's buffer, byte i = i * 31 + 1
g=$dir/written
run -s 1M -b 64k -r write -n 16 "$g"
cmp -s <(head -c 65536 "$g") <(perl -e 'print pack("C*", map { ($_ * 31 + 1) & 255 } 0 .. 65535)') ||
	fail "the first block written does not hold zcbench's buffer"

# O_DIRECT on ext4, where this machine has it ($ZC_TEST_EXT4_DIR first: the
# real-kernel guest's ext4 on NVMe)
for d in ${ZC_TEST_EXT4_DIR:-} /var/tmp /tmp; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ]; then
		ext=$(mktemp -d "$d/zcbench-test.XXXXXX") || fail "mktemp in $d"
		break
	fi
done
if [ -n "$ext" ] && dd if=/dev/zero of="$ext/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
	e=$ext/data
	run -s 16M -b 4k -r randread -d -n 500 "$e"
	run -s 16M -b 128k -r read -m async -q 8 --batch 2 -d -n 300 --no-create "$e"
	case $(field "$REPLY" path) in
	ring | inline) ;;
	*) fail "O_DIRECT queue reports path $(field "$REPLY" path)" ;;
	esac
	# every buffer one byte past the memory alignment the file's queue asks
	# for (512 on virtio, 4 on NVMe): those ops are staged, inline. Slot k
	# of the queue starts 1 + k * 4097 bytes into the page-aligned buffer,
	# which is k + 1 modulo any alignment up to 4096: with fewer slots than
	# the alignment, none of them is aligned.
	info=$("$zci" --json "$e") || fail "$zci --json $e: $info"
	align=$(grep -o '"dio_mem_align":[0-9]*' <<<"$info" | head -n 1)
	align=${align#*:}
	[ -n "$align" ] || fail "zcinfo --json gives no dio_mem_align for $e: $info"
	if [ "$align" -ge 2 ]; then
		qd=$((align - 1 < 8 ? align - 1 : 8))
		run -s 16M -b 4k -r randwrite -m async -q $qd -d --misalign 1 -n 300 --no-create "$e"
		[ "$(field "$REPLY" path)" = inline ] ||
			fail "O_DIRECT queue ops misaligned for dio_mem_align $align must be staged inline: $(field "$REPLY" path)"
	else
		say "dio_mem_align is $align: no buffer is misaligned, that check left out"
	fi
else
	say "no ext4 directory taking O_DIRECT: O_DIRECT runs left out"
fi

# usage errors and a missing file
"$zcb" -q 0 "$f" >/dev/null 2>&1
[ $? = 2 ] || fail "-q 0 did not exit 2"
"$zcb" --batch 0 "$f" >/dev/null 2>&1
[ $? = 2 ] || fail "--batch 0 did not exit 2"
"$zcb" -B nosuchbackend "$f" >/dev/null 2>&1
[ $? = 2 ] || fail "an unknown backend did not exit 2"
"$zcb" -n 1 --no-create "$dir/missing" >/dev/null 2>&1
[ $? = 1 ] || fail "a missing file with --no-create did not exit 1"
[ ! -e "$dir/missing" ] || fail "--no-create created the file"

say "pass"
