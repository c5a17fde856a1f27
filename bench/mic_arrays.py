"""Microphone array benchmark: the talker's direction, the beam's words and CPU, in a simulated reverberant room.

    .venv/bin/python bench/mic_arrays.py [--data ../shared/data] [--rt60 0.4] [--snr-db 10] [--seed 0] [--name array]

Each Common Voice dev clip is a talker at a random direction around a robot head: the direct sound reaches each
microphone with its exact fractional delay; each microphone also gets its own diffuse reverberation tail (a
synthetic impulse response per microphone, `--rt60`, 3 dB under the direct sound) and a fan, a second source at
its own random direction playing noise `--snr-db` under the talker, and preamplifier noise 40 dB under it. Two
arrays: a 4-microphone square of 6 cm (the direction all around) and a 2-microphone pair 8 cm apart across the head
(front or back cannot be told: scored on the front half). The recognizer (Whisper tiny.en, offline, one decode
per clip) hears the beam steered at the estimated direction, and microphone 0 alone.

Nothing here was tuned on these clips: the band, the frame and the louder half of the frames were set before the
first run. The halves are reported apart anyway (speakers hashed as in `bench turns`). The tails are independent
per microphone, which a real diffuse field is not at low frequencies: a real room is harder. Prints a summary;
writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, machine, manifest, summary, write

ARRAYS = {"square_4": [0.03, 0.03, 0.0, -0.03, 0.03, 0.0, -0.03, -0.03, 0.0, 0.03, -0.03, 0.0],
          "pair_2": [0.0, 0.04, 0.0, 0.0, -0.04, 0.0]}
CHUNK = 320


def room_capture(speech, geometry, talker_az, fan_az, args, rng) -> np.ndarray:
    from optimus_voice.tools.room import Room, convolve, far_field, speech_rms

    def reverberate(sound: np.ndarray) -> None:
        """Each microphone's own reverberation tail of `sound` (no direct path: far_field gives that)."""
        for c in range(geometry.n):
            h = Room(rt60_s=args.rt60, direct_to_reverb_db=3.0, delay_ms=0.0,
                     seed=int(rng.integers(1 << 30))).impulse_response()
            h[0] = 0.0
            out[:, c] += convolve(sound, h)

    out = far_field(speech, geometry, talker_az)
    reverberate(speech)
    level = speech_rms(speech)
    fan = rng.standard_normal(len(speech)).astype(np.float32)
    fan = np.convolve(fan, np.ones(4) / 4, mode="same")  # a fan's noise leans to low frequencies
    fan *= level / np.sqrt(np.mean(fan ** 2)) * 10 ** (-args.snr_db / 20)
    out += far_field(fan, geometry, fan_az)
    reverberate(fan)  # the fan reverberates too
    out += rng.normal(0, level * 10 ** (-40 / 20), out.shape)
    return (out / max(1.0, np.max(np.abs(out)) / 0.9)).astype(np.float32)


def angle_error_deg(a: float, b: float) -> float:
    return float(abs((np.degrees(a - b) + 180) % 360 - 180))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rt60", type=float, default=0.4)
    parser.add_argument("--snr-db", type=float, default=10.0, help="the talker over the fan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="only the first N clips (a quick look)")
    parser.add_argument("--name", default="array")
    args = parser.parse_args()

    from optimus_voice.audio_io.mic_array import ArrayConfig, ArrayGeometry, ArrayProcessor
    from optimus_voice.audio_io.sources import AudioChunk, load_audio
    from optimus_voice.hearing.whisper import WhisperRecognizer
    from optimus_voice.tools.textnorm import wer
    from optimus_voice.tools.turn_bench import half_of

    rows = manifest(args.data / "asr_commonvoice_dev")
    rows = rows[:args.limit] if args.limit else rows
    recognizer = WhisperRecognizer()
    rng = np.random.default_rng(args.seed)
    results: dict = {"machine": machine(), "data": "asr_commonvoice_dev", "clips": len(rows), "rt60_s": args.rt60,
                     "snr_db_over_fan": args.snr_db, "seed": args.seed, "arrays": {}}
    started = time.time()
    for name, flat in ARRAYS.items():
        geometry = ArrayGeometry.from_flat(flat)
        per_clip = []
        busy_s = audio_s = 0.0
        for row in rows:
            speech = load_audio(row["path"])
            talker_az, fan_az = rng.uniform(-np.pi, np.pi, 2)
            mic = room_capture(speech, geometry, talker_az, fan_az, args, rng)
            proc = ArrayProcessor(geometry, ArrayConfig(follow_talker=False))
            t0 = time.thread_time()
            for i in range(0, len(mic), CHUNK):
                proc.process(AudioChunk(mic[i:i + CHUNK], i, 0))
            found = proc.direction(0, len(mic), final=True)
            busy_s += time.thread_time() - t0
            audio_s += len(mic) / 16000
            truth = talker_az
            if geometry.rank == 1:  # front or back cannot be told: the truth's front mirror across the y axis
                truth = np.arctan2(np.sin(talker_az), abs(np.cos(talker_az)))
            # The beam at the estimated direction, as the node steers it for the next turn.
            beam = ArrayProcessor(geometry, ArrayConfig(azimuth_deg=float(np.degrees(found.azimuth)),
                                                        follow_talker=False))
            beamed = np.concatenate([beam.process(AudioChunk(mic[i:i + CHUNK], i, 0)).samples
                                     for i in range(0, len(mic), CHUNK)])
            per_clip.append({
                "clip": Path(row["path"]).name, "half": half_of(row["speaker_id"]),
                "azimuth_deg": round(float(np.degrees(truth)), 1), "fan_deg": round(float(np.degrees(fan_az)), 1),
                "estimate_deg": round(float(np.degrees(found.azimuth)), 1),
                "error_deg": round(angle_error_deg(found.azimuth, truth), 1),
                "confidence": round(found.confidence, 3), "reference": row["transcript"],
                "beam": recognizer.transcribe(beamed, word_timestamps=False).text,
                "channel_0": recognizer.transcribe(mic[:, 0], word_timestamps=False).text})
        out = {"cpu_pct_of_one_core": round(100 * busy_s / audio_s, 2), "clips": per_clip}
        for half in ("tune", "report", "all"):
            clips = [c for c in per_clip if half == "all" or c["half"] == half]
            errors = [c["error_deg"] for c in clips]
            out[half] = {"clips": len(clips), "error_deg": summary(errors),
                         "within_10_deg": round(float(np.mean([e <= 10 for e in errors])), 3),
                         "within_20_deg": round(float(np.mean([e <= 20 for e in errors])), 3),
                         "wer_beam": round(100 * wer([c["reference"] for c in clips], [c["beam"] for c in clips]), 2),
                         "wer_channel_0": round(100 * wer([c["reference"] for c in clips],
                                                          [c["channel_0"] for c in clips]), 2)}
            print(f"{name} {half}: {len(clips)} clips, direction error p50 {out[half]['error_deg']['p50']} p95 "
                  f"{out[half]['error_deg']['p95']} deg, within 20 deg {out[half]['within_20_deg']:.0%}, WER beam "
                  f"{out[half]['wer_beam']}% vs microphone 0 {out[half]['wer_channel_0']}%")
        print(f"{name}: beam + direction {out['cpu_pct_of_one_core']}% of one core")
        results["arrays"][name] = out
    results["run_s"] = round(time.time() - started, 1)
    print(write(args.name, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
