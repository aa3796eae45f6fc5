#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Same-run comparison of libzerocopy with its peers.
#
#   bash tests/bench/compare.sh [OUTDIR]
#
# Runs, in one go on the same files, the matrix
#   {tmpfs page cache, ext4 O_DIRECT} x {4 KiB random, 128 KiB sequential,
#   1 MiB sequential} x {sync QD1, async QD32} x {read, write}
# through zcbench with its automatic choice, zcbench forced to each backend,
# fio (psync, and io_uring with fixedbufs+registerfiles), the raw liburing
# fixed-buffer loop uring_loop.c, and a memcpy probe as the ceiling; in the
# async cells also uring_loop -p, a pread/pwrite loop over the queue's
# blocks (the memory footprint of the queue without the queue). Queued
# tools submit each operation as soon as its slot is free, as fio does by
# default (zcbench --batch 1, uring_loop -B 1). Writes
# OUTDIR/results.csv, OUTDIR/results.json, OUTDIR/summary.md,
# OUTDIR/chart.svg (and chart.png), OUTDIR/machine.txt and every tool's raw
# output under OUTDIR/raw/.
#
# Environment (all optional):
#   ZCB_BUILD      cmake build directory holding zcbench; configured and
#                  built when it has none (default OUTDIR/build)
#   ZCB_DUR        seconds per run (default 1)
#   ZCB_REPS       runs per tool and page-cache cell (default 3); the
#                  tools of a cell take turns, each repetition starting one
#                  tool later, so slow drift hits them alike; report.py
#                  keeps the median and pairs the runs of one repetition
#   ZCB_REPS_DEVICE  the same for the O_DIRECT cells (default 5): a
#                  virtual disk varies more
#   ZCB_SIZE       file size (default 1G)
#   ZCB_TMPFS_DIR  tmpfs directory (default /dev/shm)
#   ZCB_EXT4_DIR   ext4 directory for O_DIRECT (default /var/tmp/zcbench)
#   ZCB_CELLS      extended regex: run only cells whose name matches
#   ZCB_KEEP       1: keep the data files afterwards
#   ZCB_NICE       niceness of every measured run (default -10 when run as
#                  root, so background jobs on the machine disturb less;
#                  0 to leave it)
#
# Needs: cmake, gcc, liburing (headers), fio, python3; gnuplot for the
# chart (skipped with a note if missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-bench-results}
mkdir -p "$out/raw"
out=$(cd "$out" && pwd)
build=${ZCB_BUILD:-$out/build}
dur=${ZCB_DUR:-1}
reps=${ZCB_REPS:-3}
reps_dev=${ZCB_REPS_DEVICE:-5}
size=${ZCB_SIZE:-1G}
tmpfs_dir=${ZCB_TMPFS_DIR:-/dev/shm}
ext4_dir=${ZCB_EXT4_DIR:-/var/tmp/zcbench}
cells_re=${ZCB_CELLS:-.}

nice=()
if [[ $(id -u) == 0 && ${ZCB_NICE:--10} != 0 ]]; then nice=(nice -n "${ZCB_NICE:--10}"); fi
log() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "compare.sh: $1 is required" >&2; exit 1; }; }
need cmake; need gcc; need fio; need python3

start_s=$SECONDS

# ------------------------------------------------------------------ build
if [[ ! -x $build/zcbench ]]; then
	log "building zcbench in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DZC_BUILD_TESTS=OFF -DZC_BUILD_EXAMPLES=OFF >"$out/raw/cmake.log"
	cmake --build "$build" --target zcbench zcinfo -j"$(nproc)" >>"$out/raw/cmake.log"
fi
zcbench=$build/zcbench
zcinfo=$build/zcinfo
uring_loop=$out/uring_loop
log "building uring_loop"
gcc -O2 -Wall -o "$uring_loop" "$here/uring_loop.c" -luring -lm

