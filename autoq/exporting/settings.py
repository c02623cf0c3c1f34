"""User hls4ml settings (``hls4ml:`` YAML section, ``autoq export --hls-config FILE.yml``) merged over autoq's exact
per-layer config. Keys are hls4ml's own: ``Model`` (ReuseFactor, Strategy, ...) and ``LayerName`` -> layer ->
(ReuseFactor, Strategy, Precision, table_size, exp_table_t, inv_table_t, ...)."""
from __future__ import annotations

import copy
import os
from typing import Any

from ..errors import ExportError

#: settings that change only resources/latency, or only the softmax table approximation: exactness is kept
SAFE_KEYS = {"ReuseFactor", "Strategy", "ParallelizationFactor", "ConvImplementation", "Trace", "table_size",
             "exp_table_t", "inv_table_t", "table_t", "accum_t", "implementation", "skip", "BramFactor",
             "TraceOutput", "FIFO_opt"}


def load_settings(src: Any) -> dict:
    """A settings mapping from a dict or a YAML file path; validated for shape."""
    if src is None:
        return {}
    if isinstance(src, (str, os.PathLike)):
        import yaml

        try:
            with open(src) as f:
                src = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ExportError(f"cannot read hls4ml settings {os.fspath(src)}: {e}") from e
    if not isinstance(src, dict):
        raise ExportError(f"hls4ml settings must be a mapping with Model and/or LayerName, got {type(src).__name__}")
    unknown = set(src) - {"Model", "LayerName", "LayerType"}
    if unknown:
        raise ExportError(f"hls4ml settings: unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: Model, "
                          "LayerName, LayerType (hls4ml's config keys)")
    return src


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
