"""The search proper: config and data resolved, checks before training, the output folder taken, the stages (one, or
one per block) run through keras-tuner, the finished search returned. Telling it and the automatic export are the
orchestrator's (:mod:`autoq.api`)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..config import SEEDING_ALGORITHMS, Config, config_from_dict, load_config
from ..data import Dataset, as_dataset, load_dataset
from ..errors import ConfigError, DataError
from .. import model_io
from .progress import printer
from .provenance import config_digest
from .result import FinishedSearch
from .store import storage_error
from . import strategies
from .strategies import make_oracle
from .strategies.base import StrategyContext
from .finish import finish
from .layout import TRIALS_CSV


def _check_data_fits(model, data: Dataset):
    if not model.inputs:
        raise DataError(f"the model {model.name!r} has no input shape yet: give its first layer input_shape=... or "
                        "start it with tf.keras.Input(shape)")
    from . import heads
    if len(model.outputs) > 1 or heads.is_multi(data):  # a target per output
        return heads.check_fits(model, data)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DataError(f"the model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                        "autoq searches models with one input and one output")
    if data.task != "classification":
        if tuple(model.input_shape[1:]) != tuple(data.input_shape):
            raise DataError(f"the model expects inputs of shape {tuple(model.input_shape[1:])} but the dataset "
                            f"{data.name!r} has {tuple(data.input_shape)}")
        if tuple(model.output_shape[1:]) != data.target_shape:
            raise DataError(f"the model's output has shape {tuple(model.output_shape[1:])} but the dataset "
                            f"{data.name!r} has {data.task} targets of shape {data.target_shape}")
        return
    want = tuple(model.input_shape[1:])
    if tuple(data.input_shape) != want:
        raise DataError(f"the model expects inputs of shape {want} but the dataset {data.name!r} has "
                        f"{tuple(data.input_shape)}")
    out = model.output_shape[-1]
    if out != data.n_classes:
        raise DataError(f"the model has {out} outputs but the dataset {data.name!r} has {data.n_classes} classes")


def check_overrides(max_trials=None, seed=None) -> None:
    """The command line's (or the API's) --max-trials and --seed, checked without the config (and TensorFlow)."""
    if max_trials is not None and int(max_trials) < 1:
        raise ConfigError(f"must be at least 1, got {max_trials}", key="search.max_trials (--max-trials)")
    from ..config import MAX_SEED, number_shown
    if seed is not None and not 0 <= int(seed) <= MAX_SEED:
        raise ConfigError(f"must be between 0 and {MAX_SEED}, got {number_shown(seed)}", key="seed (--seed)")


@dataclass(frozen=True)
class Resolved:
    """A config resolved once (:func:`resolve`): the caller's overrides applied and validated; :func:`run_search`
    takes it as it is. ``output_given``: the output folder came from the caller, so a relative one stays relative
    (one from a config file is taken from the current directory)."""

    config: Config
    output_given: bool = False


def resolve(config, **overrides) -> Resolved:
    """:func:`resolve_config`, remembered as done (the CLI's: the config file with its options applied)."""
    return Resolved(resolve_config(config, **overrides), overrides.get("output_dir") is not None)


def resolve_config(config, **overrides) -> Config:
    if config is None:
        cfg = config_from_dict({})
    elif isinstance(config, Config):  # built in Python: validated (and its defaults resolved) like a file
        cfg = config_from_dict(config.to_dict(), source=config.source, base_dir=config.base_dir)
    elif isinstance(config, dict):
        cfg = config_from_dict(config)
    else:
        cfg = load_config(config)
    check_overrides(max_trials=overrides.get("max_trials"), seed=overrides.get("seed"))
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "max_trials":
            if cfg.search.blocks:
                raise ConfigError("does not apply with search.blocks: set each block's max_trials",
                                  key="search.max_trials (--max-trials)")
            cfg.search.max_trials = int(value)
        elif key == "seed":
            cfg.seed = int(value)
        elif key == "output_dir":
            cfg.search.output_dir = str(value)
        elif key == "algorithm":  # validated with the rest of the config (registry, widths, blocks)
            d = cfg.to_dict()
            d["search"]["algorithm"] = value
            cfg = config_from_dict(d, source=cfg.source, base_dir=cfg.base_dir)
        elif key == "data_path":
            if cfg.data.source not in ("npz", "jets", "jets-generated"):
                raise ConfigError(f"--data names a file, but data.source is {cfg.data.source!r}, which reads no "
                                  "file; set data.source to npz or jets to search on a file", key="data.source",
                                  source=cfg.source)
            cfg.data.path = str(value)
    return cfg


def run_search(model=None, data=None, config=None, *, output_dir=None, max_trials=None, seed=None,
               algorithm=None, overwrite=False, verbose=True, log=None, role=None, chief_address=None,
               tuner_id=None, wait_timeout=3600.0, trust_model=False, token=None,
               connect_timeout=None, on_finish=None) -> FinishedSearch | None:
    """Search a heterogeneous quantization of ``model`` on ``data`` under ``config``.

    model: a trained float tf.keras model, or None to take it from the config (path or builder).
    data: a Dataset, (x, y), six split arrays, or None to load the config's dataset.
    config: a Config, a dict, a YAML path, or None for the defaults (validated here, the overrides output_dir,
        max_trials, seed and algorithm applied); or a :class:`Resolved` config, already validated with its
        overrides (the CLI's), used as it is.
    verbose: 0 (quiet), 1 or True (a line when each trial starts and ends), 2 (also a line per epoch).
    role: None (one process), "chief" or "worker" (keras-tuner's distributed mode, see autoq.searching.distributed);
        chief_address is HOST:PORT (the chief listens there, workers connect there), else keras-tuner's
        KERASTUNER_ORACLE_IP/PORT variables; tuner_id names this process (default: "chief", or a worker name).
        A worker returns None once the chief has no more trials; the chief returns the FinishedSearch. token (or
        $AUTOQ_TOKEN) is the shared secret a chief beyond loopback requires of its workers; a worker whose chief
        does not answer within connect_timeout seconds (default 30) fails.
    trust_model: allow a model file that carries code (Lambda layers, unknown custom layers, a SavedModel).
    on_finish: called with the FinishedSearch once summary.json is written (also when interrupted).

    The output folder is locked while the search runs; a folder that holds a search is resumed only if its config,
    data and float model are the same (else an error says what changed).
    """
    import warnings
    from ..keras_env import import_tensorflow_quietly, quiet_keras
    import_tensorflow_quietly()
    with warnings.catch_warnings(), quiet_keras():
        from sklearn.exceptions import ConvergenceWarning  # the Bayesian oracle's Gaussian process, at small budgets
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        from .distributed import keras_tuner_env, resolve_role
        dist = resolve_role(role, chief_address, tuner_id, token)
        with keras_tuner_env(dist):
            try:
                return _run_search(model=model, data=data, config=config, output_dir=output_dir,
                                   max_trials=max_trials, seed=seed, algorithm=algorithm, overwrite=overwrite,
                                   verbose=verbose, log=log, dist=dist, wait_timeout=wait_timeout,
                                   trust_model=trust_model, connect_timeout=connect_timeout, on_finish=on_finish)
            except OSError as exc:
                storage = storage_error(exc)
                if storage is None:
                    raise
                raise storage from None


def _float_activation_layers(model) -> set:
    """Softmax/sigmoid/... Activation layers: float by design, not worth a 'left float' line."""
    return {l.name for l in model.layers if l.__class__.__name__ == "Activation"}


def _run_search(*, model, data, config, output_dir, max_trials, seed, algorithm, overwrite, verbose, log, dist,
                wait_timeout, trust_model, connect_timeout, on_finish):
    """:func:`run_search` once keras-tuner's variables are set: every argument by name (the API's, ``dist`` the
    :class:`~.distributed.Role` or None)."""
    overrides = {"max_trials": max_trials, "seed": seed, "output_dir": output_dir, "algorithm": algorithm}
    if isinstance(config, Resolved):
        if any(v is not None for v in overrides.values()):
            raise TypeError("a Resolved config has its overrides applied already: pass them to resolve()")
        resolved = config
    else:
        resolved = resolve(config, **overrides)
    cfg = resolved.config
    log = printer(verbose, log)
    role = dist.role if dist else None
    if dist:  # every line says which process wrote it
        base_log, tag = log, f"[autoq {dist.tuner_id}]"
        log = lambda msg="", *a, **k: base_log(str(msg).replace("[autoq]", tag, 1), *a, **k)  # noqa: E731
    train_float = False
    if model is None:
        import tensorflow as tf
        tf.keras.utils.set_random_seed(cfg.seed)  # the builder's initial weights are part of the search's numbers
        model, train_float = model_io.from_config(cfg, trust_model)
    else:
        model_io.check_model(model)
        train_float = cfg.model.train is True
    if data is not None and not isinstance(data, Dataset) and cfg.data.standardize is True and not train_float:
        raise ConfigError("standardizing the arrays given to autoq.search would score the model given, trained on "
                          "them as they are, on inputs of another scale: drop data.standardize (arrays are used as "
                          "given), or set model.train: true to train it on the standardized data",
                          key="data.standardize", source=cfg.source)
    dataset = as_dataset(data, cfg.data) if data is not None else load_dataset(cfg.data, cfg.base_dir)
    _check_data_fits(model, dataset)
    preflight(cfg)
    from .heads import check_losses, resolve_head
    if resolve_head(model, cfg.goal.head, cfg.source) and cfg.search.algorithm in SEEDING_ALGORITHMS:
        raise ConfigError(f"search.algorithm {cfg.search.algorithm!r} learns its first trials from one target; the "
                          f"model {model.name!r} has several outputs: use "
                          + ", ".join(n for n in strategies.names() if n not in SEEDING_ALGORITHMS),
                          key="search.algorithm", source=cfg.source)
    check_losses(cfg.train.loss, model, cfg.source)
    out = Path(cfg.search.output_dir)
    if not out.is_absolute() and cfg.source and not resolved.output_given:
        out = Path.cwd() / out
    from . import folder as outdir
    fp = outdir.fingerprint(config_digest(cfg), dataset, model)
    lock = None
    if role == "worker":
        # the chief prepares the folder (float model, reference, baselines); workers wait for it and reuse it
        from .distributed import read_token, wait_for_state
        wait_for_state(out, fp, wait_timeout, log, config=cfg.to_dict())
        if not dist.token:  # the chief's own secret, when none was given
            dist = replace(dist, token=read_token(out))
    else:
        lock = outdir.take(out, fp, overwrite, role or "search", log, config=cfg.to_dict())
        if role == "chief" and not dist.token:  # never serve trials to a process without the search's secret
            from .distributed import search_token
            dist = replace(dist, token=search_token(out))
    try:
        return _search_in(out=out, cfg=cfg, model=model, dataset=dataset, log=log, dist=dist,
                          train_float=train_float, trust_model=trust_model, fingerprint=fp,
                          connect_timeout=connect_timeout, epoch_lines=int(verbose) >= 2, on_finish=on_finish)
    finally:
        if lock is not None:
            lock.release()


def preflight(cfg: Config) -> None:
    """Everything the end of the run needs, checked before any training: the loss, the hls4ml options."""
    import tensorflow as tf
    for loss in (cfg.train.loss.values() if isinstance(cfg.train.loss, dict) else [cfg.train.loss]):
        try:
            tf.keras.losses.get(loss)
        except (ValueError, TypeError):
            raise ConfigError(f"unknown loss {loss!r}; use a Keras loss name such as "
                              "categorical_crossentropy", key="train.loss", source=cfg.source) from None
    from ..metrics import check_known
    try:
        check_known(cfg.goal.metric)
    except ConfigError as exc:
        raise ConfigError(exc.plain, key="goal.metric", source=cfg.source) from None
    if cfg.hls4ml is not None:
        from ..errors import ExportError
        from ..exporting.pipeline import validate_part
        try:
            validate_part(cfg.hls4ml.part)
        except ExportError as exc:
            raise ConfigError(str(exc), key="hls4ml.part", source=cfg.source) from None
        proj = hls_project_dir(cfg)
        if proj.exists() and (not proj.is_dir() or (any(proj.iterdir()) and not (proj / "hls4ml_config.yml").is_file())):
            raise ConfigError(f"the export folder {proj} exists and is not an hls4ml project; autoq would write into "
                              "it at the end of the search: choose another hls4ml.output_dir", key="hls4ml.output_dir",
                              source=cfg.source)


def _scaler(dataset) -> dict | None:
    """The standardization the search's inputs went through, for summary.json (None: used as given)."""
    mean = getattr(dataset, "scaler_mean", None)
    if mean is None:
        return None
    return {"mean": [float(v) for v in mean.reshape(-1)], "scale": [float(v) for v in dataset.scaler_scale.reshape(-1)]}


def hls_project_dir(cfg: Config) -> Path:
    """Where the search's automatic export (an ``hls4ml:`` section) writes its project."""
    h = cfg.hls4ml
    return Path(h.output_dir) if h.output_dir else Path("hls_projects") / cfg.name


def _search_in(*, out, cfg, model, dataset, log, dist, train_float, trust_model, fingerprint, connect_timeout,
               epoch_lines, on_finish):
    """The search proper, in an output folder this process may write (locked, or a worker's shared folder)."""
    from .blocks import stages  # imports TensorFlow (the space)
    from .prepare import prepare
    from .session import open_session
    from .tuner import TooManyFailures, make_tuner, run_stage, write_table  # imports keras-tuner
    role = dist.role if dist else None
    if role and cfg.search.blocks:
        raise ConfigError("search.blocks runs in one process; drop --chief/--worker or the blocks",
                          key="search.blocks", source=cfg.source)
    session = open_session(cfg, model, dataset, out, log, trust_model=trust_model, fingerprint=fingerprint,
                           epoch_lines=epoch_lines, on_finish=on_finish)
    log(f"[autoq] {dataset.describe()}")
    log(f"[autoq] search space: {len(session.space.slots)} quantizable layers, "
        f"{len(session.space.hp_choices())} choices, {session.space.size():.3g} configurations; "
        f"{cfg.search.algorithm} search, {cfg.search.max_trials} trials, goal {cfg.goal.cost}")
    left_float = [n for n in session.space.float_layers if n not in _float_activation_layers(session.float_model)]
    if left_float:
        log(f"[autoq] layers left float: {', '.join(left_float)}")
    if role == "worker":
        # not "resuming": the chief prepared it
        session = prepare(session.but(log=lambda *a, **k: None), False).but(log=log)
        from .distributed import CONNECT_TIMEOUT, wait_for_chief
        wait_for_chief(dist.host, dist.port, connect_timeout or CONNECT_TIMEOUT, log)
        log(f"[autoq] worker joined the search in {out}; chief at {dist.host}:{dist.port}")
    else:
        session = prepare(session, train_float)
    serve_options = {"max_failed": cfg.search.max_failed_trials, "token": dist.token} if role == "chief" else None
    shown_total = None if strategies.traits(cfg.search.algorithm).own_budget else cfg.search.max_trials
    stopped, tuner = None, None
    for stage in stages(session):
        ctx = StrategyContext(cfg, stage.space, session.float_model, session.data, log, out, stage.project)
        tuner = make_tuner(session, stage, make_oracle(ctx, stage.trials), max_trials=shown_total,
                           serve_options=serve_options, dist=dist)
        stopped = run_stage(tuner, session, dist=dist, out=out)
        if stopped is not None:
            break
    if role == "worker":
        n = sum(1 for r in session.store.records() if r.get("tuner_id") == dist.tuner_id)
        log(f"[autoq] no more trials: this worker ran {n}; the chief writes the summary into {out}")
        return None
    if role == "chief" and getattr(tuner, "serve_result", {}).get("stopped_on_failures"):
        stopped = TooManyFailures(f"search stopped: {cfg.search.max_failed_trials} trials in a row failed; "
                                  f"see {out / TRIALS_CSV}")
    if stopped is not None:
        if not any(r.get("status") == "ok" for r in session.store.records()):
            write_table(session)
            raise stopped
        log(f"[autoq] {stopped}")
    result = finish(session, cfg.train.fine_tune_epochs, input_scaler=_scaler(dataset))
    result.tag = f"[autoq {dist.tuner_id}]" if dist else "[autoq]"
    return result
