#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The targets of issue #4 that are not a cell of the compare.sh matrix.
#
#   bash tests/bench/targets.sh [OUTDIR]
#
#  overhead  zc_read vs pread of 4 KiB from a cached tmpfs file:
#            instructions per operation from callgrind (repeatable), and
#            nanoseconds from the wall clock, real and with a stub pread
#            (tests/bench/overhead.c)
#  regcost   zc_reg_create of 1 GiB of anonymous memory vs a raw
#            io_uring_register_buffers of the same memory; zc_ctx_create
#            time (tests/bench/regcost.c)
#  memcpy    page-cache 1 MiB sequential read (zcbench, sync and async)
#            against the memcpy ceiling, alternated in the same run; as
#            root also on a tmpfs mounted huge=always (2 MiB folios)
#  bounce    the staged path (O_DIRECT with misaligned memory, forced
#            bounce) against pread in the same cells; memcpy calls per
#            operation counted with callgrind
#  staging   4 threads on the staged path with bounce_bytes 2 MiB: growth
#            of anonymous memory against bounce_bytes
#  rss       RSS every second over a ZCB_RSS_SECONDS (60) run, twice:
#            async 4 KiB random reads on tmpfs (ring or inline path) and
#            the staged O_DIRECT path
#  percost   what the library adds per operation where the disk sets the
#            pace, in counts that do not move with the disk's speed:
#            user-space instructions (callgrind), io_uring_enter calls,
#            context switches (perf stat) and disk requests
#            (/sys/block/DEV/stat) per operation, zcbench against
#            uring_loop (and fio's io_uring engine for the counts) in
#            three O_DIRECT cells
#
# Writes OUTDIR/targets.json, OUTDIR/targets.md and raw outputs under
# OUTDIR/raw-targets/. Environment as for compare.sh (ZCB_BUILD,
# ZCB_TMPFS_DIR, ZCB_EXT4_DIR), plus ZCB_RSS_SECONDS and ZCB_ROUNDS
# (alternations for the timed pairs, default 5), ZCB_NICE. Needs valgrind;
# perf (Debian linux-perf) with tracepoints for the percost counts, which
# are left out with a note where it is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-bench-results}
mkdir -p "$out/raw-targets"
out=$(cd "$out" && pwd)
raw=$out/raw-targets
build=${ZCB_BUILD:-$out/build}
tmpfs_dir=${ZCB_TMPFS_DIR:-/dev/shm}
ext4_dir=${ZCB_EXT4_DIR:-/var/tmp/zcbench}
rss_s=${ZCB_RSS_SECONDS:-60}
rounds=${ZCB_ROUNDS:-5}

nice=()
if [[ $(id -u) == 0 && ${ZCB_NICE:--10} != 0 ]]; then nice=(nice -n "${ZCB_NICE:--10}"); fi
log() { printf '[targets %s] %s\n' "$(date +%T)" "$*" >&2; }
for t in cmake gcc fio python3 valgrind; do
	command -v $t >/dev/null || { echo "targets.sh: $t is required" >&2; exit 1; }
done
start_s=$SECONDS

if [[ ! -x $build/zcbench ]]; then
	log "building zcbench in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DZC_BUILD_TESTS=OFF -DZC_BUILD_EXAMPLES=OFF >"$raw/cmake.log"
	cmake --build "$build" --target zcbench zcinfo -j"$(nproc)" >>"$raw/cmake.log"
fi
zcbench=$build/zcbench
cc=(gcc -O2 -Wall -I "$root/include")
lib=(-L "$build" -lzerocopy -Wl,-rpath,"$build")
"${cc[@]}" -o "$raw/overhead" "$here/overhead.c" "${lib[@]}"
"${cc[@]}" -o "$raw/regcost" "$here/regcost.c" "${lib[@]}" -luring
gcc -O2 -Wall -o "$raw/uring_loop" "$here/uring_loop.c" -luring -lm

