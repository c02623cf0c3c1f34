"""Distributed search on keras-tuner's own chief/worker mode (one gRPC oracle, N workers, a shared output dir).

keras-tuner reads three environment variables: ``KERASTUNER_TUNER_ID`` (``chief`` for the oracle process, a unique
name per worker), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (where the chief listens / workers
connect). autoq adds the division of labour around them:

* the chief prepares the search once (float model, reference cost, baselines -> ``state.json`` +
  ``float_model.h5``) *before* it starts the oracle server, then serves trials until every worker has been told
  to stop, then writes the summary (``summary.json``, ``trials.csv``, Pareto front, ``best_model.h5``);
* workers wait for ``state.json`` in the shared output directory, reuse the prepared float model, ask the chief
  for trials over gRPC and write each trial's record and model into the same ``trials/<id>/`` layout.

Trial ids come from the one oracle, so they are unique across workers; each record carries its ``tuner_id``.
"""
from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AutoqError, ResultsError
from .layout import STATE

ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
ENV_TOKEN = "AUTOQ_TOKEN"
ROLES = ("chief", "worker")
DEFAULT_HOST = "127.0.0.1"  # the chief listens on loopback unless told otherwise
CONNECT_TIMEOUT = 30.0  # a worker whose chief does not answer fails after this many seconds
RETRY_PAUSE = 1.0  # seconds between asking a chief that dropped a request in flight again
CALL_TIMEOUT = 300.0  # one request to a running chief (keras-tuner's own is an hour)
TOKEN_HEADER = "autoq-token"
_TUNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_worker_id() -> str:
    """A worker name: $KERASTUNER_TUNER_ID, else worker<SLURM_PROCID>, else worker-<host>-<pid>.

    Give a restarted worker the same id: the chief then hands it back the trial it was running when it died.
    """
    if os.environ.get(ENV_ID) and "chief" not in os.environ[ENV_ID]:
        return os.environ[ENV_ID]
    if os.environ.get("SLURM_PROCID"):
        return f"worker{os.environ['SLURM_PROCID']}"
    return f"worker-{socket.gethostname().split('.')[0]}-{os.getpid()}"


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port), with a clear error."""
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AutoqError(f"expected the chief's address as HOST:PORT (e.g. node017:8470), got {address!r}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Role:
    """This process's part in a distributed search: ``role`` ("chief" or "worker"), where the chief listens
    (``host``, ``port``), the ``tuner_id`` naming this process, and the shared secret (``token``, None until the
    chief's own one is known: a new Role carries it, :func:`dataclasses.replace`)."""

    role: str
    host: str
    port: int
    tuner_id: str
    token: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets), as gRPC takes it."""
        return _address(self.host, self.port)


def resolve_role(role=None, chief_address=None, tuner_id=None, token=None) -> Role | None:
    """Settle role, address, tuner id and shared secret from arguments, falling back to keras-tuner's environment
    variables (and ``$AUTOQ_TOKEN`` for the secret).

    Returns None for an ordinary (single-process) search, else the :class:`Role`. A chief listening beyond loopback
    must have a token, and then every worker must present it.
    """
    if tuner_id is not None and (not _TUNER_ID.fullmatch(str(tuner_id)) or ".." in str(tuner_id)):
        raise AutoqError(f"a tuner id is a name of letters, digits, '_', '.' and '-' (it names files in the output "
                         f"folder), got {tuner_id!r}")
    env_id = os.environ.get(ENV_ID)
    if role is None:
        if chief_address is None and ENV_IP not in os.environ:
            return None
        role = "chief" if (tuner_id or env_id or "").startswith("chief") else "worker"
    if role not in ROLES:
        raise AutoqError(f"unknown distributed role {role!r}; expected chief or worker")
    if chief_address is not None:
        host, port = parse_address(chief_address)
    else:
        if ENV_IP not in os.environ or ENV_PORT not in os.environ:
            what = "--port (and --host)" if role == "chief" else "--chief-address HOST:PORT"
            raise AutoqError(f"a {role} needs the oracle's address: pass {what}, or set {ENV_IP} and {ENV_PORT}")
        host, port = parse_address(f"{os.environ[ENV_IP]}:{os.environ[ENV_PORT]}")
    if role == "chief":
        tid = tuner_id or (env_id if env_id and "chief" in env_id else "chief")
        if "chief" not in tid:
            raise AutoqError(f"the chief's tuner id must contain 'chief' (keras-tuner's rule), got {tid!r}")
    else:
        tid = tuner_id or default_worker_id()
        if "chief" in tid:
            raise AutoqError(f"a worker's tuner id must not contain 'chief' (keras-tuner would make it a second "
                             f"oracle), got {tid!r}")
    if not _TUNER_ID.fullmatch(tid) or ".." in tid:
        raise AutoqError(f"a tuner id is a name of letters, digits, '_', '.' and '-' (it names files in the output "
                         f"folder), got {tid!r}")
    token = token if token is not None else os.environ.get(ENV_TOKEN) or None
    if role == "chief" and token is None and not is_loopback(host):
        raise AutoqError(f"a chief listening on {host} (beyond this machine) needs a shared secret: set {ENV_TOKEN} "
                         "(or pass --token) on the chief and on every worker; or listen on 127.0.0.1")
    return Role(role=role, host=host, port=port, tuner_id=tid, token=token)


@contextlib.contextmanager
def keras_tuner_env(dist: Role | None):
    """Set keras-tuner's variables for the duration of a search (restored afterwards); None: a one-process search,
    nothing set."""
    if dist is None:
        yield
        return
    new = {ENV_ID: dist.tuner_id, ENV_IP: dist.host, ENV_PORT: str(dist.port)}
    old = {k: os.environ.get(k) for k in new}
    os.environ.update(new)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


TOKEN_FILE = "chief.token"  # in the output folder: the search's own secret, readable only by its owner (0600)


def search_token(out: Path) -> str:
    """Chief side, when no token was given: the search's secret, made once per search (kept across a chief's
    restart) in ``<out>/chief.token``, mode 0600, so that only processes of the same user can join."""
    import secrets
    path = Path(out) / TOKEN_FILE
    if path.exists():
        return read_token(out)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        os.chmod(tmp, 0o600)  # whatever the umask
        os.replace(tmp, path)
    except OSError as exc:
        raise ResultsError(f"cannot write the search's secret {path}: {exc.strerror or exc}") from None
    return token


def read_token(out: Path) -> str | None:
    """Worker side, when no token was given: the chief's secret from ``<out>/chief.token`` (None if there is none);
    a file others may read, or another user's, is refused (its secret is no secret)."""
    path = Path(out) / TOKEN_FILE
    try:
        st = path.stat()
        if st.st_mode & 0o077 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            raise ResultsError(f"{path} (the search's secret) must belong to you and be readable only by you "
                               f"(mode 0600, it is {st.st_mode & 0o777:o}): delete it and restart the chief")
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"cannot read the search's secret {path}: {exc}") from None
    if not token:
        raise ResultsError(f"{path} (the search's secret) is empty: delete it and restart the chief")
    return token