# ------------------------------------------------------------------ machine
{
	echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel:    $(uname -srm)"
	echo "cpu:       $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) online"
	echo "hypervisor: $(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p')"
	echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
	echo "tmpfs dir: $tmpfs_dir ($(stat -f -c %T "$tmpfs_dir"))"
	mkdir -p "$ext4_dir"
	echo "ext4 dir:  $ext4_dir ($(stat -f -c %T "$ext4_dir"), $(df -P "$ext4_dir" | awk 'NR==2 {print $1}'))"
	dev=$(df -P "$ext4_dir" | awk 'NR==2 {print $1}' | sed 's|/dev/||')
	if [[ -e /sys/class/block/$dev ]]; then
		q=/sys/class/block/$dev/queue
		echo "disk:      $dev model=$(cat /sys/class/block/$dev/device/model 2>/dev/null || echo ?) driver=$(basename "$(readlink -f /sys/class/block/$dev/device/driver 2>/dev/null)" 2>/dev/null) scheduler=$(cat $q/scheduler) nr_requests=$(cat $q/nr_requests) rotational=$(cat $q/rotational) max_segments=$(cat $q/max_segments 2>/dev/null) max_sectors_kb=$(cat $q/max_sectors_kb 2>/dev/null)"
	fi
	echo "caches:    $(lscpu 2>/dev/null | sed -n 's/^L\([123][di]*\) cache: *\(.*\)/L\1 \2;/p' | tr '\n' ' ')"
	echo "THP:       anon $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null), shmem $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null), $tmpfs_dir mounted $(findmnt -no OPTIONS --target "$tmpfs_dir" 2>/dev/null | head -n 1)"
	echo "fio:       $(fio --version)"
	echo "liburing:  $(pkg-config --modversion liburing 2>/dev/null || echo unknown)"
	echo "gcc:       $(gcc -dumpfullversion)"
	echo "libzerocopy: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "duration per run: ${dur}s, repetitions: $reps (page cache), $reps_dev (O_DIRECT), file size: $size"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	"$zcinfo" 2>&1 || true
} >"$out/machine.txt"

# ------------------------------------------------------------------ files
tmpfs_file=$tmpfs_dir/zcbench-compare.dat
ext4_file=$ext4_dir/zcbench-compare.dat
cleanup() {
	rm -f "$tmpfs_file"
	[[ ${ZCB_KEEP:-0} == 1 ]] || rm -f "$ext4_file"
}
trap cleanup EXIT
log "laying out $size files"
for f in "$tmpfs_file" "$ext4_file"; do
	"$zcbench" -s "$size" -b 1M -r read -n 1 -j "$f" >/dev/null
done
sync

# ------------------------------------------------------------------ runs
csv_raw=$out/raw/runs.tsv
: >"$csv_raw"

# run NAME TOOL CMD...: time one run, keep its output, note its status
run() {
	local cell=$1 tool=$2 rep=$3; shift 3
	local f=$out/raw/$cell.$tool.$rep
	if "${nice[@]}" "$@" >"$f.json" 2>"$f.err"; then
		printf '%s\t%s\t%s\tok\t%s\n' "$cell" "$tool" "$rep" "$f.json" >>"$csv_raw"
	else
		printf '%s\t%s\t%s\tfail\t%s\n' "$cell" "$tool" "$rep" "$f.err" >>"$csv_raw"
	fi
}

backends=$("$zcinfo" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
bs = d.get("backends", [])
if isinstance(bs, dict):
    bs = [dict(v, name=k) for k, v in bs.items()]
print(" ".join(b["name"] for b in bs if b.get("available")))' || echo "uring_fixed bounce")
log "backends to force: $backends"

# memcpy ceilings: page-cache data to the buffer (read) and back (write)
for pat in rand4k seq128k seq1m; do
	case $pat in
	rand4k) bs=4k; kind=rand ;; seq128k) bs=128k; kind= ;; seq1m) bs=1M; kind= ;;
	esac
	for dir in read write; do
		name=memcpy-$pat-$dir
		[[ $name =~ $cells_re || "tmpfs-$pat" =~ $cells_re ]] || continue
		for ((r = 1; r <= reps; r++)); do
			run "$name" memcpy "$r" "$zcbench" --memcpy -s "$size" -b "$bs" \
				-r "$kind$dir" -T "$dur" --no-create -j "$tmpfs_file"
		done
	done