mkdir -p "$ext4_dir"
tmp_small=$tmpfs_dir/zcbench-overhead.dat
tmp_big=$tmpfs_dir/zcbench-targets.dat
ext4_file=$ext4_dir/zcbench-targets.dat
trap 'rm -f "$tmp_small" "$tmp_big" "$ext4_file" "$ext4_dir/zcbench-regcost.dat"' EXIT
"$zcbench" -s 64M -n 1 -j "$tmp_small" >/dev/null
"$zcbench" -s 1G -n 1 -j "$tmp_big" >/dev/null
"$zcbench" -s 1G -n 1 -j "$ext4_file" >/dev/null
uptime >"$raw/load-start.txt"

# ---------------------------------------------------------------- overhead
log "overhead: callgrind, 100000 x 4 KiB"
n=100000
for m in zc pread zc-stub pread-stub; do
	valgrind --tool=callgrind --toggle-collect=bench_loop \
		--callgrind-out-file="$raw/callgrind.$m.out" \
		"$raw/overhead" "$m" "$n" "$tmp_small" 2>"$raw/callgrind.$m.log"
done
log "overhead: wall clock"
"${nice[@]}" "$raw/overhead" time 2000 "$tmp_small" 201 >"$raw/overhead-time.json"

# ---------------------------------------------------------------- regcost
log "regcost: 1 GiB, 21 rounds; user-space instructions under callgrind"
"${nice[@]}" "$raw/regcost" "$ext4_dir/zcbench-regcost.dat" 1024 21 >"$raw/regcost.json"
# what the library itself executes around the kernel's pin (one round)
for fn in zc_reg_create io_uring_register_buffers; do
	valgrind --tool=callgrind --toggle-collect="$fn" \
		--callgrind-out-file="$raw/callgrind.regcost.$fn.out" \
		"$raw/regcost" "$ext4_dir/zcbench-regcost.dat" 1024 1 \
		>/dev/null 2>"$raw/callgrind.regcost.$fn.log"
done

# ---------------------------------------------------------------- memcpy ceiling
log "memcpy ceiling vs page-cache 1 MiB sequential read, $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
	"${nice[@]}" "$zcbench" --memcpy -s 1G -b 1M -r read -T 1 --no-create -j "$tmp_big" >"$raw/memcpy.$r.json"
	"${nice[@]}" "$zcbench" -s 1G -b 1M -r read -m sync -T 1 --no-create -j "$tmp_big" >"$raw/seq1m-sync.$r.json"
	"${nice[@]}" "$zcbench" -s 1G -b 1M -r read -m async -q 32 -T 1 --no-create -j "$tmp_big" >"$raw/seq1m-async.$r.json"
done

# the same on a tmpfs with 2 MiB folios (huge=always), where the kernel
# looks pages up once per 2 MiB instead of once per 4 KiB (root only)
huge_dir=$out/raw-targets/huge-tmpfs
if [[ $(id -u) == 0 ]] && mkdir -p "$huge_dir" &&
   mount -t tmpfs -o size=1100M,huge=always zcbench-huge "$huge_dir" 2>/dev/null; then
	log "memcpy ceiling vs read on a huge=always tmpfs, $rounds rounds"
	"$zcbench" -s 1G -n 1 -j "$huge_dir/f.dat" >/dev/null
	for ((r = 1; r <= rounds; r++)); do
		"${nice[@]}" "$zcbench" --memcpy -s 1G -b 1M -r read -T 1 --no-create -j "$huge_dir/f.dat" >"$raw/huge-memcpy.$r.json"
		"${nice[@]}" "$zcbench" -s 1G -b 1M -r read -m sync -T 1 --no-create -j "$huge_dir/f.dat" >"$raw/huge-seq1m-sync.$r.json"
	done
	umount "$huge_dir"
fi
rmdir "$huge_dir" 2>/dev/null || true