def wait_for_state(out: Path, fingerprint: dict, timeout: float, log, poll: float = 1.0, config: dict | None = None
                   ) -> dict:
    """Worker side: wait until the chief has prepared the shared output directory; check it is this search (same
    config, data and float model)."""
    from .folder import differ, read_state, state_changes
    state_path = out / STATE
    t0 = time.time()
    said = False
    while not state_path.is_file():
        if time.time() - t0 > timeout:
            raise ResultsError(f"no {state_path} after {timeout:.0f} s: start the chief (autoq search CONFIG --chief "
                               "...) with the same --output, and make sure the output directory is on a filesystem "
                               "shared by chief and workers")
        if not said:
            log(f"[autoq] waiting for the chief to prepare {out} ...")
            said = True
        time.sleep(poll)
    state = read_state(out)
    changed = state_changes(state, fingerprint, config)
    if changed:
        raise ResultsError(f"{out} holds another search (its {differ(changed)} from this worker's): "
                           "chief and workers must use the same config, data and model, and the same --output")
    return state


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def wait_for_chief(host: str, port: int, timeout: float, log) -> None:
    """Worker side: fail clearly if the chief's gRPC port does not answer within ``timeout`` seconds (a wrong
    address would otherwise leave keras-tuner's client waiting an hour per request)."""
    import grpc
    addr = _address(host, port)
    channel = grpc.insecure_channel(addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=max(timeout, 1.0))
    except grpc.FutureTimeoutError:
        raise AutoqError(f"cannot reach the chief at {addr} after {max(timeout, 1.0):.0f} s: is it running, and is "
                         "the address right (the chief prints it: 'oracle listening on ...')?") from None
    finally:
        channel.close()


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials",
                                                           "wait_for_ready", "compression"))):
    pass


def _client_interceptor(token: str | None, call_timeout: float):
    import grpc

    class TokenAndDeadline(grpc.UnaryUnaryClientInterceptor):
        """Adds the shared secret to every request and bounds how long one request may wait for the chief."""

        def intercept_unary_unary(self, continuation, details, request):
            md = list(details.metadata or []) + ([(TOKEN_HEADER, token)] if token else [])
            deadline = time.monotonic() + min(details.timeout or call_timeout, call_timeout)
            while True:
                left = deadline - time.monotonic()
                new = type("Details", (_CallDetails, grpc.ClientCallDetails), {})(
                    details.method, max(left, 0.1), md, details.credentials, True, details.compression)
                outcome = continuation(new, request)
                exc = outcome.exception()
                # a chief killed while this request was in flight ("Socket closed"): ask its restart, until the
                # deadline (a request that never reached it waits for the chief anyway: wait_for_ready)
                if exc is None or exc.code() != grpc.StatusCode.UNAVAILABLE or left <= RETRY_PAUSE:
                    return outcome
                time.sleep(RETRY_PAUSE)

    return TokenAndDeadline()


