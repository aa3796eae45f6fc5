#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn the raw runs of compare.sh into results.csv, results.json,
summary.md and a gnuplot chart of every cell as a ratio to its best peer.

    python3 tests/bench/report.py OUTDIR

Reads OUTDIR/raw/runs.tsv (cell, tool, repetition, ok|fail, file) and the
JSON each tool printed. Peers are fio psync, fio io_uring and uring_loop;
the memcpy probe is the ceiling and pread_qd (a pread loop over the
queue's blocks) a reference, neither is a peer.

Each tool's figure in a cell is its median repetition. A ratio between
two tools is the median of their per-repetition ratios: the tools of a
cell take turns within a repetition, so the two runs of a pair are
seconds apart and drift of the machine cancels out; the lowest and
highest of those ratios are reported with it.
"""
import statistics
import csv
import json
import os
import sys

PEERS = ["fio-psync", "fio-io_uring", "uring_loop"]
TOOL_ORDER = ["zc-auto", "zc-uring_fixed", "zc-bounce", "zc-pin_lease",
              "fio-psync", "fio-io_uring", "uring_loop", "pread_qd"]
TARGET_PEER = 0.97
TARGET_MEMCPY = 0.85
TARGET_BOUNCE = 0.90


def load_json(path):
    with open(path) as f:
        text = f.read()
    # fio may print warnings before its JSON
    start = text.find("{")
    return json.loads(text[start:]) if start >= 0 else None


def metrics(tool, d):
    """bw in bytes/s, iops, latency percentiles in ns, CPU s/GiB, backend, path"""
    if tool.startswith("fio-"):
        job = d["jobs"][0]
        side = job["write"] if job["write"]["io_bytes"] > job["read"]["io_bytes"] else job["read"]
        pct = side.get("lat_ns", {}).get("percentile") or side.get("clat_ns", {}).get("percentile", {})
        runtime_s = job["job_runtime"] / 1000.0
        cpu_s = (job["usr_cpu"] + job["sys_cpu"]) / 100.0 * runtime_s
        gib = side["io_bytes"] / 2**30
        return {
            "bw": side["bw_bytes"], "iops": side["iops"],
            "p50": pct.get("50.000000", 0), "p99": pct.get("99.000000", 0),
            "p999": pct.get("99.900000", 0),
            "cpu_s_per_gib": cpu_s / gib if gib else 0,
            "backend": "", "path": tool[4:],
        }
    lat = d.get("lat_ns", {})
    return {
        "bw": d["bw_bytes"], "iops": d["iops"], "p50": lat.get("p50", 0),
        "p99": lat.get("p99", 0), "p999": lat.get("p99_9", 0),
        "cpu_s_per_gib": d.get("cpu", {}).get("s_per_gib", 0),
        "backend": d.get("backend", ""),
        "path": d.get("path", tool) if tool.startswith("zc-") or tool == "memcpy" else
                "pread/pwrite" if tool == "pread_qd" else "READ/WRITE_FIXED",
        "paths": d.get("paths"),
    }


def fail_reason(path):
    try:
        with open(path) as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        return "no output"
    # the zcbench line names the call that failed; library lines say why
    main = [l for l in lines if l.startswith("zcbench:")]
    lib = [l for l in lines if "libzerocopy" in l and "attempt" not in l]
    why = (main[-1] if main else lines[-1] if lines else "failed")
    return why[:200] + ((" | " + lib[-1][:200]) if lib else "")


def main():
    out = sys.argv[1]
    runs = {}
    with open(os.path.join(out, "raw", "runs.tsv")) as f:
        for line in f:
            cell, tool, rep, status, path = line.rstrip("\n").split("\t")
            entry = runs.setdefault((cell, tool), {"reps": [], "fail": None})
            if status == "ok":
                try:
                    m = metrics(tool, load_json(path))
                    m["rep"] = int(rep)
                    entry["reps"].append(m)
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    entry["fail"] = "unparsable output %s: %s" % (path, e)
            else:
                entry["fail"] = fail_reason(path)

    def median_rep(cell, tool):
        """the median repetition of a tool in a cell, with every
        repetition's bw"""
        e = runs.get((cell, tool))
        if not e or not e["reps"]:
            return None
        reps = sorted(e["reps"], key=lambda m: m["bw"])
        b = dict(reps[(len(reps) - 1) // 2])
        b["bw"] = statistics.median(m["bw"] for m in reps)
        b["reps_bw"] = [m["bw"] for m in sorted(e["reps"], key=lambda m: m["rep"])]
        b["by_rep"] = {m["rep"]: m["bw"] for m in e["reps"]}
        return b

    def ratio(a, b):
        """median, min and max of a's per-repetition ratios to b"""
        if not a or not b:
            return None
        common = sorted(set(a["by_rep"]) & set(b["by_rep"]))
        rs = [a["by_rep"][r] / b["by_rep"][r] for r in common if b["by_rep"][r] > 0]
        if not rs:
            return None
        return (statistics.median(rs), min(rs), max(rs))

    cells = []
    for (cell, tool) in runs:
        if not cell.startswith("memcpy-") and cell not in cells:
            cells.append(cell)

    def cell_key(c):
        fs, pat, mode, qd, d = c.split("-")
        return (["tmpfs", "ext4"].index(fs), ["rand4k", "seq128k", "seq1m"].index(pat),
                ["sync", "async"].index(mode), ["read", "write"].index(d))
    cells.sort(key=cell_key)

    rows, summary = [], []
    for cell in cells:
        fs, pat, mode, qd, d = cell.split("-")
        ceiling = median_rep("memcpy-%s-%s" % (pat, d), "memcpy")
        peers = {p: median_rep(cell, p) for p in PEERS}
        ok_peers = {p: m for p, m in peers.items() if m}
        best_peer = max(ok_peers, key=lambda p: ok_peers[p]["bw"]) if ok_peers else None
        best_bw = ok_peers[best_peer]["bw"] if best_peer else 0
        fio_ok = {p: m for p, m in ok_peers.items() if p.startswith("fio-")}
        fio_best = max(fio_ok, key=lambda p: fio_ok[p]["bw"]) if fio_ok else None
        tools = [t for t in TOOL_ORDER if (cell, t) in runs] + \
            sorted(t for (c, t) in runs if c == cell and t not in TOOL_ORDER)
        for tool in tools:
            m = median_rep(cell, tool)
            row = {"cell": cell, "fs": fs, "pattern": pat, "mode": mode,
                   "qd": int(qd[2:]), "dir": d, "tool": tool}
            if not m:
                row.update(status="n/a", note=runs[(cell, tool)]["fail"] or "no run")
                rows.append(row)
                continue
            row.update(status="ok", bw_mib_s=round(m["bw"] / 2**20, 2),
                       iops=round(m["iops"], 1),
                       lat_p50_us=round(m["p50"] / 1e3, 2),
                       lat_p99_us=round(m["p99"] / 1e3, 2),
                       lat_p999_us=round(m["p999"] / 1e3, 2),
                       cpu_s_per_gib=round(m["cpu_s_per_gib"], 4),
                       backend=m["backend"], path=m["path"],
                       reps_mib_s=" ".join("%.1f" % (b / 2**20) for b in m["reps_bw"]),
                       ratio_best_peer=round(m["bw"] / best_bw, 3) if best_bw else "",
                       ratio_fio_best=round(m["bw"] / fio_ok[fio_best]["bw"], 3) if fio_best else "",
                       ratio_uring_loop=round(m["bw"] / peers["uring_loop"]["bw"], 3) if peers.get("uring_loop") else "",
                       ratio_fio_psync=round(m["bw"] / peers["fio-psync"]["bw"], 3) if peers.get("fio-psync") else "",
                       ratio_memcpy=round(m["bw"] / ceiling["bw"], 3) if ceiling else "",
                       note=("paths " + json.dumps(m["paths"], separators=(",", ":"))) if m.get("paths") else "")
            rows.append(row)
        auto = median_rep(cell, "zc-auto")
        bounce = median_rep(cell, "zc-bounce")
        s = {"cell": cell, "best_peer": best_peer, "best_peer_mib_s": best_bw / 2**20,
             "fio_best": fio_best, "memcpy_mib_s": ceiling["bw"] / 2**20 if ceiling else None}

        def put(key, r):
            if r:
                s[key], s[key + "_range"] = r[0], [r[1], r[2]]
        if auto:
            s["auto_mib_s"] = auto["bw"] / 2**20
            s["auto_backend"] = auto["backend"]
            s["auto_path"] = auto["path"]
            put("auto_vs_fio", ratio(auto, fio_ok.get(fio_best)))
            put("auto_vs_uring_loop", ratio(auto, peers.get("uring_loop")))
            put("auto_vs_pread_qd", ratio(auto, median_rep(cell, "pread_qd")))
            # the memcpy probe runs before the matrix: a ratio of medians
            s["auto_vs_memcpy"] = auto["bw"] / ceiling["bw"] if ceiling else None
            # noise: the automatic choice against the same backend forced,
            # the same code path measured twice
            put("auto_vs_same_forced", ratio(auto, median_rep(cell, "zc-" + auto["backend"])))
        if bounce:
            put("bounce_vs_psync", ratio(bounce, peers.get("fio-psync")))
        summary.append(s)

    fields = ["cell", "fs", "pattern", "mode", "qd", "dir", "tool", "status",
              "bw_mib_s", "iops", "lat_p50_us", "lat_p99_us", "lat_p999_us",
              "cpu_s_per_gib", "backend", "path", "ratio_best_peer",
              "ratio_fio_best", "ratio_uring_loop", "ratio_fio_psync",
              "ratio_memcpy", "reps_mib_s", "note"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    memcpy = {}
    for (cell, tool) in runs:
        if cell.startswith("memcpy-"):
            m = median_rep(cell, tool)
            if m:
                memcpy[cell] = {"mib_s": m["bw"] / 2**20, "reps_mib_s": [b / 2**20 for b in m["reps_bw"]]}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"targets": {"auto_vs_fio": TARGET_PEER, "auto_vs_uring_loop": TARGET_PEER,
                               "auto_vs_memcpy_pagecache_seq1m_read": TARGET_MEMCPY,
                               "bounce_vs_psync": TARGET_BOUNCE},
                   "memcpy": memcpy, "cells": summary, "rows": rows}, f, indent=1)

    def verdict(v, hi, target):
        """pass: the median reaches the target; FAIL~: it does not, but some
        repetitions did (the shortfall is inside the run-to-run spread);
        FAIL: no repetition did"""
        return "pass" if v >= target else "FAIL~" if hi >= target else "FAIL"

    def pf(s, key, target):
        v = s.get(key)
        if v is None:
            return "n/a"
        lo, hi = s[key + "_range"]
        return "%.3f %s (%.2f-%.2f)" % (v, verdict(v, hi, target), lo, hi)

    def plain(s, key):
        v = s.get(key)
        return "-" if v is None else "%.3f" % v

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("Medians over the repetitions; a ratio is the median of the per-repetition "
                "ratios, with their lowest and highest in brackets. pass: the median reaches "
                "the target; FAIL~: it does not, but some repetitions did; FAIL: none did.\n\n")
        f.write("| cell | auto backend/path | auto MiB/s | best fio | vs best fio (>=%.2f) "
                "| vs uring_loop (>=%.2f) | bounce vs psync (>=%.2f) | vs memcpy "
                "| vs pread over the queue's blocks | noise: auto / same backend forced |\n"
                % (TARGET_PEER, TARGET_PEER, TARGET_BOUNCE))
        f.write("|---|---|---:|---|---|---|---|---|---|---|\n")
        for s in summary:
            vm = s.get("auto_vs_memcpy")
            mem = "n/a" if vm is None else "%.3f" % vm
            if vm is not None and s["cell"].startswith("tmpfs-seq1m") and s["cell"].endswith("read"):
                mem = "%.3f %s" % (vm, "pass" if vm >= TARGET_MEMCPY else "FAIL")
            noise = "-"
            if "auto_vs_same_forced" in s:
                noise = "%.3f (%.2f-%.2f)" % ((s["auto_vs_same_forced"],) +
                                              tuple(s["auto_vs_same_forced_range"]))
            f.write("| %s | %s/%s | %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
                s["cell"], s.get("auto_backend", "-"), s.get("auto_path", "-"),
                "%.1f" % s["auto_mib_s"] if "auto_mib_s" in s else "n/a",
                s["fio_best"] or "-", pf(s, "auto_vs_fio", TARGET_PEER),
                pf(s, "auto_vs_uring_loop", TARGET_PEER),
                pf(s, "bounce_vs_psync", TARGET_BOUNCE), mem,
                plain(s, "auto_vs_pread_qd"), noise))
        f.write("\nmemcpy ceilings (MiB/s): " + ", ".join(
            "%s %.0f" % (k[7:], v["mib_s"]) for k, v in sorted(memcpy.items())) + "\n")
        n_fio = sum(1 for s in summary if s.get("auto_vs_fio", 0) >= TARGET_PEER)
        n_ul = sum(1 for s in summary if s.get("auto_vs_uring_loop", 0) >= TARGET_PEER)
        n_b = sum(1 for s in summary if s.get("bounce_vs_psync", 0) >= TARGET_BOUNCE)
        f.write("\npassing: vs best fio %d of %d, vs uring_loop %d of %d, bounce vs psync %d of %d\n"
                % (n_fio, len(summary), n_ul, len(summary), n_b, len(summary)))

    # chart: every tool of every cell as a ratio to the best peer
    chart_tools = [t for t in TOOL_ORDER if any(r["tool"] == t and r["status"] == "ok" for r in rows)]
    with open(os.path.join(out, "chart.dat"), "w") as f:
        f.write("cell " + " ".join(chart_tools) + "\n")
        for cell in cells:
            vals = []
            for t in chart_tools:
                r = next((r for r in rows if r["cell"] == cell and r["tool"] == t), None)
                vals.append("%.3f" % r["ratio_best_peer"] if r and r["status"] == "ok"
                            and r["ratio_best_peer"] != "" else "?")
            f.write(cell + " " + " ".join(vals) + "\n")
    with open(os.path.join(out, "chart.gp"), "w") as f:
        f.write("""# generated by report.py; run in this directory: gnuplot chart.gp
set datafile missing '?'
set style data histograms
set style histogram clustered gap 2
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical
set ylabel 'throughput / best peer (fio psync, fio io_uring, uring_loop)'
set yrange [0:1.6]
set ytics 0.1
set grid ytics
set xtics rotate by -60 font ',9' nomirror
set title 'libzerocopy same-run comparison (zc-auto must reach 0.97)'
set arrow 1 from graph 0, first 1.0 to graph 1, first 1.0 nohead lw 1 lc rgb '#000000'
set arrow 2 from graph 0, first 0.97 to graph 1, first 0.97 nohead lw 1 dt 2 lc rgb '#cc0000'
set terminal svg size 1700,750 dynamic noenhanced font 'sans,11'
set output 'chart.svg'
plot for [i=2:%(n)d] 'chart.dat' using i:xtic(1) title columnheader(i)
set terminal pngcairo size 1700,750 noenhanced font 'sans,10'
set output 'chart.png'
replot
""" % {"n": len(chart_tools) + 1})
    print(open(os.path.join(out, "summary.md")).read())


if __name__ == "__main__":
    main()
