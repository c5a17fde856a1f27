"""How much of the robot's first reply the echo canceller removes at a first start-up, from nothing and after the
TTS node's learning sound (audio_io.learning_sound), in simulated rooms.

Each room (tools.room, seeded) gets the learning sound (or not), half a second of quiet, then one of the duplex
bench's replies spoken by Piper, into a canceller that has not heard it before, as the capture node at a first
start. The robot's voice removed in the first half-second, the next half-second and the second after is printed
per room and pooled. The sound's length (1.5 s, against 1 s) was chosen on rooms 3 and 7 (the tuning rooms); rooms
100-119 were not looked at before (the reporting rooms). --user-over adds a user talking over the sound (one clip of
each reporting-half Common Voice speaker in turn, 10 dB under the robot's echo), from its start or its middle; the
reply then begins half a second after they stop.

    .venv/bin/python bench/learning_sound.py [--rooms 100-119] [--seconds 1.5] [--user-over] [--name learning_sound]
"""

from __future__ import annotations

import argparse
import csv

import numpy as np
import soxr
from common import machine, write
from optimus_voice.audio_io.learning_sound import LEVEL_DBFS, SECONDS, learning_sound
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.speaking.tts import Synthesizer
from optimus_voice.tools.duplex_bench import SENTENCES
from optimus_voice.tools.room import Room, convolve, speech_rms, through_room

USER_OVER = {"user_from_sound_start": 0.0, "user_from_sound_middle": 0.5}  # where in the sound the user starts
SPANS = {"0-0.5 s": (0.0, 0.5), "0.5-1 s": (0.5, 1.0), "1-2 s": (1.0, 2.0)}


def removed_db(sound: np.ndarray, reply: np.ndarray, rate: int, room: Room, rng: np.random.Generator,
               user: np.ndarray | None = None, user_at_s: float = 0.0) -> dict:
    """dB of the reply's echo removed in each span of SPANS, and how far into the reply the canceller called itself
    converged (None: not in the reply). `user` (16 kHz): someone talking from `user_at_s` into the sound; the reply
    then begins half a second after they stop."""
    quiet_s = 0.5
    near = None
    if user is not None:
        near = np.concatenate([np.zeros(round(user_at_s * SAMPLE_RATE), np.float32), user])
        quiet_s = max(quiet_s, len(near) / SAMPLE_RATE - len(sound) / rate + 0.5)
    played = np.concatenate([sound, np.zeros(round(quiet_s * rate), np.float32), reply])
    # The microphone's noise: -70 dBFS.
    echo = through_room(played, rate, room.impulse_response() * 0.5, noise_rms=3e-4, rng=rng, near=near)
    start = (len(sound) + round(quiet_s * rate)) / rate
    result = {name: round(echo.removed_db(start + a, start + b), 1) for name, (a, b) in SPANS.items()}
    into = echo.converged_after(start)
    result["converged_s_into_reply"] = None if into is None else round(into, 2)
    return result


def report_speakers() -> list[tuple[str, np.ndarray]]:
    """One clip of each speaker of asr_commonvoice_dev's reporting half (tools.turn_bench.half_of)."""
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.tools.cli.bench import DEFAULT_SET as root
    from optimus_voice.tools.turn_bench import half_of

    with open(root / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if half_of(f"asr_commonvoice_dev/{r['speaker_id']}") == "report"]
    first = {}
    for r in rows:
        first.setdefault(r["speaker_id"], r["file"])
    return [(file, load_audio(str(root / file))) for file in sorted(first.values())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", default="100-119", help="room seeds, first-last")
    ap.add_argument("--seconds", type=float, default=SECONDS, help="length of the learning sound")
    ap.add_argument("--name", default="learning_sound", help="bench/results/NAME.json")
    ap.add_argument("--user-over", action="store_true",
                    help="also: a user (report-half Common Voice speakers, 10 dB under the robot's echo) talking "
                         "from the sound's start, and from halfway through it")
    ns = ap.parse_args()
    first, last = (int(x) for x in ns.rooms.split("-"))
    syn = Synthesizer()
    rng = np.random.default_rng(0)
    users = report_speakers() if ns.user_over else []
    variants = ["from_nothing", "after_learning_sound"] + (list(USER_OVER) if users else [])
    rows = []
    for seed in range(first, last + 1):
        text = " ".join(SENTENCES[i] for i in rng.choice(len(SENTENCES), 2, replace=False))
        chunks = list(syn.synthesize(text))
        rate = chunks[0].sample_rate
        reply = np.concatenate([c.samples for c in chunks])
        room = Room(seed=seed)
        row = {"room": seed, "text": text,
               "from_nothing": removed_db(np.zeros(0, np.float32), reply, rate, room, rng),
               "after_learning_sound": removed_db(learning_sound(rate, ns.seconds), reply, rate, room, rng)}
        if users:
            path, user = users[(seed - first) % len(users)]
            # 10 dB under the robot's echo, as bench duplex's default (--echo-db 10)
            h = room.impulse_response() * 0.5
            echo_level = speech_rms(convolve(soxr.resample(reply, rate, SAMPLE_RATE).astype(np.float32), h))
            user = (user * (echo_level / 10 ** 0.5 / speech_rms(user))).astype(np.float32)
            row["user"] = path
            sound = learning_sound(rate, ns.seconds)
            for variant, at in USER_OVER.items():
                row[variant] = removed_db(sound, reply, rate, room, rng, user, at * ns.seconds)
        rows.append(row)
        print(f"room {seed}: " + "; ".join(f"{v} {row[v]}" for v in variants))
    pooled = {}
    for variant in variants:
        pooled[variant] = {name: {"median": round(float(np.median([r[variant][name] for r in rows])), 1),
                                  "min": min(r[variant][name] for r in rows)} for name in SPANS}
        into = [r[variant]["converged_s_into_reply"] for r in rows]
        pooled[variant]["converged_within_2_s_of_the_reply"] = sum(s is not None and s <= 2.0 for s in into)
    print("pooled:", pooled)
    path = write(ns.name, {"machine": machine(), "rooms": ns.rooms, "sound_s": ns.seconds, "user_over": ns.user_over,
                                    "sound_level_dbfs": LEVEL_DBFS, "pooled": pooled, "per_room": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
