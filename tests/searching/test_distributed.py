"""Distributed search on keras-tuner's chief/worker mode: a real chief and two real workers over gRPC on 127.0.0.1."""
from __future__ import annotations

import csv
import json

import pytest

from helpers_search import HANG, free_port, records, start, stop, write_config

from autoq.searching.distributed import Role, parse_address, resolve_role
from autoq.errors import AutoqError


def test_chief_and_two_workers_share_one_search(tmp_path):
    cfg = write_config(tmp_path, search={"max_trials": 4, "output_dir": "out"})
    port = free_port()
    out = tmp_path / "out"
    # workers first: they wait for the chief to prepare the shared output directory
    w1 = start(["search", cfg, "--worker", "--chief-address", f"127.0.0.1:{port}", "--tuner-id", "w1", "--wait", HANG,
               "--connect-timeout", HANG], tmp_path, tmp_path / "w1.log")
    w2 = start(["search", cfg, "--worker", "--chief-address", f"127.0.0.1:{port}", "--tuner-id", "w2", "--wait", HANG,
               "--connect-timeout", HANG], tmp_path, tmp_path / "w2.log")
    chief = start(["search", cfg, "--chief", "--host", "127.0.0.1", "--port", port], tmp_path, tmp_path / "chief.log")
    try:
        for p in (chief, w1, w2):
            p.wait(timeout=HANG)
    finally:
        stop(chief, w1, w2)
    logs = {n: (tmp_path / f"{n}.log").read_text() for n in ("chief", "w1", "w2")}
    for name, p in (("chief", chief), ("w1", w1), ("w2", w2)):
        assert p.returncode == 0, f"{name} exited {p.returncode}:\n{logs[name][-3000:]}"
        assert "Traceback" not in logs[name], logs[name]

    recs = records(out)
    assert sorted(recs) == ["0", "1", "2", "3"]  # every trial once, ids unique across workers
    assert all(r["status"] == "ok" for r in recs.values())
    by = {t: [r["trial"] for r in recs.values() if r["tuner_id"] == t] for t in ("w1", "w2")}
    assert by["w1"] and by["w2"], by  # both workers ran trials; the chief ran none
    assert set(by["w1"]) | set(by["w2"]) == set(recs)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["failed_trials"] == 0
    assert summary["best"]["trial"] in recs and set(summary["pareto"]) <= set(recs)
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert sorted(r["trial"] for r in rows) == sorted(recs)
    assert {r["tuner_id"] for r in rows} == {"w1", "w2"}
    assert (out / "best_model.h5").is_file() and (out / "pareto.csv").is_file()
    # one preparation, by the chief; per-worker progress lines name the worker
    assert logs["chief"].count("training the float model") == 1
    assert "training the float model" not in logs["w1"] + logs["w2"]
    for t in ("w1", "w2"):
        assert f"[autoq {t}] trial " in logs[t]
        assert f"[autoq {t}] no more trials: this worker ran {len(by[t])}" in logs[t]
    assert "[autoq chief] 4/4 trials done" in logs["chief"]
    assert "Reloading" not in "".join(logs.values())


