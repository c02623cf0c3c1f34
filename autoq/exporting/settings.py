"""User hls4ml settings (``hls4ml:`` YAML section, ``autoq export --hls-config FILE.yml``) merged over autoq's exact
per-layer config. Keys are hls4ml's own: ``Model`` (ReuseFactor, Strategy, ...) and ``LayerName`` -> layer ->
(ReuseFactor, Strategy, Precision, table_size, exp_table_t, inv_table_t, ...)."""
from __future__ import annotations

import copy
import os
from typing import Any

from ..errors import ExportError
from ..export_options import MAX_REUSE_FACTOR

#: settings that change only resources/latency, or only the softmax table approximation: exactness is kept
SAFE_KEYS = {"ReuseFactor", "Strategy", "ParallelizationFactor", "ConvImplementation", "Trace", "table_size",
             "exp_table_t", "inv_table_t", "table_t", "accum_t", "implementation", "skip", "BramFactor",
             "TraceOutput", "FIFO_opt"}


def load_settings(src: Any) -> dict:
    """A settings mapping from a dict or a YAML file path (read like a config: bounded, each key once), validated."""
    if src is None:
        return {}
    if isinstance(src, (str, os.PathLike)):
        from ..errors import ConfigError
        from ..yaml_input import read_yaml_file

        data, lines, source = read_yaml_file(src, "hls4ml settings")

        def error(path, message):
            line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)
            return ConfigError(message, key=".".join(map(str, path)) or None, line=line, source=source)

        validate_settings(data or {}, error)
        return data or {}
    validate_settings(src, lambda path, message: ExportError(
        "hls4ml settings: " + (".".join(map(str, path)) + ": " if path else "") + message))
    return src


def validate_settings(src: Any, error) -> None:
    """Check the shape of hls4ml settings; ``error(key path, message)`` makes the exception raised."""
    if not isinstance(src, dict):
        raise error((), f"must be a mapping with Model, LayerName and/or LayerType, got {type(src).__name__}")
    unknown = set(src) - {"Model", "LayerName", "LayerType"}
    if unknown:
        raise error((), f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: Model, LayerName, "
                        "LayerType (hls4ml's config keys)")
    for top, value in src.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            raise error((top,), f"expected a mapping (as in hls4ml's config), got {value!r}")
        entries = {(top,): value} if top == "Model" else {(top, k): v for k, v in value.items()}
        for path, entry in entries.items():
            if not isinstance(entry, dict):
                what = "layer name" if top == "LayerName" else "layer class name"
                raise error(path, f"expected a mapping of settings for this {what} (ReuseFactor, Precision, ...), "
                                  f"got {entry!r}")
            _check_values(entry, path, error)


def _check_values(entry: dict, path: tuple, error) -> None:
    rf = entry.get("ReuseFactor")
    if "ReuseFactor" in entry and (isinstance(rf, bool) or not isinstance(rf, int) or not 1 <= rf <= MAX_REUSE_FACTOR):
        raise error(path + ("ReuseFactor",), f"must be a whole number from 1 to {MAX_REUSE_FACTOR}, got {rf!r}")
    st = entry.get("Strategy")
    if "Strategy" in entry and str(st).lower() not in ("latency", "resource"):
        raise error(path + ("Strategy",), f"expected Latency or Resource, got {st!r}")


def merge_settings(cfg: dict, settings: Any) -> tuple[dict, tuple, list[str]]:
    """(merged config, layers whose types the user set, warnings where an override may break exactness)."""
    settings = load_settings(settings)
    if not settings:
        return cfg, (), []
    cfg = copy.deepcopy(cfg)
    warnings, keep = [], []
    model = settings.get("Model") or {}
    for key, value in model.items():
        if key == "Precision":
            warnings.append(f"hls4ml settings: Model.Precision={value!r} changes the default type of every layer "
                            "autoq does not type itself; the check below says whether the export stays bit-exact")
        cfg["Model"][key] = value
        if key in ("ReuseFactor", "Strategy"):  # autoq writes both per layer, which would override Model's
            for entry in cfg["LayerName"].values():
                if key in entry:
                    entry[key] = value
    layers = settings.get("LayerName") or {}
    for name, values in layers.items():
        if name not in cfg["LayerName"]:
            raise ExportError(f"hls4ml settings: LayerName.{name}: no such layer; layers: "
                              f"{', '.join(cfg['LayerName'])}")
        if not isinstance(values, dict):
            raise ExportError(f"hls4ml settings: LayerName.{name} must be a mapping, got {values!r}")
        entry = cfg["LayerName"][name]
        for key, value in values.items():
            if key == "Precision":
                old = entry.get("Precision", {})
                value = value if isinstance(value, dict) else {"result": value}
                for k, v in value.items():
                    warnings.append(f"hls4ml settings: LayerName.{name}.Precision.{k} = {v} overrides autoq's exact "
                                    f"type {old.get(k, 'auto') if isinstance(old, dict) else old}: may break "
                                    "bit-exactness")
                entry["Precision"] = {**(old if isinstance(old, dict) else {}), **value}
                keep.append(name)
            else:
                if key not in SAFE_KEYS:
                    warnings.append(f"hls4ml settings: LayerName.{name}.{key} is not a setting autoq knows to keep "
                                    "exactness; the check below tells")
                entry[key] = value
    if settings.get("LayerType"):
        cfg["LayerType"] = {**cfg.get("LayerType", {}), **settings["LayerType"]}
        warnings.append("hls4ml settings: LayerType entries apply under autoq's per-layer (LayerName) entries")
    return cfg, tuple(keep), warnings