# ---------------------------------------------------------------- bounce
log "bounce: staged path vs pread, $rounds rounds"
fio_direct() { # bs rw
	"${nice[@]}" fio --name=zcb --filename="$ext4_file" --size=1G --bs="$1" --rw="$2" \
		--ioengine=psync --direct=1 --time_based --runtime=1 --norandommap \
		--randrepeat=1 --mem=mmap --output-format=json
}
for cell in "4k randread" "128k read" "128k write"; do
	set -- $cell
	tag=$1-$2
	for ((r = 1; r <= rounds; r++)); do
		# rotate the order: a sequential reader that follows another on
		# the same blocks may find them in the host's cache
		for ((i = 0; i < 3; i++)); do
			case $(((i + r) % 3)) in
			0) "${nice[@]}" "$zcbench" -s 1G -b "$1" -r "$2" -d -B bounce --misalign 8 -T 1 \
				--no-create -j "$ext4_file" >"$raw/staged.$tag.$r.json" ;;
			1) "${nice[@]}" "$zcbench" -s 1G -b "$1" -r "$2" -d -B bounce -T 1 \
				--no-create -j "$ext4_file" >"$raw/bounce-aligned.$tag.$r.json" ;;
			2) fio_direct "$1" "$2" >"$raw/psync.$tag.$r.json" ;;
			esac
		done
	done
done
log "bounce: memcpy calls per operation (callgrind)"
for v in staged aligned; do
	extra=(); [[ $v == staged ]] && extra=(--misalign 8)
	valgrind --tool=callgrind --callgrind-out-file="$raw/callgrind.bounce-$v.out" \
		"$zcbench" -s 1G -b 128k -r randread -d -B bounce "${extra[@]}" -n 2000 \
		--no-create -j "$ext4_file" >"$raw/callgrind.bounce-$v.json" 2>"$raw/callgrind.bounce-$v.log"
done

# ---------------------------------------------------------------- staging
log "staging: 4 threads, bounce_bytes 2 MiB"
"${nice[@]}" "$zcbench" -s 1G -b 128k -r randread -m async -q 8 -t 4 -d --misalign 8 \
	--bounce-bytes 2M -T 3 --rss-interval 0.25 --no-create -j "$ext4_file" >"$raw/staging.json"
"${nice[@]}" "$zcbench" -s 1G -b 128k -r randread -m async -q 8 -t 4 -d \
	--bounce-bytes 2M -T 3 --rss-interval 0.25 --no-create -j "$ext4_file" >"$raw/staging-aligned.json"

# ---------------------------------------------------------------- rss
log "rss: ${rss_s} s async 4 KiB random reads on tmpfs, 2 threads"
"${nice[@]}" "$zcbench" -s 1G -b 4k -r randread -m async -q 32 -t 2 -T "$rss_s" --rss-interval 1 \
	--no-create -j "$tmp_big" >"$raw/rss-tmpfs.json"
log "rss: ${rss_s} s staged O_DIRECT writes, 2 threads"
"${nice[@]}" "$zcbench" -s 1G -b 64k -r randwrite -m async -q 8 -t 2 -d --misalign 8 -T "$rss_s" \
	--rss-interval 1 --no-create -j "$ext4_file" >"$raw/rss-staged.json"

# ---------------------------------------------------------------- percost
log "percost: per-operation counts on the O_DIRECT path"
disk=$(df -P "$ext4_dir" | awk 'NR==2 {print $1}' | sed 's|/dev/||')
dstat=/sys/class/block/$disk/stat
have_perf=0
if command -v perf >/dev/null; then
	# tracepoints need tracefs; mount it where the kernel expects it
	[[ -e /sys/kernel/tracing/events ]] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
	perf stat -e syscalls:sys_enter_io_uring_enter true >/dev/null 2>&1 && have_perf=1
