"""YAML -> validated dataclasses. Every message about a bad config is produced here, before any training.

Longer than autoq's other modules on purpose: the schema (dataclasses) and every check with its message are kept in
one place, so one file answers "what may a config say" (reading the YAML itself is :mod:`autoq.yaml_input`).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import export_options, quantizers
from .errors import ConfigError, QuantizerError
from .searching import strategies
from .yaml_input import read_yaml, read_yaml_file

MAX_SEED = 2**31 - 1  # numpy takes seeds < 2**32, and trial n trains with seed + n
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # a search name names folders: no separators, no '..'
RANGES = {  # inclusive bounds of numeric settings: (section, key) -> (low, high)
    ("train", "epochs"): (1, 100_000), ("train", "batch_size"): (1, 1_000_000), ("train", "patience"): (0, 100_000),
    ("train", "float_epochs"): (0, 100_000), ("train", "fine_tune_epochs"): (0, 100_000),
    ("search", "max_trials"): (1, 1_000_000), ("search", "max_failed_trials"): (0, 1_000_000),
    ("search", "learn_epochs"): (1, 1_000_000), ("search", "children"): (0, 1_000_000),
    ("data", "n_samples"): (1, 10_000_000),
    ("goal", "delta_p"): (0, 1000), ("goal", "delta_n"): (0, 1000),
    ("goal", "input_bits"): (1, 64), ("goal", "output_bits"): (1, 64),
}
COSTS = ("energy", "bits", "bops", "fpga", "ebops")
# strategies whose first trials are learned from the float model and one training target (searching/strategies/):
# they know neither the width search's widths nor a multi-output model's targets
SEEDING_ALGORITHMS = strategies.having(seeds_from_float=True)
GRANULARITIES = ("layer", "channel", "weight")  # space.granularity (autoq.quantizers.learned_fine)
QTOOLS_PROCESSES = ("horowitz",)  # the energy tables qkeras.qtools.config_public ships
DATA_SOURCES = ("digits", "iris", "wine", "breast_cancer", "diabetes", "npz", "jets", "jets-synthetic", "jets-generated",
                "arrays", "digits-heads")


@dataclass
class ModelConfig:
    """Where the float model comes from: a saved Keras file or a ``module:function`` builder."""

    path: str | None = None
    builder: str | None = None
    kwargs: dict = field(default_factory=dict)
    train: Any = "auto"  # true | false | auto (train the float model when it comes from a builder)


@dataclass
class DataConfig:
    """Dataset selection and split."""

    source: str = "digits"
    task: str = "classification"  # classification | regression | autoencoder (the target is the input)
    path: str | None = None
    # auto: the config's own data standardized with the training split's mean/std, arrays given to autoq.search used
    # as given; true: those too; false: never
    standardize: Any = "auto"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    n_samples: int = 20000  # jets-synthetic only
    seed: int = 0


@dataclass
class TrainConfig:
    """How each trial (and the float model, when needed) is trained."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.003
    optimizer: str = "adam"
    patience: int = 3
    float_epochs: int = 30
    fine_tune_epochs: int = 0
    loss: Any = None  # default: categorical_crossentropy for classifiers, mse otherwise; or {output: loss}
    metric: str | None = None  # deprecated: goal.metric scores trials; given here it must agree


@dataclass
class RoleChoices:
    """Allowed quantizer specs for each parameter type of a layer (None: leave that type as it is)."""

    kernel: list | None = None
    bias: list | None = None
    activation: list | None = None


@dataclass
class SpaceConfig:
    """The search space: defaults, per layer type, per layer-name regex; groups share one choice."""

    input_quantizer: str | list | None = "quantized_bits(16,6,alpha=1)"  # a list: searched, the first the reference
    default: RoleChoices = field(default_factory=RoleChoices)
    layer_types: dict = field(default_factory=dict)  # class name -> RoleChoices
    layers: dict = field(default_factory=dict)  # name regex -> RoleChoices
    groups: dict = field(default_factory=dict)  # group name -> name regex
    skip: list = field(default_factory=list)  # name regexes left float
    allow_float: bool = False  # leave layers autoq cannot quantize as float instead of failing
    widths: list = field(default_factory=list)  # width factors searched per layer (AutoQKeras's tune_filters: layer)
    widths_exceptions: list = field(default_factory=list)  # name regexes of layers whose width stays
    granularity: str = "layer"  # layer | channel | weight: what one kernel width covers (gradient; hessian: channel)


