"""The two stacks side by side: the headline figures of bench_throughput and bench_memory, as recorded in
``benchmarks/results/<name>.json`` (Python 3.10-3.11, TF 2.14) and ``benchmarks/results/tf2.21/<name>.json``
(Python 3.12-3.13, TF 2.21 + tf_keras), each with the stack it ran on. Writes ``benchmarks/results/stacks.md``.

    python benchmarks/bench_throughput.py --budget ci; python benchmarks/bench_memory.py --budget ci   # each stack
    python benchmarks/stacks.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = ("bench_throughput", "bench_memory")
FOLDERS = {"Python 3.10-3.11 (TF 2.14)": "", "Python 3.12-3.13 (TF 2.21 + tf_keras)": "tf2.21"}  # under results/


def cell(v) -> str:
    if v is None:
        return "not run yet"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def main(results: Path = RESULTS) -> str:
    lines = ["# The two stacks side by side", "",
             "Headline figures of the same benchmark scripts on each stack (`python benchmarks/stacks.py` collects "
             "them; 2 shared CPU cores, so timings are noisy).", ""]
    for name in NAMES:
        runs = {}
        for label, folder in FOLDERS.items():
            p = results / folder / f"{name}.json"
            runs[label] = json.loads(p.read_text()) if p.is_file() else None
        keys = list(dict.fromkeys(k for r in runs.values() if r for k in r["figures"]))
        lines += [f"## {name}", "", "| figure | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
        lines += ["| stack | " + " | ".join(r["stack"] if r else "-" for r in runs.values()) + " |",
                  "| date | " + " | ".join(r["date"] if r else "-" for r in runs.values()) + " |"]
        lines += [f"| {k} | " + " | ".join(cell(r["figures"].get(k)) if r else cell(None) for r in runs.values())
                  + " |" for k in keys]
        lines.append("")
    text = "\n".join(lines)
    (results / "stacks.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS)
