"""Acoustic echo cancellation at the microphone: the robot's own voice removed before VAD and ASR (no rclpy).

The canceller needs, beside each 10 ms of microphone audio, the 10 ms that the speaker played at the same moment.
The robot's speech reaches this module as stamped frames (the audio the speaker played, stamped with when);
ReferenceTimeline places them on the microphone's sample clock. Stamps place each stream once (the microphone again
when the robot first speaks, by then both streams run steadily); from
then on both sides go by their sample counts. The speaker stream is one continuous run (audio_io.sinks feeds it
silence between replies and stamps by count), a microphone and a speaker on one sound card share a clock, and
device stamps wander from it by up to 20 ms (PulseAudio here): placing each chunk by its own stamp cost the
filter all it had learnt. A slow drift between two sound cards' clocks is for the filter to follow, and for the
delay measurement beyond its length (_follow_delay).

Two cancellers, by `EchoConfig.mode`:
- "linear" (default): LinearEchoFilter, a frequency-domain adaptive filter that subtracts the echo and nothing
  else, so a user talking over the robot keeps their words. Two filters (one adapting, one in use) keep double
  talk from spoiling the one in use.
- "webrtc": WebRTC's AEC3 (pywebrtc-audio, Apache-2.0), whose residual echo suppressor removes more echo but, with
  the robot's voice louder than the user's, also most of the user's words (BENCHMARKS.md, duplex).
- "both": the linear filter, then AEC3.
GCC-PHAT measures the speaker-to-microphone delay for /diagnostics, beside the echo return loss enhancement.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from optimus_voice.audio_io.correlation import gcc_phat
from optimus_voice.audio_io.echo_path import EchoPath, EchoPathError
from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import NS_PER_S

BLOCK = SAMPLE_RATE // 100  # AEC3 works on 10 ms blocks
ACTIVE_RMS = 1e-3           # reference louder than this (-60 dBFS) counts as the robot speaking
DELAY_WINDOW_S = 2.0        # audio the delay is measured on
MAX_DELAY_S = 0.5           # longest speaker-to-microphone delay looked for
MIN_CONVERGE_S = 2.0        # of the robot's voice before the canceller may call itself converged
MIN_MEASURED_ERLE_DB = 8.0  # echo removed, as measured over the last 2 s or so, to call itself converged
# A canceller that started from nothing is still learning the room until it has stayed converged this long of the
# robot's voice: just after it first converges, its residual echo can still open turns that no double talk marks
# (test_up_devices, 2026-12-07), and the dialogue then lets only words, not 150 ms of speech, stop the robot.
LEARNT_S = 10.0
PATH_CHANGE_BLOCKS = 100    # 1 s of double talk in a row, while the robot speaks, may be an echo path change...
PATH_CHANGE_CORRELATION = 0.75  # ... if the error's loudness follows the echo estimate's (not a talker's)
RESIDUAL_MARGIN_DB = 6.0    # the gate's threshold over the residual echo the filter's ERLE predicts (residual_floor_db)
DELAY_SHARPNESS = 8.0       # GCC-PHAT peaks below this are no measurement (see correlation.gcc_phat)
NEAR_END_OVER_RESIDUAL = 100.0  # 20 dB: error over the filter's predicted residual echo, in a block of double talk
NEAR_END_OF_MIC = 10 ** -1.5    # -15 dB: ... and at least this share of the microphone's energy
VOICE_HOLD_BLOCKS = 10  # the residual gate stays open this long after a block far above the residual echo


class EchoError(RuntimeError):
    """Echo cancellation cannot run (the WebRTC module is missing): the message says why."""


MODES = ("linear", "webrtc", "both")


@dataclass
class EchoConfig:
    mode: str = "linear"             # see the module's docstring
    filter_ms: float = 240.0         # echo path the linear filter models: delay beyond the stamps, plus reverberation
    # Residual echo gate (linear mode): a 10 ms block whose output is under `residual_db` of the echo the filter
    # estimated holds no more than the echo's leftover, and is attenuated by `gate_db`. The user talking over the
    # robot stays above it unless the echo is more than -residual_db louder than their voice (down to
    # -residual_floor_db as the filter converges further).
    residual_db: float = -15.0
    gate_db: float = -20.0
    # A filter that removes more leaves less: the gate's threshold follows 6 dB above the residual its ERLE predicts,
    # from residual_db down to this, so a user 15-25 dB below a well-cancelled echo is not gated (a fixed -15 dB took
    # quiet users' first words, BENCHMARKS.md 2026-12-07). Equal to residual_db: a fixed threshold.
    residual_floor_db: float = -25.0
    # Keep the gate open while the filter hears a voice over the robot's: for VOICE_HOLD_BLOCKS after a block whose
    # error is 20 dB over the residual echo the filter's measured ERLE leaves. A quiet user's first syllables under
    # a loud echo are then not taken for its leftover (BENCHMARKS.md, 2026-12-07).
    gate_open_on_double_talk: bool = False
    # Hand the recognizer the linear filter's output before the gate (AudioChunk.words) once the canceller has
    # converged: the gate is for the VAD, and a quiet first syllable it took for the echo's leftover is kept for the
    # words. Linear mode without noise suppression only: nothing else follows the filter. Off: it kept first words,
    # but over ten unseen seeds the WER over the robot did not fall (BENCHMARKS.md, 2026-12-07); the nodes do not
    # carry it.
    ungated_words: bool = False
    noise_suppression: bool = False  # WebRTC noise suppression after the echo canceller
    ns_level: int = 1                # 0-3: 6, 12, 18 or 21 dB of noise suppression
    reference_delay_ms: float = 0.0  # known extra delay of the reference (a speaker driver's buffer), if any
    # Shift the reference by the delay GCC-PHAT measures when it is longer than the linear filter can model (a
    # sound server's buffers), so the filter spends its length on the room, not on the delay.
    auto_delay: bool = True


@dataclass
class EchoStats:
    erle_db: float | None = None     # echo removed while the robot spoke (smoothed; double talk lowers it)
    delay_ms: float | None = None    # measured speaker-to-microphone delay beyond the stamps, once the robot spoke
    delay_sharpness: float = 0.0     # how clear that measurement was
    delay_shifts: int = 0            # times the reference was moved onto a measured delay
    path_changes: int = 0            # times the filter learnt the echo path anew (it changed, or a beam turned)
    # The robot's voice that reached the canceller after the microphone audio of its moment had gone through: not
    # cancelled. A speaker that reports what it played late (or a transport that holds it back) shows here.
    late_reference_s: float = 0.0
    started_from_path: bool = False  # began from an echo path learnt before (audio_io.echo_path), not from nothing
    learning: bool = True            # started from nothing, and not yet converged for LEARNT_S of the robot's voice
    reference_active: bool = False   # the robot's voice is in the reference now
    converged: bool = False          # the robot's voice is cancelled (>= 10 dB, and 8 dB measured; lost under 6 dB)
    cpu_ms_per_s: float = 0.0        # processing time per second of audio (10 = 1% of a core)


class ReferenceTimeline:
    """The speaker's audio placed on one sample clock by stamps; silence wherever nothing was played."""

    def __init__(self, keep_s: float = 3.0) -> None:
        self.keep = int(keep_s * SAMPLE_RATE)
        self.anchor_ns: int | None = None
        self._segments: deque[tuple[int, np.ndarray]] = deque()

    def position(self, stamp_ns: int) -> int:
        if self.anchor_ns is None:
            self.anchor_ns = stamp_ns
        return round((stamp_ns - self.anchor_ns) * SAMPLE_RATE / NS_PER_S)

    def put(self, stamp_ns: int, samples: np.ndarray) -> None:
        self._segments.append((self.position(stamp_ns), np.asarray(samples, np.float32)))

    def shift(self, samples: int) -> None:
        """Move everything placed so far later by `samples`."""
        self._segments = deque((pos + samples, seg) for pos, seg in self._segments)

    def take(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) of what the speaker played; older audio than `start - keep` is forgotten."""
        out = np.zeros(n, np.float32)
        while self._segments and self._segments[0][0] + len(self._segments[0][1]) < start - self.keep:
            self._segments.popleft()
        for pos, seg in self._segments:
            lo, hi = max(pos, start), min(pos + len(seg), start + n)
            if lo < hi:
                out[lo - start:hi - start] = seg[lo - pos:hi - pos]
        return out


@dataclass
class _ReferenceRun:
    """Back-to-back reference pieces at another rate than the microphone's, resampled as one stream."""
    rate: int
    stream: object       # soxr.ResampleStream
    start_ns: int        # stamp of the run's first sample
    next_ns: int         # stamp the next piece has if it follows on
    produced: int = 0    # 16 kHz samples placed so far