fi
# cell: name, zcbench args, uring_loop args, fio args, ops
percells=(
	"rand4k-async-qd32-read|-b 4k -r randread -m async -q 32|-q 32 -b 4k -r|--bs=4k --rw=randread --ioengine=io_uring --iodepth=32 --fixedbufs --registerfiles|20000"
	"seq128k-async-qd32-read|-b 128k -r read -m async -q 32|-q 32 -b 128k|--bs=128k --rw=read --ioengine=io_uring --iodepth=32 --fixedbufs --registerfiles|8000"
	"seq1m-sync-qd1-read|-b 1M -r read -m sync|-q 1 -b 1M|--bs=1M --rw=read --ioengine=io_uring --iodepth=1 --fixedbufs --registerfiles|2000"
)
counted() { # OUT CMD...: run CMD, disk requests to OUT.req, perf counts to OUT.perf
	local out=$1; shift
	local a b
	a=$(awk '{print $1 + $5}' "$dstat" 2>/dev/null || echo 0)
	if ((have_perf)); then
		perf stat -x, -o "$out.perf" -e syscalls:sys_enter_io_uring_enter \
			-e context-switches "$@" >"$out.json" 2>"$out.err"
	else
		"$@" >"$out.json" 2>"$out.err"
	fi
	b=$(awk '{print $1 + $5}' "$dstat" 2>/dev/null || echo 0)
	echo $((b - a)) >"$out.req"
}
for c in "${percells[@]}"; do
	IFS='|' read -r name zargs uargs fargs nops <<<"$c"
	counted "$raw/percost.$name.zc" "$zcbench" -s 1G $zargs -d -n "$nops" --no-create -j "$ext4_file"
	counted "$raw/percost.$name.uring_loop" "$raw/uring_loop" $uargs -s 1G -d -n "$nops" "$ext4_file"
	counted "$raw/percost.$name.fio" fio --name=zcb --filename="$ext4_file" --size=1G --direct=1 \
		--norandommap --randrepeat=1 --mem=mmap --number_ios="$nops" --output-format=json $fargs
	valgrind --tool=callgrind --toggle-collect=thread_main \
		--callgrind-out-file="$raw/callgrind.percost.$name.zc.out" \
		"$zcbench" -s 1G $zargs -d -n "$nops" --no-create -j "$ext4_file" \
		>"$raw/callgrind.percost.$name.zc.json" 2>"$raw/callgrind.percost.$name.zc.log"
	valgrind --tool=callgrind --toggle-collect=run_ring \
		--callgrind-out-file="$raw/callgrind.percost.$name.uring_loop.out" \
		"$raw/uring_loop" $uargs -s 1G -d -n "$nops" "$ext4_file" \
		>"$raw/callgrind.percost.$name.uring_loop.json" 2>"$raw/callgrind.percost.$name.uring_loop.log"
done
uptime >"$raw/load-end.txt"

python3 - "$out" "$n" <<'EOF'
import glob, json, os, re, statistics, sys

out, n = sys.argv[1], int(sys.argv[2])
raw = os.path.join(out, "raw-targets")
def J(p):
    with open(p) as f:
        t = f.read()
    return json.loads(t[t.find("{"):])
def collected(m):
    with open(os.path.join(raw, "callgrind.%s.log" % m)) as f:
        return int(re.search(r"Collected : (\d+)", f.read()).group(1))
def calls(outfile, fn_re):
    """calls of functions matching fn_re, summed over callers (callgrind calls= lines)"""
    total, target, names = 0, False, {}
    with open(outfile) as f:
        for line in f:
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                target = line.startswith("cfn=") and re.search(fn_re, names.get(m.group(1), ""))
                continue
            if line.startswith("calls=") and target:
                total += int(line.split()[0][6:])
    return total

