"""Diarization error rate on real meeting audio (AMI excerpts), tuned on one half of the files, reported on the other.

    .venv/bin/python bench/diarize.py [--data ../shared/data] [--tune] [--json]

Files are split by speaker: files that share a speaker stay in the same half (AMI speakers recur across
excerpts), so no voice of the `report` half was ever heard while tuning. `--tune` searches the settings of
`DiarizationConfig` on the `tune` half only and prints the best; the defaults in `hearing/diarization.py` are
what it chose. The DER counts missed speech, false alarm and confusion over all reference speech, overlap
included, no collar. For context the JSON also scores "all speech is one speaker" with the same speech regions.
Writes bench/results/diarize.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, machine, manifest, write
from optimus_voice.hearing.diarization import DiarizationConfig, Diarizer, segments_of
from optimus_voice.tools.der import DerParts, read_rttm, score

SET = "conversation_ami_dev"
GRID = {"vad_threshold": [0.05, 0.1, 0.2], "pad_s": [0.05, 0.15, 0.3], "min_silence_s": [0.3, 0.6],
        "step_s": [0.2, 0.4], "merge_below": [0.3, 0.35, 0.4, 0.45], "overlap_share": [0.25, 0.35, 1.0],
        "min_cluster_s": [1.0, 2.0]}


def halves(rows: list[dict]) -> dict[str, list[str]]:
    """Files that share a speaker form a group; groups go, largest first, to the half with fewer files."""
    groups: list[tuple[set[str], list[str]]] = []
    for row in rows:
        speakers, uris = set(row["speakers"].split()), [Path(row["file"]).stem]
        for g in [g for g in groups if g[0] & speakers]:
            groups.remove(g)
            speakers |= g[0]
            uris += g[1]
        groups.append((speakers, uris))
    out: dict[str, list[str]] = {"tune": [], "report": []}
    for _, uris in sorted(groups, key=lambda g: (-len(g[1]), sorted(g[1]))):
        side = "tune" if len(out["tune"]) <= len(out["report"]) else "report"
        out[side] += uris
    return {k: sorted(v) for k, v in out.items()}


def evaluate(diarizer: Diarizer, files: dict, uris: list[str], reference: dict, cache: dict) -> dict:
    total, per_file, one_voice = DerParts(0, 0, 0, 0), {}, DerParts(0, 0, 0, 0)
    for uri in uris:
        audio, entry = files[uri], cache.setdefault(uri, {"vectors": {}})
        if "probs" not in entry:
            entry["probs"], _ = diarizer.vad_probabilities(audio)
        result = diarizer(audio, probs=entry["probs"], vectors=entry["vectors"])
        hyp = [(s.start, s.end, s.speaker) for s in result.segments]
        parts = score(reference[uri], hyp, (0.0, len(audio) / 16000))
        merged = [(s.start, s.end, "one") for s in segments_of(result.labels.any(axis=1)[:, None], ["one"])]
        one_voice = one_voice + score(reference[uri], merged, (0.0, len(audio) / 16000))
        total = total + parts
        per_file[uri] = {"der": round(100 * parts.der, 1), "speakers_found": len(result.speakers),
                         "speakers_true": len({s for _, _, s in reference[uri]})}
    return {"der": round(100 * total.der, 2), "missed": round(100 * total.missed_s / total.reference_s, 2),
            "false_alarm": round(100 * total.false_alarm_s / total.reference_s, 2),
            "confusion": round(100 * total.confusion_s / total.reference_s, 2),
            "der_all_one_speaker": round(100 * one_voice.der, 2), "files": per_file}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tune", action="store_true", help="search the settings on the tune half and print them")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--tune-only", action="store_true", help="score the tune half only (while developing)")
    ns = parser.parse_args()
    set_dir = ns.data / SET
    rows = manifest(set_dir)
    reference = read_rttm(set_dir / "reference.rttm")
    files = {Path(r["file"]).stem: sf.read(r["path"], dtype="float32")[0] for r in rows}
    split = halves(rows)
    overrides = {k: type(getattr(DiarizationConfig(), k))(v) for k, v in (kv.split("=", 1) for kv in ns.set)}
    diarizer, cache = Diarizer(replace(DiarizationConfig(), **overrides)), {}
    if ns.tune:
        results = []
        keys = list(GRID)
        for values in itertools.product(*GRID.values()):
            diarizer.config = replace(DiarizationConfig(), **{**overrides, **dict(zip(keys, values, strict=True))})
            r = evaluate(diarizer, files, split["tune"], reference, cache)
            results.append((r["der"], dict(zip(keys, values, strict=True))))
        for der, settings in sorted(results, key=lambda x: x[0])[:10]:
            print(f"tune DER {der:6.2f}%  {settings}")
        return 0
    if ns.tune_only:
        o = evaluate(diarizer, files, split["tune"], reference, cache)
        print({k: v for k, v in o.items() if k != "files"}, o["files"])
        return 0
    out = {"set": SET, "machine": machine(), "config": asdict(diarizer.config), "split": split}
    audio_s = 0.0
    t0 = time.process_time()
    for half in ("tune", "report"):
        out[half] = evaluate(diarizer, files, split[half], reference, cache)
        audio_s += sum(len(files[u]) for u in split[half]) / 16000
        o = out[half]
        print(f"{half:6s} ({', '.join(split[half])}): DER {o['der']}% = missed {o['missed']} + false alarm "
              f"{o['false_alarm']} + confusion {o['confusion']}  (all speech one speaker: {o['der_all_one_speaker']}%)")
        for uri, f in o["files"].items():
            print(f"    {uri}: DER {f['der']}%  voices found {f['speakers_found']} / true {f['speakers_true']}")
    out["cpu_s_per_audio_s"] = round((time.process_time() - t0) / audio_s, 4)
    print(f"CPU {out['cpu_s_per_audio_s']} s per second of audio")
    print(f"wrote {write('diarize', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