class EchoCanceller:
    """Removes the robot's own voice from microphone chunks. Output chunks are the input's (indices, lengths,
    stamps); chunks that are not whole 10 ms blocks wait for the rest of their block (AEC3 takes whole blocks)."""

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.cfg = config or EchoConfig()
        if self.cfg.mode not in MODES:
            raise EchoError(f"unknown echo cancellation mode {self.cfg.mode!r} (expected one of {', '.join(MODES)})")
        self._linear = (LinearEchoFilter(BLOCK, max(1, round(self.cfg.filter_ms * SAMPLE_RATE / 1000 / BLOCK)))
                        if self.cfg.mode in ("linear", "both") else None)
        self._webrtc = None
        webrtc = self.cfg.mode in ("webrtc", "both")
        # The words before the gate: the linear filter's output, where nothing (AEC3, noise suppression) follows it.
        self._keep_words = self.cfg.ungated_words and self.cfg.mode == "linear" and not self.cfg.noise_suppression
        if webrtc or self.cfg.noise_suppression:
            try:
                from pywebrtc_audio import AudioProcessor
            except ImportError as exc:
                raise EchoError(f"echo cancellation mode {self.cfg.mode!r} and noise suppression need "
                                f"pywebrtc-audio: {exc}") from exc
            self._webrtc = AudioProcessor(SAMPLE_RATE, 1, echo_cancellation=webrtc, high_pass_filter=webrtc,
                                          noise_suppression=self.cfg.noise_suppression, ns_level=self.cfg.ns_level)
        self.timeline = ReferenceTimeline()
        self._reference_run: _ReferenceRun | None = None
        self._heard_reference = False
        self._replace_microphone = False
        self.stats = EchoStats()
        self._pending = np.zeros(0, np.float32)  # microphone audio waiting for a whole block
        self._pending_pos = 0     # its position on the timeline
        self._out = np.zeros(0, np.float32)  # cancelled audio not yet handed out
        self._out_double_talk = np.zeros(0, np.float32)  # per sample of _out: 1 in a block of double talk
        self._out_words = np.zeros(0, np.float32)  # per sample of _out: before the gate (cfg.ungated_words)
        self._out_index = 0       # stream index of _out[0]
        self._waiting: deque[tuple[int, int, int]] = deque()  # input chunks not yet handed out: index, length, stamp
        self._expected: int | None = None
        self._lock = threading.Lock()
        self._auto_shift_ms = 0.0
        self._last_lag_ms: float | None = None  # the last clear delay measurement, against the reference as placed
        self._gain = 1.0
        self._voice_hold = 0  # blocks the residual gate stays open for a voice heard over the echo
        self._mic_energy = 0.0
        self._out_energy = 0.0
        hist = int(DELAY_WINDOW_S * SAMPLE_RATE)
        self._mic_hist: deque[np.ndarray] = deque(maxlen=hist // BLOCK)
        self._ref_hist: deque[np.ndarray] = deque(maxlen=hist // BLOCK)
        self._active_blocks = 0
        self._active_s = 0.0      # seconds of the robot's voice heard so far
        self._converged_s = 0.0   # seconds of it heard while converged (stats.learning)
        self._cpu_s = 0.0
        self._audio_s = 0.0

    def path_changed(self) -> None:
        """The echo path changed on purpose (a microphone array's beam turned): the filter learns it anew, as after
        the path-change rule, and the canceller is not converged until the echo removed is measured again.
        Thread-safe."""
        with self._lock:
            if self._linear is not None:
                self._linear.path_changed()
            self.stats.converged = False
            self._active_s = 0.0
            self._mic_energy = self._out_energy = 0.0

    def learnt_path(self) -> EchoPath | None:
        """The echo path as learnt now, to start from at the next start-up; None unless converged (linear mode).
        Thread-safe."""
        with self._lock:
            if self._linear is None or not self.stats.converged:
                return None
            return EchoPath(self._linear.weights(), BLOCK, self._auto_shift_ms, self.stats.erle_db or 0.0)

    def start_from(self, path: EchoPath) -> None:
        """Begin from an echo path learnt before (call before the first audio). It is a start only: the canceller
        is not converged until it has measured the echo it removes, as from nothing."""
        with self._lock:
            if self._linear is None:
                raise EchoPathError(f"mode {self.cfg.mode!r} has no linear filter to start from an echo path")
            if path.block != BLOCK or path.weights.shape != (self._linear.partitions, BLOCK + 1):
                raise EchoPathError(f"the echo path kept is for a filter of {path.weights.shape[0]} blocks of "
                                    f"{path.block} samples, not {self._linear.partitions} of {BLOCK} "
                                    f"(echo_filter_ms changed?)")
            self._linear.start_from(path.weights)
            self._auto_shift_ms = path.shift_ms
            self.stats.started_from_path = True
            self.stats.learning = False

    def reference(self, samples: np.ndarray, stamp_ns: int, sample_rate: int = SAMPLE_RATE) -> None:
        """Audio sent to the speaker (mono float), stamped with when its first sample plays. Thread-safe."""
        with self._lock:
            shift = int((self.cfg.reference_delay_ms + self._auto_shift_ms) * 1e6)
            if sample_rate == SAMPLE_RATE:
                self._put(stamp_ns + shift, np.asarray(samples, np.float32))
                return
            run = self._reference_run
            if run is None or run.rate != sample_rate or abs(stamp_ns - run.next_ns) > NS_PER_S // 1000:
                if run is not None:
                    self._place(run, run.stream.resample_chunk(np.zeros(0, np.float32), last=True), shift)
                import soxr

                # One resampler over a run of back-to-back pieces: resampling each piece alone would put a
                # filter's edge at every piece boundary, an echo the filter cannot model (it cost 20 dB here).
                run = self._reference_run = _ReferenceRun(sample_rate, soxr.ResampleStream(
                    sample_rate, SAMPLE_RATE, 1, dtype="float32"), stamp_ns, stamp_ns)
            run.next_ns = stamp_ns + len(samples) * NS_PER_S // sample_rate
            self._place(run, run.stream.resample_chunk(np.asarray(samples, np.float32)), shift)

    def _put(self, stamp_ns: int, samples: np.ndarray) -> None:
        if not self._heard_reference:
            # The first of the robot's voice: place the microphone again by its stamps, at the moment the speaker
            # stream was placed by its own (both have run steadily for a while by now), so the two counts start
            # from one reading of the clock.
            self._heard_reference = True
            self._replace_microphone = True
        elif self._expected is not None:
            late = min(len(samples), self._pending_pos - self.timeline.position(stamp_ns))
            if late > 0:
                self.stats.late_reference_s += late / SAMPLE_RATE
        self.timeline.put(stamp_ns, samples)

    def _place(self, run: _ReferenceRun, out: np.ndarray, shift_ns: int) -> None:
        self._put(run.start_ns + run.produced * NS_PER_S // SAMPLE_RATE + shift_ns, out)
        run.produced += len(out)

    def process(self, chunk: AudioChunk) -> list[AudioChunk]:
        """The chunks, with the robot's voice removed, whose every sample has been through the canceller: the
        input's chunks, same indices, lengths and stamps, in order (none while a 10 ms block is filling).
        Thread-safe."""
        with self._lock:
            out: list[AudioChunk] = []
            resume = None
            if self._expected is not None and chunk.first_sample_index != self._expected:
                if chunk.first_sample_index > self._expected:  # samples lost: the count goes on past them
                    resume = self._pending_pos + len(self._pending) + chunk.first_sample_index - self._expected
                out = self._flush()  # finish the audio before the gap, then start anew
            return out + self._process(chunk, resume)

    def flush(self) -> list[AudioChunk]:
        """The chunks still waiting for a whole block (the end of a stream), the block padded with silence."""
        with self._lock:
            return self._flush()

    def _flush(self) -> list[AudioChunk]:
        left = len(self._pending)
        if left:
            self._pending = np.pad(self._pending, (0, BLOCK - left))
            self._run_blocks(BLOCK, keep=left)
        self._expected = None
        return self._emit()

    def _process(self, chunk: AudioChunk, resume: int | None = None) -> list[AudioChunk]:
        t0 = time.process_time()
        if self._expected is None:
            # A new stream (placed by its stamp), or the same one after lost samples (placed by its count).
            self._pending = np.zeros(0, np.float32)
            self._pending_pos = self.timeline.position(chunk.stamp_ns) if resume is None else resume
            self._out = np.zeros(0, np.float32)
            self._out_double_talk = np.zeros(0, np.float32)
            self._out_words = np.zeros(0, np.float32)
            self._out_index = chunk.first_sample_index
        elif self._replace_microphone:
            self._pending_pos = self.timeline.position(chunk.stamp_ns) - len(self._pending)
        self._replace_microphone = False
        self._expected = chunk.first_sample_index + len(chunk.samples)
        self._waiting.append((chunk.first_sample_index, len(chunk.samples), chunk.stamp_ns))
        self._pending = np.concatenate([self._pending, chunk.samples.astype(np.float32)])
        n = len(self._pending) // BLOCK * BLOCK
        if n:
            self._run_blocks(n, keep=n)
        self._cpu_s += time.process_time() - t0
        return self._emit()

    def _run_blocks(self, n: int, keep: int) -> None:
        """Cancel the first `n` pending samples (whole blocks); the first `keep` of them are output."""
        mic, self._pending = self._pending[:n], self._pending[n:]
        ref = self.timeline.take(self._pending_pos, n)
        out = words = mic
        double_talk = np.zeros(n, np.float32)
        if self._linear is not None:
            blocks, ungated = [], []
            for i, (block, r) in enumerate(zip(mic.reshape(-1, BLOCK), ref.reshape(-1, BLOCK), strict=True)):
                gated, for_words = self._cancel(block, r)
                blocks.append(gated)
                if self._keep_words:
                    ungated.append(for_words)
                double_talk[i * BLOCK:(i + 1) * BLOCK] = self._linear.near_end
            out = np.concatenate(blocks)
            words = np.concatenate(ungated) if ungated else out
            self.stats.path_changes = self._linear.path_changes
        if self._webrtc is not None:
            out = self._webrtc.process(out, ref)
        self._measure(mic, ref, out)
        self._out = np.concatenate([self._out, np.asarray(out[:keep], np.float32)])
        self._out_double_talk = np.concatenate([self._out_double_talk, double_talk[:keep]])
        if self._keep_words:
            self._out_words = np.concatenate([self._out_words, np.asarray(words[:keep], np.float32)])
        self._pending_pos += n
        self._audio_s += n / SAMPLE_RATE
        self.stats.cpu_ms_per_s = 1000 * self._cpu_s / self._audio_s

    def _emit(self) -> list[AudioChunk]:
        """The waiting input chunks that the processed audio now covers."""
        done = []
        while self._waiting and self._waiting[0][0] + self._waiting[0][1] <= self._out_index + len(self._out):
            index, length, stamp = self._waiting.popleft()
            start = index - self._out_index
            samples = self._out[start:start + length]
            words = self._out_words[start:start + length] if self._keep_words else None
            done.append(AudioChunk(samples, index, stamp,
                                   float(np.mean(self._out_double_talk[start:start + length])) if length else 0.0,
                                   None if words is None or np.array_equal(words, samples) else words))
        if done:
            cut = done[-1].first_sample_index + len(done[-1].samples) - self._out_index
            self._out, self._out_index = self._out[cut:], self._out_index + cut
            self._out_double_talk = self._out_double_talk[cut:]
            self._out_words = self._out_words[cut:]
        return done

    def _cancel(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One block through the linear filter and the residual echo gate: the gated output, and the audio for the
        words (the filter's output where it may be read before the gate, else the gated output)."""
        out, echo = self._linear.process(mic, ref)
        threshold_db = self.cfg.residual_db
        if self.cfg.residual_floor_db < threshold_db:
            erle_db = 10 * np.log10(max(self._linear.erle, 1.0))
            threshold_db = min(threshold_db, max(self.cfg.residual_floor_db, RESIDUAL_MARGIN_DB - erle_db))
        # A young filter's output still holds the robot's garbled voice: the words are read ungated only from a
        # converged filter whose residual is as low as the gate's floor assumes (31 dB of ERLE by default).
        words_ungated = self.stats.converged and threshold_db <= self.cfg.residual_floor_db
        leftover = float(np.dot(out, out)) < 10 ** (threshold_db / 10) * float(np.dot(echo, echo))
        if self.cfg.gate_open_on_double_talk:
            self._voice_hold = VOICE_HOLD_BLOCKS if self._linear.over_residual else max(0, self._voice_hold - 1)
            leftover = leftover and not self._voice_hold
        # Closes at once, opens over a few blocks: a word's soft ending is not cut by a block of echo after it.
        target = 10 ** (self.cfg.gate_db / 20) if leftover else 1.0
        self._gain = target if target < self._gain else self._gain + 0.5 * (target - self._gain)
        gated = out * self._gain
        return gated, out if words_ungated else gated

    def _measure(self, mic: np.ndarray, ref: np.ndarray, out: np.ndarray) -> None:
        active = float(np.sqrt(np.mean(ref ** 2))) > ACTIVE_RMS
        self.stats.reference_active = active
        self._mic_hist.extend(mic.reshape(-1, BLOCK))
        self._ref_hist.extend(ref.reshape(-1, BLOCK))
        if not active:
            return
        # Smoothed over about two seconds of the robot's speech.
        a = min(1.0, len(mic) / (2.0 * SAMPLE_RATE))
        self._mic_energy += a * (float(np.mean(mic ** 2)) - self._mic_energy)
        self._out_energy += a * (float(np.mean(out ** 2)) - self._out_energy)
        if self._out_energy > 0 and self._mic_energy > 0:
            self.stats.erle_db = round(float(10 * np.log10(self._mic_energy / self._out_energy)), 1)
        erle_db = (10 * np.log10(self._linear.erle) if self._linear is not None
                   else self.stats.erle_db if self.stats.erle_db is not None else 0.0)
        self._active_s += len(mic) / SAMPLE_RATE
        if self.stats.converged:
            self.stats.converged = bool(erle_db >= 6.0)
        else:
            # The filter's own estimate runs ahead of what it removes while it learns (BENCHMARKS.md, duplex):
            # the echo actually removed must show too.
            measured = self.stats.erle_db if self.stats.erle_db is not None else 0.0
            self.stats.converged = bool(self._active_s >= MIN_CONVERGE_S and erle_db >= 10.0
                                        and measured >= MIN_MEASURED_ERLE_DB)
        if self.stats.converged and self.stats.learning:
            self._converged_s += len(mic) / SAMPLE_RATE
            self.stats.learning = self._converged_s < LEARNT_S
        self._active_blocks += len(mic) // BLOCK
        # Twice per second of the robot's speech: a short first reply gets a few tries at a clear measurement.
        if self._active_blocks >= SAMPLE_RATE // BLOCK // 2:
            self._active_blocks = 0
            lag, sharp = gcc_phat(np.concatenate(self._mic_hist), np.concatenate(self._ref_hist),
                                  int(MAX_DELAY_S * SAMPLE_RATE))
            self.stats.delay_sharpness = round(sharp, 1)
            if sharp >= DELAY_SHARPNESS:
                delay_ms = round(lag * 1000 / SAMPLE_RATE, 1)  # beyond where the reference is placed now
                # The whole delay beyond the stamps, wherever the reference was moved to.
                self.stats.delay_ms = round(delay_ms + self._auto_shift_ms + self.cfg.reference_delay_ms, 1)
                # Double talk can make one measurement wrong: the reference moves only on two that agree.
                agreed = self._last_lag_ms is not None and abs(delay_ms - self._last_lag_ms) <= 2.0
                self._last_lag_ms = delay_ms
                if agreed:
                    self._follow_delay(delay_ms)

    def _follow_delay(self, delay_ms: float) -> None:
        """Move the reference onto a delay the filter cannot span (a margin of 20 ms stays inside the filter)."""
        if not self.cfg.auto_delay or self._linear is None:
            return
        if delay_ms > 0.5 * self.cfg.filter_ms or delay_ms < -5.0:
            self.stats.delay_shifts += 1
            self._auto_shift_ms += delay_ms - 20.0
            self.timeline.shift(round((delay_ms - 20.0) * SAMPLE_RATE / 1000))
            self._linear.reset()
            self._active_s = 0.0
            self.stats.converged = False
            self._last_lag_ms = None  # measured again against the moved reference
            self._mic_hist.clear()
            self._ref_hist.clear()


class LinearEchoFilter:
    """Partitioned-block frequency-domain NLMS (overlap-save) with two filters: the background one adapts; the
    foreground one, whose output is used, takes the background's weights only while they cancel clearly better.

    Double talk (the user speaking over the robot) would teach the filter the user's voice. Two guards: once the
    filter has converged, a block whose error is far above the residual its echo return loss enhancement predicts
    holds near-end speech, and nothing adapts for it and 100 ms after; and a background that does diverge is not
    copied, and is restarted from the foreground."""

    def __init__(self, block: int, partitions: int, step: float = 1.0) -> None:
        self.n, self.partitions, self.step = block, partitions, step
        self.reset()

    def reset(self) -> None:
        bins = self.n + 1
        self._x = np.zeros((self.partitions, bins), np.complex128)   # spectra of the last reference blocks
        self._background = np.zeros_like(self._x)
        self._foreground = np.zeros_like(self._x)
        self._previous = np.zeros(self.n)
        self._err_b = self._err_f = 1e-9  # smoothed error energies of the two filters
        self._better = 0
        self._block = 0
        self._mic_lt = self._err_lt = 1e-12  # long-term energies while only the robot speaks: the filter's ERLE
        self.double_talk = 0   # blocks of double talk hangover left
        self.near_end = False  # the last block held a voice over the robot's (for barge-in; see process)
        self.over_residual = False  # ... or at least something far above the residual echo (for the gate)
        self.double_talk_blocks = 0
        self._double_talk_run = 0  # blocks in a row that looked like double talk
        self._run_energies: deque[tuple[float, float]] = deque(maxlen=PATH_CHANGE_BLOCKS)  # (echo, error) of them
        self.path_changes = 0

    def path_changed(self) -> None:
        """Forget the ERLE learnt on the old path (the double-talk detector trusts it); the weights stay, as a
        start."""
        self._err_lt, self.double_talk, self._double_talk_run = self._mic_lt, 0, 0
        self._run_energies.clear()
        self.path_changes += 1

    def weights(self) -> np.ndarray:
        """The filter in use (a copy)."""
        return self._foreground.copy()

    def start_from(self, weights: np.ndarray) -> None:
        """Both filters begin from `weights`; the ERLE is not known yet, so the double-talk guard stays off until
        it is measured (a path that changed is learnt as from nothing)."""
        self._foreground[:] = weights
        self._background[:] = weights

    @property
    def erle(self) -> float:
        """Echo return loss enhancement of the foreground (power ratio) while only the robot speaks."""
        return self._mic_lt / self._err_lt

    def process(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the microphone less the estimated echo, that estimate) for one block."""
        n = self.n
        ref = ref.astype(np.float64)
        self._x = np.roll(self._x, 1, axis=0)
        self._x[0] = np.fft.rfft(np.concatenate([self._previous, ref]))
        self._previous = ref
        e_b = mic - np.fft.irfft(np.sum(self._background * self._x, axis=0))[n:]
        y_f = np.fft.irfft(np.sum(self._foreground * self._x, axis=0))[n:]
        e_f = mic - y_f
        mic_e, err_e, echo_e = float(np.dot(mic, mic)), float(np.dot(e_f, e_f)), float(np.dot(y_f, y_f))
        speaking = float(np.dot(ref, ref)) > 1e-6 * n  # the robot's voice is in this block's reference
        active = speaking or echo_e > 1e-7 * n
        self.near_end = self.over_residual = False
        if not active:
            return e_f.astype(np.float32), y_f.astype(np.float32)
        converged = self.erle > 4.0  # 6 dB
        # A voice over the robot's, for the dialogue's barge-in: stricter than the adaptation guard below, which
        # may freeze the filter on a doubt (in a pause of the robot's voice, the room's tail beyond the filter;
        # on its onsets, what the filter has not learnt yet). The robot speaks in this block, the error is far
        # above what the echo estimate leaves at the filter's ERLE, and it is a good part of what the microphone
        # hears: the adaptation guard alone fires on many of the robot's own blocks while the filter is young.
        self.over_residual = converged and speaking and err_e > NEAR_END_OVER_RESIDUAL * echo_e / self.erle
        self.near_end = self.over_residual and err_e > NEAR_END_OF_MIC * mic_e
        # Near-end speech, for adaptation: the error is well above what the echo estimate leaves at the filter's ERLE.
        if converged and err_e > 8.0 * echo_e / self.erle + 1e-7 * n:
            self.double_talk = 10
            self.double_talk_blocks += 1
            self._double_talk_run += 1
            self._run_energies.append((echo_e, err_e))
            if (self._double_talk_run >= PATH_CHANGE_BLOCKS and self._double_talk_run % 10 == 0
                    and self._error_follows_echo()):
                # Not the user: the echo path changed (the speaker's delay moved, the robot turned its head), and
                # a detector that trusts the old ERLE would keep the filter from ever learning the new path.
                self.path_changed()
        elif self.double_talk:
            self.double_talk -= 1
            self._double_talk_run = 0
            self._run_energies.clear()
        if not self.double_talk:
            self._adapt(e_b, e_f)
            self._mic_lt += 0.02 * (mic_e - self._mic_lt)
            self._err_lt += 0.02 * (err_e - self._err_lt)
        if err_e > mic_e:
            e_f = mic  # the filter adds more than it removes (the echo path just changed): pass the microphone
        return e_f.astype(np.float32), y_f.astype(np.float32)

    def _error_follows_echo(self) -> bool:
        """Whether the error's loudness rose and fell with the echo estimate's over the run of double talk (log
        energies per block): the echo the filter misses on a changed path does; a user talking over the robot does not,
        and learning anew on their voice would cost the filter all it had learnt (the duplex bench's lost runs)."""
        echo, err = np.log(np.asarray(self._run_energies) + 1e-12).T
        if np.std(echo) < 1e-3 or np.std(err) < 1e-3:
            return True  # nothing to tell them apart by: the old rule
        return float(np.corrcoef(echo, err)[0, 1]) >= PATH_CHANGE_CORRELATION

    def _adapt(self, e_b: np.ndarray, e_f: np.ndarray) -> None:
        n = self.n
        self._err_b += 0.3 * (float(np.dot(e_b, e_b)) - self._err_b)
        self._err_f += 0.3 * (float(np.dot(e_f, e_f)) - self._err_f)
        # NLMS, normalised per frequency by the reference power the filter spans, regularised by the mean over
        # frequencies: a band the reference hardly has must not get a huge step.
        power = np.sum(np.abs(self._x) ** 2, axis=0)
        power += 0.01 * float(np.mean(power)) + 1e-6
        err = np.fft.rfft(np.concatenate([np.zeros(n), e_b]))
        self._background += self.step * np.conj(self._x) * (err / power)
        # Keep one partition a block causal (the gradient constraint, spread over blocks as Speex's MDF does).
        p = self._block % self.partitions
        self._block += 1
        w = np.fft.irfft(self._background[p])
        w[n:] = 0.0
        self._background[p] = np.fft.rfft(w)
        self._better = self._better + 1 if self._err_b < 0.7 * self._err_f else 0
        if self._better >= 3:
            self._foreground[:] = self._background
            self._err_f, self._better = self._err_b, 0
        elif self._err_f < 0.3 * self._err_b:  # the background diverged: restart it from the foreground
            self._background[:] = self._foreground
            self._err_b = self._err_f
