"""Memory: peak RSS of an autoq search (in a subprocess), relative to the RSS after importing TensorFlow.

The search runs in a child process that reports its own RSS at milestones (start, after ``import tensorflow``, after
``import autoq, qkeras``, after the search) and its peak (``resource.getrusage`` ru_maxrss); the parent samples the
child's ``/proc/<pid>/status`` VmRSS over time for the plot.

    python benchmarks/bench_memory.py --budget ci [--data jets.npz]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_label, environment, jet_config, md_table, parser, ratio, write_md  # noqa: E402

TRIALS = {"tiny": 2, "ci": 10, "full": 50}

CHILD = r"""
import json, os, resource, sys, time
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
def mark(event, **kw):
    print("@@" + json.dumps({"event": event, "t": time.time(), "rss_mb": rss_mb(), "peak_mb": peak_mb(), **kw}),
          flush=True)
mark("start")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import autoq  # first: settles tf.keras (no TensorFlow import of its own)
import tensorflow as tf
mark("import tensorflow")
import qkeras
kt = autoq.keras_env.keras_tuner()
from autoq import search as run_search
mark("import autoq+qkeras+keras_tuner")
cfg = json.loads(sys.argv[1])
res = run_search(config=cfg, output_dir=sys.argv[2], verbose=False, overwrite=True)
mark("search done", trials=len(res.trials))
"""


def sample_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run_child(cfg, outdir):
    t0 = time.time()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1])] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg), str(outdir)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    samples, marks = [], []
    import threading

    def reader():
        for line in proc.stdout:
            if line.startswith("@@"):
                marks.append(json.loads(line[2:]))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    while proc.poll() is None:
        r = sample_rss(proc.pid)
        if r is not None:
            samples.append((time.time() - t0, r))
        time.sleep(0.1)
    th.join(timeout=5)
    if proc.returncode != 0:
        raise SystemExit(f"the search subprocess failed (exit {proc.returncode})")
    for m in marks:
        m["t"] -= t0
    return samples, marks


def plot(path, samples, marks, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8.5, 4.4))
    ax.plot([t for t, _ in samples], [r for _, r in samples], color="tab:blue", label="RSS (sampled)")
    top = max([r for _, r in samples] + [1.0])
    ax.set_ylim(0, top * 1.1)
    # numbered marks on the plot, their names in the legend: labels never clip or overlap
    for i, m in enumerate(marks, 1):
        ax.axvline(m["t"], color="0.6", ls="--", lw=0.8, label=f"{i}: {m['event']} ({m['rss_mb']:.0f} MB)")
        ax.text(m["t"], top * 1.02, str(i), fontsize=8, ha="center", va="bottom",
                bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "ec": "0.6"})
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("resident memory [MB]")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    trials = TRIALS[args.budget]
    cfg = jet_config(args.budget, args.data, algorithm="random", trials=trials, baselines=True, keep="pareto",
                     seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        samples, marks = run_child(cfg, Path(tmp) / "search")
    by = {m["event"]: m for m in marks}
    tf_rss = by["import tensorflow"]["rss_mb"]
    lib_rss = by["import autoq+qkeras+keras_tuner"]["rss_mb"]
    peak = max(by["search done"]["peak_mb"], max(r for _, r in samples))
    end = by["search done"]["rss_mb"]
    rows = [[m["event"], m["t"], m["rss_mb"], m["peak_mb"], ratio(m["rss_mb"], tf_rss)] for m in marks]
    headline = (f"peak RSS of a {trials}-trial search: **{peak:.0f} MB** = **{ratio(peak, tf_rss):.2f}x** the RSS "
                f"after importing TensorFlow ({tf_rss:.0f} MB); the search itself adds {peak - lib_rss:.0f} MB over "
                f"the imports ({lib_rss:.0f} MB).")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_memory.png", samples, marks, f"RSS of one autoq search ({args.budget} budget, {trials} trials)")
    write_md(out, "bench_memory", "Memory: peak RSS of a search", [
        ("Headline", headline),
        ("Setup", f"- data: {data_label(args.data)}\n- budget `{args.budget}`: random search, {trials} trials x "
                  f"{cfg['train']['epochs']} epochs, float model + Q6 + Q4 baselines trained first; run in a "
                  "subprocess\n" + "\n".join(environment())),
        ("Milestones", md_table(["milestone", "t [s]", "RSS MB", "peak so far MB", "RSS / after-TF RSS"], rows)
         + f"\n\nPeak RSS (max of getrusage ru_maxrss and the sampled VmRSS): {peak:.0f} MB; "
           f"at the end: {end:.0f} MB ({ratio(end, tf_rss):.2f}x after-TF)."),
        ("Plot", "![rss](bench_memory.png)"),
    ], figures={"peak RSS of the search, MB": peak, "RSS after import tensorflow, MB": tf_rss,
                "peak / after-TF RSS": ratio(peak, tf_rss), "RSS after the imports, MB": lib_rss,
                "trials": trials})


if __name__ == "__main__":
    main()
