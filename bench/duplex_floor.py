"""Replay the turns that `bench duplex` opened over the robot while its canceller converged, under log-probability
floors: which would have stopped the robot, and when.

Each turn's partials and final are in the duplex JSON (text, verdict, mean log-probability per token, whether the
canceller had converged); the words rule of deciding.turn_taking is applied to them again with each floor. A stop
ends what the run heard, so a stop the floor delays is replayed on audio in which the robot had already stopped:
the delays here are a lower bound, and the floor is judged on runs of its own (BENCHMARKS.md).

    .venv/bin/python bench/duplex_floor.py bench/results/duplex_cold_s4[0-2].json --floors -0.8 -1.0 -1.2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def first_stop(heard: list[dict], floor: float | None) -> dict | None:
    """The partial (or final) of a turn opened while converging on which the words rule stops the robot."""
    verdicts: list[str] = []
    for h in heard:
        verdict = h["verdict"]
        if verdict == "interrupt" and floor is not None and h["avg_logprob"] < floor:
            verdict = "unsure"
        verdicts.append(verdict)
        confirmed = h["final"] or h["converged"] or verdicts[-2:] == ["interrupt", "interrupt"]
        if verdict == "interrupt" and confirmed:
            return h
        if h["final"]:
            return None
    return None


def replay(paths: list[str], floors: list[float | None]) -> dict:
    turns = []
    for path in paths:
        for ep in json.loads(Path(path).read_text())["episodes"]:
            for t in ep.get("opened_over_robot", []):
                if not t["converged"] and t.get("heard") and "verdict" in t["heard"][0]:
                    turns.append((t, ep.get("half")))
    out = {"runs": [Path(p).name for p in paths], "turns_opened_while_converging": len(turns), "floors": []}
    for floor in floors:
        # A stop once the user's speech has begun is a barge-in (as the bench counts it), before it a false one.
        stops = [(first_stop(t["heard"], floor), half) for t, half in turns]
        row = {"floor": floor, "false_stops": sum(s is not None and not _users(s) for s, _ in stops)}
        for half in ("tune", "report"):
            ms = [s["ms_after_onset"] for s, h in stops if s is not None and _users(s) and h == half]
            row[half] = {"barge_ins": len(ms), "p50_ms": round(float(np.percentile(ms, 50))) if ms else None}
        out["floors"].append(row)
    return out


def _users(h: dict) -> bool:
    return h["ms_after_onset"] is not None and h["ms_after_onset"] >= 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="bench duplex JSON files")
    ap.add_argument("--floors", nargs="+", type=float, default=[-0.6, -0.8, -1.0, -1.2, -1.4])
    ap.add_argument("--name", help="also write bench/results/NAME.json")
    ns = ap.parse_args()
    result = replay(ns.runs, [None, *ns.floors])
    print(f"{result['turns_opened_while_converging']} turns opened while converging")
    for row in result["floors"]:
        print(f"floor {row['floor']!s:>5}: false stops {row['false_stops']:3d}  " + "  ".join(
            f"{h} barge-ins {row[h]['barge_ins']} p50 {row[h]['p50_ms']} ms" for h in ("tune", "report")))
    if ns.name:
        (RESULTS / f"{ns.name}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
