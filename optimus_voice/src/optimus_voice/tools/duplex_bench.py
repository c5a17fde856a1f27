"""`optimus-voice bench duplex`: the robot talks, hears itself through a room, and users talk over it.

A closed loop in simulated time, with the engines the nodes run (no rclpy): Piper speaks the robot's replies; its
voice comes back into the microphone through tools.room; real speech clips are placed over the robot at random
moments, and also while it is silent. The microphone goes through the echo canceller (the audio actually played
as its reference), then the streaming ASR, whose events drive the dialogue's barge-in rules (TurnTaking). A
barge-in stops the robot's voice at once, as the speaker node's flush does, so the rest of the user's words come
back clean. Processing time is real: the audio clock runs behind by whatever the CPU could not keep up with, so
detection times are those of this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from optimus_voice.audio_io import learning_sound as sound_module
from optimus_voice.audio_io.echo import EchoCanceller, EchoConfig
from optimus_voice.audio_io.sources import AudioChunk, load_audio
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import NS_PER_S
from optimus_voice.contract.states import State
from optimus_voice.tools.room import Room, convolve, speech_rms, through_room

CHUNK = 320          # 20 ms, as the capture node publishes
BASE_NS = 10 ** 12   # stamps of the simulated clock start here
TAIL_S = 1.5         # silence after each episode, so the last turn ends
NOISE_RMS = 3e-4     # the microphone's own noise (-70 dBFS)


@dataclass
class Clip:
    path: str
    text: str
    speaker: str
    half: str = "report"
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    onset: int = 0   # first sample of speech in the clip (Silero VAD on the clean clip)


@dataclass
class Episode:
    kind: str                  # "robot" (the robot alone), "over" (the user talks over it), "alone" (user alone)
    reply: np.ndarray | None   # the robot's speech, 16 kHz
    reply_text: str = ""
    clip: Clip | None = None
    user_at: int = 0           # sample of the episode where the clip starts


@dataclass
class Outcome:
    barge_ins: list[dict] = field(default_factory=list)      # every barge-in: when, why, true or false
    finals: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end sample, text) of user turns
    robot_s: float = 0.0       # seconds of the robot's voice played
    erle: list[tuple[float, float]] = field(default_factory=list)  # (mic, out) energy while only the robot spoke


def speech_onset(audio: np.ndarray, vad) -> int:
    vad.reset()
    probs = vad.push(audio)
    from optimus_voice.hearing.vad import WINDOW

    first = next((i for i, p in enumerate(probs) if p >= 0.5), 0)
    return first * WINDOW


def make_episodes(clips: list[Clip], replies: list[tuple[str, np.ndarray]], robot_minutes: float,
                  rng: np.random.Generator) -> list[Episode]:
    """Per clip one episode over the robot and one alone; robot-only episodes until `robot_minutes` of its speech."""
    episodes = []
    for clip in clips:
        text, reply = replies[rng.integers(len(replies))]
        # The user starts somewhere in the reply, with at least 1.5 s of it left to talk over.
        latest = max(int(0.3 * SAMPLE_RATE), len(reply) - int(1.5 * SAMPLE_RATE) - clip.onset)
        user_at = int(rng.integers(int(0.3 * SAMPLE_RATE), latest + 1))
        episodes.append(Episode("over", reply, text, clip, user_at))
        episodes.append(Episode("alone", None, "", clip, int(0.3 * SAMPLE_RATE)))
    robot_s = 0.0
    while robot_s < robot_minutes * 60:
        text, reply = replies[rng.integers(len(replies))]
        episodes.append(Episode("robot", reply, text))
        robot_s += len(reply) / SAMPLE_RATE
    order = rng.permutation(len(episodes))
    return [episodes[i] for i in order]


class DuplexLoop:
    """Runs episodes one after another on one microphone stream, with state (AEC, ASR) carried across them."""

    def __init__(self, asr, turns, room: Room, echo_gain: float, aec: EchoCanceller | None,
                 rng: np.random.Generator) -> None:
        self.asr, self.turns, self.aec, self.rng = asr, turns, aec, rng
        self.h = room.impulse_response() * echo_gain
        self.index = 0           # samples of the microphone stream so far
        self.backlog_ns = 0      # how far processing runs behind the audio (real CPU time)
        self.asr.clock = lambda: BASE_NS + self.index * NS_PER_S // SAMPLE_RATE + self.backlog_ns
        self.outcome = Outcome()
        self.heard_text = ""     # the words that made the last barge-in
        self.opened: list[dict] = []  # turns opened over the robot in this episode: double talk, whether the user's
        # speech had begun, and what the turn was heard as (text, log-probability, confidence) while the robot spoke
        self.onset: int | None = None  # the user's first sample of speech in this episode
        self.unmarked_waits = turns.unmarked_waits  # always (the bench's experiment), not only while learning

    def now_s(self) -> float:
        return (self.index * NS_PER_S // SAMPLE_RATE + self.backlog_ns) / NS_PER_S

    def run(self, ep: Episode) -> dict:
        """One episode; returns what happened in it."""
        reply = ep.reply if ep.reply is not None else np.zeros(0, np.float32)
        user = np.zeros(0, np.float32)
        if ep.clip is not None:
            user = np.concatenate([np.zeros(ep.user_at, np.float32), ep.clip.audio])
        length = max(len(reply), len(user)) + int(TAIL_S * SAMPLE_RATE)
        length = -(-length // CHUNK) * CHUNK  # whole chunks: the canceller hands each back at once
        user = np.pad(user, (0, length - len(user)))
        echo = np.pad(convolve(reply, self.h), (0, length - len(reply)))
        start = self.index
        onset = start + ep.user_at + ep.clip.onset if ep.clip is not None else None
        stop_at: int | None = None
        speaking = len(reply) > 0
        if speaking:
            robot_turn = self.turns.turn_id
            self.turns.speaking(robot_turn, ep.reply_text)
            self.turns.speech_started(robot_turn)
        result = {"kind": ep.kind, "onset": onset, "barge_in": None, "robot_text": ep.reply_text}
        self.opened, self.onset = [], onset
        erle_from = len(self.outcome.erle)
        for i in range(0, length, CHUNK):
            if speaking and (stop_at is not None or i >= len(reply)):
                speaking = False
                self.turns.speech_ended(robot_turn)
            played = reply[i:i + CHUNK] if speaking else np.zeros(0, np.float32)
            played = np.pad(played, (0, CHUNK - len(played)))
            mic = echo[i:i + CHUNK] + user[i:i + CHUNK]
            mic = mic + self.rng.normal(0, NOISE_RMS, len(mic)).astype(np.float32)
            t0 = time.perf_counter()
            out, why = self._hear(played, mic)
            if speaking and why is None and self.turns.check_sustained(self.now_s()):
                why = self.turns.stopped_by
            took = int((time.perf_counter() - t0) * NS_PER_S)
            self.backlog_ns = max(0, self.backlog_ns + took - len(mic) * NS_PER_S // SAMPLE_RATE)
            if ep.kind == "robot" and speaking:
                self.outcome.erle.append((float(np.sum(mic ** 2)), float(np.sum(out.samples ** 2))))
            self.index += len(mic)
            if speaking:
                self.outcome.robot_s += len(mic) / SAMPLE_RATE
            if why is not None and speaking and stop_at is None:
                stop_at = i + CHUNK
                at_s = self.now_s()
                true = onset is not None and self.index >= onset
                b = {"kind": ep.kind, "why": why, "true": true, "text": self.heard_text if why == "words" else "",
                     "after_onset_ms": round((at_s - onset / SAMPLE_RATE) * 1000, 1) if true else None}
                self.outcome.barge_ins.append(b)
                result["barge_in"] = b
                # The speaker stops: what is already in the air still arrives, nothing after it.
                echo = np.pad(convolve(reply[:stop_at], self.h), (0, length))[:length]
        for event in self.asr.flush():
            self._events([event])
        if speaking:
            self.turns.speech_ended(robot_turn)
        if ep.kind == "robot":
            mic_e, out_e = (sum(x) for x in zip(*self.outcome.erle[erle_from:], strict=True))
            result["erle_db"] = round(float(10 * np.log10(mic_e / out_e)), 1) if out_e > 0 else None
        result["opened_over_robot"] = self.opened
        if ep.clip is not None:
            lo, hi = start + ep.user_at, start + ep.user_at + len(ep.clip.audio)
            result["heard"] = " ".join(text for s, e, text in self.outcome.finals if e > lo and s < hi).strip()
        return result

    def _hear(self, played: np.ndarray, mic: np.ndarray) -> tuple[AudioChunk, str | None]:
        """One chunk of what the speaker played and the microphone heard (at the stream's index) through the
        canceller and the recognizer: the canceller's output, and why its events stopped the robot (None: they did
        not)."""
        stamp = BASE_NS + self.index * NS_PER_S // SAMPLE_RATE
        if self.aec is None:
            out = AudioChunk(mic, self.index, stamp)
        else:
            self.aec.reference(played, stamp)
            (out,) = self.aec.process(AudioChunk(mic, self.index, stamp))  # 20 ms chunks: whole blocks
            # as the capture node tells the dialogue (/audio/in/echo_cancelled, /audio/in/echo_learning)
            self.turns.canceller, self.turns.echo_free = True, self.aec.stats.converged
            self.turns.unmarked_waits = self.unmarked_waits or self.aec.stats.learning
        return out, self._events(self.asr.push(out))

    def learn(self, sound: np.ndarray) -> list[str]:
        """The learning sound (16 kHz) played into the room, then half a second of quiet, heard by the canceller and
        the recognizer as at a start-up (the dialogue not speaking): what the recognizer made of it."""
        played = np.concatenate([sound, np.zeros(SAMPLE_RATE // 2, np.float32)])
        played = np.pad(played, (0, -len(played) % CHUNK))
        echo = convolve(played, self.h)
        finals = len(self.outcome.finals)
        for i in range(0, len(played), CHUNK):
            self._hear(played[i:i + CHUNK], echo[i:i + CHUNK] + self.rng.normal(0, NOISE_RMS, CHUNK).astype(np.float32))
            self.index += CHUNK
        return [text for _, _, text in self.outcome.finals[finals:]]

    def _ms_after_onset(self) -> int | None:
        """Where the microphone stream is now, from the user's speech onset in this episode (None: no user)."""
        return None if self.onset is None else round((self.index - self.onset) * 1000 / SAMPLE_RATE)

    def _events(self, events) -> str | None:
        from optimus_voice.deciding.turn_taking import classify_interruption
        from optimus_voice.hearing.asr import TranscriptEvent

        why = None
        for ev in events:
            if not isinstance(ev, TranscriptEvent):
                if ev.kind == "start":
                    if self.turns.state == State.SPEAKING:
                        self.opened.append({
                            "turn_id": ev.turn_id, "double_talk": ev.double_talk, "converged": self.turns.echo_free,
                            "user": self.onset is not None and self.index >= self.onset,
                            "ms_after_onset": self._ms_after_onset(), "heard": []})
                    self.turns.user_started(ev.turn_id, self.now_s(), ev.double_talk)
                elif ev.kind == "end":
                    self.turns.user_stopped(ev.turn_id)
                continue
            text = ev.hypothesis.text
            for opened in self.opened:  # what each turn opened over the robot was heard as, and how surely
                if opened["turn_id"] == ev.turn_id and text:
                    opened["heard"].append({"text": text, "final": ev.is_final,
                                            "avg_logprob": round(ev.hypothesis.avg_logprob, 3),
                                            "confidence": round(ev.hypothesis.confidence, 3),
                                            "converged": self.turns.echo_free,
                                            "verdict": classify_interruption(text, self.turns.robot_text,
                                                                             self.turns.echo_overlap),
                                            "ms_after_onset": self._ms_after_onset()})
            if not ev.is_final:
                if self.turns.heard(ev.turn_id, text, logprob=ev.hypothesis.avg_logprob):
                    why, self.heard_text = why or "words", text
                continue
            answer, barge_in = self.turns.user_finished(ev.turn_id, text, logprob=ev.hypothesis.avg_logprob)
            if barge_in:
                why, self.heard_text = why or "words", text
            if answer or barge_in:
                end = ev.start_index + (ev.end_ns - ev.start_ns) * SAMPLE_RATE // NS_PER_S
                self.outcome.finals.append((ev.start_index, end, text))
        return why


