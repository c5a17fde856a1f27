"""Online voice ids, turn by turn, as the ASR node gives them: does each person keep one id, and get their own?

    .venv/bin/python bench/voices.py [--data ../shared/data] [--tune]

Sessions replayed through `TurnVoices` (audio pushed in 20 ms chunks, as the node does):
- AMI meeting excerpts (`conversation_ami_dev`): one session per file, the turns of its reference RTTM where one
  person speaks alone (at least 0.5 s), in time order. Halves as in `bench/diarize.py` (by speaker).
- Common Voice (`asr_commonvoice_dev`): sessions of 4 people, each clip of 4 s or more cut into two turns
  (A1 B1 C1 D1 A2 B2 C2 D2). Halves by a hash of the speaker (as `bench/asr_split.py`).
- Two-person conversations from `asr_misc_dev` (readers with several clips), alternating: report only.
Scores, per group: pairwise precision and recall of "same id" against "same person" over all turn pairs of a
session, F1; how many ids per true speaker; the share of a person's turns that carry their most common id
(stability). `--tune` searches `VoiceIdConfig` on the tune half only. Writes bench/results/voices.json.

`--graph` replays the two-person conversations through the whole graph instead (`optimus-voice bench e2e`: a bag
of the clips, 2 s apart, played into the running nodes) and scores the voice ids of the final transcripts, by the
clip each turn came from: bench/results/voices_graph.json, with the final transcript's latency.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, machine, manifest, summary, write
from diarize import halves
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.hearing.voice_encoder import RATE, VoiceEncoder
from optimus_voice.hearing.voice_ids import TurnVoices, VoiceIdConfig, VoiceRegistry
from optimus_voice.tools.der import read_rttm
from optimus_voice.tools.turn_bench import half_of

CHUNK = 320  # 20 ms
GRID = {"match_above": [0.6, 0.65, 0.7, 0.75, 0.8, 0.85], "min_enroll_s": [0.5, 1.0, 1.5]}


def ami_sessions(data: Path) -> dict[str, list[tuple[str, list[tuple[str, np.ndarray]]]]]:
    """half -> [(uri, [(speaker, turn audio)])]: stretches where one reference speaker talks alone."""
    set_dir = data / "conversation_ami_dev"
    rows = manifest(set_dir)
    reference = read_rttm(set_dir / "reference.rttm")
    out: dict[str, list] = {"tune": [], "report": []}
    for half, uris in halves(rows).items():
        for uri in uris:
            audio = load_audio(set_dir / "audio" / f"{uri}.wav")
            turns = []
            for start, end, speaker in sorted(reference[uri]):
                others = [(s, e) for s, e, who in reference[uri] if who != speaker and s < end and e > start]
                # Keep the longest part of the turn that no one else overlaps.
                pieces, t = [], start
                for s, e in sorted(others):
                    if s > t:
                        pieces.append((t, min(s, end)))
                    t = max(t, e)
                if t < end:
                    pieces.append((t, end))
                if pieces:
                    a, b = max(pieces, key=lambda p: p[1] - p[0])
                    if b - a >= 0.5:
                        turns.append((speaker, audio[int(a * RATE):int(b * RATE)]))
            out[half].append((uri, turns))
    return out


def cv_sessions(data: Path, size: int = 4) -> dict[str, list]:
    """Sessions of `size` different people, each clip of 4 s or more cut in two turns: A1 B1 C1 D1 A2 B2 C2 D2."""
    set_dir = data / "asr_commonvoice_dev"
    by_half: dict[str, list] = {"tune": [], "report": []}
    for row in manifest(set_dir):
        if float(row["duration_s"]) >= 4.0:
            speaker = f"asr_commonvoice_dev/{row['speaker_id']}"
            by_half[half_of(speaker)].append((row["speaker_id"], load_audio(row["path"])))
    out: dict[str, list] = {}
    for half, clips in by_half.items():
        out[half] = []
        for i in range(0, len(clips) - 1, size):
            group = clips[i:i + size]
            turns = [(who, audio[:len(audio) // 2]) for who, audio in group]
            turns += [(who, audio[len(audio) // 2:]) for who, audio in group]
            out[half].append((f"cv_{half}_{i // size}", turns))
    return out


def conversations(data: Path) -> list:
    set_dir = data / "asr_misc_dev"
    rows = manifest(set_dir)
    by_speaker: dict[str, list] = {}
    for row in rows:
        by_speaker.setdefault(row["speaker"], []).append(load_audio(row["path"]))
    readers = sorted(s for s, clips in by_speaker.items() if len(clips) >= 3)
    out = []
    for a, b in itertools.combinations(readers, 2):
        turns = []
        for x, y in itertools.zip_longest(by_speaker[a], by_speaker[b]):
            turns += [(a, x)] if x is not None else []
            turns += [(b, y)] if y is not None else []
        out.append((f"{a} / {b}", turns))
    return out


def replay(encoder: VoiceEncoder, config: VoiceIdConfig, turns: list, cache: dict) -> tuple[list[str], list[float]]:
    """Ids given to each turn of one session, and the compute left at each turn's end (ms)."""
    voices = TurnVoices(encoder, VoiceRegistry(config))
    ids, end_ms = [], []
    for n, (_, audio) in enumerate(turns):
        key = id(audio)
        if key in cache:  # the vector of a turn does not depend on the registry's settings
            vector, speech_s = cache[key]
            ids.append(voices.registry.identify(vector, speech_s).voice_id)
            continue
        for i in range(0, len(audio), CHUNK):
            voices.add_audio(n, 0, audio[i:i + CHUNK])
        t0 = time.perf_counter()
        registry, voices.registry = voices.registry, VoiceRegistry(config)  # capture the turn's vector
        match = voices.finish(n, len(audio))
        end_ms.append((time.perf_counter() - t0) * 1000)
        vector = voices.registry.voices[0].centroid if match else np.zeros(256, np.float32)
        voices.registry = registry
        cache[key] = (vector, len(audio) / RATE)
        ids.append(registry.identify(vector, len(audio) / RATE).voice_id)
    return ids, end_ms


