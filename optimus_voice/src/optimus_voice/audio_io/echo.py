"""Acoustic echo cancellation at the microphone: the robot's own voice removed before VAD and ASR (no rclpy).

The canceller needs, beside each 10 ms of microphone audio, the 10 ms that the speaker played at the same moment.
The robot's speech reaches this module as stamped frames (the audio sent to the speaker, stamped with when it
plays); ReferenceTimeline places them on the microphone's sample clock, so the reference is aligned by stamps and
the filter only has to model the acoustic path and the driver's delay.

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
from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import NS_PER_S

BLOCK = SAMPLE_RATE // 100  # AEC3 works on 10 ms blocks
ACTIVE_RMS = 1e-3           # reference louder than this (-60 dBFS) counts as the robot speaking
DELAY_WINDOW_S = 2.0        # audio the delay is measured on
MAX_DELAY_S = 0.5           # longest speaker-to-microphone delay looked for
MAX_DRIFT = SAMPLE_RATE // 50  # 20 ms
MIN_CONVERGE_S = 2.0        # of the robot's voice before the canceller may call itself converged
DELAY_SHARPNESS = 8.0       # GCC-PHAT peaks below this are no measurement (see correlation.gcc_phat)


class EchoError(RuntimeError):
    """Echo cancellation cannot run (the WebRTC module is missing): the message says why."""


MODES = ("linear", "webrtc", "both")


@dataclass
class EchoConfig:
    mode: str = "linear"             # see the module's docstring
    filter_ms: float = 240.0         # echo path the linear filter models: delay beyond the stamps, plus reverberation
    # Residual echo gate (linear mode): a 10 ms block whose output is under `residual_db` of the echo the filter
    # estimated holds no more than the echo's leftover, and is attenuated by `gate_db`. The user talking over the
    # robot stays above it unless the echo is more than -residual_db louder than their voice.
    residual_db: float = -15.0
    gate_db: float = -20.0
    noise_suppression: bool = False  # WebRTC noise suppression after the echo canceller
    ns_level: int = 1                # 0-3: 6, 12, 18 or 21 dB of noise suppression
    reference_delay_ms: float = 0.0  # known extra delay of the reference (a speaker driver's buffer), if any
    # Shift the reference by the delay GCC-PHAT measures when it is longer than the linear filter can model (a
    # sound server's buffers), so the filter spends its length on the room, not on the delay.
    auto_delay: bool = True


@dataclass
class EchoStats:
    erle_db: float | None = None     # echo removed while the robot spoke (smoothed; double talk lowers it)
    delay_ms: float | None = None    # measured speaker-to-microphone delay, once the robot has spoken
    delay_sharpness: float = 0.0     # how clear that measurement was
    delay_shifts: int = 0            # times the reference was moved onto a measured delay
    reference_active: bool = False   # the robot's voice is in the reference now
    converged: bool = False          # the robot's voice is cancelled (>= 10 dB; lost again under 6 dB)
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


class EchoCanceller:
    """Removes the robot's own voice from microphone chunks. Output chunks keep the input's sample indices and
    stamps; they may lag the input by under 10 ms (AEC3 takes whole 10 ms blocks)."""

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.cfg = config or EchoConfig()
        if self.cfg.mode not in MODES:
            raise EchoError(f"unknown echo cancellation mode {self.cfg.mode!r} (expected one of {', '.join(MODES)})")
        self._linear = (LinearEchoFilter(BLOCK, max(1, round(self.cfg.filter_ms * SAMPLE_RATE / 1000 / BLOCK)))
                        if self.cfg.mode in ("linear", "both") else None)
        self._webrtc = None
        webrtc = self.cfg.mode in ("webrtc", "both")
        if webrtc or self.cfg.noise_suppression:
            try:
                from pywebrtc_audio import AudioProcessor
            except ImportError as exc:
                raise EchoError(f"echo cancellation mode {self.cfg.mode!r} and noise suppression need "
                                f"pywebrtc-audio: {exc}") from exc
            self._webrtc = AudioProcessor(SAMPLE_RATE, 1, echo_cancellation=webrtc, high_pass_filter=webrtc,
                                          noise_suppression=self.cfg.noise_suppression, ns_level=self.cfg.ns_level)
        self.timeline = ReferenceTimeline()
        self.stats = EchoStats()
        self._pending = np.zeros(0, np.float32)
        self._pending_index = 0   # stream index of _pending[0]
        self._pending_pos = 0     # its position on the timeline
        self._expected: int | None = None
        self._lock = threading.Lock()
        self._auto_shift_ms = 0.0
        self._gain = 1.0
        self._mic_energy = 0.0
        self._out_energy = 0.0
        hist = int(DELAY_WINDOW_S * SAMPLE_RATE)
        self._mic_hist: deque[np.ndarray] = deque(maxlen=hist // BLOCK)
        self._ref_hist: deque[np.ndarray] = deque(maxlen=hist // BLOCK)
        self._active_blocks = 0
        self._active_s = 0.0      # seconds of the robot's voice heard so far
        self._cpu_s = 0.0
        self._audio_s = 0.0

    def reference(self, samples: np.ndarray, stamp_ns: int, sample_rate: int = SAMPLE_RATE) -> None:
        """Audio sent to the speaker (mono float), stamped with when its first sample plays. Thread-safe."""
        if sample_rate != SAMPLE_RATE:
            import soxr

            samples = soxr.resample(samples, sample_rate, SAMPLE_RATE).astype(np.float32)
        with self._lock:
            shift = int((self.cfg.reference_delay_ms + self._auto_shift_ms) * 1e6)
            self.timeline.put(stamp_ns + shift, samples)

    def process(self, chunk: AudioChunk) -> AudioChunk | None:
        """The chunk with the robot's voice removed (None while under 10 ms of audio is waiting). Thread-safe."""
        with self._lock:
            return self._process(chunk)

    def _process(self, chunk: AudioChunk) -> AudioChunk | None:
        t0 = time.process_time()
        pos = self.timeline.position(chunk.stamp_ns) - len(self._pending)
        if self._expected is None or chunk.first_sample_index != self._expected:
            # A new stream or a gap: the chunk starts the pending audio.
            self._pending = np.zeros(0, np.float32)
            self._pending_index = chunk.first_sample_index
            self._pending_pos = pos
        elif abs(pos - self._pending_pos) > MAX_DRIFT:
            # The microphone's sample clock drifted from the stamps' clock: follow the stamps. Within MAX_DRIFT the
            # sample count rules, since device stamps jitter and a jittering reference would unsettle AEC3's filter.
            self._pending_pos = pos
        self._expected = chunk.first_sample_index + len(chunk.samples)
        self._pending = np.concatenate([self._pending, chunk.samples.astype(np.float32)])
        n = len(self._pending) // BLOCK * BLOCK
        if n == 0:
            return None
        mic, self._pending = self._pending[:n], self._pending[n:]
        ref = self.timeline.take(self._pending_pos, n)
        out = mic
        if self._linear is not None:
            out = np.concatenate([self._cancel(block, r) for block, r in
                                  zip(mic.reshape(-1, BLOCK), ref.reshape(-1, BLOCK), strict=True)])
        if self._webrtc is not None:
            out = self._webrtc.process(out, ref)
        self._measure(mic, ref, out)
        index = self._pending_index
        self._pending_index += n
        self._pending_pos += n
        self._cpu_s += time.process_time() - t0
        self._audio_s += n / SAMPLE_RATE
        self.stats.cpu_ms_per_s = 1000 * self._cpu_s / self._audio_s
        stamp = chunk.stamp_ns - (chunk.first_sample_index - index) * NS_PER_S // SAMPLE_RATE
        return AudioChunk(np.asarray(out, np.float32), index, stamp)

    def _cancel(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """One block through the linear filter and the residual echo gate."""
        out, echo = self._linear.process(mic, ref)
        leftover = float(np.dot(out, out)) < 10 ** (self.cfg.residual_db / 10) * float(np.dot(echo, echo))
        # Closes at once, opens over a few blocks: a word's soft ending is not cut by a block of echo after it.
        target = 10 ** (self.cfg.gate_db / 20) if leftover else 1.0
        self._gain = target if target < self._gain else self._gain + 0.5 * (target - self._gain)
        return out * self._gain

    def reset(self) -> None:
        if self._linear is not None:
            self._linear.reset()
        if self._webrtc is not None:
            self._webrtc.reset()
        self._expected = None

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
        self.stats.converged = bool(self._active_s >= MIN_CONVERGE_S
                                    and erle_db >= (6.0 if self.stats.converged else 10.0))
        self._active_blocks += len(mic) // BLOCK
        if self._active_blocks >= SAMPLE_RATE // BLOCK:  # once per second of the robot's speech
            self._active_blocks = 0
            lag, sharp = gcc_phat(np.concatenate(self._mic_hist), np.concatenate(self._ref_hist),
                                  int(MAX_DELAY_S * SAMPLE_RATE))
            self.stats.delay_sharpness = round(sharp, 1)
            if sharp >= DELAY_SHARPNESS:
                delay_ms = round(lag * 1000 / SAMPLE_RATE, 1)
                # Double talk can make one measurement wrong: the reference moves only on two that agree.
                if self.stats.delay_ms is not None and abs(delay_ms - self.stats.delay_ms) <= 2.0:
                    self._follow_delay(delay_ms)
                self.stats.delay_ms = delay_ms

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
            self.stats.delay_ms = None
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
        self.double_talk_blocks = 0

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
        active = float(np.dot(ref, ref)) > 1e-6 * n or echo_e > 1e-7 * n
        if not active:
            return e_f.astype(np.float32), y_f.astype(np.float32)
        # Near-end speech: the error is well above what the echo estimate leaves behind at the filter's ERLE.
        converged = self.erle > 4.0  # 6 dB
        if converged and err_e > 8.0 * echo_e / self.erle + 1e-7 * n:
            self.double_talk = 10
            self.double_talk_blocks += 1
        elif self.double_talk:
            self.double_talk -= 1
        if not self.double_talk:
            self._adapt(e_b, e_f)
            self._mic_lt += 0.02 * (mic_e - self._mic_lt)
            self._err_lt += 0.02 * (err_e - self._err_lt)
        if err_e > mic_e:
            e_f = mic  # the filter adds more than it removes (the echo path just changed): pass the microphone
        return e_f.astype(np.float32), y_f.astype(np.float32)

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
