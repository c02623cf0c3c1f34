"""Command line: ``autoq search | show | export | report | data`` over the same Python API notebooks use."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import export_options
from .searching import strategies  # the registry only: no TensorFlow
from .searching.layout import SUMMARY, TRIALS_CSV

# TensorFlow 2.14 logs "Unable to register cuDNN factory" at ERROR level on every CPU-only start: hide it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autoq", description="Automatic heterogeneous quantization (QKeras) and "
                                "hls4ml export for low-latency FPGA inference.")
    p.add_argument("--version", action="version", version="autoq 0.2.0")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="run a quantization search from a YAML config")
    s.add_argument("config", help="YAML config, e.g. configs/digits.yaml")
    s.add_argument("--output", help="output directory (default: search.output_dir of the config)")
    s.add_argument("--max-trials", type=int, help="override search.max_trials")
    s.add_argument("--seed", type=int, help="override seed")
    s.add_argument("--algorithm", choices=strategies.names(), help="override search.algorithm")
    s.add_argument("--data", help="dataset file (e.g. the jet dataset) overriding data.path; relative to the "
                   "current directory (data.path in the YAML is relative to the YAML file)")
    s.add_argument("--overwrite", action="store_true", help="replace an earlier search in the output directory")
    talk = s.add_mutually_exclusive_group()
    talk.add_argument("--quiet", action="store_true", help="print only the final summary")
    talk.add_argument("--verbose", action="store_true", help="also print one line per training epoch (default: one "
                      "line when a trial starts and one when it ends)")
    s.add_argument("--trust-model", action="store_true", help="allow a model file that carries code (Lambda layers, "
                   "unknown custom layers, a SavedModel): only for files whose author you trust")
    d = s.add_argument_group("distributed search (keras-tuner chief/worker over gRPC; see docs/distributed.md)")
    role = d.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true", help="prepare the search, serve trials to workers, summarise")
    role.add_argument("--worker", action="store_true", help="run trials handed out by the chief")
    d.add_argument("--port", type=int, help="chief: port to listen on (or $KERASTUNER_ORACLE_PORT)")
    d.add_argument("--host", help="chief: address to listen on (default 127.0.0.1, this machine only; or "
                   "$KERASTUNER_ORACLE_IP); beyond loopback a shared secret is required (--token / $AUTOQ_TOKEN)")
    d.add_argument("--token", help="shared secret of chief and workers (default $AUTOQ_TOKEN; prefer the variable: "
                   "a command line is visible to other users of the machine)")
    d.add_argument("--chief-address", metavar="HOST:PORT", help="worker: where the chief listens (or "
                   "$KERASTUNER_ORACLE_IP and $KERASTUNER_ORACLE_PORT)")
    d.add_argument("--tuner-id", help="name of this process (default chief, or $KERASTUNER_TUNER_ID, "
                   "worker<SLURM_PROCID>, worker-<host>-<pid>); restart a dead worker under the same name")
    d.add_argument("--wait", type=float, default=3600.0, metavar="SECONDS",
                   help="worker: how long to wait for the chief to prepare the output directory (default 3600)")
    d.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="worker: fail if the chief's address does not answer within this time (default 30)")

    sh = sub.add_parser("show", help="print the summary of a finished search")
    sh.add_argument("dir", help="a search output directory")
    sh.add_argument("--sort", choices=["id", "metric", "cost", "lut", "dsp", "ff", "latency", "feasible"],
                    default="cost", help="order of the front's table (metric: best first; feasible: fitting first; "
                    "the others ascending; default: cost)")

    e = sub.add_parser("export", help="write an hls4ml project for a search result or a saved QKeras model",
                       formatter_class=_Defaults)
    e.add_argument("source", help="a search output directory or a QKeras .h5 model")
    e.add_argument("--backend", type=_backend, default="Vitis", metavar="{Vitis,Vivado}",
                   help="hls4ml backend: Vitis HLS or Vivado HLS (any case)")
    e.add_argument("--part", default="xcvu13p-flga2577-2-e",
                   help="AMD/Xilinx part with its speed grade, e.g. xcvu13p-flga2577-2-e or xc7z020clg400-1")
    e.add_argument("--clock", type=_above_zero(float), default=5.0, help="clock period in ns (5 ns = 200 MHz)")
    e.add_argument("--io-type", choices=export_options.IO_TYPES, default="io_parallel",
                   help="hls4ml io_type: all values at once (lowest latency) or streamed through FIFOs (large CNNs)")
    e.add_argument("--reuse", type=_above_zero(int), default=1,
                   help="hls4ml reuse_factor: how many multiplications share one multiplier (1 = fully parallel)")
    e.add_argument("--strategy", type=str.lower, choices=export_options.STRATEGIES, default="latency",
                   help="hls4ml strategy: latency (registers, lowest latency) or resource (BRAM, for reuse > 1)")
    e.add_argument("--output", help="project directory (default: hls_projects/<name of the search or model>)")
    e.add_argument("--project-name", default="myproject", help="hls4ml project_name: the top function's name")
    e.add_argument("--force", action="store_true", help="write into an existing project directory")
    e.add_argument("--synth", action="store_true", help="run HLS synthesis (needs vitis_hls/vivado_hls on PATH)")
    e.add_argument("--trust-model", action="store_true", help="allow a model file that carries code (Lambda layers, "
                   "unknown custom layers): only for files whose author you trust")
    e.add_argument("--trial", help="export this trial of a search directory (any trial with a saved model, e.g. "
                   "the Pareto front) instead of the winner")
    e.add_argument("--front", action="store_true", help="export every trial on the search's Pareto front, each "
                   "into <output>/trial-<id>/ with its report (default output: hls_projects/<search>_front)")
    e.add_argument("--data", metavar="FILE.npz", help="test inputs for the check and tb_data (array x_val, x_test, x "
                   "or X); default: the search's validation data, else random inputs (said in the output)")
    e.add_argument("--hls-config", metavar="FILE.yml", help="hls4ml settings (Model / LayerName entries as in "
                   "hls4ml's config) merged over autoq's exact config; warns where one may break exactness")
    e.add_argument("--allow-mismatch", action="store_true", help="write the project even when the C simulation "
                   "is not bit-exact with QKeras (default: error, exit code 2)")
    e.add_argument("--exact-float", action="store_true", help="a float model (nothing quantized) gets exact "
                   "full-width types instead of hls4ml's default ap_fixed<16,6>")

    r = sub.add_parser("report", help="resource/latency report of an exported hls4ml project")
    r.add_argument("project", help="an hls4ml project directory, e.g. hls_projects/digits")
    _data_parser(sub)
    return p


# ---- autoq data ... (data set tools) ----------------------------------------------------------------------------
def _data_parser(sub):
    """``autoq data make-jets``: generated hls4ml-style jets (optional extra ``jets``)."""
    d = sub.add_parser("data", help="data set tools (make-jets: generate hls4ml-style jets with Pythia 8 + FastJet)")
    dsub = d.add_subparsers(dest="data_command", required=True)
    m = dsub.add_parser("make-jets", help="generate a class-balanced jet set with the 16 features of "
                        "hls4ml_lhc_jets_hlf (Pythia 8 + FastJet, particle level; needs pip install -e \".[jets]\")")
    m.add_argument("--n", type=int, required=True, help="number of jets (class-balanced over g, q, t, w, z)")
    m.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same file; default 1)")
    m.add_argument("--output", default="jets_generated.npz",
                   help="output .npz (default: jets_generated.npz in the current folder, the name the README's search "
                        "command reads); its data card (.md, .png) is written beside it")
    m.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per available core; the jets do not depend on it)")
    m.add_argument("--no-tagger", action="store_true", help="skip training the float tagger for the data card")
    m.add_argument("--overwrite", action="store_true", help="replace an existing output file and its data card")


def _data(args) -> int:
    from .keras_env import import_tensorflow_quietly
    import_tensorflow_quietly()  # the data card's tagger
    from .data.jetgen import make_jets
    try:
        make_jets(args.n, seed=args.seed, output=args.output, workers=args.workers, tagger=not args.no_tagger,
                  overwrite=args.overwrite)
    except KeyboardInterrupt:
        print("\n[autoq] interrupted; nothing was written", file=sys.stderr, flush=True)
        return 130
    return 0
# ---- end of autoq data ------------------------------------------------------------------------------------------


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default where there is one to show (not for flags, nor where the help already says it)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _backend(text: str) -> str:
    """--backend, case-insensitively (vitis, VIVADO, ...), spelled as hls4ml spells it."""
    from .export_options import backend_name, problems
    if backend_name(text) is None:
        raise argparse.ArgumentTypeError(problems(backend=text)[0][1])
    return backend_name(text)


def _above_zero(kind):
    """An argparse type: a number of ``kind`` above zero."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value
    return parse