def run(clips: list[Clip], *, robot_minutes: float = 10.0, echo_db: float = 10.0, room: Room | None = None,
        aec: EchoConfig | None = None, sustained_s: float = 1.2, echo_free_s: float = 0.15, double_talk: float = 0.5,
        unmarked_waits: bool = False, converging_logprob: float | None = None, cold: bool = False,
        remember: bool = False, learning_sound: bool = False, seed: int = 0, recognizer: str = "whisper",
        echo: Callable[[str], None] = print) -> dict:
    """The benchmark: every clip over the robot and alone, plus robot-only speech; returns the JSON result.

    cold: every episode starts with a canceller that has not heard the room yet, as a robot's first reply after
    start-up does (or its first after the speaker moved): the seconds in which the canceller learns, which a run
    otherwise has only at its start, make up most of the robot's speech. remember: the canceller starts from the
    echo path learnt in this room before (three replies, before the run), and with cold each new one from the path
    the last one learnt, as the capture node does from its echo_path_file. learning_sound: a canceller that starts
    from nothing first hears the TTS node's learning sound, as the capture node asks for it at a start-up."""
    from optimus_voice.deciding.turn_taking import TurnTaking
    from optimus_voice.hearing.asr import AsrConfig, StreamingAsr
    from optimus_voice.hearing.recognizers import make_recognizer
    from optimus_voice.hearing.turn_model import SmartTurn
    from optimus_voice.hearing.vad import SileroVad
    from optimus_voice.tools.machine import machine
    from optimus_voice.tools.textnorm import wer

    room = room or Room(seed=seed)
    rng = np.random.default_rng(seed)
    vad = SileroVad()
    for clip in clips:
        clip.audio = load_audio(clip.path)
        clip.onset = speech_onset(clip.audio, vad)
    replies = robot_replies(rng)
    user_level = float(np.mean([speech_rms(c.audio) for c in clips]))
    robot_level = speech_rms(np.concatenate([convolve(r, room.impulse_response()) for _, r in replies]))
    gain = user_level * 10 ** (echo_db / 20) / robot_level
    asr = StreamingAsr(SileroVad(), make_recognizer(recognizer), AsrConfig(), turn_model=SmartTurn())
    canceller = EchoCanceller(aec) if aec is not None else None
    learnt = learn_room(aec, replies[:3], room.impulse_response() * gain) if remember and aec is not None else None
    if learnt is not None:
        canceller.start_from(learnt)
    cancellers = [canceller] if canceller else []
    turns = TurnTaking(sustained_s=sustained_s, echo_free_s=echo_free_s, double_talk=double_talk,
                       converging_logprob=converging_logprob)
    turns.unmarked_waits = unmarked_waits
    loop = DuplexLoop(asr, turns, room, gain, canceller, rng)
    sound = sound_module.learning_sound(SAMPLE_RATE) if learning_sound and aec is not None else None
    heard_in_sounds: list[list[str]] = []  # what the recognizer made of each learning sound played
    if sound is not None and learnt is None:
        heard_in_sounds.append(loop.learn(sound))
    episodes = make_episodes(clips, replies, robot_minutes, rng)
    t0 = time.perf_counter()
    per_episode = []
    for n, ep in enumerate(episodes):
        if cold and aec is not None and n:
            learnt = loop.aec.learnt_path() or learnt
            loop.aec = EchoCanceller(aec)
            if remember and learnt is not None:
                loop.aec.start_from(learnt)
            elif sound is not None:
                heard_in_sounds.append(loop.learn(sound))
            cancellers.append(loop.aec)
        r = loop.run(ep)
        r["clip"] = Path(ep.clip.path).name if ep.clip else None
        r["half"] = ep.clip.half if ep.clip else None
        per_episode.append(r)
        echo(f"[{n + 1}/{len(episodes)}] {describe(r)}")
    asr.close()
    mic_e, out_e = (sum(x) for x in zip(*loop.outcome.erle, strict=True)) if loop.outcome.erle else (0.0, 0.0)
    result = {"machine": machine(), "recognizer": recognizer, "clips": len(clips),
              "robot_minutes": round(loop.outcome.robot_s / 60, 2),
              "echo_db": echo_db, "room": vars(room), "aec": vars(aec) if aec else None,
              "sustained_s": sustained_s, "echo_free_s": echo_free_s, "double_talk": double_talk,
              "unmarked_waits": unmarked_waits,
              "converging_logprob": converging_logprob, "cold": cold, "remember": remember,
              "learning_sound": learning_sound, "learning_sounds": len(heard_in_sounds),
              "heard_in_learning_sounds": [text for heard in heard_in_sounds for text in heard], "seed": seed,
              "run_s": round(time.perf_counter() - t0, 1),
              "false_barge_ins": sum(not b["true"] for b in loop.outcome.barge_ins),
              "false_barge_ins_by_why": _count(b["why"] for b in loop.outcome.barge_ins if not b["true"]),
              "erle_db": round(10 * np.log10(mic_e / out_e), 1) if out_e > 0 else None,
              "aec_cpu_pct_of_one_core": round(float(np.mean([c.stats.cpu_ms_per_s for c in cancellers])) / 10, 2)
              if canceller else None,
              "aec_delay_ms": canceller.stats.delay_ms if canceller else None,
              "aec_delay_shifts": sum(c.stats.delay_shifts for c in cancellers) if canceller else None,
              "aec_path_changes": sum(c.stats.path_changes for c in cancellers) if canceller else None}
    for half in ("tune", "report", "all"):
        eps = [r for r in per_episode if r["half"] and (half == "all" or r["half"] == half)]
        over = [r for r in eps if r["kind"] == "over"]
        alone = {r["clip"]: r for r in eps if r["kind"] == "alone"}
        if not over:
            continue
        detected = [r["barge_in"]["after_onset_ms"] for r in over if r["barge_in"] and r["barge_in"]["true"]]
        refs = {Path(c.path).name: c.text for c in clips}
        result[half] = {
            "clips": len(over), "barge_ins_total": len(over), "barge_ins_detected": len(detected),
            "barge_in_after_onset_ms": _ms(detected),
            "user_wer_over_robot": round(100 * wer([refs[r["clip"]] for r in over], [r["heard"] for r in over]), 2),
            "user_wer_alone": round(100 * wer([refs[c] for c in alone], [alone[c]["heard"] for c in alone]), 2)}
    result["episodes"] = per_episode
    return result


