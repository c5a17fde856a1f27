"""Several runs of `optimus-voice bench duplex` pooled per variant: one run of that closed loop is one sample.

    .venv/bin/python bench/duplex_pool.py "with rule=bench/results/duplex_converging_rule_s*.json" \
        "without=bench/results/duplex_5_s*.json" ... [--name duplex_pooled]

Each argument is NAME=GLOB[,GLOB...] (the kept JSONs of one variant). Per variant: the runs, false barge-ins in
all (and of the "words" kind), barge-ins detected on each half pooled over the runs, and the spread of the per-run
p50, of the WER over the robot minus alone and of the canceller's CPU. Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from common import write


def _spread(values: list[float]) -> list[float] | None:
    return [round(min(values), 2), round(max(values), 2)] if values else None


def pool(runs: list[dict]) -> dict:
    out: dict = {"runs": len(runs), "robot_minutes": round(sum(r["robot_minutes"] for r in runs), 2),
                 "false_barge_ins": sum(r["false_barge_ins"] for r in runs),
                 "false_barge_ins_words": sum(r["false_barge_ins_by_why"].get("words", 0) for r in runs),
                 "false_barge_ins_per_run": [r["false_barge_ins"] for r in runs],
                 "false_barge_ins_by_why": {why: sum(r["false_barge_ins_by_why"].get(why, 0) for r in runs)
                                            for why in sorted({w for r in runs for w in r["false_barge_ins_by_why"]})},
                 "aec_cpu_pct_of_one_core": _spread([r["aec_cpu_pct_of_one_core"] for r in runs])}
    for half in ("tune", "report"):
        detected = sum(r[half]["barge_ins_detected"] for r in runs)
        total = sum(r[half]["barge_ins_total"] for r in runs)
        after = [e["barge_in"]["after_onset_ms"] for r in runs for e in r["episodes"]
                 if e["half"] == half and e["kind"] == "over" and e["barge_in"] and e["barge_in"]["true"]]
        out[half] = {"detected": detected, "total": total, "detected_pct": round(100 * detected / total, 1),
                     "p50_ms_pooled": round(float(np.percentile(after, 50)), 1) if after else None,
                     "p95_ms_pooled": round(float(np.percentile(after, 95)), 1) if after else None,
                     "p50_ms_per_run": _spread([r[half]["barge_in_after_onset_ms"]["p50"] for r in runs]),
                     "wer_over_robot_minus_alone": _spread([r[half]["user_wer_over_robot"] - r[half]["user_wer_alone"]
                                                            for r in runs])}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", metavar="NAME=GLOB[,GLOB...]")
    parser.add_argument("--name", default="duplex_pooled")
    ns = parser.parse_args()
    result = {}
    for item in ns.variants:
        name, patterns = item.split("=", 1)
        paths = sorted({p for pattern in patterns.split(",") for p in glob.glob(pattern)})
        if not paths:
            parser.error(f"{name}: no file matches {patterns}")
        runs = [json.loads(Path(p).read_text()) for p in paths]
        result[name] = {"files": [Path(p).name for p in paths], **pool(runs)}
        r = result[name]
        print(f"{name}: {r['runs']} runs, {r['robot_minutes']} min of robot speech, false barge-ins "
              f"{r['false_barge_ins']} ({r['false_barge_ins_words']} words) {r['false_barge_ins_per_run']}; report "
              f"{r['report']['detected']}/{r['report']['total']} ({r['report']['detected_pct']}%), p50 "
              f"{r['report']['p50_ms_pooled']} ms pooled, {r['report']['p50_ms_per_run']} ms per run, WER "
              f"+{r['report']['wer_over_robot_minus_alone']}; tune {r['tune']['detected']}/{r['tune']['total']}, "
              f"p50 {r['tune']['p50_ms_pooled']} ms pooled")
    write(ns.name, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