def _resume_command(argv) -> str:
    """The command that resumes: the same arguments without --overwrite (which would discard the trials)."""
    import shlex
    return "autoq " + shlex.join(a for a in argv if a != "--overwrite")


def _search(args, argv) -> int:
    where = {}  # the output folder, once the config names it
    try:
        result = _run(args, where)
    except KeyboardInterrupt as exc:
        print("\n" + _interrupted(getattr(exc, "output_dir", None) or where.get("out"), argv), file=sys.stderr,
              flush=True)
        return 130
    if args.quiet and result is not None:
        print(result)
    if result is not None and result.best is None:  # finished, but no trial meets goal.budget / goal.max_drop
        print("[autoq] no winner: no trial meets goal.budget / goal.max_drop (the constraints' lines above, and "
              f"summary.json in {result.output_dir}); exit code 3", file=sys.stderr)
        return 3
    return 0


def _interrupted(out, argv) -> str:
    """What Ctrl-C leaves behind, naming only folders and files that exist, and the command that resumes."""
    resume = f"Resume with the same command:\n  {_resume_command(argv)}"
    if out is None or not Path(out).is_dir():
        return f"[autoq] interrupted before the search wrote anything. Start it with the same command:\n  " \
               f"{_resume_command(argv)}"
    out = Path(out)
    if not (out / TRIALS_CSV).is_file():
        return f"[autoq] interrupted before a trial finished; what was prepared is kept in {out}. {resume}"
    covered = ", summary.json and best_model.h5 cover them" if (out / SUMMARY).is_file() else ""
    return f"[autoq] interrupted. Finished trials are kept in {out} (trials.csv lists them{covered}). {resume}"