def learn_room(aec: EchoConfig, replies: list[tuple[str, np.ndarray]], h: np.ndarray):
    """The echo path a canceller learns from these replies in this room (None if it did not converge)."""
    return through_room(np.concatenate([r for _, r in replies]), SAMPLE_RATE, h, config=aec).canceller.learnt_path()


def robot_replies(rng: np.random.Generator, n: int = 40) -> list[tuple[str, np.ndarray]]:
    """Replies of two to four sentences from bench/data's TTS sentences (or built-in ones), spoken by Piper."""
    import soxr
    from optimus_voice.speaking.tts import Synthesizer

    sentences = SENTENCES
    syn = Synthesizer()
    spoken = {}
    for s in sentences:
        chunks = list(syn.synthesize(s))
        audio = np.concatenate([c.samples for c in chunks])
        spoken[s] = soxr.resample(audio, chunks[0].sample_rate, SAMPLE_RATE).astype(np.float32)
    gap = np.zeros(int(0.2 * SAMPLE_RATE), np.float32)
    replies = []
    for _ in range(n):
        picked = [sentences[i] for i in rng.choice(len(sentences), int(rng.integers(2, 5)), replace=False)]
        replies.append((" ".join(picked), np.concatenate([x for s in picked for x in (spoken[s], gap)])))
    return replies


