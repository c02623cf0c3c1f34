"""What decided a search's numbers: library versions, autoq's git revision, and the config digest resume checks."""
from __future__ import annotations

import platform
from pathlib import Path

from ..config import Config

DIGEST_IGNORES = ("max_trials", "output_dir", "max_failed_trials")

VERSIONED = ("autoq", "tensorflow", "keras", "qkeras", "hls4ml", "keras-tuner", "numpy", "scikit-learn",
             "tensorflow-model-optimization", "pyyaml", "pyparsing", "matplotlib", "grpcio", "protobuf", "h5py",
             "scipy", "pandas")


def _git_revision() -> str | None:
    """``<commit>[+dirty]`` of the autoq checkout when it runs from a git working tree (editable install)."""
    import subprocess
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "autoq"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("+dirty" if dirty else "")) or None


def versions() -> dict:
    """Versions of everything that decides a search's numbers: Python, platform, autoq (and its git commit when
    run from a checkout), and every installed requirement of autoq plus the libraries under them."""
    import re
    from importlib import metadata
    out = {"python": platform.python_version(), "platform": platform.platform()}
    pkgs = list(VERSIONED)
    try:
        for req in metadata.requires("autoq") or []:
            name = re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()
            if "extra ==" not in req and name not in pkgs:
                pkgs.append(name)
    except metadata.PackageNotFoundError:
        pass
    for pkg in pkgs:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["autoq_git"] = _git_revision()
    return out


def resume_settings(config: dict) -> dict:
    """The part of a config (``Config.to_dict()``) that must match to resume: not the trial budget, the output
    folder nor the hls4ml section."""
    d = {k: v for k, v in config.items() if k != "hls4ml"}
    if isinstance(d.get("search"), dict):
        d["search"] = {k: v for k, v in d["search"].items() if k not in DIGEST_IGNORES}
    return d


def config_digest(cfg: Config) -> str:
    """Digest of :func:`resume_settings`."""
    import hashlib
    import json
    return hashlib.sha256(json.dumps(resume_settings(cfg.to_dict()), sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]

