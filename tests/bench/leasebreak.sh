#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# How long a process that breaks a pin_lease lease waits (issue #14,
# item 9), by registration size.
#
#   bash tests/bench/leasebreak.sh [OUTDIR]
#
# Builds and runs tests/bench/leasebreak.c (see its header): pin_lease
# registrations of tmpfs files of each size in ZCB_SIZES, ZCB_BREAKS breaks
# each by another process's open(), timed in that process, while
# ZCB_THREADS threads of the same context do synchronous I/O. With
# ZCB_BASE=<commit> the same program also runs against the library of that
# commit (built from `git archive` under OUTDIR/base), the two taking turns
# ZCB_ROUNDS times, the current tree first. Writes
# OUTDIR/leasebreak.<current|base>.<round>.json and OUTDIR/leasebreak.md
# (the table, printed too).
#
# Environment (all optional):
#   ZCB_BUILD      cmake build directory of this tree; configured (Release,
#                  no tests, no examples) and built when it has no
#                  libzerocopy.so (default OUTDIR/build)
#   ZCB_BASE       a commit to compare with (default: none)
#   ZCB_ROUNDS     turns of each library (default 1)
#   ZCB_SIZES      registration sizes in MiB (default "4 256")
#   ZCB_BREAKS     measured breaks per size (default 60)
#   ZCB_THREADS    I/O threads (default 4)
#   ZCB_TMPFS_DIR  tmpfs directory (default /dev/shm)
#   ZCB_NICE       niceness of the runs (default -10 as root; 0 to leave it)
#
# Needs: cmake, gcc, git (for ZCB_BASE), python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-bench-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${ZCB_BUILD:-$out/build}
base=${ZCB_BASE:-}
rounds=${ZCB_ROUNDS:-1}
sizes=${ZCB_SIZES:-4 256}
breaks=${ZCB_BREAKS:-60}
threads=${ZCB_THREADS:-4}
tmpfs_dir=${ZCB_TMPFS_DIR:-/dev/shm}

nice=()
if [[ $(id -u) == 0 && ${ZCB_NICE:--10} != 0 ]]; then nice=(nice -n "${ZCB_NICE:--10}"); fi
log() { printf '[leasebreak %s] %s\n' "$(date +%T)" "$*" >&2; }

# build_lib SRC BUILD: libzerocopy.so of the tree at SRC
build_lib() {
	if [[ ! -e $2/libzerocopy.so ]]; then
		log "building libzerocopy from $1 in $2"
		cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DZC_BUILD_TESTS=OFF \
			-DZC_BUILD_EXAMPLES=OFF >"$out/leasebreak-cmake.log"
		cmake --build "$2" --target zerocopy -j"$(nproc)" >>"$out/leasebreak-cmake.log"
	fi
}
# bench BUILD BINARY: leasebreak.c linked against the library in BUILD
bench() {
	gcc -O2 -Wall -I "$root/include" -o "$2" "$here/leasebreak.c" \
		-L "$1" -lzerocopy -lpthread -Wl,-rpath,"$1"
}

build_lib "$root" "$build"
bench "$build" "$out/leasebreak.current"
labels=(current)
if [[ -n $base ]]; then
	rm -rf "$out/base/src"
	mkdir -p "$out/base/src"
	git -C "$root" archive "$base" | tar -x -C "$out/base/src"
	build_lib "$out/base/src" "$out/base/build"
	bench "$out/base/build" "$out/leasebreak.base"
	labels+=(base)
fi

uptime >"$out/leasebreak-load-start.txt"
for ((r = 1; r <= rounds; r++)); do
	for l in "${labels[@]}"; do
		log "round $r: $l library, sizes $sizes MiB, $breaks breaks each"
		# shellcheck disable=SC2086 # one word per size
		"${nice[@]}" "$out/leasebreak.$l" -d "$tmpfs_dir" -n "$breaks" -t "$threads" $sizes \
			>"$out/leasebreak.$l.$r.json"
	done
done
uptime >"$out/leasebreak-load-end.txt"

python3 - "$out" "$base" <<'EOF'
import glob, json, os, sys

out, base = sys.argv[1], sys.argv[2]
rows = ["| library | round | size | p50 ms | p99 ms | max ms | copy done p50 / max ms | I/O ops |",
        "|---|---|---:|---:|---:|---:|---:|---:|"]
verdict = []
for label in ("current", "base"):
    for path in sorted(glob.glob(os.path.join(out, "leasebreak.%s.*.json" % label))):
        r = os.path.basename(path).split(".")[2]
        with open(path) as f:
            d = json.load(f)
        p99 = {}
        name = label if label == "current" else "base (%s)" % base
        for s in d["sizes"]:
            w, c = s["wait_ms"], s["revocation_done_ms"]
            p99[s["size_mib"]] = w["p99"]
            rows.append("| %s | %s | %d MiB | %.2f | %.2f | %.2f | %.1f / %.1f | %d |" % (
                name, r, s["size_mib"], w["p50"], w["p99"], w["max"], c["p50"], c["max"],
                s["io_ops"]))
        small, big = min(p99), max(p99)
        ratio = p99[big] / p99[small] if p99[small] else float("inf")
        ok = all(v <= 20 for v in p99.values()) and ratio <= 2
        verdict.append("%s round %s: p99 %s; %d/%d MiB p99 ratio %.2f: %s" % (
            name, r, ", ".join("%d MiB %.2f ms" % (k, v) for k, v in sorted(p99.items())),
            big, small, ratio, "pass" if ok else "FAIL"))
text = "\n".join(rows) + "\n\nTargets (p99 <= 20 ms for every size; largest/smallest p99 <= 2):\n\n" + \
       "\n".join("- " + v for v in verdict) + "\n"
with open(os.path.join(out, "leasebreak.md"), "w") as f:
    f.write(text)
print(text)
EOF
