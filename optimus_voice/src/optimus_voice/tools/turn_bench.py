"""`optimus-voice bench turns`: when does the user's turn end? False cut-offs against latency, on real speech.

Every clip is one utterance: one person saying one thing, with the pauses they left inside it. The recognizer's
VAD rules (its thresholds and 32 ms windows) find each pause; at each one the bench takes what the recognizer
would have at its first pause (the Whisper text of the turn so far and the Smart Turn probability of its audio,
as `StreamingAsr` computes them), and how long the pause really lasted. An endpointing rule says how much silence
it needs at a pause: a pause inside the clip that lasts that long is a false cut-off (the robot would answer in
the middle), and at the clip's end the silence needed is the latency. As in LiveKit's eot-bench, fixed silences
from 128 to 1600 ms draw a curve; the text rule and the audio turn model are points beside it.

Tuning is done on one half of the speakers and reported on the other (by a hash of the speaker id).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.hearing.asr import AsrConfig, ms_to_samples
from optimus_voice.hearing.endpoint import needed_silence_ms, sounds_complete
from optimus_voice.hearing.vad import WINDOW

FIXED_MS = (128, 192, 256, 320, 400, 500, 640, 800, 1000, 1200, 1600)
TAIL_S = 2.0  # silence after each clip: the end of the utterance


@dataclass
class Pause:
    at_s: float          # where the speech stopped, in the clip
    silence_ms: float    # how long until speech came back (inf: the end of the utterance)
    text: str            # what the recognizer had decoded of the turn at this pause
    complete_text: bool  # the text rule's reading of it
    done: float          # Smart Turn's probability that the turn is over
    model_ms: float      # features and model
    decode_ms: float     # the speculative decode: the turn cannot end before it is done


@dataclass
class Utterance:
    clip: str
    speaker: str
    half: str            # "tune" or "report"
    pauses: list[Pause]  # the inner ones first, the end last


def half_of(speaker: str) -> str:
    return "tune" if hashlib.sha1(speaker.encode()).digest()[0] % 2 == 0 else "report"


def pauses_of(audio: np.ndarray, vad, recognizer, model, cfg: AsrConfig) -> list[Pause]:
    """The pauses of one utterance as the streaming recognizer meets them (same thresholds, same windows)."""
    vad.reset()
    audio = np.concatenate([audio.astype(np.float32), np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])
    probs = vad.push(audio)
    spec = ms_to_samples(cfg.spec_silence_ms)
    opened = _turn_opens(probs, cfg)
    if opened is None:
        return []
    first, speech_run = opened
    start = max(0, (first + 1) * WINDOW - speech_run - ms_to_samples(cfg.preroll_ms))
    silence_run, pauses = 0, []
    pause_at: int | None = None
    for i, p in enumerate(probs[first + 1:], first + 1):
        w0 = i * WINDOW
        if p < cfg.vad_neg_threshold:
            silence_run += WINDOW
            if silence_run >= spec and pause_at is None:
                pause_at = w0 + WINDOW - silence_run
                pauses.append(_pause(audio, start, pause_at, recognizer, model, cfg))
        else:
            if pause_at is not None:
                pauses[-1].silence_ms = silence_run * 1000 / SAMPLE_RATE
            silence_run, pause_at = 0, None
    if pause_at is not None:
        pauses[-1].silence_ms = math.inf
    # A pause is inside the utterance only if what follows would open a turn of its own (as much speech as the
    # recognizer needs to open one): a click or a breath after the last word does not cut anything.
    for n, pause in enumerate(pauses):
        after = int((pause.at_s * SAMPLE_RATE + pause.silence_ms * SAMPLE_RATE / 1000) // WINDOW) \
            if not math.isinf(pause.silence_ms) else len(probs)
        if _turn_opens(probs[after:], cfg) is None:
            pause.silence_ms = math.inf
            return pauses[:n + 1]
    return pauses


def _turn_opens(probs: list[float], cfg: AsrConfig) -> tuple[int, int] | None:
    """(window, speech run) where the recognizer would open a turn in `probs`, if it would: min_speech_ms of
    windows at vad_threshold or above."""
    run, needed = 0, ms_to_samples(cfg.min_speech_ms)
    for i, p in enumerate(probs):
        run = run + WINDOW if p >= cfg.vad_threshold else 0
        if run >= needed:
            return i, run
    return None


def _pause(audio: np.ndarray, start: int, end: int, recognizer, model, cfg: AsrConfig) -> Pause:
    speech = audio[start:end]
    trailing = np.zeros(ms_to_samples(cfg.trailing_ms), np.float32)
    hyp = recognizer.transcribe(np.concatenate([speech, trailing]), word_timestamps=True)
    verdict = model.predict(audio[start:end + ms_to_samples(cfg.spec_silence_ms)])
    return Pause(end / SAMPLE_RATE, 0.0, hyp.text, sounds_complete(hyp.text), verdict.complete,
                 verdict.features_ms + verdict.model_ms, hyp.decode_ms)


def outcome(utterances: list[Utterance], needed, spec_ms: float = AsrConfig.spec_silence_ms) -> dict:
    """Cut-offs and latency of an endpointing rule: `needed(pause) -> ms of silence it waits for`. The latency at
    the end of an utterance is that silence (deterministic: what tuning uses), and `with_decode` the later of it
    and the speculative decode started at the pause, as in the recognizer (decode-bound below about 300 ms; wall
    time, so it varies a little from run to run)."""
    cut_clips, inner, inner_cut, latencies, with_decode = 0, 0, 0, [], []
    for u in utterances:
        cut = False
        for pause in u.pauses:
            wait = needed(pause)
            if math.isinf(pause.silence_ms):
                latencies.append(wait)
                with_decode.append(max(wait, spec_ms + pause.decode_ms))
            else:
                inner += 1
                if pause.silence_ms >= wait:
                    inner_cut += 1
                    cut = True
        cut_clips += cut
    return {"clips_cut_pct": round(100 * cut_clips / max(1, len(utterances)), 1),
            "inner_pauses_cut_pct": round(100 * inner_cut / max(1, inner), 1),
            "latency_p50_ms": round(float(np.median(latencies)), 1) if latencies else None,
            "latency_mean_ms": round(float(np.mean(latencies)), 1) if latencies else None,
            "with_decode_p50_ms": round(float(np.median(with_decode)), 1) if with_decode else None,
            "with_decode_mean_ms": round(float(np.mean(with_decode)), 1) if with_decode else None}


def rule(cfg: AsrConfig, use_model: bool):
    return lambda pause: needed_silence_ms(pause.complete_text, pause.done if use_model else None, cfg)


TUNED = ("turn_hold_below", "turn_done_above", "fast_silence_ms", "unsure_silence_ms")


def tune(utterances: list[Utterance], cfg: AsrConfig) -> tuple[AsrConfig, dict]:
    """The model's thresholds and silences that cut the fewest of these utterances while waiting, on average, no
    longer than the text rule alone does (then the lowest mean latency)."""
    budget = outcome(utterances, rule(cfg, False))["latency_mean_ms"]
    best = None
    # Silences in whole VAD windows (32 ms): the recognizer counts silence by windows, so 400 ms waits 416.
    for hold_below, done_above, fast, unsure in itertools.product(
            (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5), (0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
            (64.0, 96.0, 128.0, 160.0, 192.0, 224.0, 256.0),
            (256.0, 288.0, 320.0, 352.0, 384.0, 416.0, 448.0, 512.0, 640.0, 800.0)):
        if done_above < hold_below or fast > unsure:
            continue
        trial = replace(cfg, turn_hold_below=hold_below, turn_done_above=done_above, fast_silence_ms=fast,
                        unsure_silence_ms=unsure)
        o = outcome(utterances, rule(trial, True))
        key = (o["latency_mean_ms"] > budget, o["clips_cut_pct"], o["latency_mean_ms"])
        if best is None or key < best[0]:
            best = (key, trial, o)
    assert best is not None
    return best[1], best[2]


def run(rows: list[dict], cfg: AsrConfig | None = None, echo=print, recognizer: str = "whisper") -> dict:
    """rows: {"path", "speaker"} per clip. Tunes on the "tune" half, reports both. recognizer: the ASR node's."""
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.hearing.recognizers import make_recognizer
    from optimus_voice.hearing.turn_model import SmartTurn
    from optimus_voice.hearing.vad import SileroVad
    from optimus_voice.tools.machine import machine

    cfg = cfg or AsrConfig()
    vad, decoder, model = SileroVad(), make_recognizer(recognizer), SmartTurn()
    utterances = []
    for row in rows:
        pauses = pauses_of(load_audio(row["path"]), vad, decoder, model, cfg)
        utterances.append(Utterance(Path(row["path"]).name, row["speaker"], half_of(row["speaker"]), pauses))
        echo(f"{Path(row['path']).name}: " + " | ".join(
            f"{p.text[-30:]!r} {p.silence_ms:.0f} ms, text {'done' if p.complete_text else 'more'}, "
            f"model {p.done:.2f}" for p in pauses))
    halves = {h: [u for u in utterances if u.half == h] for h in ("tune", "report")}
    tuned, tuned_outcome = tune(halves["tune"], cfg) if halves["tune"] else (cfg, {})
    result = {"machine": machine(), "recognizer": recognizer, "clips": len(utterances),
              "clips_by_half": {h: len(v) for h, v in halves.items()},
              "inner_pauses": sum(not math.isinf(p.silence_ms) for u in utterances for p in u.pauses),
              "model_ms": _ms([p.model_ms for u in utterances for p in u.pauses]),
              "decode_ms": _ms([p.decode_ms for u in utterances for p in u.pauses]),
              "tuned": {k: getattr(tuned, k) for k in TUNED},
              "tune_half": {"text_rule": outcome(halves["tune"], rule(cfg, False)), "model": tuned_outcome,
                            "fixed": {str(ms): outcome(halves["tune"], lambda _p, ms=ms: ms) for ms in FIXED_MS}}}
    for h in ("report",):
        result[f"{h}_half"] = {
            "fixed": {str(ms): outcome(halves[h], lambda _p, ms=ms: ms) for ms in FIXED_MS},
            "text_rule": outcome(halves[h], rule(cfg, False)),
            "model_defaults": outcome(halves[h], rule(cfg, True)),
            "model_tuned": outcome(halves[h], rule(tuned, True)),
        }
    result["utterances"] = [{"clip": u.clip, "speaker": u.speaker, "half": u.half,
                             "pauses": [{**asdict(p), "silence_ms": None if math.isinf(p.silence_ms)
                                         else p.silence_ms} for p in u.pauses]} for u in utterances]
    return result


def _ms(values: list[float]) -> dict:
    return {"p50": round(float(np.percentile(values, 50)), 1), "p95": round(float(np.percentile(values, 95)), 1)} \
        if values else {}


def plot(result: dict, path: str | Path) -> None:
    """The report half: fixed silences as a curve, the text rule and the model as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = result["report_half"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fixed = report["fixed"]
    ax.plot([o["latency_mean_ms"] for o in fixed.values()], [o["clips_cut_pct"] for o in fixed.values()], "o-",
            color="grey", label="fixed silence")
    for ms, o in fixed.items():
        ax.annotate(ms, (o["latency_mean_ms"], o["clips_cut_pct"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    for name, key, style in (("text rule (today)", "text_rule", "s"), ("text + Smart Turn", "model_tuned", "*")):
        o = report[key]
        ax.plot([o["latency_mean_ms"]], [o["clips_cut_pct"]], style, markersize=11, label=name)
    ax.set_xlabel("silence waited at the end of the turn, mean (ms)")
    ax.set_ylabel("utterances cut at an inner pause (%)")
    ax.set_title(f"End of turn, report half ({result['clips_by_half']['report']} clips)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