@dataclass
class GoalConfig:
    """Cost to minimise and AutoQKeras's forgiving factor."""

    cost: str = "energy"
    metric: str | None = None  # accuracy (classifiers), mse (regression, autoencoders), any Keras metric/loss
    direction: str | None = None  # max | min; inferred from the metric's name when not given
    head: str | None = None  # the output that scores a multi-output model (AutoQKeras's head_name; default: first)
    delta_p: float = 8.0
    delta_n: float = 8.0
    rate: float = 2.0
    reference: Any = "float16"  # 'float16' = the float model priced as 16-bit fixed point, or a number
    stress: float = 1.0  # AutoQKeras's stress: the reference cost is multiplied by it (< 1 demands cheaper models)
    # QTools energy (AutoQKeras's goal params): technology, and where weights/activations live
    process: str = "horowitz"
    weights_on_memory: str = "fixed"  # fixed | sram | dram
    activations_on_memory: str = "fixed"  # fixed | sram | dram
    min_sram_size: int = 8 * 16 * 1024 * 1024  # bits
    rd_wr_on_io: bool = False
    # AutoQKeras's bits goal: bits per input value and per softmax/sigmoid output value. Either given, the bits cost
    # counts activations too (AutoQKeras's size, autoq.cost.bits_goal); the other then defaults to AutoQKeras's 8
    input_bits: int | None = None
    output_bits: int | None = None
    # hard constraints (autoq.cost.budget): limits on the FPGA estimate at the hls4ml settings, and the metric drop
    budget: dict = field(default_factory=dict)  # lut, ff, dsp, bram, latency_ns, ii, part_fraction -> limit
    max_drop: float | None = None  # points (0.01 of the metric) below the float model's validation metric


@dataclass
class SearchConfig:
    """Search engine settings (keras-tuner conventions)."""

    algorithm: str = "bayesian"
    max_trials: int = 10
    output_dir: str = "autoq_runs/search"
    keep: str = "pareto"  # which trial models to keep on disk: all | pareto
    max_failed_trials: int = 10
    blocks: list = field(default_factory=list)  # [{layers: regex, max_trials: n}, ...] searched in order
    leave_space: bool = False  # learned choices may leave the listed quantizers (else snapped to the nearest)
    target_ebops: float | None = None  # granularity channel/weight: steer beta to this EBOPs (HGQ2's BetaPID)
    learn_epochs: int | None = None  # granularity channel/weight: epochs of the one training (default 2 per candidate)
    children: int | None = None  # granularity channel/weight: children evolved at that granularity (default: trials left)


@dataclass
class BaselineConfig:
    """A uniform quantization trained like a trial, to mark on the Pareto plot."""

    name: str
    kernel: str | None = None
    bias: str | None = None
    activation: str | None = None


@dataclass
class Hls4mlConfig:
    """Automatic export of the winner (hls4ml names)."""

    backend: str = "Vitis"
    part: str = "xcvu13p-flga2577-2-e"
    clock_period: float = 5.0
    io_type: str = "io_parallel"
    reuse_factor: int = 1
    strategy: str = "latency"
    output_dir: str | None = None
    project_name: str = "myproject"
    settings: dict = field(default_factory=dict)  # hls4ml's own Model / LayerName / LayerType entries, merged over


