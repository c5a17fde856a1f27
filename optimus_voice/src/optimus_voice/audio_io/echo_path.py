"""The echo path the canceller learnt, kept on disk so that the next start-up begins from it (no rclpy).

A robot's speaker and microphones are fixed to its body: the path from one to the other is much the same at every
start. A canceller that starts from the path it learnt last time removes the robot's voice from its first word,
where one that starts from nothing lets the garbled voice through for its first seconds of speech, which the
recognizer hears as words (the false barge-ins of `bench duplex --cold`, BENCHMARKS.md). If the path did change
(another room, a moved speaker) the filter learns the new one as it would from nothing: the remembered path is a
start, never trusted as converged until the echo removed is measured again.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimus_voice.audio_io.echo import EchoCanceller

VERSION = 1


class EchoPathError(RuntimeError):
    """A remembered echo path cannot be used (unreadable, another filter's shape): the message says why."""


@dataclass
class EchoPath:
    weights: np.ndarray      # the linear filter's partitions, frequency domain (partitions x block + 1, complex)
    block: int               # samples per block (16 kHz)
    shift_ms: float          # the reference's shift onto a delay longer than the filter (EchoCanceller's auto delay)
    erle_db: float           # echo removed when it was kept (for whoever inspects the file)


def resolve(setting: str) -> Path | None:
    """The file a setting names ($ROS_HOME is ~/.ros unless set, as ROS keeps its own state there); '' is none."""
    if not setting.strip():
        return None
    ros_home = os.environ.get("ROS_HOME") or str(Path.home() / ".ros")
    return Path(os.path.expanduser(setting.replace("$ROS_HOME", ros_home).replace("${ROS_HOME}", ros_home)))


def save(path: EchoPath, file: str | Path) -> None:
    """Write atomically: a robot switched off while writing keeps the last whole file."""
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=file.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, version=VERSION, weights=path.weights, block=path.block, shift_ms=path.shift_ms,
                     erle_db=path.erle_db)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(file: str | Path) -> EchoPath:
    """The path kept in `file` (EchoCanceller.start_from checks that it fits its filter)."""
    try:
        with np.load(file, allow_pickle=False) as z:
            version, weights = int(z["version"]), np.asarray(z["weights"])
            kept_block, shift_ms, erle_db = int(z["block"]), float(z["shift_ms"]), float(z["erle_db"])
    except (OSError, ValueError, KeyError) as exc:
        raise EchoPathError(f"cannot read the echo path in {file}: {exc}") from exc
    if version != VERSION:
        raise EchoPathError(f"the echo path in {file} is of version {version}, not {VERSION}")
    if weights.ndim != 2 or weights.shape[1] != kept_block + 1 or not np.iscomplexobj(weights) \
            or not np.all(np.isfinite(weights)):
        raise EchoPathError(f"the echo path in {file} is not a filter (non-finite or real weights)")
    return EchoPath(weights.astype(np.complex128), kept_block, shift_ms, erle_db)


class EchoPathKeeper:
    """Keeps a canceller's echo path in a file: restores it at start-up, saves it every `every_s` while the
    canceller has converged (a robot is often switched off, not shut down) and when asked at the end."""

    def __init__(self, file: Path, every_s: float = 30.0) -> None:
        self.file, self.every_s = file, every_s
        self.saves = 0
        self._last_s: float | None = None

    def restore(self, canceller: EchoCanceller) -> bool:
        """Start the canceller from the kept path: False when there is none yet; EchoPathError when it is unusable
        (the canceller then starts from nothing)."""
        if not self.file.exists():
            return False
        canceller.start_from(load(self.file))
        return True

    def tick(self, canceller: EchoCanceller, now_s: float) -> bool:
        """Save if the last save is `every_s` old and there is a converged path; True if saved."""
        if self._last_s is not None and now_s - self._last_s < self.every_s:
            return False
        return self.save(canceller, now_s)

    def save(self, canceller: EchoCanceller, now_s: float) -> bool:
        """Save a converged path now; True if saved (OSError if the file cannot be written: tried again in
        `every_s`)."""
        learnt = canceller.learnt_path()
        if learnt is None:
            return False
        self._last_s = now_s
        save(learnt, self.file)
        self.saves += 1
        return True
