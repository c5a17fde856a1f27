"""Where the words lost over the robot go: each clip heard over the robot against the same clip alone, in the
same `bench duplex` run, sorted by what went wrong.

Per clip, the word errors over the robot minus those alone (edit distance against the reference, normalised as
the WER is); the difference is put down to the first thing that explains it:
- nothing heard: no turn, or none answered, while the user talked over the robot;
- turn opened late: the first turn opened more than `--late-ms` after the user's speech began;
- first word: the first word differs from the one heard alone;
- later words: the rest (the robot's residual voice mixed into the user's, or the recognizer's own drift).

    .venv/bin/python bench/duplex_losses.py bench/results/duplex_gatefloor25_remembered_s3[0-4].json \
        --name duplex_losses_s30_34
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, manifest, write
from optimus_voice.tools.textnorm import edit_distance, normalize


def cause(over: dict, heard_alone: str, late_ms: float) -> str:
    opened = over["opened_over_robot"]
    if not over["heard"].strip():
        return "nothing heard"
    if opened and opened[0]["ms_after_onset"] is not None and opened[0]["ms_after_onset"] > late_ms:
        return "turn opened late"
    return "first word" if normalize(over["heard"])[:1] != normalize(heard_alone)[:1] else "later words"


def losses(paths: list[str], refs: dict[str, str], late_ms: float) -> dict:
    words, clips, extra = 0, Counter(), Counter()
    for path in paths:
        episodes = json.loads(Path(path).read_text())["episodes"]
        alone = {e["clip"]: e["heard"] for e in episodes if e["kind"] == "alone"}
        for e in (e for e in episodes if e["kind"] == "over"):
            ref = normalize(refs[e["clip"]])
            words += len(ref)
            diff = edit_distance(ref, normalize(e["heard"])) - edit_distance(ref, normalize(alone[e["clip"]]))
            if diff:
                why = cause(e, alone[e["clip"]], late_ms)
                clips[why] += 1
                extra[why] += diff
    return {"runs": [Path(p).name for p in paths], "late_ms": late_ms, "reference_words": words,
            "extra_errors": sum(extra.values()),
            "extra_errors_pct_points": round(100 * sum(extra.values()) / words, 2) if words else None,
            "by_cause": {k: {"clips": clips[k], "extra_errors": extra[k]} for k in sorted(clips)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="bench duplex JSON files")
    ap.add_argument("--late-ms", type=float, default=500.0, help="a turn opened later than this is late")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "asr_commonvoice_dev",
                    help="the clips' set (its manifest.csv has the references)")
    ap.add_argument("--name", help="also write bench/results/NAME.json")
    ns = ap.parse_args()
    refs = {Path(r["file"]).name: r["transcript"] for r in manifest(ns.data)}
    result = losses(ns.runs, refs, ns.late_ms)
    print(f"{result['reference_words']} words over the robot: {result['extra_errors']} more errors than alone "
          f"({result['extra_errors_pct_points']} points)")
    for why, row in result["by_cause"].items():
        print(f"  {why:17s} {row['clips']:3d} clips, {row['extra_errors']:+d} errors")
    if ns.name:
        write(ns.name, result)


if __name__ == "__main__":
    main()