def scores(sessions: list[tuple[str, list[str], list[str]]]) -> dict:
    tp = fp = fn = 0
    ids_per_speaker, stability = [], []
    for _, truth, ids in sessions:
        for i, j in itertools.combinations(range(len(truth)), 2):
            same_person, same_id = truth[i] == truth[j], ids[i] == ids[j]
            tp += same_person and same_id
            fp += same_id and not same_person
            fn += same_person and not same_id
        for person in set(truth):
            given = [ids[k] for k in range(len(truth)) if truth[k] == person]
            ids_per_speaker.append(len(set(given)))
            if len(given) > 1:
                stability.append(Counter(given).most_common(1)[0][1] / len(given))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"pair_precision": round(precision, 3), "pair_recall": round(recall, 3),
            "pair_f1": round(2 * precision * recall / max(precision + recall, 1e-9), 3),
            "ids_per_speaker": round(float(np.mean(ids_per_speaker)), 2) if ids_per_speaker else None,
            "stability": round(float(np.mean(stability)), 3) if stability else None,
            "speakers": len(ids_per_speaker), "turns": sum(len(t) for _, t, _ in sessions)}


def run_group(encoder, config, sessions, cache) -> tuple[dict, list[float], list]:
    results, end_ms = [], []
    for name, turns in sessions:
        ids, ms = replay(encoder, config, turns, cache)
        end_ms += ms
        results.append((name, [s for s, _ in turns], ids))
    return scores(results), end_ms, results


def graph(data: Path) -> int:
    from optimus_voice.tools import e2e

    set_dir = data / "asr_misc_dev"
    rows = manifest(set_dir)
    out = {"machine": machine(), "config": asdict(VoiceIdConfig()), "conversations": []}
    by_speaker: dict[str, list] = {r["speaker"]: [] for r in rows}
    for r in rows:
        by_speaker[r["speaker"]].append(r["path"])
    sessions = []
    for name, turns in conversations(data):
        speakers = [who for who, _ in turns]
        order, used = [], {s: 0 for s in by_speaker}
        for who in speakers:  # the same clips, in the same order, as files for the bag
            order.append(by_speaker[who][used[who]])
            used[who] += 1
        result = e2e.run(order, pause_s=2.0, echo=lambda *_: None)
        truth, ids = [], []
        for t in result["turns"]:
            if "clip_index" in t and t["heard"].strip():
                truth.append(speakers[t["clip_index"]])
                ids.append(t["voice_id"])
        sessions.append((name, truth, ids))
        out["conversations"].append({"name": name, "truth": truth, "ids": ids,
                                     "final_transcript_ms": result["final_transcript_ms"]})
        print(f"{name}: {list(zip(truth, ids, strict=True))}")
    out["scores"] = scores(sessions)
    print(f"through the graph: {out['scores']}")
    print(f"wrote {write('voices_graph', out)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--graph", action="store_true", help="the conversations through the running graph")
    ns = parser.parse_args()
    if ns.graph:
        return graph(ns.data)
    encoder = VoiceEncoder()
    ami, cv = ami_sessions(ns.data), cv_sessions(ns.data)
    groups = {"tune": {"ami": ami["tune"], "cv": cv["tune"]},
              "report": {"ami": ami["report"], "cv": cv["report"], "conversations": conversations(ns.data)}}
    cache: dict = {}
    if ns.tune:
        rows = []
        for values in itertools.product(*GRID.values()):
            config = replace(VoiceIdConfig(), **dict(zip(GRID, values, strict=True)))
            f1 = [run_group(encoder, config, s, cache)[0]["pair_f1"] for s in groups["tune"].values()]
            rows.append((float(np.mean(f1)), f1, dict(zip(GRID, values, strict=True))))
        for mean_f1, f1, settings in sorted(rows, key=lambda r: -r[0])[:8]:
            print(f"tune mean pair F1 {mean_f1:.3f} (ami, cv) {f1}  {settings}")
        return 0
    config = VoiceIdConfig()
    out = {"machine": machine(), "config": asdict(config), "groups": {}}
    all_end_ms = []
    for half, named in groups.items():
        for group, sessions in named.items():
            s, end_ms, results = run_group(encoder, config, sessions, cache)
            all_end_ms += end_ms
            key = f"{half}/{group}"
            out["groups"][key] = {**s, "sessions": [{"name": n, "truth": t, "ids": i} for n, t, i in results]}
            print(f"{key:22s} pairs P {s['pair_precision']:.3f} R {s['pair_recall']:.3f} F1 {s['pair_f1']:.3f}  "
                  f"ids per speaker {s['ids_per_speaker']}  stability {s['stability']}  "
                  f"({s['speakers']} speakers, {s['turns']} turns)")
    out["work_left_at_turn_end_ms"] = summary(all_end_ms)
    print(f"work left at the end of a turn (the last window and the match): {out['work_left_at_turn_end_ms']} ms")
    print(f"wrote {write('voices', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
