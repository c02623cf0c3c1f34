"""Command line: ``autoq search | show | export | report`` over the same Python API notebooks use."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autoq", description="Automatic heterogeneous quantization (QKeras) and "
                                "hls4ml export for low-latency FPGA inference.")
    p.add_argument("--version", action="version", version="autoq 0.1.0")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="run a quantization search from a YAML config")
    s.add_argument("config", help="YAML config, e.g. configs/digits.yaml")
    s.add_argument("--output", help="output directory (default: search.output_dir of the config)")
    s.add_argument("--max-trials", type=int, help="override search.max_trials")
    s.add_argument("--seed", type=int, help="override seed")
    s.add_argument("--algorithm", choices=["random", "bayesian", "hyperband", "pareto"], help="override algorithm")
    s.add_argument("--data", help="dataset file (e.g. the jet dataset) overriding data.path")
    s.add_argument("--overwrite", action="store_true", help="replace an earlier search in the output directory")
    s.add_argument("--quiet", action="store_true", help="print only the final summary")

    sh = sub.add_parser("show", help="print the summary of a finished search")
    sh.add_argument("dir", help="a search output directory")

    e = sub.add_parser("export", help="write an hls4ml project for a search result or a saved QKeras model")
    e.add_argument("source", help="a search output directory or a QKeras .h5 model")
    e.add_argument("--backend", choices=["Vitis", "Vivado"], default="Vitis")
    e.add_argument("--part", default="xcvu13p-flga2577-2-e")
    e.add_argument("--clock", type=float, default=5.0, help="clock period in ns")
    e.add_argument("--io-type", choices=["io_parallel", "io_stream"], default="io_parallel")
    e.add_argument("--reuse", type=int, default=1, help="reuse factor")
    e.add_argument("--strategy", choices=["latency", "resource"], default="latency")
    e.add_argument("--output", help="project directory (default hls_projects/<name>)")
    e.add_argument("--project-name", default="myproject")
    e.add_argument("--force", action="store_true", help="write into an existing project directory")
    e.add_argument("--synth", action="store_true", help="run HLS synthesis (needs vitis_hls/vivado_hls on PATH)")

    r = sub.add_parser("report", help="resource/latency report of an exported hls4ml project")
    r.add_argument("project", help="an hls4ml project directory, e.g. hls_projects/digits")
    return p


def _search(args) -> int:
    try:
        result = _run(args)
    except KeyboardInterrupt:
        where = args.output or "the config's search.output_dir"
        print(f"\n[autoq] interrupted. Finished trials are kept in {where}. Resume with the same command:\n"
              f"  autoq {' '.join(sys.argv[1:])}", file=sys.stderr)
        return 130
    if args.quiet:
        print(result)
    return 0


def _run(args):
    from .search import resolve_config, run_search
    cfg = resolve_config(args.config, data_path=args.data)
    return run_search(None, None, cfg, output_dir=args.output, max_trials=args.max_trials, seed=args.seed,
                      algorithm=args.algorithm, overwrite=args.overwrite, verbose=not args.quiet)


def _show(args) -> int:
    from .search import layer_table, load_result
    res = load_result(args.dir)
    s = res.summary
    b = res.best
    ref = s["reference_cost"]
    print(f"search {s['name']!r} in {res.output_dir} ({s['algorithm']}, seed {s['seed']}, {s['seconds']} s)")
    print(f"data: {s['dataset']}")
    print(f"trials: {s['trials']} ({s['failed_trials']} failed), Pareto front: {', '.join(s['pareto'])}")
    print(f"float model: val accuracy {s['float_val_accuracy']:.4f}; reference {s['cost']} {ref:.6g}")
    for name, bl in s["baselines"].items():
        if name != "float":
            print(f"baseline {name}: val accuracy {bl['val_accuracy']:.4f}, {s['cost']} {bl.get(s['cost'], 0):.6g}")
    print(f"best: trial {b['trial']}, val accuracy {b['val_accuracy']:.4f}, test accuracy "
          f"{s['best_test_accuracy']:.4f}, {s['cost']} {b[s['cost']]:.6g} ({100 * b[s['cost']] / ref:.1f}% of "
          f"reference), score {b['score']:.4f}")
    print(layer_table(b))
    return 0


def _export(args) -> int:
    from .export import export, format_result
    res = export(args.source, output_dir=args.output, backend=args.backend, part=args.part,
                 clock_period=args.clock, io_type=args.io_type, reuse_factor=args.reuse, strategy=args.strategy,
                 project_name=args.project_name, force=args.force, synth=args.synth)
    print(format_result(res))
    return 0


def _report(args) -> int:
    from .reports import format_report, report
    print(format_report(report(args.project)))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .errors import AutoqError
    handlers = {"search": _search, "show": _show, "export": _export, "report": _report}
    try:
        return handlers[args.command](args)
    except AutoqError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