def connect_worker(oracle_client, dist: Role, call_timeout: float = CALL_TIMEOUT) -> None:
    """Point a keras-tuner ``OracleClient`` at the chief through autoq's interceptor (token, bounded wait). Only
    this tuner's client is changed; keras-tuner itself is not patched."""
    import grpc
    from keras_tuner.src import protos
    channel = grpc.intercept_channel(grpc.insecure_channel(dist.address),
                                     _client_interceptor(dist.token, call_timeout))
    oracle_client.stub = protos.get_service_grpc().OracleStub(channel)


def _server_interceptor(token: str):
    import grpc

    def deny(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, f"autoq chief: wrong or missing token (set {ENV_TOKEN} to "
                                                       "the chief's)")

    class TokenCheck(grpc.ServerInterceptor):
        """Answers only requests that carry the chief's shared secret."""

        def intercept_service(self, continuation, details):
            given = dict(details.invocation_metadata or ()).get(TOKEN_HEADER, "")
            if hmac.compare_digest(str(given).encode(), token.encode()):
                return continuation(details)
            return grpc.unary_unary_rpc_method_handler(deny)

    return TokenCheck()


def consecutive_failures(oracle) -> int:
    """Trials that failed in a row, counting back from the last one to end."""
    n = 0
    for tid in reversed(oracle.end_order):
        if oracle.trials[tid].status != "FAILED":
            break
        n += 1
    return n


def serve(oracle, host: str, port: int, log, max_failed: int | None = None, poll: float = 0.5,
          status_every: float = 60.0, token: str | None = None) -> dict:
    """Chief side: keras-tuner's ``OracleServicer`` on ``host:port`` until all trials are done and every worker
    has been told to stop (keras-tuner's own ``start_server`` polls that every 20 s and never stops the server).

    Stops handing out trials after ``max_failed`` consecutive failures. Returns {"stopped_on_failures": bool}.
    """
    from concurrent import futures

    import grpc

    from ..keras_env import keras_tuner
    keras_tuner()
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    # no SO_REUSEPORT: a second chief on the same port must fail, not silently share it with the first
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=[("grpc.so_reuseport", 0)],
                         interceptors=[_server_interceptor(token)] if token else None)
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    addr = _address(host, port)
    try:
        bound = server.add_insecure_port(addr)
    except RuntimeError as exc:
        raise AutoqError(f"the chief cannot listen on {addr}: {exc} (port in use? choose another --port)") from None
    if not bound:
        raise AutoqError(f"the chief cannot listen on {addr} (port in use? choose another --port)")
    server.start()
    log(f"[autoq] oracle listening on {addr}" + (" (workers must present the token)" if token else "")
        + f"; start workers with  autoq search CONFIG --worker --chief-address "
        f"{socket.gethostname() if host in ('0.0.0.0', '::') else host}:{port}  (same --output"
        + (f", same {ENV_TOKEN})" if token else ")"))
    stopped_on_failures = False
    seen_ended, last_status = -1, time.time()
    try:
        while True:
            time.sleep(poll)
            with oracle_chief_lock(oracle):
                ended = len(set(oracle.end_order))  # a trial re-run after a chief restart ends twice
                running = {t: tr.trial_id for t, tr in oracle.ongoing_trials.items()}
                if max_failed and not stopped_on_failures and consecutive_failures(oracle) >= max_failed:
                    stopped_on_failures = True
                    oracle.max_trials = len(oracle.trials)  # the oracle now answers STOPPED
                    log(f"[autoq] {max_failed} consecutive failed trials; handing out no more trials")
                # keras-tuner's rule (a worker was told to stop, none is running a trial or still to be told), or,
                # for a chief resumed after the last trial ended, nothing left to hand out at all
                exhausted = bool(oracle.max_trials) and len(oracle.trials) >= oracle.max_trials \
                    and not oracle._retry_queue
                done = (servicer.stop_triggered or exhausted) and not oracle.ongoing_trials and not oracle.tuner_ids
            if ended != seen_ended or time.time() - last_status > status_every:
                run = ", ".join(f"{t} (trial {i})" for t, i in sorted(running.items())) or "-"
                log(f"[autoq] {ended}/{oracle.max_trials} trials done; running: {run}")
                seen_ended, last_status = ended, time.time()
            if done:
                break
    finally:
        server.stop(grace=2)
    return {"stopped_on_failures": stopped_on_failures}


@contextlib.contextmanager
def oracle_chief_lock(oracle, timeout: float = 5.0):
    """keras-tuner's oracle methods are ``@synchronized`` on a module-level lock; take the same lock to read.

    That decorator never releases the lock when the method raises, so wait at most ``timeout`` seconds.
    """
    from keras_tuner.src.engine import oracle as oracle_module
    lock = getattr(oracle_module, "LOCKS", {}).get(oracle)
    got = lock.acquire(timeout=timeout) if lock is not None else False
    try:
        yield
    finally:
        if got:
            lock.release()