@dataclass
class Config:
    """A whole autoq run."""

    name: str = "autoq"
    seed: int = 42
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    goal: GoalConfig = field(default_factory=GoalConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    baselines: list = field(default_factory=list)
    hls4ml: Hls4mlConfig | None = None
    exportable: bool = True  # False (``hls4ml: false``): no hls4ml check, the result is not exportable
    source: str | None = None  # the YAML file, when loaded from one
    base_dir: str = "."  # relative paths in the config resolve against this

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source"), d.pop("base_dir")
        if not d.pop("exportable"):
            d["hls4ml"] = False
        return d

    def digest(self) -> str:
        """Hash of the settings (not of where the file lives): equal configs, equal digests."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def resolve(self, path: str | None) -> Path | None:
        """A path from the config, relative to the config file's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


# ---------------------------------------------------------------- loading with line numbers

class _Ctx:
    """Where we are in the config, to name the key and line in every error."""

    def __init__(self, source, lines):
        self.source, self.lines = source, lines
        self.exact = True  # quantizers must export bit-exactly (not with ``hls4ml: false``)

    def error(self, path, message):
        line = None
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                line = self.lines[path[:n]]
                break
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
        return ConfigError(message, key=key or None, line=line, source=self.source)


def load_config(path) -> Config:
    """Read and validate a YAML config file."""
    data, lines, source = read_yaml_file(path, "config")
    return _from_yaml(data, lines, source, str(Path(path).parent.resolve()))


def parse_config(text: str, source: str | None = None, base_dir: str = ".") -> Config:
    """Validate YAML text (read by :func:`autoq.yaml_input.read_yaml`: bounded, each key once)."""
    data, lines = read_yaml(text, source=source)
    return _from_yaml(data, lines, source, base_dir)


def _from_yaml(data, lines, source, base_dir) -> Config:
    return config_from_dict({} if data is None else data, source=source, base_dir=base_dir, lines=lines)


def config_from_dict(data, source=None, base_dir=".", lines=None) -> Config:
    """Validate a plain dict (as parsed from YAML, or built in a notebook)."""
    ctx = _Ctx(source, lines or {})
    if not isinstance(data, dict):
        raise ctx.error((), f"the config must be a mapping of sections, got {type(data).__name__}")
    cfg = _build(Config, data, (), ctx, skip=("model", "data", "train", "space", "goal", "search", "baselines",
                                               "hls4ml"))
    if data.get("hls4ml") is False:  # the search does not export: the whole QKeras vocabulary may be searched
        cfg.exportable = ctx.exact = False
    cfg.model = _build(ModelConfig, data.get("model", {}), ("model",), ctx)
    cfg.data = _build(DataConfig, data.get("data", {}), ("data",), ctx)
    cfg.train = _build(TrainConfig, data.get("train", {}), ("train",), ctx)
    cfg.goal = _build(GoalConfig, data.get("goal", {}), ("goal",), ctx)
    cfg.search = _build(SearchConfig, data.get("search", {}), ("search",), ctx)
    cfg.space = _space(data.get("space", {}), ("space",), ctx)
    cfg.baselines = _baselines(data.get("baselines", []), ("baselines",), ctx)
    if data.get("hls4ml") not in (None, False):
        cfg.hls4ml = _hls4ml(data["hls4ml"], ctx)
    cfg.source, cfg.base_dir = source, base_dir
    _check(cfg, ctx)
    return cfg


_TYPES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
          list: "a list"}


def _expected_type(cls, name):
    ann = {f.name: f.type for f in fields(cls)}[name]
    for t, word in (("bool", bool), ("int", int), ("float", float), ("dict", dict), ("list", list), ("str", str)):
        if ann.startswith(t):
            return word, "None" in ann
    return None, True


