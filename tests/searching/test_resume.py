"""Kill a real search (SIGKILL, SIGINT) mid-trial and resume it with the same command."""
from __future__ import annotations

import csv
import hashlib
import json
import signal
import subprocess

from helpers_search import HANG, autoq, default_sigint, env, records, start, stop, wait_until, write_config


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_mid_trial_then_resume(tmp_path):
    cfg = write_config(tmp_path, train={"epochs": 3}, search={"max_trials": 5, "output_dir": "out", "keep": "all"})
    out = tmp_path / "out"
    args = ["search", cfg]
    p = start(args, tmp_path, tmp_path / "run1.log")
    try:
        # at least one trial recorded, and the next one started (its keras-tuner trial exists): kill mid-trial
        ok = wait_until(lambda: len(records(out)) >= 1 and (out / "tuner" / "trial_1").is_dir(), [p])
        assert ok, (tmp_path / "run1.log").read_text()[-3000:]
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        stop(p)
    before = records(out)
    assert before and not (out / "summary.json").exists()
    models = {t: _digest(out / r["model"]) for t, r in before.items() if r["status"] == "ok"}

    run2 = subprocess.run(autoq(*args), cwd=tmp_path, capture_output=True, text=True, timeout=HANG, env=env())
    log = run2.stdout + run2.stderr
    assert run2.returncode == 0, log[-3000:]
    assert "Traceback" not in log and "Reloading Tuner" not in log
    assert f"resuming {out}: {len(before)} trial(s) on record" in log
    assert "training the float model" not in log  # the prepared float model is reused

    after = records(out)
    assert sorted(after) == [str(i) for i in range(5)]  # total == max_trials, nothing run twice under a new id
    for t, r in before.items():  # finished trials kept: not re-run, same numbers, same model file
        assert after[t] == r
    for t, d in models.items():
        assert _digest(out / after[t]["model"]) == d
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 5
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["trial"] for r in rows] == [str(i) for i in range(5)]
    best = summary["best"]
    assert (out / "best_model.h5").is_file() and _digest(out / "best_model.h5") == _digest(out / best["model"])


def test_sigint_prints_where_results_are_and_how_to_resume(tmp_path):
    cfg = write_config(tmp_path, train={"epochs": 3}, search={"max_trials": 6, "output_dir": "out"})
    out = tmp_path / "out"
    p = subprocess.Popen(autoq("search", cfg, "--overwrite", "--seed", "7"), cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env(), preexec_fn=default_sigint)
    try:
        assert wait_until(lambda: len(records(out)) >= 1, [p])
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=HANG)
    finally:
        stop(p)
    assert p.returncode == 130, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stderr
    assert (f"[autoq] interrupted. Finished trials are kept in {out} (trials.csv lists them, summary.json and "
            "best_model.h5 cover them).") in stderr
    assert f"Resume with the same command:\n  autoq search {cfg} --seed 7\n" in stderr  # --overwrite dropped
    rows = list(csv.DictReader((out / "trials.csv").open()))
    recs = records(out)
    assert rows and sorted(r["trial"] for r in rows) == sorted(recs)
    summary = json.loads((out / "summary.json").read_text())  # what finished is summarised, marked interrupted
    assert summary["interrupted"] is True and summary["trials"] == len(recs) < 6 and summary["max_trials"] == 6
    assert (out / "best_model.h5").is_file() and summary["best"]["trial"] in recs
    show = subprocess.run(autoq("show", out), capture_output=True, text=True, timeout=HANG, env=env())
    assert show.returncode == 0 and f"interrupted after {len(recs)} of 6 trials" in show.stdout

    resumed = subprocess.run(autoq("search", cfg, "--seed", "7"), cwd=tmp_path, capture_output=True, text=True,
                             timeout=HANG, env=env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is False and summary["trials"] == 6
    assert all(records(out)[t] == r for t, r in recs.items())
