"""Shared helpers for the search tests: a tiny real config, the real CLI as a subprocess, a free local port."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

#: seconds after which a subprocess or a wait counts as hung. Tests bound their work (trials, epochs, samples), not
#: their time: a correct run on a slow or shared machine never meets this; it only stops a hang.
HANG = 1800

TINY = {
    "name": "tiny",
    "seed": 7,
    "model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16], "n_classes": 10}},
    "data": {"source": "digits"},
    "train": {"epochs": 2, "patience": 0, "batch_size": 64, "float_epochs": 3},
    "space": {
        "input_quantizer": "quantized_bits(8,3,alpha=1)",
        "default": {"kernel": ["quantized_bits({2..8},0,alpha=1)"], "bias": ["quantized_bits(8,2,alpha=1)"],
                    "activation": ["quantized_relu({2..8},2)"]},
    },
    "search": {"algorithm": "random", "max_trials": 4, "output_dir": "out"},
}


def merge(base: dict, over: dict) -> dict:
    out = json.loads(json.dumps(base))
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def write_config(folder: Path, name: str = "tiny.yaml", **sections) -> Path:
    """The tiny config with ``sections`` merged in, written as YAML into ``folder``."""
    p = Path(folder) / name
    p.write_text(yaml.safe_dump(merge(TINY, sections), sort_keys=False))
    return p


def env(**extra) -> dict:
    """Environment for autoq subprocesses: quiet TF, CPU only, one intra-op thread (the machine is shared)."""
    e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="",
             TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", PYTHONUNBUFFERED="1")
    for k in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        e.pop(k, None)
    e.update(extra)
    return e


def run_cli(*args, cwd=None) -> tuple:
    """The real CLI in this process, run from ``cwd`` (default: here): (exit code, stdout, stderr)."""
    from autoq.cli import main
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def autoq(*args) -> list:
    return [sys.executable, "-m", "autoq.cli", *map(str, args)]


def default_sigint() -> None:
    """For a child that must be interruptible: a shell's background job (as CI may run the suite) inherits SIGINT
    ignored, and Python then installs no KeyboardInterrupt handler, so Ctrl-C would never reach the code under test."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd, log_path: Path, **extra_env) -> subprocess.Popen:
    """Start the real CLI in the background, stdout+stderr to ``log_path``."""
    f = open(log_path, "w")
    return subprocess.Popen(autoq(*args), cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env(**extra_env))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(out: Path) -> dict:
    """trial id -> record.json of every trial in a search folder."""
    res = {}
    for p in sorted((Path(out) / "trials").glob("*/record.json")):
        r = json.loads(p.read_text())
        res[r["trial"]] = r
    return res


def wait_until(pred, procs=(), timeout: float = HANG, poll: float = 0.2) -> bool:
    """Poll ``pred`` until true; stop early if a process in ``procs`` has exited (``timeout``: only a hang)."""
    if isinstance(procs, (int, float)):
        raise TypeError("wait_until(pred, procs): tests limit work, not seconds; timeout= only catches a hang")
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        if any(p.poll() is not None for p in procs):
            return bool(pred())
        time.sleep(poll)
    return False


def stop(*procs, timeout: float = 10.0):
    """Kill our own subprocesses (by handle) that are still running."""
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