def _require_file(option: str, path: str) -> str:
    """``path`` given on the command line, relative to the current directory: its absolute form, or an error."""
    from .errors import AutoqError
    p = Path(path).expanduser()
    if not p.exists():
        raise AutoqError(f"{option} {path}: no such file (looked in {p.absolute().parent})")
    if not p.is_file():
        raise AutoqError(f"{option} {path}: not a file")
    return str(p.resolve())


def _check_search_args(args) -> None:
    """The command line's own mistakes (missing files, numbers out of range), before TensorFlow is imported."""
    from .searching.run import check_overrides
    if not Path(args.config).is_file():
        from .config import load_config
        load_config(args.config)  # its own "config file not found"
    if args.data is not None:
        args.data = _require_file("--data", args.data)
    check_overrides(max_trials=args.max_trials, seed=args.seed)


def _distributed(args):
    """(role, chief_address, tuner_id) from --chief/--worker/--port/--host/--chief-address/--tuner-id."""
    from .errors import AutoqError
    if args.chief:
        port = args.port if args.port is not None else os.environ.get("KERASTUNER_ORACLE_PORT")
        if port is None:
            raise AutoqError("--chief needs --port PORT (or $KERASTUNER_ORACLE_PORT)")
        from .searching.distributed import DEFAULT_HOST
        host = args.host or os.environ.get("KERASTUNER_ORACLE_IP") or DEFAULT_HOST
        return "chief", f"{host}:{port}", args.tuner_id
    if args.worker:
        if args.port is not None or args.host:
            raise AutoqError("--port/--host are for the chief; a worker takes --chief-address HOST:PORT")
        return "worker", args.chief_address, args.tuner_id
    if args.chief_address or args.port is not None or args.host:
        raise AutoqError("--port/--host/--chief-address need --chief or --worker")
    return None, None, args.tuner_id


def _run(args, where: dict):
    _check_search_args(args)
    role, address, tuner_id = _distributed(args)
    from .keras_env import import_tensorflow_quietly
    import_tensorflow_quietly()  # the config's quantizers need it
    from .api import search
    from .searching.run import resolve
    # the config resolved once, here: the file with the command line's options applied
    cfg = resolve(args.config, data_path=args.data, max_trials=args.max_trials, seed=args.seed,
                  output_dir=args.output, algorithm=args.algorithm)
    where["out"] = cfg.config.search.output_dir
    return search(None, None, cfg, overwrite=args.overwrite, verbose=0 if args.quiet else 2 if args.verbose else 1,
                  role=role, chief_address=address, tuner_id=tuner_id, wait_timeout=args.wait,
                  trust_model=args.trust_model, token=args.token, connect_timeout=args.connect_timeout)