def _build(cls, data, path, ctx, skip=()):
    """Instantiate a flat dataclass from a mapping, rejecting unknown keys and wrong types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ctx.error(path, f"expected a mapping with keys {', '.join(f.name for f in fields(cls))}, "
                              f"got {type(data).__name__}")
    names = [f.name for f in fields(cls) if not (cls is Config and f.name in ("source", "base_dir", "exportable"))]
    kwargs = {}
    for key, value in data.items():
        if key in skip:
            continue
        if key not in names:
            hint = difflib.get_close_matches(str(key), names, n=1)
            raise ctx.error(path + (key,), "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                            + f"; allowed: {', '.join(names)}")
        typ, nullable = _expected_type(cls, key)
        if value is None and nullable:
            kwargs[key] = None
            continue
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, float) and not math.isfinite(value) and (typ is float or key == "reference"):
            raise ctx.error(path + (key,), f"expected a finite number, got {value!r}")
        if typ is not None and not (isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))):
            if not (key == "reference" or typ is None):
                raise ctx.error(path + (key,), f"expected {_TYPES[typ]}, got {value!r}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ctx.error(path, str(exc).split("__init__() ")[-1]) from None


def _hls4ml(data, ctx) -> Hls4mlConfig:
    """The ``hls4ml:`` section: autoq's export options plus hls4ml's own Model/LayerName/LayerType settings."""
    from .exporting.settings import validate_settings

    own = ("Model", "LayerName", "LayerType")
    # hls4ml's keys at the top of the section (as users write them), or under ``settings`` (a Config's to_dict())
    given = dict(data.get("settings") or {}) if isinstance(data, dict) else {}
    settings = {**given, **{k: v for k, v in data.items() if k in own}} if isinstance(data, dict) else {}
    cfg = _build(Hls4mlConfig, {k: v for k, v in data.items() if k not in own + ("settings",)}
                 if isinstance(data, dict) else data, ("hls4ml",), ctx)
    validate_settings(settings, lambda path, message: ctx.error(("hls4ml",) + path, message))
    for key, value in settings.items():
        if not isinstance(value, dict):
            raise ctx.error(("hls4ml", key), f"expected a mapping (as in hls4ml's config), got {value!r}")
    cfg.settings = settings
    return cfg


def _roles(data, path, ctx) -> RoleChoices:
    if data is None:
        return RoleChoices()
    if not isinstance(data, dict):
        raise ctx.error(path, f"expected a mapping with keys kernel, bias, activation; got {data!r}")
    out = RoleChoices()
    for key, value in data.items():
        if key not in quantizers.ROLES:
            hint = difflib.get_close_matches(str(key), quantizers.ROLES, n=1)
            raise ctx.error(path + (key,), "unknown parameter type" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                            + "; allowed: kernel, bias, activation")
        if value is None:
            continue
        specs = _specs(value, key, path + (key,), ctx)
        if not specs:
            raise ctx.error(path + (key,), "empty list of quantizers; remove the key to leave this type unquantized")
        setattr(out, key, specs)
    return out


def _specs(value, role, path, ctx) -> list:
    """The spec strings of a quantizer or a list of them (``{a..b}`` ranges expanded); an error names the item."""
    items = value if isinstance(value, list) else [value]
    specs = []
    for i, item in enumerate(items):
        try:
            specs.extend(str(_exact(s, role, ctx)) for s in quantizers.parse_list([item], role))
        except QuantizerError as exc:
            raise ctx.error(path + (i,) if isinstance(value, list) else path, str(exc)) from None
    return specs


def _exact(spec, role, ctx):
    """``spec``, if hls4ml can reproduce it bit for bit in ``role`` (exporting.vocabulary's rules), or the config
    says it does not export (``hls4ml: false``); else a QuantizerError saying why."""
    if ctx.exact:
        from .exporting.vocabulary import quantizer_problem
        why = quantizer_problem(spec.equivalent().build(), role)
        if why:
            raise QuantizerError(f"{spec} cannot be exported to hls4ml bit-exactly: {why} (or set hls4ml: false "
                                 "to search without the export)")
    return spec


def _input_quantizer(value, path, ctx):
    """One spec (fixed), None (a float input), or a list of specs with ``{a..b}`` ranges: the input is searched."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return str(_exact(quantizers.parse(value, "input"), "input", ctx))
        except QuantizerError as exc:
            raise ctx.error(path, str(exc)) from None
    if not isinstance(value, list):
        raise ctx.error(path, f"expected a quantizer or a list of them, got {value!r}")
    specs = _specs(value, "input", path, ctx)
    if not specs:
        raise ctx.error(path, "empty list of quantizers; give one, or null for a float input")
    if len(set(specs)) < len(specs):
        raise ctx.error(path, f"repeated quantizers in {specs}")
    return specs[0] if len(specs) == 1 else specs


def _granularity(cfg, ctx) -> None:
    """``space.granularity``: one of :data:`GRANULARITIES`; finer than a layer only for what learns it."""
    g = cfg.space.granularity
    if g not in GRANULARITIES:
        raise ctx.error(("space", "granularity"), f"expected one of {', '.join(GRANULARITIES)}, got {g!r}")
    t = cfg.search.target_ebops
    if t is not None and not (math.isfinite(t) and t > 0):
        raise ctx.error(("search", "target_ebops"), f"expected a positive number of EBOPs, got {t!r}")
    if g == "layer":
        if t is not None:
            raise ctx.error(("search", "target_ebops"), "steers the per-weight training of space.granularity "
                                                        "channel or weight; set one, or drop target_ebops")
        if cfg.search.learn_epochs is not None:
            raise ctx.error(("search", "learn_epochs"), "is the length of the per-weight training of "
                                                        "space.granularity channel or weight; set one, or drop "
                                                        "learn_epochs")
        if cfg.search.children is not None:
            raise ctx.error(("search", "children"), "counts the children evolved at space.granularity channel or "
                                                    "weight; set one, or drop children")
        return
    if g not in strategies.traits(cfg.search.algorithm).granularities:
        learners = " or ".join(repr(n) for n in strategies.names() if g in strategies.traits(n).granularities)
        raise ctx.error(("space", "granularity"), f"{g} granularity is chosen by search.algorithm {learners} "
                                                  f"only, not {cfg.search.algorithm!r}")
    if not strategies.traits(cfg.search.algorithm).trains_bits:
        for key in ("learn_epochs", "target_ebops"):
            if getattr(cfg.search, key) is not None:
                raise ctx.error(("search", key), f"belongs to the one training of search.algorithm "
                                                 f"{' or '.join(strategies.having(trains_bits=True))}; "
                                                 f"{cfg.search.algorithm!r} allocates {g} widths without one: "
                                                 f"drop {key}")
    if cfg.space.groups:
        raise ctx.error(("space", "groups"), f"granularity {g} gives each layer its own widths; groups tie layers' "
                                             "choices together: drop one of them")
    if cfg.search.blocks:
        raise ctx.error(("search", "blocks"), f"granularity {g} sets every layer's widths at once; drop "
                                              "search.blocks")


def _space(data, path, ctx) -> SpaceConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ctx.error(path, "expected a mapping")
    cfg = _build(SpaceConfig, data, path, ctx,
                 skip=("default", "layer_types", "layers", "groups", "skip", "input_quantizer"))
    if "input_quantizer" in data:
        cfg.input_quantizer = _input_quantizer(data["input_quantizer"], path + ("input_quantizer",), ctx)
    cfg.default = _roles(data.get("default"), path + ("default",), ctx)
    for key in ("layer_types", "layers"):
        section = data.get(key) or {}
        if not isinstance(section, dict):
            raise ctx.error(path + (key,), "expected a mapping of " +
                            ("layer class names" if key == "layer_types" else "layer-name regexes") + " to choices")
        out = {}
        for name, roles in section.items():
            if key == "layers":
                _regex(name, path + (key, name), ctx)
            out[str(name)] = _roles(roles, path + (key, name), ctx)
        setattr(cfg, key, out)
    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise ctx.error(path + ("groups",), "expected a mapping of group name -> layer-name regex")
    for name, rx in groups.items():
        if not isinstance(rx, str):
            raise ctx.error(path + ("groups", name), f"expected a layer-name regex string, got {rx!r}")
        _regex(rx, path + ("groups", name), ctx)
    cfg.groups = {str(k): v for k, v in groups.items()}
    skip = data.get("skip") or []
    if isinstance(skip, str):
        skip = [skip]
    if not isinstance(skip, list):
        raise ctx.error(path + ("skip",), "expected a list of layer-name regexes")
    for i, rx in enumerate(skip):
        _regex(rx, path + ("skip", i), ctx)
    cfg.skip = list(skip)
    for i, f in enumerate(cfg.widths):  # autoq.widths
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 8:
            raise ctx.error(path + ("widths", i), f"a width factor is a number above 0 and at most 8, got {f!r}")
    if len(set(cfg.widths)) != len(cfg.widths):
        raise ctx.error(path + ("widths",), f"repeated width factors in {cfg.widths}")
    cfg.widths = [float(f) for f in cfg.widths]
    for i, rx in enumerate(cfg.widths_exceptions):
        if not isinstance(rx, str):
            raise ctx.error(path + ("widths_exceptions", i), f"expected a layer-name regex string, got {rx!r}")
        _regex(rx, path + ("widths_exceptions", i), ctx)
    return cfg


def _regex(rx, path, ctx):
    try:
        re.compile(str(rx))
    except re.error as exc:
        raise ctx.error(path, f"invalid regular expression {rx!r}: {exc}") from None


def _baselines(data, path, ctx) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ctx.error(path, "expected a list of {name, kernel, bias, activation}")
    out = []
    for i, item in enumerate(data):
        b = _build(BaselineConfig, item, path + (i,), ctx)
        for role in quantizers.ROLES:
            spec = getattr(b, role)
            if spec is not None:
                try:
                    setattr(b, role, str(_exact(quantizers.parse(spec, role), role, ctx)))
                except QuantizerError as exc:
                    raise ctx.error(path + (i, role), str(exc)) from None
        out.append(b)
    return out


def number_shown(v) -> str:
    """A number as the error shows it: a 4,000-digit integer by its length."""
    big = isinstance(v, int) and abs(v) > 10**30  # str() of more than 4300 digits raises
    return f"an integer of about {round(abs(v).bit_length() * math.log10(2))} digits" if big else str(v)


def _check(cfg: Config, ctx):
    """Cross-field and range checks."""
    if not NAME_RE.fullmatch(str(cfg.name)) or ".." in str(cfg.name):
        raise ctx.error(("name",), f"a search name is letters, digits, '_', '.' and '-' (it names folders), got "
                                   f"{cfg.name!r}")
    for (section, key), (lo, hi) in RANGES.items():
        obj = getattr(cfg, section)
        if obj is None:
            continue
        v = getattr(obj, key)
        if v is not None and not lo <= v <= hi:
            raise ctx.error((section, key), f"must be between {lo} and {hi}, got {number_shown(v)}")
    for path, seed in ((("seed",), cfg.seed), (("data", "seed"), cfg.data.seed)):
        if not 0 <= seed <= MAX_SEED:
            raise ctx.error(path, f"must be between 0 and {MAX_SEED}, got {number_shown(seed)}")
    m = cfg.model
    if m.path and m.builder:
        raise ctx.error(("model",), "give either 'path' (a saved Keras model) or 'builder' (module:function), not both")
    if m.builder and not re.fullmatch(r"[\w.]+:\w+", m.builder):
        raise ctx.error(("model", "builder"), f"expected 'module:function', got {m.builder!r}")
    if m.train not in ("auto", "true", "false", True, False):
        raise ctx.error(("model", "train"), f"expected auto, true or false, got {m.train!r}")
    m.train = {"true": True, "false": False}.get(m.train, m.train)
    d = cfg.data
    if d.source not in DATA_SOURCES:
        hint = difflib.get_close_matches(d.source, DATA_SOURCES, n=1)
        raise ctx.error(("data", "source"), f"unknown dataset {d.source!r}" + (f" (did you mean '{hint[0]}'?)" if hint
                        else "") + f"; known: {', '.join(DATA_SOURCES)}")
    from .metrics import DEFAULT_LOSS, TASKS, resolve
    if d.task not in TASKS:
        raise ctx.error(("data", "task"), f"expected one of {', '.join(TASKS)}, got {d.task!r}")
    if d.source == "diabetes" and d.task == "classification":
        raise ctx.error(("data", "task"), "diabetes is a regression set: set data.task: regression")
    metric = resolve(cfg.goal.metric, cfg.goal.direction, d.task, lambda key, msg: ctx.error(tuple(key.split(".")), msg))
    cfg.goal.metric, cfg.goal.direction = metric.name, metric.direction
    if cfg.train.metric not in (None, metric.name):
        raise ctx.error(("train", "metric"), f"the search scores goal.metric ({metric.name!r}); train.metric "
                                             f"{cfg.train.metric!r} would be ignored: move it to goal.metric")
    cfg.train.metric = None
    loss = cfg.train.loss
    if loss is not None and not (isinstance(loss, str) or (isinstance(loss, dict) and loss and all(
            isinstance(k, str) and isinstance(v, str) for k, v in loss.items()))):
        raise ctx.error(("train", "loss"), f"expected a Keras loss name, or a mapping output name -> loss name, got "
                                           f"{loss!r}")
    cfg.train.loss = cfg.train.loss or DEFAULT_LOSS[d.task]
    if d.standardize not in ("auto", "true", "false", True, False):
        raise ctx.error(("data", "standardize"), f"expected auto, true or false, got {d.standardize!r}")
    d.standardize = {"true": True, "false": False}.get(d.standardize, d.standardize)
    if d.source == "npz" and not d.path:
        raise ctx.error(("data", "path"), "data source 'npz' needs a path to the .npz file")
    for key in ("val_fraction", "test_fraction"):
        v = getattr(d, key)
        if not 0 < v < 1:
            raise ctx.error(("data", key), f"must be between 0 and 1, got {v}")
    if d.val_fraction + d.test_fraction >= 1:
        raise ctx.error(("data",), "val_fraction + test_fraction must leave data to train on")
    t = cfg.train
    if t.learning_rate <= 0:
        raise ctx.error(("train", "learning_rate"), f"must be > 0, got {t.learning_rate}")
    if t.optimizer.lower() not in ("adam", "sgd", "rmsprop", "adamw"):
        raise ctx.error(("train", "optimizer"), f"unknown optimizer {t.optimizer!r}; known: adam, sgd, rmsprop, adamw")
    g = cfg.goal
    if g.cost not in COSTS:
        raise ctx.error(("goal", "cost"), f"unknown cost {g.cost!r}; known: {', '.join(COSTS)}")
    for key in ("weights_on_memory", "activations_on_memory"):
        if getattr(g, key) not in ("fixed", "sram", "dram"):
            raise ctx.error(("goal", key), f"expected fixed, sram or dram, got {getattr(g, key)!r}")
    if g.process not in QTOOLS_PROCESSES:
        raise ctx.error(("goal", "process"), f"QTools (qkeras 0.9) knows the process {', '.join(QTOOLS_PROCESSES)}, "
                                             f"got {g.process!r}")
    for key in ("input_bits", "output_bits"):
        if getattr(g, key) is not None and g.cost != "bits":
            raise ctx.error(("goal", key), f"applies to the bits cost (AutoQKeras's bits goal); goal.cost is "
                                           f"{g.cost!r}")
    if not 0 < g.stress <= 100:
        raise ctx.error(("goal", "stress"), f"must be above 0 and at most 100, got {g.stress}")
    if g.min_sram_size < 0:
        raise ctx.error(("goal", "min_sram_size"), f"must be >= 0 bits, got {g.min_sram_size}")
    if g.rate <= 1:
        raise ctx.error(("goal", "rate"), f"must be > 1 (cost ratio that earns delta percent), got {g.rate}")
    if not (g.reference == "float16" or (isinstance(g.reference, (int, float)) and not isinstance(g.reference, bool)
                                        and g.reference > 0)):
        raise ctx.error(("goal", "reference"), f"expected 'float16' or a positive cost, got {g.reference!r}")
    s = cfg.search
    algorithms = strategies.names()
    if s.algorithm not in algorithms:
        hint = difflib.get_close_matches(s.algorithm, algorithms, n=1)
        raise ctx.error(("search", "algorithm"), f"unknown algorithm {s.algorithm!r}" +
                        (f" (did you mean '{hint[0]}'?)" if hint else "") + f"; known: {', '.join(algorithms)}")
    for i, b in enumerate(s.blocks):
        if not isinstance(b, dict) or set(b) != {"layers", "max_trials"}:
            raise ctx.error(("search", "blocks", i), f"expected {{layers: <name regex>, max_trials: <n>}}, got {b!r}")
        if not isinstance(b["layers"], str):
            raise ctx.error(("search", "blocks", i, "layers"), f"expected a layer-name regex, got {b['layers']!r}")
        _regex(b["layers"], ("search", "blocks", i, "layers"), ctx)
        if not isinstance(b["max_trials"], int) or isinstance(b["max_trials"], bool) or not 1 <= b["max_trials"] <= 10**6:
            raise ctx.error(("search", "blocks", i, "max_trials"), f"must be a whole number >= 1, got {b['max_trials']!r}")
    if cfg.space.widths and s.algorithm in SEEDING_ALGORITHMS and 1.0 not in [float(f) for f in cfg.space.widths]:
        raise ctx.error(("space", "widths"), f"search.algorithm {s.algorithm!r} proposes its first trials at the float "
                                             "model's width: list 1.0 among the width factors (the trials after "
                                             "them search the others)")
    if s.blocks:
        if cfg.space.widths:
            raise ctx.error(("space", "widths"), "the width search runs without search.blocks; drop one of them")
        if isinstance(cfg.space.input_quantizer, list):
            raise ctx.error(("space", "input_quantizer"), "a searched input (a list) runs without search.blocks; "
                                                          "give one quantizer, or drop search.blocks")
        if strategies.traits(s.algorithm).own_budget:
            raise ctx.error(("search", "blocks"), "hyperband sizes its own brackets; use random, bayesian or pareto "
                                                  "with blocks")
        s.max_trials = sum(b["max_trials"] for b in s.blocks)  # the blocks' budgets are the search's budget
    if s.keep not in ("all", "pareto"):
        raise ctx.error(("search", "keep"), "expected 'all' or 'pareto'")
    _granularity(cfg, ctx)
    if cfg.hls4ml is not None:
        h = cfg.hls4ml
        for key, message in export_options.problems(h.backend, h.io_type, h.strategy, h.reuse_factor,
                                                    h.clock_period):
            raise ctx.error(("hls4ml", key), message)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", str(h.project_name)):
            raise ctx.error(("hls4ml", "project_name"), f"must be a C identifier (letters, digits, _), got "
                                                        f"{h.project_name!r}")
    _constraints(cfg, ctx)


def _constraints(cfg: Config, ctx):
    """goal.budget (limits on the FPGA estimate, autoq.cost.budget) and goal.max_drop."""
    from .cost.budget import BUDGET_KEYS, unknown_part
    from .cost.parts import resources
    g = cfg.goal
    allowed = BUDGET_KEYS + ("part_fraction",)
    for key, value in g.budget.items():
        path = ("goal", "budget", key)
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            raise ctx.error(path, "unknown limit" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                            + f"; allowed: {', '.join(allowed)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ctx.error(path, f"expected a number above 0, got {value!r}")
        if key == "part_fraction" and value > 1:
            raise ctx.error(path, f"a share of the part, above 0 and at most 1, got {value!r}")
        if key in ("lut", "ff", "dsp", "bram", "ii") and value != int(value):
            raise ctx.error(path, f"expected a whole number of {key.upper()}, got {value!r}")
    if "part_fraction" in g.budget:
        part = cfg.hls4ml.part if cfg.hls4ml is not None else Hls4mlConfig().part
        if resources(part) is None:
            raise ctx.error(("goal", "budget", "part_fraction"), unknown_part(part))
    g.budget = {k: (float(v) if k in ("latency_ns", "part_fraction") else int(v)) for k, v in g.budget.items()}
    if g.max_drop is not None and not 0 <= g.max_drop <= 100:
        raise ctx.error(("goal", "max_drop"), f"points of the metric below float, between 0 and 100, got {g.max_drop}")
