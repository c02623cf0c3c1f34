"""The output folder is owned, resumable at every instant and never mixed: real autoq processes, killed, raced and
starved of disk, on real folders (issue 9)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from helpers_search import HANG, autoq, env, free_port, records, run_cli, start, stop, wait_until, write_config

from autoq.errors import ResultsError

FRESH = "start fresh with --overwrite"


def one_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def log_has(path: Path, text: str):
    return lambda: path.is_file() and text in path.read_text()


def test_second_search_on_a_busy_folder_is_refused_then_both_succeed_in_turn(tmp_path):
    cfg = write_config(tmp_path, search={"max_trials": 3, "output_dir": "out"}, train={"float_epochs": 200})
    out = tmp_path / "out"
    first = start(["search", cfg], tmp_path, tmp_path / "first.log")
    seconds = []
    try:
        assert wait_until(log_has(tmp_path / "first.log", "training the float model"), [first]), \
            (tmp_path / "first.log").read_text()
        holder = json.loads((out / "autoq.lock").read_text())
        assert holder["pid"] == first.pid and holder["role"] == "search"
        # while it trains its float model: the same run again, another seed, a chief
        for i, extra in enumerate(([], ["--seed", "8"], ["--chief", "--port", str(free_port())])):
            seconds.append(subprocess.Popen(autoq("search", cfg, *extra), cwd=tmp_path, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True, env=env()))
        for second in seconds:
            stdout, stderr = second.communicate(timeout=HANG)
            assert second.returncode == 2, stdout[-2000:] + stderr[-2000:]
            assert one_error(stderr).startswith(f"error: {out} is in use by search pid {first.pid} on ")
        assert first.poll() is None, "the first search ended before the others were refused: the check proves nothing"
        first.wait(timeout=HANG)
    finally:
        stop(first, *seconds)
    assert first.returncode == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert not (out / "autoq.lock").exists()  # released
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3
    again = subprocess.run(autoq("search", cfg), cwd=tmp_path, capture_output=True, text=True, timeout=HANG, env=env())
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["trials"] == 3  # resumed a finished search: nothing re-run

    # a lock left by a dead process is taken over, saying whose it was
    (out / "autoq.lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname().nodename,
                                                "started": "2026-01-01T00:00:00", "role": "search"}))
    (out / "notes.txt").write_text("mine")  # a file of the user's inside autoq's folder
    code, stdout, stderr = run_cli("search", cfg, "--output", out, "--overwrite", "--max-trials", "1")
    assert code == 0, stderr[-3000:]
    assert "took over the lock of search pid 4206649" in stdout
    assert "--overwrite left files autoq did not write in" in stdout and "notes.txt" in stdout
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(records(out)) == ["0"]


def test_overwrite_deletes_only_what_autoq_created(tmp_path):
    cfg = write_config(tmp_path)
    thesis = tmp_path / "work"
    (thesis / "src").mkdir(parents=True)
    (thesis / "src" / "thesis.tex").write_text("\\chapter{Results}")
    (thesis / "state.json").write_text(json.dumps({"config_digest": "0123456789abcdef"}))  # looks like a search
    code, _, stderr = run_cli("search", cfg, "--output", thesis, "--overwrite")
    assert code == 2
    assert one_error(stderr) == (f"error: output directory {thesis} exists and was not created by autoq; refusing to "
                                 "write into it or delete it (choose another --output)")
    assert (thesis / "src" / "thesis.tex").read_text() == "\\chapter{Results}"
    assert sorted(p.name for p in thesis.iterdir()) == ["src", "state.json"]


def test_sigkill_at_every_phase_then_the_same_command_resumes(tmp_path):
    """Kill during float training, baselines, trials, after the summary and during the automatic export; each time
    the same command carries on, and the last run finishes everything."""
    proj = tmp_path / "prj"
    cfg = write_config(tmp_path, search={"max_trials": 3, "output_dir": "out"}, train={"float_epochs": 40},
                       baselines=[{"name": "Q4", "kernel": "quantized_bits(4,0,alpha=1)",
                                   "bias": "quantized_bits(8,2,alpha=1)", "activation": "quantized_relu(4,2)"}],
                       hls4ml={"output_dir": str(proj), "part": "xcvu13p-flga2577-2-e"})
    out = tmp_path / "out"
    phases = [("float training", lambda: log_has(log, "training the float model")()),
              ("baselines", lambda: log_has(log, "reference energy")()),
              ("trials", lambda: len(records(out)) >= 1),
              ("after the summary", lambda: (out / "summary.json").is_file()),
              ("export", lambda: log_has(log, "exporting the winner")())]
    for i, (phase, reached) in enumerate(phases):
        log = tmp_path / f"run{i}.log"
        p = start(["search", cfg], tmp_path, log)
        try:
            assert wait_until(reached, [p]), f"{phase}: {log.read_text()[-3000:]}"
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            stop(p)
        assert p.returncode == -signal.SIGKILL, f"{phase}: the run ended by itself before the kill"
    final = subprocess.run(autoq("search", cfg), cwd=tmp_path, capture_output=True, text=True, timeout=HANG, env=env())
    text = final.stdout + final.stderr
    assert final.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "training the float model" not in text  # prepared once, then reused
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3 and not summary["interrupted"] and "Q4" in summary["baselines"]
    assert sorted(records(out)) == ["0", "1", "2"]
    assert summary["export"] == str(proj) and (proj / "hls4ml_config.yml").is_file()
    assert "max |diff| 0" in text


def _npz(path: Path, seed: int):
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))[:600]
    np.savez(path, x=x[idx], y=y[idx])


def test_resume_refuses_other_data_model_or_a_missing_float_model(tmp_path):
    import tensorflow as tf

    import autoq
    data = tmp_path / "data.npz"
    _npz(data, 0)
    cfg = write_config(tmp_path, data={"source": "npz", "path": "data.npz"}, search={"max_trials": 1})
    out = tmp_path / "out"
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 0, stderr
    first = json.loads((out / "summary.json").read_text())

    _npz(data, 1)  # other samples under the same file name
    code, _, stderr = run_cli("search", cfg, "--output", out, "--max-trials", "2")
    assert code == 2
    assert one_error(stderr) == (f"error: {out} holds another search (its data (content hash) differs from this "
                                 f"run's), so it cannot be resumed; {FRESH} (deletes the earlier search's files; "
                                 "overwrite=True in Python) or choose another --output (output_dir=...)")
    assert json.loads((out / "summary.json").read_text()) == first and sorted(records(out)) == ["0"]

    _npz(data, 0)  # the same data again, but the float model file is gone
    (out / "float_model.h5").unlink()
    code, _, stderr = run_cli("search", cfg, "--output", out, "--max-trials", "2")
    assert code == 2
    assert one_error(stderr).startswith(f"error: {out}/float_model.h5 is missing: every trial of this search starts "
                                        f"from it; restore it, or {FRESH}")
    assert sorted(records(out)) == ["0"]

    # the Python API follows the same rule: another model on the same folder is refused, not "resumed"
    tf.keras.utils.set_random_seed(3)
    other = autoq.models.mlp(input_dim=64, hidden=(8,), n_classes=10)
    x = np.random.default_rng(0).random((300, 64))
    with pytest.raises(ResultsError, match=r"its data \(content hash\) and float model \(weights hash\) differ"):
        autoq.search(other, (x, np.arange(300) % 10), cfg, output_dir=out, verbose=False)


def test_a_search_from_before_an_upgrade_resumes_and_a_changed_setting_is_named(tmp_path):
    """state.json written by an autoq that lacked some settings (their keys absent, another digest): the search
    resumes when this run leaves them at their defaults; a setting that really changed is named in the error."""
    cfg = write_config(tmp_path, search={"max_trials": 1, "output_dir": "out"})
    out = tmp_path / "out"
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 0, stderr
    state = json.loads((out / "state.json").read_text())
    for key in ("input_bits", "output_bits", "head"):  # settings an older autoq did not have
        del state["config"]["goal"][key]
    state["fingerprint"]["config"] = "0123456789abcdef"
    (out / "state.json").write_text(json.dumps(state))
    code, _, stderr = run_cli("search", cfg, "--output", out, "--max-trials", "2")
    assert code == 0, stderr
    assert sorted(records(out)) == ["0", "1"]

    epochs = json.loads((out / "state.json").read_text())["config"]["train"]["epochs"]
    cfg = write_config(tmp_path, search={"max_trials": 3, "output_dir": "out"}, train={"epochs": epochs + 1},
                       goal={"cost": "bits", "input_bits": 8})
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 2
    assert one_error(stderr).startswith(
        f"error: {out} holds another search (its config (goal.cost: 'energy' -> 'bits'; goal.input_bits: (not set) "
        f"-> 8; train.epochs: {epochs} -> {epochs + 1}) differs from this run's), so it cannot be resumed; {FRESH}"), \
        stderr
    assert sorted(records(out)) == ["0", "1"]


def _chief_cmd(cfg, port, *extra):
    return ["search", cfg, "--chief", "--port", port, *extra]


def test_chief_listens_on_loopback_and_beyond_it_only_with_a_token(tmp_path):
    cfg = write_config(tmp_path, search={"max_trials": 2, "output_dir": "out"})
    port = free_port()
    # beyond loopback without a secret: refused before anything starts
    code, _, stderr = run_cli(*_chief_cmd(cfg, port, "--host", "0.0.0.0"))
    assert code == 2 and not (tmp_path / "out").exists()
    assert one_error(stderr) == ("error: a chief listening on 0.0.0.0 (beyond this machine) needs a shared secret: "
                                 "set AUTOQ_TOKEN (or pass --token) on the chief and on every worker; or listen on "
                                 "127.0.0.1")
    secret = uuid.uuid4().hex
    chief = start(_chief_cmd(cfg, port, "--host", "0.0.0.0"), tmp_path, tmp_path / "chief.log", AUTOQ_TOKEN=secret)
    try:
        assert wait_until(log_has(tmp_path / "chief.log", "oracle listening on"), [chief]), \
            (tmp_path / "chief.log").read_text()
        assert f"oracle listening on 0.0.0.0:{port} (workers must present the token)" in \
            (tmp_path / "chief.log").read_text()
        worker = ["search", cfg, "--worker", "--chief-address", f"127.0.0.1:{port}"]
        for token in ("", "wrong"):
            rogue = subprocess.run(autoq(*worker, "--tuner-id", "rogue"), cwd=tmp_path, capture_output=True,
                                   text=True, timeout=HANG, env=env(AUTOQ_TOKEN=token))
            assert rogue.returncode == 2, rogue.stdout[-2000:] + rogue.stderr[-2000:]
            assert one_error(rogue.stderr) == (f"error: the chief at 127.0.0.1:{port} refused this worker: wrong or "
                                               "missing token (set AUTOQ_TOKEN, or --token, to the chief's)")
        good = subprocess.run(autoq(*worker, "--tuner-id", "w1"), cwd=tmp_path, capture_output=True, text=True,
                              timeout=HANG, env=env(AUTOQ_TOKEN=secret))
        assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
        chief.wait(timeout=HANG)
    finally:
        stop(chief)
    assert chief.returncode == 0, (tmp_path / "chief.log").read_text()[-3000:]
    recs = records(tmp_path / "out")
    assert sorted(recs) == ["0", "1"] and {r["tuner_id"] for r in recs.values()} == {"w1"}  # the rogue got none

    # without --host the chief binds loopback only
    port = free_port()
    chief = start(_chief_cmd(cfg, port, "--output", "out2"), tmp_path, tmp_path / "chief2.log")
    try:
        assert wait_until(log_has(tmp_path / "chief2.log", "oracle listening on"), [chief]), \
            (tmp_path / "chief2.log").read_text()
        # ... and even there it serves only holders of the search's own secret (out2/chief.token)
        assert f"oracle listening on 127.0.0.1:{port} (workers must present the token)" in \
            (tmp_path / "chief2.log").read_text()
        if shutil.which("ss"):  # iproute2's ss, where the machine has it: the one local address is loopback
            listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
            local = [line.split()[3] for line in listening.splitlines()]
            assert local and all(a in (f"127.0.0.1:{port}", f"[::ffff:127.0.0.1]:{port}") for a in local), listening
    finally:
        stop(chief)


def test_worker_whose_chief_does_not_answer_fails_within_its_connect_timeout(tmp_path):
    import time

    from autoq.cli import _parser
    from autoq.searching.distributed import CONNECT_TIMEOUT
    assert CONNECT_TIMEOUT == 30 and _parser().parse_args(["search", "c.yaml"]).connect_timeout == 30
    cfg = write_config(tmp_path, search={"output_dir": "out"})
    chief = start(["search", cfg, "--chief", "--port", free_port()], tmp_path, tmp_path / "chief.log")
    try:  # a prepared folder whose chief is gone
        assert wait_until(lambda: (tmp_path / "out" / "state.json").is_file(), [chief])
    finally:
        stop(chief)
    code, _, stderr = run_cli("search", cfg, "--output", tmp_path / "out", "--worker", "--chief-address",
                              f"127.0.0.1:{free_port()}", "--wait", "5", "--connect-timeout", "3")
    assert code == 2
    assert "cannot reach the chief at 127.0.0.1:" in one_error(stderr) and "after 3 s" in stderr
    # the wait itself (no work in it, so its time is the machine's clock, not its load): 3 s, not the default 30
    from autoq.errors import AutoqError
    from autoq.searching.distributed import wait_for_chief
    t0 = time.monotonic()
    with pytest.raises(AutoqError, match="after 3 s"):
        wait_for_chief("127.0.0.1", free_port(), 3, log=print)
    assert 2.5 < time.monotonic() - t0 < CONNECT_TIMEOUT


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own, where the machine lets us mount one (root in a sandbox that allows it)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): the disk-full check needs one")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_is_one_clean_error_and_the_folder_stays_resumable(tmp_path, tmpfs):
    cfg = write_config(tmp_path, search={"max_trials": 4}, train={"epochs": 3})
    out = tmpfs / "out"
    log = tmp_path / "run.log"
    p = start(["search", cfg, "--output", out], tmp_path, log)
    try:
        assert wait_until(lambda: len(records(out)) >= 1, [p]), log.read_text()[-3000:]
        filler = tmpfs / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)  # until it is full
        p.wait(timeout=HANG)
    finally:
        stop(p)
    text = log.read_text()
    assert p.returncode == 2, text[-3000:]
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no space left on the device" in errors[0] and "run the same command again" in \
        errors[0], text[-3000:]
    kept = records(out)
    assert kept
    filler.unlink()
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 0, stderr[-3000:]
    after = records(out)
    assert sorted(after) == ["0", "1", "2", "3"] and all(after[t] == r for t, r in kept.items() if r["status"] == "ok")


def test_read_only_output_folder_is_one_clean_error(tmp_path, tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    cfg = write_config(tmp_path)
    code, _, stderr = run_cli("search", cfg, "--output", tmpfs / "out")
    assert code == 2
    assert one_error(stderr) == f"error: cannot write to the output directory {tmpfs}/out: Read-only file system"


def test_result_files_follow_the_umask(tmp_path):
    from autoq.searching.store import atomic_write_json
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "summary.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "summary.json").stat().st_mode & 0o777 == 0o644


def test_trial_stranded_between_keras_tuner_writes_is_run_on_resume(tmp_path):
    """keras-tuner writes trial_N/trial.json before oracle.json: a kill between the two left trial N RUNNING in its
    file but in no list of the oracle's, and a resumed search never ran it (found by the every-phase kill test)."""
    cfg = write_config(tmp_path, search={"max_trials": 2})
    out = tmp_path / "out"
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 0, stderr
    # the state of a kill between the two writes of trial 1
    trial = out / "tuner" / "trial_1" / "trial.json"
    t = json.loads(trial.read_text())
    t.update(status="RUNNING", metrics={"metrics": {}})
    trial.write_text(json.dumps(t))
    oracle = json.loads((out / "tuner" / "oracle.json").read_text())
    oracle["end_order"] = [i for i in oracle["end_order"] if i != "1"]
    (out / "tuner" / "oracle.json").write_text(json.dumps(oracle))
    shutil.rmtree(out / "trials" / "1")
    (out / "summary.json").unlink()
    code, _, stderr = run_cli("search", cfg, "--output", out)
    assert code == 0, stderr
    assert sorted(records(out)) == ["0", "1"] and json.loads((out / "summary.json").read_text())["trials"] == 2


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny search (every model kept), to damage copy by copy."""
    d = tmp_path_factory.mktemp("finished")
    cfg = write_config(d, search={"max_trials": 2, "keep": "all"})
    code, _, stderr = run_cli("search", cfg, "--output", d / "out")
    assert code == 0, stderr
    return cfg, d / "out"


def _damage(out: Path, what: str):
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best"]["trial"]
    if what == "record":
        (out / "trials" / best / "record.json").write_text('{"trial": ')
    elif what == "summary":
        (out / "summary.json").write_text("{")
    elif what == "oracle":
        (out / "tuner" / "oracle.json").write_text("[1, 2")
    elif what == "best_trial_model":
        (out / summary["best"]["model"]).unlink()
        (out / "summary.json").unlink()  # so the search must finish again from the trials
    elif what == "best_model":
        (out / "best_model.h5").unlink()


@pytest.mark.parametrize("what,command,message", [
    ("record", "search", "trials/{best}/record.json is unreadable (JSONDecodeError"),
    ("summary", "show", "summary.json is unreadable (JSONDecodeError"),
    ("oracle", "search", "keras-tuner's state in {out}/tuner is damaged (JSONDecodeError"),
    ("best_trial_model", "search", "the best trial's model {out}/trials/{best}/model.h5 is missing (trial {best})"),
    ("best_model", "show", "{out} is missing best_model.h5 of the finished search"),
])
def test_damaged_or_missing_files_are_named(finished, tmp_path, what, command, message):
    cfg, src = finished
    out = tmp_path / "out"
    shutil.copytree(src, out)
    best = json.loads((out / "summary.json").read_text())["best"]["trial"]
    _damage(out, what)
    args = ("search", cfg, "--output", out) if command == "search" else ("show", out)
    code, _, stderr = run_cli(*args)
    assert code == 2
    assert message.format(out=out, best=best) in one_error(stderr)