res = {}
# overhead
ir = {m: collected(m) / n for m in ("zc", "pread", "zc-stub", "pread-stub")}
t = J(os.path.join(raw, "overhead-time.json"))
d_ir = ir["zc"] - ir["pread"]
d_ir_stub = ir["zc-stub"] - ir["pread-stub"]
stub_ns = t["stub"]["diff_ns_median"]
ipc_hot = d_ir_stub / (stub_ns * t["clock_ghz"]) if stub_ns > 0 else None
res["overhead"] = {
    "instr_per_op_zc": ir["zc"], "instr_per_op_pread": ir["pread"],
    "instr_per_op_diff": d_ir, "instr_per_op_diff_stub": d_ir_stub,
    "clock_ghz": t["clock_ghz"], "ipc_hot": ipc_hot,
    "ns_from_instr_hot_ipc": d_ir / (ipc_hot * t["clock_ghz"]) if ipc_hot else None,
    "ns_from_instr_ipc1": d_ir / t["clock_ghz"],
    "ns_wall_real_median": t["real"]["diff_ns_median"], "ns_wall_real_min": t["real"]["diff_ns_min"],
    "pread_ns_min": t["real"]["pread_ns_min"], "zc_ns_min": t["real"]["zc_ns_min"],
    "ns_wall_stub_median": stub_ns, "pread_ns_median": t["real"]["pread_ns_median"],
    "zc_ns_median": t["real"]["zc_ns_median"], "backend": t["backend"],
}
# regcost
rc = J(os.path.join(raw, "regcost.json"))
rc["instr_zc_reg_create"] = collected("regcost.zc_reg_create")
rc["instr_io_uring_register_buffers"] = collected("regcost.io_uring_register_buffers")
res["regcost"] = rc
# memcpy
def bw(pattern):
    return [J(p)["bw_bytes"] for p in sorted(glob.glob(os.path.join(raw, pattern)))]
mc, s1, a1 = bw("memcpy.*.json"), bw("seq1m-sync.*.json"), bw("seq1m-async.*.json")
res["memcpy"] = {"memcpy_mib_s": [x / 2**20 for x in mc], "sync_mib_s": [x / 2**20 for x in s1],
                 "async_mib_s": [x / 2**20 for x in a1],
                 "ratio_sync_median": statistics.median(s1) / statistics.median(mc),
                 "ratio_async_median": statistics.median(a1) / statistics.median(mc),
                 "ratio_sync_best": max(s1) / max(mc), "ratio_async_best": max(a1) / max(mc)}
hm, hs = bw("huge-memcpy.*.json"), bw("huge-seq1m-sync.*.json")
if hm and hs:
    res["memcpy"].update(huge_memcpy_mib_s=[x / 2**20 for x in hm], huge_sync_mib_s=[x / 2**20 for x in hs],
                         huge_ratio_sync_median=statistics.median(hs) / statistics.median(hm))
# bounce
b = {}
for tag in ("4k-randread", "128k-read", "128k-write"):
    st = bw("staged.%s.*.json" % tag)
    al = bw("bounce-aligned.%s.*.json" % tag)
    ps = []
    for p in sorted(glob.glob(os.path.join(raw, "psync.%s.*.json" % tag))):
        job = J(p)["jobs"][0]
        side = job["write"] if "write" in tag else job["read"]
        ps.append(side["bw_bytes"])
    b[tag] = {"staged_mib_s": [x / 2**20 for x in st], "aligned_mib_s": [x / 2**20 for x in al],
              "psync_mib_s": [x / 2**20 for x in ps],
              "ratio_staged_median": statistics.median(st) / statistics.median(ps),
              "ratio_aligned_median": statistics.median(al) / statistics.median(ps),
              "ratio_staged_best": max(st) / max(ps), "ratio_aligned_best": max(al) / max(ps)}
for v in ("staged", "aligned"):
    ops = J(os.path.join(raw, "callgrind.bounce-%s.json" % v))["ops"]
    c = calls(os.path.join(raw, "callgrind.bounce-%s.out" % v), r"memcpy|memmove")
    b["memcpy_calls_per_op_" + v] = c / ops if ops else None
res["bounce"] = b
# staging
sg, sa = J(os.path.join(raw, "staging.json")), J(os.path.join(raw, "staging-aligned.json"))
res["staging"] = {"bounce_bytes_kib": 2048,
                  "anon_growth_kib": sg["rss"]["anon_max_kib"] - sg["rss"]["anon_start_kib"],
                  "anon_growth_aligned_kib": sa["rss"]["anon_max_kib"] - sa["rss"]["anon_start_kib"],
                  "path": sg["path"], "backend": sg["backend"]}