done

for fs in tmpfs ext4; do
	if [[ $fs == tmpfs ]]; then file=$tmpfs_file; direct=0; else file=$ext4_file; direct=1; fi
	for pat in rand4k seq128k seq1m; do
		case $pat in
		rand4k) bs=4k; kind=rand ;; seq128k) bs=128k; kind= ;; seq1m) bs=1M; kind= ;;
		esac
		for mode in sync async; do
			if [[ $mode == sync ]]; then qd=1; else qd=32; fi
			for dir in read write; do
				cell=$fs-$pat-$mode-qd$qd-$dir
				[[ $cell =~ $cells_re ]] || continue
				log "$cell"
				zc=("$zcbench" -s "$size" -b "$bs" -r "$kind$dir" -m "$mode" -q "$qd"
				    -T "$dur" --no-create -j)
				((direct)) && zc+=(-d)
				fio_common=(fio --name=zcb --filename="$file" --size="$size"
					    --bs="$bs" --rw="$kind$dir" --direct="$direct"
					    --time_based --runtime="$dur" --numjobs=1
					    --norandommap --randrepeat=1 --mem=mmap
					    --lat_percentiles=1 --percentile_list=50:99:99.9
					    --output-format=json)
				ul=("$uring_loop" -q "$qd" -B 1 -b "$bs" -s "$size" -T "$dur")
				[[ $kind == rand ]] && ul+=(-r)
				[[ $dir == write ]] && ul+=(-w)
				((direct)) && ul+=(-d)
				tools=(zc-auto)
				for b in $backends; do tools+=("zc-$b"); done
				tools+=(fio-psync fio-io_uring uring_loop)
				[[ $mode == async ]] && tools+=(pread_qd)
				n=${#tools[@]}
				if ((direct)); then nrep=$reps_dev; else nrep=$reps; fi
				for ((r = 1; r <= nrep; r++)); do
					# each repetition starts one tool later, so no
					# tool always runs first or last in a cell
					for ((i = 0; i < n; i++)); do
						tool=${tools[(i + r - 1) % n]}
						case $tool in
						zc-auto)
							run "$cell" "$tool" "$r" "${zc[@]}" --label auto "$file" ;;
						zc-*)
							run "$cell" "$tool" "$r" "${zc[@]}" -B "${tool#zc-}" \
								--label "${tool#zc-}" "$file" ;;
						fio-psync)
							run "$cell" "$tool" "$r" "${fio_common[@]}" \
								--ioengine=psync --iodepth=1 ;;
						fio-io_uring)
							run "$cell" "$tool" "$r" "${fio_common[@]}" \
								--ioengine=io_uring --iodepth="$qd" \
								--fixedbufs --registerfiles ;;
						uring_loop)
							run "$cell" "$tool" "$r" "${ul[@]}" "$file" ;;
						pread_qd)
							run "$cell" "$tool" "$r" "${ul[@]}" -p "$file" ;;
						esac
					done
				done
			done
		done
	done
done

echo "load at end:   $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
log "matrix done in $((SECONDS - start_s)) s; writing the report"
python3 "$here/report.py" "$out"
if command -v gnuplot >/dev/null; then
	(cd "$out" && gnuplot chart.gp) && log "chart: $out/chart.svg $out/chart.png"
else
	log "gnuplot not found: no chart (data in $out/chart.dat)"
fi
log "done in $((SECONDS - start_s)) s: $out/summary.md"
