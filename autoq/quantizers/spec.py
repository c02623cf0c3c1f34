"""Quantizer specs: parse, validate, expand and build the QKeras quantizers a search space may use.

A spec is the string users already know from QKeras, e.g. ``quantized_bits(4,0,alpha=1)``,
``quantized_relu(3)``, ``ternary(alpha=1)``. ``{a..b}`` expands to one spec per integer:
``quantized_bits({2..8},0,alpha=1)`` is seven specs.
"""
from __future__ import annotations

import ast
import difflib
import math
import re
from dataclasses import dataclass

from ..errors import QuantizerError

#: name -> (roles it may serve, default bits, argument names in positional order)
KNOWN = {
    "quantized_bits": ({"kernel", "bias", "activation", "input"}, 8,
                       ("bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding")),
    "quantized_relu": ({"activation"}, 8, ("bits", "integer", "use_sigmoid", "negative_slope")),
    "ternary": ({"kernel", "bias"}, 2, ("alpha", "threshold")),
    "binary": ({"kernel", "bias"}, 1, ("use_01", "alpha")),
    "quantized_po2": ({"kernel", "bias"}, 8, ("bits", "max_value")),
    "qil": ({"kernel", "activation"}, None, ("bits", "integer")),
}
ROLES = ("kernel", "bias", "activation")
_RANGE = re.compile(r"\{(-?\d+)\.\.(-?\d+)\}")


@dataclass(frozen=True)
class QuantizerSpec:
    """A parsed quantizer: its name, positional and keyword arguments."""

    name: str
    args: tuple = ()
    kwargs: tuple = ()  # sorted (key, value) pairs

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{self.name}({','.join(parts)})"

    def arg(self, key, default=None):
        """Value of a named argument, given positionally or by keyword."""
        kw = dict(self.kwargs)
        if key in kw:
            return kw[key]
        names = KNOWN[self.name][2]
        if key in names and names.index(key) < len(self.args):
            return self.args[names.index(key)]
        return default

    @property
    def bits(self) -> int:
        """Bit width of one quantized value (ternary 2, binary 1)."""
        default = KNOWN[self.name][1]
        return int(self.arg("bits", default))

    @property
    def integer(self) -> int:
        """Integer bits (0 where the quantizer has none)."""
        return int(self.arg("integer", 0) or 0)

    def build(self):
        """The quantizer object (QKeras, or autoq's QIL)."""
        if self.name == "qil":
            from .qil import QIL
            cls = QIL
        else:
            import qkeras
            cls = getattr(qkeras, self.name)
        try:
            return cls(*self.args, **dict(self.kwargs))
        except Exception as exc:  # constructor rejected the arguments
            raise QuantizerError(f"cannot build {self}: {exc}") from exc

    def equivalent(self) -> "QuantizerSpec":
        """The fixed-point QKeras spec a cost model prices this spec as (QIL -> its folded form)."""
        if self.name != "qil":
            return self
        if self.arg("kind", "weight") == "activation":
            return QuantizerSpec("quantized_relu", (self.bits, self.integer))
        return QuantizerSpec("quantized_bits", (self.bits, self.integer), (("alpha", 1),))


MAX_ARG = 10**6  # no quantizer argument is near it; larger ones overflow floats (alpha=10**4000)


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"


MAX_EXPANSION = 256  # choices one spec may expand to: a search space is tens of choices per slot


def expand(text: str) -> list[str]:
    """Expand ``{a..b}`` ranges: ``quantized_relu({3..4})`` -> ``['quantized_relu(3)', 'quantized_relu(4)']``.

    At most ``MAX_EXPANSION`` specs per item (checked before expanding anything)."""
    if any(len(m.group(1)) > 12 or len(m.group(2)) > 12 for m in _RANGE.finditer(text)):
        raise QuantizerError(f"{_short(text)!r}: a range bound of more than 12 digits")
    ranges = [(int(m.group(1)), int(m.group(2))) for m in _RANGE.finditer(text)]
    if not ranges:
        return [text]
    total = 1
    for lo, hi in ranges:
        if hi < lo:
            raise QuantizerError(f"empty range {{{lo}..{hi}}} in {text!r}")
        total *= hi - lo + 1
        if total > MAX_EXPANSION:
            raise QuantizerError(f"{text!r} expands to more than {MAX_EXPANSION} quantizers; narrow its ranges")
    m = _RANGE.search(text)
    out = []
    for v in range(int(m.group(1)), int(m.group(2)) + 1):
        out.extend(expand(text[: m.start()] + str(v) + text[m.end():]))
    return out


