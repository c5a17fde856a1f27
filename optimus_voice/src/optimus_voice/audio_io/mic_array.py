"""Microphone arrays (no rclpy): the geometry, a delay-and-sum beam toward the talker, and the talker's direction.

The direction is SRP-PHAT: the GCC-PHAT cross-correlation of every microphone pair, accumulated over the speech
of a turn, summed along the delays each candidate direction would give, and the best direction taken. Frames the
robot spoke in (its echo would point at its own speaker) and the quieter half of the frames (pauses, a fan) are
left out. Far field: a talker is taken to be much farther away than the array is wide.

Directions follow REP-103 in the array's frame (the capture node's frame_id): azimuth counter-clockwise from +x
(forward) in the x-y plane, elevation up from that plane. A linear array hears the same delays from a direction and
its mirror image across the array's axis: its estimates are given on the +x side (+y for an array along x) and
flagged ambiguous. A planar array cannot tell up from down: its elevation is 0.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.contract.audio import SAMPLE_RATE

SPEED_OF_SOUND = 343.0    # m/s, air at 20 °C
FRAME = 512               # samples per direction frame (32 ms)
BAND_HZ = (200.0, 7000.0)  # frequencies the direction is read from: speech, above room rumble
INTERP = 8                # cross-correlations are read to an eighth of a sample
KEEP_S = 20.0             # audio remembered for a turn's direction: a longer turn uses its last 20 s
MIN_FRAMES = 4            # 128 ms of loud speech at least, or no estimate


def unit_vectors(azimuth, elevation) -> np.ndarray:
    """(..., 3) unit vectors toward azimuths and elevations in radians (REP-103: x forward, y left, z up)."""
    az, el = np.asarray(azimuth, np.float64), np.asarray(elevation, np.float64)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


class ArrayError(ValueError):
    """A microphone array that cannot be used (too few microphones, two in one place): the message says why."""


@dataclass(frozen=True)
class ArrayGeometry:
    positions: np.ndarray  # (N, 3) metres in the array's frame

    @classmethod
    def from_flat(cls, values) -> ArrayGeometry:
        """x, y, z of each microphone in turn, as the `mic_positions` parameter gives them."""
        flat = np.asarray(list(values), dtype=np.float64)
        if len(flat) % 3:
            raise ArrayError(f"mic_positions has {len(flat)} numbers: it needs x, y, z for each microphone")
        positions = flat.reshape(-1, 3)
        if len(positions) < 2:
            raise ArrayError("a microphone array needs at least 2 microphones")
        for i, j in combinations(range(len(positions)), 2):
            if np.linalg.norm(positions[i] - positions[j]) < 1e-3:
                raise ArrayError(f"microphones {i} and {j} are in the same place")
        return cls(positions)

    @property
    def n(self) -> int:
        return len(self.positions)

    @property
    def rank(self) -> int:
        """1: the microphones lie on a line, 2: in a plane, 3: in space."""
        centred = self.positions - self.positions.mean(axis=0)
        singular = np.linalg.svd(centred, compute_uv=False)
        return int(np.sum(singular > 1e-3 * singular[0]))

    def arrival_samples(self, directions: np.ndarray) -> np.ndarray:
        """(K, N): when a far-field sound from each unit direction reaches each microphone, in samples, relative to
        the frame's origin (negative: before it)."""
        return -(directions @ self.positions.T) / SPEED_OF_SOUND * SAMPLE_RATE

    def candidate_directions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit vectors (K, 3), azimuths, elevations in radians) the direction finder scores."""
        rank = self.rank
        azimuths = np.radians(np.arange(-180.0, 180.0, 1.0))
        elevations = np.radians(np.arange(-60.0, 61.0, 10.0)) if rank == 3 else np.zeros(1)
        az, el = (a.ravel() for a in np.meshgrid(azimuths, elevations))
        if rank == 3:  # a coarser azimuth keeps the grid small where elevation is also searched
            keep = np.round(np.degrees(az)) % 2 == 0
            az, el = az[keep], el[keep]
        units = unit_vectors(az, el)
        if rank == 1:
            units, az, el = self._front_half(units, az, el)
        return units, az, el

    def _front_half(self, units, az, el):
        axis = self.positions[-1] - self.positions[0]
        axis /= np.linalg.norm(axis)
        front = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        front = front - axis * (front @ axis)  # the side of the axis that faces forward
        keep = units @ front >= -1e-9
        return units[keep], az[keep], el[keep]


@dataclass
class TalkerDirection:
    azimuth: float          # radians (REP-103, the array's frame)
    elevation: float        # radians; 0 for linear and planar arrays
    confidence: float       # phase coherence at the peak over the pairs: 1 a single clear source, ~0 none
    ambiguous: bool         # a linear array: the mirror image across its axis fits as well
    frames_used: int        # direction frames (32 ms) the estimate rests on
    robot_speaking: bool    # only frames the robot spoke in were available: its own echo may have pulled it

    @property
    def speech_seconds(self) -> float:
        return self.frames_used * FRAME / SAMPLE_RATE

    @property
    def unit(self) -> np.ndarray:
        return unit_vectors(self.azimuth, self.elevation)


@dataclass
class _Frame:
    index: int            # first sample
    cross: np.ndarray     # (pairs, band bins) cross-spectra
    power: np.ndarray     # (band bins,) power spectrum, mean over the microphones
    energy: float
    robot_speaking: bool


class DirectionFinder:
    """Accumulates PHAT-weighted cross-spectra of every microphone pair, frame by frame, and finds the direction of
    the talker over any stretch of sample indices (a turn's speech).

    A steady noise that comes from one place (a fan) would pull the direction to itself: PHAT gives its bins, where
    the talker is weak, as much say as the talker's. So the noise's own cross-spectra (the quietest fifth of the
    frames remembered) are taken out of each frame's before the phase is read, and each bin votes with the weight of
    its power over the noise's."""

    def __init__(self, geometry: ArrayGeometry) -> None:
        self.geometry = geometry
        self.pairs = np.array(list(combinations(range(geometry.n), 2)))
        freqs = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
        self.band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
        self.window = np.hanning(FRAME).astype(np.float32)
        units, self.azimuths, self.elevations = geometry.candidate_directions()
        arrival = geometry.arrival_samples(units)
        self.lags = arrival[:, self.pairs[:, 0]] - arrival[:, self.pairs[:, 1]]  # (K, P): pair i trails j by
        self.ambiguous = geometry.rank == 1
        self._frames: deque[_Frame] = deque(maxlen=int(KEEP_S * SAMPLE_RATE / FRAME))
        self._pending = np.zeros((0, geometry.n), np.float32)
        self._pending_index = 0

    def add(self, samples: np.ndarray, first_sample_index: int, robot_speaking: bool = False) -> None:
        """Multichannel samples (n, N) starting at `first_sample_index` (a jump drops the partial frame)."""
        if first_sample_index != self._pending_index + len(self._pending):
            self._pending = self._pending[:0]
            self._pending_index = first_sample_index
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            spectra = np.fft.rfft(frame * self.window[:, None], axis=0)[self.band]  # (F, N)
            cross = spectra[:, self.pairs[:, 0]] * np.conj(spectra[:, self.pairs[:, 1]])
            power = np.mean(np.abs(spectra) ** 2, axis=1)
            self._frames.append(_Frame(self._pending_index, cross.T.astype(np.complex64), power.astype(np.float32),
                                       float(np.mean(frame ** 2)), robot_speaking))
            self._pending_index += FRAME

    def estimate(self, start_index: int, end_index: int) -> TalkerDirection | None:
        """The talker's direction over samples [start_index, end_index), or None with too little loud audio."""
        inside = [f for f in self._frames if f.index >= start_index and f.index + FRAME <= end_index]
        quiet = [f for f in inside if not f.robot_speaking]
        robot_speaking = len(quiet) < MIN_FRAMES
        frames = inside if robot_speaking else quiet
        if len(frames) < MIN_FRAMES:
            return None
        energies = np.array([f.energy for f in frames])
        loud = [f for f, e in zip(frames, energies, strict=True) if e >= np.median(energies)]
        remembered = sorted(self._frames, key=lambda f: f.energy)[:max(1, len(self._frames) // 5)]
        noise_cross = np.mean([f.cross for f in remembered], axis=0)  # (P, F)
        noise_power = np.mean([f.power for f in remembered], axis=0)  # (F,)
        # A bin must be 3 dB over the noise to vote at all.
        weights = np.array([np.clip(1.0 - 2.0 * noise_power / (f.power + 1e-20), 0.0, 1.0) for f in loud])
        if weights.sum() < 1e-6:
            return None
        cross = np.array([f.cross for f in loud]) - noise_cross  # (frames, P, F)
        cross /= np.abs(cross) + 1e-20
        summed = np.einsum("tf,tpf->pf", weights, cross)  # (P, F in band)
        full = np.zeros((len(self.pairs), FRAME // 2 + 1), np.complex128)
        full[:, self.band] = summed
        cc = np.fft.irfft(full, FRAME * INTERP, axis=1)  # (P, lags): index = lag * INTERP, negative lags wrap
        pos = self.lags * INTERP
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        rows = np.arange(len(self.pairs))[None, :]
        width = cc.shape[1]
        values = cc[rows, lo % width] * (1 - frac) + cc[rows, (lo + 1) % width] * frac  # (K, P)
        # What the peak would be if every weighted bin agreed: so 1 is one perfectly clear source.
        coherent = np.zeros(FRAME // 2 + 1)
        coherent[self.band] = weights.sum(axis=0)
        srp = values.sum(axis=1) / (len(self.pairs) * np.fft.irfft(coherent, FRAME * INTERP)[0])
        best = int(np.argmax(srp))
        return TalkerDirection(azimuth=float(self.azimuths[best]), elevation=float(self.elevations[best]),
                               confidence=float(np.clip(srp[best], 0.0, 1.0)), ambiguous=self.ambiguous,
                               frames_used=len(loud), robot_speaking=robot_speaking)


class DelayAndSumBeam:
    """A streaming delay-and-sum beam: each channel delayed by a windowed-sinc fractional-delay filter so that sound
    from the steered direction adds up in phase, then averaged. It delays its output by `latency` samples (about
    1 ms for a head-sized array); a new direction is cross-faded in over one chunk."""

    def __init__(self, geometry: ArrayGeometry, azimuth: float = 0.0, elevation: float = 0.0) -> None:
        self.geometry = geometry
        reach = float(np.max(np.linalg.norm(geometry.positions, axis=1))) / SPEED_OF_SOUND * SAMPLE_RATE
        self.latency = int(np.ceil(reach)) + 8
        self.taps = 2 * self.latency + 1
        self._history = np.zeros((self.taps - 1, geometry.n), np.float32)
        self.filters = self._filters(azimuth, elevation)
        self._next: np.ndarray | None = None
        self.azimuth, self.elevation = azimuth, elevation

    def _filters(self, azimuth: float, elevation: float) -> np.ndarray:
        arrival = self.geometry.arrival_samples(unit_vectors(azimuth, elevation)[None])[0]  # (N,)
        n = np.arange(self.taps)[:, None]
        # Channel c heard the sound `arrival[c]` samples after the origin: delay it by latency - arrival[c].
        h = np.sinc(n - (self.latency - arrival[None, :])) * np.hamming(self.taps)[:, None]
        return (h / h.sum(axis=0, keepdims=True)).astype(np.float32)  # (taps, N), unit gain at low frequencies

    def steer(self, azimuth: float, elevation: float = 0.0) -> None:
        self.azimuth, self.elevation = azimuth, elevation
        self._next = self._filters(azimuth, elevation)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """(n, N) -> (n,) float32."""
        x = np.concatenate([self._history, samples.astype(np.float32)])
        self._history = x[len(x) - (self.taps - 1):]
        out = self._apply(x, self.filters)
        if self._next is not None:
            fade = np.linspace(0.0, 1.0, len(out), dtype=np.float32)
            out = out * (1 - fade) + self._apply(x, self._next) * fade
            self.filters, self._next = self._next, None
        return out

    def _apply(self, x: np.ndarray, filters: np.ndarray) -> np.ndarray:
        n = len(x) - (self.taps - 1)
        total = np.zeros(n, np.float32)
        for c in range(x.shape[1]):
            total += np.convolve(x[:, c], filters[:, c], mode="valid")[:n]
        return total / x.shape[1]


@dataclass
class ArrayConfig:
    output: str = "beam"          # what /audio/in gets: "beam" (delay and sum) or "channel"
    channel: int = 0              # the microphone /audio/in gets when output is "channel"
    azimuth_deg: float = 0.0      # where the beam points at first (and for good, without follow_talker)
    follow_talker: bool = True    # steer the beam to each turn's talker, once the turn has ended
    min_confidence: float = 0.2   # a direction less clear than this does not move the beam
    min_turn_deg: float = 15.0    # nor does one this close to where it points (each move changes the echo path)


OUTPUTS = ("beam", "channel")


class ArrayProcessor:
    """N microphones in, one channel out for the recognizer, and the talker's direction per turn. `process` (the
    capture thread) and `direction` (voice activity events) may be called from two threads."""

    def __init__(self, geometry: ArrayGeometry, config: ArrayConfig | None = None) -> None:
        self.config = config or ArrayConfig()
        if self.config.output not in OUTPUTS:
            raise ArrayError(f"array output {self.config.output!r} is not one of {', '.join(OUTPUTS)}")
        if not 0 <= self.config.channel < geometry.n:
            raise ArrayError(f"array channel {self.config.channel} does not exist ({geometry.n} microphones)")
        self.geometry = geometry
        self.finder = DirectionFinder(geometry)
        self.beam = DelayAndSumBeam(geometry, np.radians(self.config.azimuth_deg))
        self.steered = 0  # times the beam moved to a talker
        self._lock = threading.Lock()
        self._busy_s = 0.0
        self._audio_s = 0.0

    @property
    def cpu_ms_per_s(self) -> float:
        """Processing time per second of audio (10 = 1% of a core)."""
        return 1000 * self._busy_s / self._audio_s if self._audio_s else 0.0

    def process(self, chunk: AudioChunk, robot_speaking: bool = False) -> AudioChunk:
        """A chunk of (n, N) samples -> the chunk of mono samples the recognizer gets, same index and stamp."""
        if chunk.samples.ndim != 2 or chunk.samples.shape[1] != self.geometry.n:
            raise ArrayError(f"audio has shape {chunk.samples.shape}, expected (samples, {self.geometry.n})")
        start = time.thread_time()
        with self._lock:
            self.finder.add(chunk.samples, chunk.first_sample_index, robot_speaking)
            mono = self.beam.process(chunk.samples) if self.config.output == "beam" \
                else chunk.samples[:, self.config.channel].astype(np.float32)
        self._busy_s += time.thread_time() - start
        self._audio_s += len(mono) / SAMPLE_RATE
        return AudioChunk(mono, chunk.first_sample_index, chunk.stamp_ns)

    def direction(self, start_index: int, end_index: int, final: bool) -> TalkerDirection | None:
        """The talker's direction over a turn's speech; at the turn's end it also steers the beam there. The beam
        moves between turns only: a beam that moves while the robot speaks changes the echo path under the
        canceller."""
        with self._lock:
            found = self.finder.estimate(start_index, end_index)
            if (final and found is not None and self.config.follow_talker and not found.robot_speaking
                    and found.confidence >= self.config.min_confidence
                    and self._turn_deg(found) >= self.config.min_turn_deg):
                self.beam.steer(found.azimuth, found.elevation)
                self.steered += 1
        return found

    def _turn_deg(self, found: TalkerDirection) -> float:
        """The angle between where the beam points and the talker."""
        current = unit_vectors(self.beam.azimuth, self.beam.elevation)
        return float(np.degrees(np.arccos(np.clip(current @ found.unit, -1.0, 1.0))))