def test_worker_without_chief_times_out_with_a_clear_error(tmp_path):
    from autoq.cli import main
    cfg = write_config(tmp_path)
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["search", str(cfg), "--output", str(tmp_path / "out"), "--worker", "--chief-address",
                     f"127.0.0.1:{free_port()}", "--wait", "1", "--tuner-id", "w9"])
    assert code == 2
    lines = [l for l in err.getvalue().splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "no " in lines[0] and "state.json after 1 s: start the chief" in lines[0]


@pytest.mark.parametrize("args,message", [
    (dict(role="worker", chief_address="nohost"), "expected the chief's address as HOST:PORT"),
    (dict(role="worker", chief_address="127.0.0.1:1", tuner_id="chief2"), "must not contain 'chief'"),
    (dict(role="chief", chief_address="127.0.0.1:1", tuner_id="boss"), "must contain 'chief'"),
    (dict(role="worker"), "pass --chief-address HOST:PORT, or set KERASTUNER_ORACLE_IP"),
])
def test_role_errors(args, message, monkeypatch):
    for k in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(AutoqError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_role(**args)


def test_role_from_keras_tuner_environment(monkeypatch):
    monkeypatch.delenv("AUTOQ_TOKEN", raising=False)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8470")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert resolve_role() == Role(role="chief", host="127.0.0.1", port=8470, tuner_id="chief", token=None)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner3")
    monkeypatch.setenv("AUTOQ_TOKEN", "s3cret")
    assert resolve_role() == Role(role="worker", host="127.0.0.1", port=8470, tuner_id="tuner3", token="s3cret")
    assert parse_address("node17:8470") == ("node17", 8470)


def test_a_role_is_frozen_and_a_token_comes_as_a_new_role():
    """The role travels unchanged through the search; the chief's own secret, found later, makes a new value."""
    import dataclasses
    r = Role(role="worker", host="::1", port=8470, tuner_id="w1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.token = "t"
    assert dataclasses.replace(r, token="t").token == "t" and r.token is None
    assert r.address == "[::1]:8470"


def test_chief_beyond_loopback_needs_a_token(monkeypatch):
    monkeypatch.delenv("AUTOQ_TOKEN", raising=False)
    for host in ("0.0.0.0", "10.1.2.3", "node17"):
        with pytest.raises(AutoqError, match=f"a chief listening on {host} .beyond this machine. needs a shared"):
            resolve_role("chief", f"{host}:8470")
    assert resolve_role("chief", "0.0.0.0:8470", token="t").token == "t"
    for host in ("127.0.0.1", "localhost", "[::1]"):
        assert resolve_role("chief", f"{host}:8470").token is None


def test_chief_killed_and_restarted_worker_carries_on(tmp_path):
    """SIGKILL the chief mid-search; the worker waits for it; the restarted chief resumes from keras-tuner's saved
    oracle, hands the interrupted trial out again, the worker keeps its already finished record, and the search ends
    with every trial recorded once."""
    import signal
    from helpers_search import wait_until
    cfg = write_config(tmp_path, train={"epochs": 3}, search={"max_trials": 4, "output_dir": "out"})
    port, out = free_port(), tmp_path / "out"
    chief_args = ["search", cfg, "--chief", "--host", "127.0.0.1", "--port", port]
    chief = start(chief_args, tmp_path, tmp_path / "chief1.log")
    w = start(["search", cfg, "--worker", "--chief-address", f"127.0.0.1:{port}", "--tuner-id", "w1", "--wait", HANG,
               "--connect-timeout", HANG], tmp_path, tmp_path / "w1.log")
    chief2 = None
    try:
        assert wait_until(lambda: len(records(out)) >= 1, [chief, w]), (tmp_path / "chief1.log").read_text()
        chief.send_signal(signal.SIGKILL)
        chief.wait(10)
        first = records(out)
        chief2 = start(chief_args, tmp_path, tmp_path / "chief2.log")
        chief2.wait(timeout=HANG)
        w.wait(timeout=HANG)
    finally:
        stop(*[p for p in (chief, chief2, w) if p is not None])
    log2, wlog = (tmp_path / "chief2.log").read_text(), (tmp_path / "w1.log").read_text()
    assert chief2.returncode == 0 and w.returncode == 0, log2[-2000:] + wlog[-2000:]
    assert "Traceback" not in log2 + wlog
    assert "resuming" in log2 and "training the float model" not in log2
    recs = records(out)
    assert sorted(recs) == ["0", "1", "2", "3"]
    for t, r in first.items():
        assert recs[t] == r
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 4 and "[autoq chief] 4/4 trials done" in log2


def test_chief_on_a_busy_port_is_a_clear_error():
    import socket

    from autoq.searching.distributed import serve
    from autoq.keras_env import keras_tuner
    kt = keras_tuner()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=1, seed=1)
        with pytest.raises(AutoqError, match=f"the chief cannot listen on 127.0.0.1:{port}.*choose another --port"):
            serve(oracle, "127.0.0.1", port, log=lambda *a: None)


def test_a_loopback_chief_serves_only_holders_of_the_search_secret(tmp_path, monkeypatch):
    """No --token, no $AUTOQ_TOKEN: the chief makes the search's secret (out/chief.token, mode 0600), refuses a
    process on this machine that does not present it, and a worker of the same user reads it from the folder."""
    import grpc
    import stat
    from helpers_search import wait_until
    from autoq.keras_env import keras_tuner
    keras_tuner()
    from keras_tuner.src import protos

    monkeypatch.delenv("AUTOQ_TOKEN", raising=False)
    cfg = write_config(tmp_path, search={"max_trials": 1, "output_dir": "out"})
    port, out = free_port(), tmp_path / "out"
    chief = start(["search", cfg, "--chief", "--host", "127.0.0.1", "--port", port], tmp_path, tmp_path / "chief.log")
    w = None
    try:
        listening = lambda: "oracle listening" in (tmp_path / "chief.log").read_text()  # noqa: E731
        assert wait_until(listening, [chief]), (tmp_path / "chief.log").read_text()
        token = out / "chief.token"
        assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text().strip()) >= 32
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # any local process, without the secret
            with pytest.raises(grpc.RpcError) as refused:
                protos.get_service_grpc().OracleStub(channel).GetSpace(protos.get_service().GetSpaceRequest(),
                                                                       timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        w = start(["search", cfg, "--worker", "--chief-address", f"127.0.0.1:{port}", "--tuner-id", "w1"],
                  tmp_path, tmp_path / "w1.log")
        chief.wait(timeout=200)
        w.wait(timeout=60)
    finally:
        stop(*[p for p in (chief, w) if p is not None])
    logs = (tmp_path / "chief.log").read_text() + (tmp_path / "w1.log").read_text()
    assert chief.returncode == 0 and w.returncode == 0, logs[-3000:]
    assert "workers must present the token" in logs and sorted(records(out)) == ["0"]