def parse(text, role: str | None = None) -> QuantizerSpec:
    """Parse and validate one spec string; ``role`` (kernel/bias/activation/input) checks it may serve there."""
    if isinstance(text, QuantizerSpec):
        spec = text
    else:
        if not isinstance(text, str):
            raise QuantizerError(f"a quantizer must be a string like 'quantized_bits(4,0,alpha=1)', got {text!r}")
        src = text.strip()
        if re.fullmatch(r"[A-Za-z_]\w*", src):
            src += "()"
        try:
            node = ast.parse(src, mode="eval").body
        except SyntaxError:
            hint = (" (in a YAML [a, b] list, quote specs that contain commas: \"quantized_bits(4,0,alpha=1)\")"
                    if src.count("(") != src.count(")") else "")
            raise QuantizerError(f"cannot parse quantizer {_short(text)!r}: expected name(args), "
                                 f"e.g. 'quantized_bits(4,0,alpha=1)'{hint}") from None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise QuantizerError(f"cannot parse quantizer {text!r}: expected name(args)")
        name = node.func.id
        if name not in KNOWN:
            hint = difflib.get_close_matches(name, KNOWN, n=1)
            raise QuantizerError(f"unknown quantizer {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                                 + f"; known: {', '.join(sorted(KNOWN))}")
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            raise QuantizerError(f"quantizer {_short(text)!r}: write arguments out as values and name=value, "
                                 "without * or **")
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = tuple(sorted((k.arg, ast.literal_eval(k.value)) for k in node.keywords))
        except ValueError:
            raise QuantizerError(f"quantizer {text!r}: arguments must be literal numbers, strings or booleans") from None
        values = args + tuple(v for _, v in kwargs)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise QuantizerError(f"quantizer {text!r}: arguments must be finite numbers")
        if any(isinstance(v, int) and abs(v) > MAX_ARG for v in values):
            raise QuantizerError(f"quantizer {_short(text)!r}: a number above {MAX_ARG} (bits and integer bits are "
                                 "at most 32)")
        allowed = KNOWN[name][2]
        if len(args) > len(allowed):
            raise QuantizerError(f"quantizer {text!r}: {name} takes at most {len(allowed)} positional arguments "
                                 f"({', '.join(allowed)})")
        spec = QuantizerSpec(name, args, kwargs)
    if spec.name == "qil" and role == "activation" and spec.arg("kind") is None:
        spec = QuantizerSpec("qil", spec.args, tuple(sorted(spec.kwargs + (("kind", "activation"),))))
    if name_bits_invalid(spec):
        raise QuantizerError(f"quantizer {spec}: bits must be an integer from 1 to 32")
    if role is not None and role not in KNOWN[spec.name][0]:
        ok = sorted(n for n, (roles, _, _) in KNOWN.items() if role in roles)
        raise QuantizerError(f"{spec.name} cannot quantize a {role}; quantizers for a {role}: {', '.join(ok)}")
    spec.build()  # let the constructor validate the arguments now, before any training
    return spec


def name_bits_invalid(spec: QuantizerSpec) -> bool:
    try:
        b = spec.bits
    except (TypeError, ValueError, OverflowError):
        return True
    return not (1 <= b <= 32)


def parse_list(items, role: str) -> list[QuantizerSpec]:
    """Parse a list of spec strings (with ``{a..b}`` expansion) for one role, keeping order, dropping repeats."""
    if isinstance(items, str):
        items = [items]
    out: list[QuantizerSpec] = []
    for item in items:
        if not isinstance(item, str):
            raise QuantizerError(f"a quantizer must be a string like 'quantized_bits(4,0,alpha=1)', got {item!r}")
        for text in expand(item):
            spec = parse(text, role)
            if spec not in out:
                out.append(spec)
    return out


def custom_objects() -> dict:
    """Every class a saved autoq model may contain: QKeras layers/quantizers and autoq's QIL."""
    from qkeras.utils import _add_supported_quantized_objects
    objs: dict = {}
    _add_supported_quantized_objects(objs)
    try:
        from .qil import QIL
        objs["QIL"] = QIL
    except ImportError:  # QIL not available in this build
        pass
    return objs