# rss
for name in ("rss-tmpfs", "rss-staged"):
    r = J(os.path.join(raw, name + ".json"))
    # samples taken while the threads ran, from 1 s on (the first second
    # holds the warm-up; the last sample is taken after the threads ended
    # and the report code was paged in)
    s = r["rss"]["samples"]
    after1 = [x for x in s[:-1] if x[0] >= 1.0] or s
    res[name] = {"seconds": r["runtime_s"], "samples": len(s), "path": r["path"],
                 "rss_first_kib": after1[0][1], "rss_last_kib": after1[-1][1],
                 "rss_max_kib": max(x[1] for x in after1),
                 "growth_after_1s_kib": after1[-1][1] - after1[0][1],
                 "anon_growth_after_1s_kib": after1[-1][2] - after1[0][2],
                 "ops": r["ops"], "errors": r["errors"]}
# percost
def perf_counts(path):
    c = {}
    if not os.path.exists(path):
        return c
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                c[parts[2]] = float(parts[0])
    return c
pc = {}
for jp in sorted(glob.glob(os.path.join(raw, "percost.*.json"))):
    base = jp[:-5]
    _, cell, tool = os.path.basename(base).split(".", 2)
    d = J(jp)
    if tool == "fio":
        job = d["jobs"][0]
        ops = job["read"]["total_ios"] + job["write"]["total_ios"]
    else:
        ops = d["ops"]
    e = {"ops": ops}
    with open(base + ".req") as f:
        e["requests_per_op"] = int(f.read()) / ops if ops else None
    p = perf_counts(base + ".perf")
    if p:
        e["io_uring_enter_per_op"] = p.get("syscalls:sys_enter_io_uring_enter", 0) / ops
        e["context_switches_per_op"] = p.get("context-switches", 0) / ops
    cg = os.path.join(raw, "callgrind.percost.%s.%s.log" % (cell, tool))
    if os.path.exists(cg):
        with open(cg) as f:
            m = re.search(r"Collected : (\d+)", f.read())
        cgj = J(os.path.join(raw, "callgrind.percost.%s.%s.json" % (cell, tool)))
        e["instr_per_op"] = int(m.group(1)) / cgj["ops"] if m and cgj["ops"] else None
    pc.setdefault(cell, {})[tool] = e
res["percost"] = pc
with open(os.path.join(out, "targets.json"), "w") as f:
    json.dump(res, f, indent=1)

o, r_, m, bb, sg = res["overhead"], res["regcost"], res["memcpy"], res["bounce"], res["staging"]
def pf(ok): return "pass" if ok else "FAIL"
lines = ["| target | measured | ratio / bound | verdict |", "|---|---|---|---|"]
lines.append("| zc_read overhead above pread (sync, page cache, 4 KiB) | %.0f instr/op (zc %.0f, pread %.0f); wall: median of per-round differences +%.0f ns (pread %.0f ns median), fastest rounds +%.0f ns; stub +%.1f ns | < 100 ns: %.0f ns at IPC 1, %.0f ns at the measured hot IPC %.1f, clock %.2f GHz | %s |" % (
    o["instr_per_op_diff"], o["instr_per_op_zc"], o["instr_per_op_pread"], o["ns_wall_real_median"],
    o["pread_ns_median"], o["ns_wall_real_min"], o["ns_wall_stub_median"],
    o["ns_from_instr_ipc1"], o["ns_from_instr_hot_ipc"] or 0, o["ipc_hot"] or 0, o["clock_ghz"],
    pf(max(o["ns_from_instr_ipc1"], o["ns_wall_real_median"]) < 100)))
lines.append("| zc_reg_create 1 GiB vs io_uring_register_buffers | %.1f ms vs %.1f ms (medians of %d alternated rounds); user-space instructions %d vs %d (callgrind: parsing /proc/self/maps) | %.3fx median of the per-round ratios (ratio of medians %.3f) (<= 1.05) | %s |" % (
    r_["zc_reg_create_us"]["median"] / 1e3, r_["io_uring_register_buffers_us"]["median"] / 1e3,
    r_["rounds"], r_["instr_zc_reg_create"], r_["instr_io_uring_register_buffers"],
    r_["ratio_paired_median"], r_["ratio_median"], pf(r_["ratio_paired_median"] <= 1.05)))
