"""Shared helpers of the benchmarks: data sets, machine description, percentiles, JSON results."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from optimus_voice.tools.machine import machine  # noqa: F401  (the benchmarks' machine())

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def manifest(set_dir: Path) -> list[dict]:
    """Rows of a set's manifest.csv, with `path` made absolute."""
    with (set_dir / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["path"] = str(set_dir / row["file"])
    return rows


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95),
            "mean": round(float(np.mean(values)), 1) if values else None}


def write(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