def _show(args) -> int:
    from .present.tables import front_table, layer_table
    from .searching.result import load_result
    res = load_result(args.dir)  # the data only: no TensorFlow, no matplotlib
    s = res.summary
    b = res.best
    ref = s["reference_cost"]
    print(f"search {s['name']!r} in {res.output_dir} ({s['algorithm']}, seed {s['seed']}, {s['seconds']} s)")
    print(f"data: {s['dataset']}")
    print(f"trials: {s['trials']} ({s['failed_trials']} failed), Pareto front: {', '.join(s['pareto'])}")
    if s.get("interrupted"):
        print(f"interrupted after {s['trials']} of {s.get('max_trials', '?')} trials: run the same autoq search "
              "command again to resume")
    m = s.get("metric", "accuracy")
    ftest = s.get("float_test_metric")
    print(f"float model: val {m} {s['float_val_metric']:.4g}"
          + (f", test {m} {ftest:.4g}" if ftest is not None else "") + f"; reference {s['cost']} {ref:.6g}")
    for name, bl in s["baselines"].items():
        if name != "float":
            print(f"baseline {name}: val {m} {bl['val_metric']:.4g}, {s['cost']} {bl.get(s['cost'], 0):.6g}")
    cons = s.get("constraints")
    for entry in (cons or {}).get("constraints", {}).values():
        print(f"constraint {entry['text']}: met by {entry['met_by']} of {cons['trials']} trials"
              + (", binds the winner" if entry.get("binds") else ""))
    if cons:
        print(cons["message"])
    front = [r for r in res.trials if r["trial"] in set(s["pareto"])]
    if b is not None and b["trial"] not in set(s["pareto"]):
        front.append(b)
    print(f"\nPareto front ({len(front)} trials{', * the winner' if b is not None else ''}; estimate at the "
          f"export's settings; feasible: {'within goal.budget and goal.max_drop' if cons else '- (no constraint given)'}):")
    print(front_table(front, res.metric, s["cost"], args.sort, b["trial"] if b is not None else None))
    if b is None:
        return 0
    print(f"\nbest: trial {b['trial']}, val {m} {b['val_metric']:.4g}, test {m} "
          f"{s['best_test_metric']:.4g}, {s['cost']} {b[s['cost']]:.6g} ({100 * b[s['cost']] / ref:.1f}% of "
          f"reference), score {b['score']:.4f}" + (" [SYNTHETIC data]" if s.get("synthetic_data") else ""))
    if s.get("exportable") is False:
        from .present.narrate import NOT_EXPORTABLE
        print(NOT_EXPORTABLE)
    print(layer_table(b))
    return 0


def _export(args) -> int:
    from .exporting.synth import require_tool
    if args.synth:
        require_tool(args.backend)
    for option in ("data", "hls_config"):
        if getattr(args, option) is not None:
            _require_file("--" + option.replace("_", "-"), getattr(args, option))
    from .exporting.pipeline import ToolNotFoundError, validate_part
    from .api import export, export_front
    validate_part(args.part)
    from .keras_env import import_tensorflow_quietly
    import_tensorflow_quietly()
    from .present.tables import format_result
    if args.front:  # every Pareto point, one project each
        from .errors import AutoqError
        if args.trial is not None:
            raise AutoqError("--front exports every trial of the front; drop --trial (or --front)")
        try:
            results = export_front(args.source, args.output, backend=args.backend, part=args.part,
                                   clock_period=args.clock, io_type=args.io_type, reuse_factor=args.reuse,
                                   strategy=args.strategy, project_name=args.project_name, force=args.force,
                                   synth=args.synth, x=args.data, hls_config=args.hls_config,
                                   allow_mismatch=args.allow_mismatch, trust_model=args.trust_model,
                                   log=lambda r: print(format_result(r) + "\n", flush=True))
        except KeyboardInterrupt:
            print("\n[autoq] export interrupted; the projects written so far are complete, the last one may not be: "
                  "run the same command with --force to write them again", file=sys.stderr, flush=True)
            return 130
        print(f"[autoq] exported {len(results)} Pareto trials: "
              + ", ".join(os.path.basename(r.output_dir) for r in results))
        return 0
    try:
        res = export(args.source, output_dir=args.output, backend=args.backend, part=args.part,
                     clock_period=args.clock, io_type=args.io_type, reuse_factor=args.reuse, strategy=args.strategy,
                     project_name=args.project_name, force=args.force, synth=args.synth, trial=args.trial,
                     x=args.data, hls_config=args.hls_config, allow_mismatch=args.allow_mismatch,
                     trust_model=args.trust_model, exact_float=args.exact_float)
    except KeyboardInterrupt:
        print("\n[autoq] export interrupted; the project folder may be incomplete: run the same command with "
              "--force to write it again", file=sys.stderr, flush=True)
        return 130
    except ToolNotFoundError as exc:  # the project is complete: show what it is, then say what is missing
        if exc.result is not None:
            print(format_result(exc.result))
        raise
    print(format_result(res))
    return 0


def _report(args) -> int:
    from .present.report_files import project_report
    from .present.tables import format_report
    print(format_report(project_report(args.project)))
    return 0


def main(argv=None) -> int:
    import warnings
    from .keras_env import KERAS_WARNINGS
    # Keras warns on every .h5 load/save and on QKeras quantizers used as constraints: noise on a terminal
    warnings.filterwarnings("ignore", category=UserWarning, module=KERAS_WARNINGS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    from .errors import AutoqError
    handlers = {"search": lambda a: _search(a, argv), "show": _show, "export": _export, "report": _report,
                "data": _data}
    try:
        return handlers[args.command](args)
    except AutoqError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
