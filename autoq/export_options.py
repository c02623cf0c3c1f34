"""The export options users know from hls4ml (``backend``, ``io_type``, ``strategy``, ``reuse_factor``,
``clock_period``): their allowed values and their one check, read by the config (``hls4ml:`` section), the CLI's
``export`` parser and the export pipeline (the Python API), so each option is validated by one rule with one
message wherever it comes from."""
from __future__ import annotations

import math
import numbers

BACKENDS = ("Vitis", "Vivado")  # spelled as hls4ml spells them; accepted in any case
IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("latency", "resource")  # accepted in any case
MAX_CLOCK_NS = 1000
MAX_REUSE_FACTOR = 1_000_000


def backend_name(value) -> str | None:
    """``value`` as hls4ml spells the backend (``vivado`` -> ``Vivado``), None if it names none."""
    return next((b for b in BACKENDS if str(value).lower() == b.lower()), None)


def problems(backend=None, io_type=None, strategy=None, reuse_factor=None, clock_period=None) -> list:
    """``[(option, message)]`` of the given options (None: not given) that are not allowed."""
    out = []
    if backend is not None and backend_name(backend) is None:
        out.append(("backend", f"expected Vitis or Vivado, got {backend!r}"))
    if io_type is not None and io_type not in IO_TYPES:
        out.append(("io_type", f"expected io_parallel or io_stream, got {io_type!r}"))
    if strategy is not None and str(strategy).lower() not in STRATEGIES:
        out.append(("strategy", f"expected latency or resource, got {strategy!r}"))
    if reuse_factor is not None and (isinstance(reuse_factor, bool) or not isinstance(reuse_factor, numbers.Integral)
                                     or not 1 <= reuse_factor <= MAX_REUSE_FACTOR):
        out.append(("reuse_factor", f"must be a whole number from 1 to {MAX_REUSE_FACTOR}, got {reuse_factor!r}"))
    if clock_period is not None:
        ok = isinstance(clock_period, numbers.Real) and not isinstance(clock_period, bool)
        if not (ok and math.isfinite(clock_period) and 0 < clock_period <= MAX_CLOCK_NS):
            out.append(("clock_period", f"a clock period in ns, above 0 and at most {MAX_CLOCK_NS}, got "
                                        f"{clock_period}"))
    return out