def describe(r: dict) -> str:
    """One episode's line in the log."""
    b = r["barge_in"]
    line = f"{r['kind']:5s} {r['clip'] or '':32s}"
    if b:
        line += f" barge-in ({b['why']}) " + (f"+{b['after_onset_ms']:.0f} ms" if b["true"] else "FALSE")
        line += f" on {b['text']!r}" if b["text"] else ""
    return line + (f"  heard: {r['heard']!r}" if r["clip"] else "")


def _ms(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(float(np.percentile(values, 50)), 1) if values else None,
            "p95": round(float(np.percentile(values, 95)), 1) if values else None}


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


SENTENCES = [
    "I can tell you about the weather, set a timer, or just keep you company.",
    "The kitchen is at the end of the hallway, on your left.",
    "Sure, I will speak a little more slowly from now on.",
    "It is a quarter past three in the afternoon.",
    "Your next meeting starts in twenty minutes, in the blue room on the second floor.",
    "I did not quite catch that, could you say it again?",
    "That sounds wonderful, tell me more about it.",
    "I am sorry to hear that, is there anything I can do to help?",
    "The battery is at eighty percent, so we have plenty of time.",
    "Let me think about that for a moment.",
    "Good morning! Did you sleep well?",
    "I will remind you to take your medicine at eight o'clock tonight.",
    "There are three apples and a bottle of water in the fridge.",
    "Please follow me, I will show you the way to the lobby.",
    "My name is Optimus, and I am here to help you.",
    "The weather today is sunny with a light breeze from the west.",
]
