"""The ASR's WER by half of the speakers and on noisy clips, from the per-clip hypotheses a `bench/asr.py` run kept.

    .venv/bin/python bench/asr_split.py [--result bench/results/asr.json] [--data ../shared/data] [--name asr_split]

Speakers are split by a hash of their id (the same split as `optimus-voice bench turns`): `tune` is the half that
settings may be tuned on from now on, `report` the half that is reported. Clips with `dyn_range_db` < 30 are also
reported apart (noisy). Each WER also with British spellings made American on both sides (`*_us_spelling`:
"metres" and "meters" are one word), as the Open ASR leaderboard counts. The settings of `asr.json` were tuned before
this split existed, on both halves: its `report` numbers are not held out yet. Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, RESULTS, manifest, write
from optimus_voice.tools.textnorm import wer


def clip_groups(set_name: str, rows: list[dict]) -> dict[str, list[int]]:
    """Indices of a set's clips by half of the speakers (`tune`, `report`) and of the noisy clips (`noisy`)."""
    from optimus_voice.tools.turn_bench import half_of

    groups: dict[str, list[int]] = {"tune": [], "report": [], "noisy": []}
    for i, r in enumerate(rows):
        groups[half_of(f"{set_name}/{r.get('speaker') or r['speaker_id']}")].append(i)
        if float(r.get("dyn_range_db") or 99) < 30:
            groups["noisy"].append(i)
    return groups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--result", type=Path, default=RESULTS / "asr.json")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--name", default="asr_split", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()
    result = json.loads(ns.result.read_text())
    out = {"from": str(ns.result.name), "machine_of_that_run": result["machine"], "sets": {}}
    for set_name, entry in result["sets"].items():
        rows = manifest(ns.data / set_name)
        refs = [r["transcript"] for r in rows]
        groups = {**clip_groups(set_name, rows), "all": list(range(len(rows)))}
        modes = {"streaming": entry["streaming"]["hypotheses"]}
        if "offline_hypotheses" in entry:  # not in a run with --skip-offline
            modes["offline_full"] = entry["offline_hypotheses"]
        out["sets"][set_name] = {
            group: {"clips": len(idx), "speakers": len({rows[i].get("speaker") or rows[i]["speaker_id"] for i in idx}),
                    **{mode + suffix: round(100 * wer([refs[i] for i in idx], [hyps[i] for i in idx], us), 2)
                       if idx else None
                       for mode, hyps in modes.items() for suffix, us in (("", False), ("_us_spelling", True))}}
            for group, idx in groups.items()}
        for group, o in out["sets"][set_name].items():
            print(f"{set_name:22s} {group:7s} {o['clips']:3d} clips {o['speakers']:3d} speakers  "
                  f"streaming WER {o['streaming']}% ({o['streaming_us_spelling']}% with US spelling)  "
                  f"offline {o.get('offline_full')}%")
    print(f"wrote {write(ns.name, out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