lines.append("| zc_ctx_create | %.0f us median (min %.0f, max %.0f, n %d) | < 1000 us | %s |" % (
    r_["ctx_create_us"]["median"], r_["ctx_create_us"]["min"], r_["ctx_create_us"]["max"],
    r_["ctx_create_us"]["n"], pf(r_["ctx_create_us"]["median"] < 1000)))
lines.append("| page-cache 1 MiB seq read vs memcpy ceiling | sync %.0f, async %.0f, memcpy %.0f MiB/s (medians) | sync %.3f, async %.3f (>= 0.85) | %s |" % (
    statistics.median(m["sync_mib_s"]), statistics.median(m["async_mib_s"]),
    statistics.median(m["memcpy_mib_s"]), m["ratio_sync_median"], m["ratio_async_median"],
    pf(m["ratio_sync_median"] >= 0.85)))
if "huge_ratio_sync_median" in m:
    lines.append("| the same on a huge=always tmpfs (kernel limit check, not a target) | sync %.0f, memcpy %.0f MiB/s (medians) | sync %.3f | - |" % (
        statistics.median(m["huge_sync_mib_s"]), statistics.median(m["huge_memcpy_mib_s"]),
        m["huge_ratio_sync_median"]))
for tag in ("4k-randread", "128k-read", "128k-write"):
    x = bb[tag]
    lines.append("| bounce staged path (O_DIRECT, memory misaligned by 8) %s vs pread | staged %.0f, aligned bounce %.0f, psync %.0f MiB/s (medians) | staged %.3f, aligned %.3f (>= 0.90) | %s |" % (
        tag, statistics.median(x["staged_mib_s"]), statistics.median(x["aligned_mib_s"]),
        statistics.median(x["psync_mib_s"]), x["ratio_staged_median"], x["ratio_aligned_median"],
        pf(x["ratio_staged_median"] >= 0.9)))
lines.append("| bounce copies per op (callgrind memcpy calls) | staged %.2f, aligned %.2f | <= 1 extra | %s |" % (
    bb["memcpy_calls_per_op_staged"], bb["memcpy_calls_per_op_aligned"],
    pf(bb["memcpy_calls_per_op_staged"] - bb["memcpy_calls_per_op_aligned"] <= 1.05)))
lines.append("| staging memory, 4 threads, bounce_bytes 2 MiB | anon growth %d KiB (aligned run %d KiB) | <= 2048 KiB + %d | %s |" % (
    sg["anon_growth_kib"], sg["anon_growth_aligned_kib"], sg["anon_growth_aligned_kib"],
    pf(sg["anon_growth_kib"] <= 2048 + max(sg["anon_growth_aligned_kib"], 64))))
for name in ("rss-tmpfs", "rss-staged"):
    x = res[name]
    lines.append("| RSS over %.0f s (%s, %s path) | %d -> %d KiB, max %d (%d samples) | growth %+d KiB | %s |" % (
        x["seconds"], name[4:], x["path"], x["rss_first_kib"], x["rss_last_kib"], x["rss_max_kib"],
        x["samples"], x["growth_after_1s_kib"], pf(x["growth_after_1s_kib"] <= 256)))
def num(v, fmt):
    return "-" if v is None else fmt % v
lines.append("")
lines.append("Per operation on the O_DIRECT path (user-space instructions from callgrind, "
             "the rest counted by perf stat and /sys/block/DEV/stat over the whole run):")
lines.append("")
lines.append("| cell | tool | instructions | io_uring_enter | context switches | disk requests |")
lines.append("|---|---|---:|---:|---:|---:|")
for cell in sorted(pc):
    for tool in ("zc", "uring_loop", "fio"):
        e = pc[cell].get(tool)
        if not e:
            continue
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            cell, {"zc": "zcbench (library)", "uring_loop": "uring_loop", "fio": "fio io_uring"}[tool],
            num(e.get("instr_per_op"), "%.0f"), num(e.get("io_uring_enter_per_op"), "%.2f"),
            num(e.get("context_switches_per_op"), "%.2f"), num(e.get("requests_per_op"), "%.2f")))
with open(os.path.join(out, "targets.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
log "done in $((SECONDS - start_s)) s"
