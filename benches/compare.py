#!/usr/bin/env python3
"""tbs-batch's engines against the pydicom + numpy peer, end to end, in one run.

    cargo build --release
    pip install -r benches/peer/requirements.txt
    python3 benches/compare.py [--files 1000] [--gpu-files 200] [--memory-files 1000,10000]

1. Headline: a cohort of iDXA-shaped files (780 x 716, 8-bit display-processed CR, implicit VR),
   through `tbs-batch --cpu`, `tbs-batch --gpu` (when wgpu finds an adapter) and the peer
   (benches/peer/tbs_peer.py, one process per core); images/s, peak memory, and the largest
   difference between tbs-batch's and the peer's slopes.
2. Memory: `tbs-batch --cpu` peak resident memory on cohorts of each --memory-files size.
3. Scaling: seconds per image against pixels x lags, over image sizes and max lags, for each
   engine and the peer; plotted to scaling.png.

Cohorts are a few distinct phantoms (`tbs-batch phantom`) hard-linked to the requested number
of paths: every path is read, parsed, decoded and scored on its own, as in a real cohort.
Writes results.csv and scaling.png into --out, and prints Markdown tables for BENCHMARKS.md.
"""
import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tbs-batch")
# The peer computes the plain definition over every pixel, so tbs-batch keeps the extreme
# values too (its default leaves them out of 8-bit images).
PLAIN = ["--extremes", "keep"]
PEER = os.path.join(ROOT, "benches", "peer", "tbs_peer.py")
DISTINCT = 20
SIZES = [(256, 256, 12), (512, 512, 12), (716, 780, 8), (2048, 1024, 16)]
LAGS = [4, 8, 16, 32]


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (seconds, peak resident MB of the process itself, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {err.strip()}")
    return seconds, usage.ru_maxrss / 1024, err


def cohort(dir, rows, cols, bits, files):
    """`files` paths in `dir`, hard links to DISTINCT phantoms of one shape."""
    originals = os.path.join(dir, "originals")
    hursts = ",".join(f"{0.2 + 0.6 * i / DISTINCT:.3f}" for i in range(DISTINCT))
    shape = ["--display"] if bits == 8 else ["--bits", str(bits)]
    subprocess.run(
        [BIN, "phantom", originals, "--rows", str(rows), "--cols", str(cols),
         "--syntax", "implicit-le", "--hurst", hursts, *shape],
        check=True, stderr=subprocess.DEVNULL)
    sources = sorted(os.path.join(originals, f) for f in os.listdir(originals))
    scans = os.path.join(dir, "scans")
    for i in range(files):
        folder = os.path.join(scans, f"{i // 1000:04}")
        os.makedirs(folder, exist_ok=True)
        os.link(sources[i % len(sources)], os.path.join(folder, f"{i:06}.dcm"))
    return scans


def adapter():
    """The adapter `--gpu` runs on, as its summary line names it; None without one."""
    probe = subprocess.run([BIN, "--gpu", os.devnull], capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    return probe.stderr.strip().splitlines()[-1].split("engine gpu: ", 1)[-1]


def slopes(path, column="tbs"):
    with open(path) as f:
        return {row["path"]: float(row[column]) for row in csv.DictReader(f)
                if row.get("status", "ok") == "ok" and row[column]}


def headline(work, files, gpu_files, gpu):
    scans = cohort(os.path.join(work, "headline"), 716, 780, 8, files)
    rows = []
    ours = os.path.join(work, "cpu.csv")
    sec, mem, _ = timed([BIN, "--cpu", *PLAIN, scans, "-o", ours])
    rows.append(("tbs-batch --cpu", files, sec, mem))
    peer_csv = os.path.join(work, "peer.csv")
    with open(peer_csv, "w") as out:
        sec, mem, _ = timed([sys.executable, PEER, scans], stdout=out)
    rows.append(("peer (pydicom + numpy)", files, sec, mem))
    a, b = slopes(ours), slopes(peer_csv)
    assert a.keys() == b.keys() and len(a) == files, "both score every file"
    worst = max(abs(a[p] - b[p]) for p in a)
    if gpu:
        gpu_scans = cohort(os.path.join(work, "headline-gpu"), 716, 780, 8, gpu_files)
        gpu_csv = os.path.join(work, "gpu.csv")
        sec, mem, _ = timed([BIN, "--gpu", *PLAIN, gpu_scans, "-o", gpu_csv])
        rows.append(("tbs-batch --gpu", gpu_files, sec, mem))
        cpu_again = os.path.join(work, "cpu-gpu-cohort.csv")
        timed([BIN, "--cpu", *PLAIN, gpu_scans, "-o", cpu_again])
        g, c = slopes(gpu_csv), slopes(cpu_again)
        assert g == c, "the GPU's slopes equal the CPU's exactly"
    return rows, worst


def memory(work, sizes):
    out = []
    for n in sizes:
        scans = cohort(os.path.join(work, f"memory-{n}"), 716, 780, 8, n)
        sec, mem, _ = timed([BIN, "--cpu", *PLAIN, scans, "-o", os.devnull])
        out.append((n, sec, mem))
        shutil.rmtree(os.path.join(work, f"memory-{n}"))
    return out


def scaling(work, gpu, files):
    out = []
    for rows, cols, bits in SIZES:
        scans = cohort(os.path.join(work, f"scale-{rows}x{cols}"), rows, cols, bits, files)
        for lag in LAGS:
            runs = [("cpu", [BIN, "--cpu", *PLAIN, "--max-lag", str(lag), scans, "-o", os.devnull]),
                    ("peer", [sys.executable, PEER, "--max-lag", str(lag), scans])]
            if gpu:
                runs.append(("gpu", [BIN, "--gpu", *PLAIN, "--max-lag", str(lag), scans,
                                     "-o", os.devnull]))
            for engine, cmd in runs:
                sec, _, _ = timed(cmd)
                out.append((engine, rows, cols, bits, lag, sec / files))
    return out


def plot(points, path, software_gpu):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = {"cpu": "tbs-batch --cpu", "peer": "pydicom + numpy peer",
             "gpu": "tbs-batch --gpu" + (" (software Vulkan: not GPU speed)" if software_gpu else "")}
    fig, ax = plt.subplots(figsize=(7, 5))
    for engine, marker in [("cpu", "o"), ("gpu", "s"), ("peer", "^")]:
        pts = sorted((r * c * lag, s) for e, r, c, _, lag, s in points if e == engine)
        if pts:
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], marker, label=names[engine])
    ax.set_xlabel("pixels × max lag")
    ax.set_ylabel("seconds per image, end to end (all cores)")
    ax.set_title("Time per image against work")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def machine():
    """CPU model, core count and memory, for the header of the tables."""
    model = platform.machine()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} × {model}, {mem_gb:.0f} GB RAM"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--gpu-files", type=int, default=200)
    parser.add_argument("--memory-files", default="1000,10000")
    parser.add_argument("--scaling-files", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(ROOT, "benches", "results"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    name = adapter()
    gpu = name is not None
    software = gpu and "(Cpu," in name
    with tempfile.TemporaryDirectory() as work:
        rows, worst = headline(work, args.files, args.gpu_files, gpu)
        mem = memory(work, [int(n) for n in args.memory_files.split(",")])
        points = scaling(work, gpu, args.scaling_files)
    plot(points, os.path.join(args.out, "scaling.png"), software)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measure", "engine", "files", "rows", "cols", "bits", "max_lag",
                    "seconds", "images_per_s", "peak_mb"])
        for engine, n, sec, mb in rows:
            w.writerow(["headline", engine, n, 716, 780, 8, 16, f"{sec:.3f}", f"{n / sec:.1f}",
                        f"{mb:.0f}"])
        for n, sec, mb in mem:
            w.writerow(["memory", "tbs-batch --cpu", n, 716, 780, 8, 16, f"{sec:.3f}",
                        f"{n / sec:.1f}", f"{mb:.0f}"])
        for engine, r, c, bits, lag, spi in points:
            w.writerow(["scaling", engine, args.scaling_files, r, c, bits, lag,
                        f"{spi * args.scaling_files:.3f}", f"{1 / spi:.1f}", ""])

    print(f"date {time.strftime('%Y-%m-%d')}; machine: {machine()}; adapter: {name}")
    print("\n| run | files | seconds | images/s | peak memory |\n| --- | ---: | ---: | ---: | ---: |")
    for engine, n, sec, mb in rows:
        print(f"| {engine} | {n} | {sec:.2f} | {n / sec:.1f} | {mb:.0f} MB |")
    cpu_rate = rows[0][1] / rows[0][2]
    peer_rate = rows[1][1] / rows[1][2]
    print(f"\nCPU / peer: {cpu_rate / peer_rate:.1f}x; largest |slope difference| "
          f"tbs-batch vs peer: {worst:.2e}")
    print("\n| files | seconds | peak memory |\n| ---: | ---: | ---: |")
    for n, sec, mb in mem:
        print(f"| {n} | {sec:.2f} | {mb:.0f} MB |")
    print("\n| image | max lag | " + " | ".join(e for e in ["cpu", "gpu", "peer"]
                                               if any(p[0] == e for p in points)) + " |")
    engines = [e for e in ["cpu", "gpu", "peer"] if any(p[0] == e for p in points)]
    print("| --- | ---: |" + " ---: |" * len(engines))
    for r, c, bits in SIZES:
        for lag in LAGS:
            cells = [f"{1000 * spi:.1f} ms" for e in engines
                     for e2, r2, c2, _, l2, spi in points if (e2, r2, c2, l2) == (e, r, c, lag)]
            print(f"| {c}×{r} {bits}-bit | {lag} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
