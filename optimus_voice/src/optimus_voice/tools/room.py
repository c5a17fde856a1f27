"""A simulated room for the duplex benchmark: the robot's voice coming back into its microphone (no rclpy).

The echo path is a synthetic impulse response: a direct path (the speaker a few centimetres from the microphones)
followed by an exponentially decaying diffuse tail, with a speaker-to-microphone delay that the stamps do not show
(air, and the driver's buffers). Dev tooling: on the robot, its own body and room do this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from optimus_voice.audio_io.echo import EchoCanceller, EchoConfig
from optimus_voice.audio_io.sources import AudioChunk
from optimus_voice.contract.audio import SAMPLE_RATE


@dataclass
class Room:
    rt60_s: float = 0.3              # reverberation time of the tail
    direct_to_reverb_db: float = 6.0  # energy of the direct path over the tail's
    delay_ms: float = 25.0           # speaker to microphone, beyond what the reference's stamps say
    seed: int = 0

    def impulse_response(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n = int(self.rt60_s * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        tail = rng.standard_normal(n) * np.exp(-6.9 * t / self.rt60_s)  # -60 dB at rt60
        tail[:int(0.003 * SAMPLE_RATE)] = 0.0  # first reflections arrive a few milliseconds after the direct sound
        tail *= np.sqrt(10 ** (-self.direct_to_reverb_db / 10) / np.sum(tail ** 2))
        h = np.zeros(int(self.delay_ms * SAMPLE_RATE / 1000) + n, np.float64)
        d = len(h) - n
        h[d] = 1.0
        h[d:] += tail
        return h.astype(np.float32)


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """x filtered by h (FFT convolution), as long as x."""
    if not len(x):
        return np.zeros(0, np.float32)
    n = len(x) + len(h) - 1
    nfft = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(h, nfft), nfft)[:len(x)]
    return y.astype(np.float32)


def far_field(audio: np.ndarray, geometry, azimuth: float, elevation: float = 0.0) -> np.ndarray:
    """(n, N) float64: a distant sound from that direction (radians) as each microphone of an ArrayGeometry hears
    it in free field, each channel delayed exactly (in the frequency domain) by its fractional arrival time."""
    from optimus_voice.audio_io.mic_array import unit_vectors

    delays = geometry.arrival_samples(unit_vectors(azimuth, elevation)[None])[0]
    size = len(audio) + 64
    spectrum = np.fft.rfft(audio, size)
    freqs = np.fft.rfftfreq(size)
    return np.stack([np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * d), size)[:len(audio)] for d in delays],
                    axis=1)


def speech_rms(x: np.ndarray, frame: int = 320) -> float:
    """RMS over the loudest half of the frames: the level of the speech, not of the pauses around it."""
    frames = x[:len(x) // frame * frame].reshape(-1, frame)
    energy = np.sort(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return float(np.sqrt(np.mean(energy[len(energy) // 2:]))) if len(energy) else 0.0


PASS_CHUNK = 320  # 20 ms: through_room feeds the canceller as the capture node publishes


@dataclass
class RoomPass:
    """What one pass of the robot's voice through a room and a fresh canceller gave (16 kHz)."""
    heard: np.ndarray            # the microphone: the robot's voice through the room, plus its noise
    cancelled: np.ndarray        # the canceller's output
    converged: np.ndarray        # per 20 ms chunk: the canceller said it had converged after it
    canceller: EchoCanceller     # as the pass left it

    def converged_after(self, start_s: float) -> float | None:
        """Seconds from `start_s` to the end of the first 20 ms chunk after it (wholly) at which the canceller said it
        had converged; None if it never did."""
        first = -(-round(start_s * SAMPLE_RATE) // PASS_CHUNK)
        chunks = np.flatnonzero(self.converged[first:])
        return float((first + chunks[0]) * PASS_CHUNK / SAMPLE_RATE - start_s) if len(chunks) else None

    def removed_db(self, start_s: float, end_s: float) -> float:
        """dB of the robot's voice the canceller removed between these times."""
        span = slice(int(start_s * SAMPLE_RATE), int(end_s * SAMPLE_RATE))
        return float(10 * np.log10(np.sum(self.heard[span] ** 2) / np.sum(self.cancelled[span] ** 2)))


def through_room(played: np.ndarray, rate: int, h: np.ndarray, noise_rms: float = 0.0,
                 rng: np.random.Generator | None = None, config: EchoConfig | None = None,
                 near: np.ndarray | None = None) -> RoomPass:
    """The speaker plays `played` (at `rate`) into a room of impulse response `h`; a canceller that has not heard
    the room before (EchoConfig `config`) takes the microphone as the capture node does, 20 ms at a time, with
    the speaker's audio as its reference. `noise_rms`: the microphone's own noise; `near` (16 kHz): a voice in the
    room, added to the microphone from its start (`heard` keeps only the robot's voice and the noise)."""
    import soxr

    chunk, base_ns = PASS_CHUNK, 10 ** 15
    at_16k = played if rate == SAMPLE_RATE else soxr.resample(played, rate, SAMPLE_RATE)
    heard = convolve(np.asarray(at_16k, np.float32), h)
    if noise_rms:
        heard += (rng or np.random.default_rng(0)).normal(0, noise_rms, len(heard)).astype(np.float32)
    mic = heard
    if near is not None:
        mic = heard + np.pad(near, (0, max(0, len(heard) - len(near))))[:len(heard)].astype(np.float32)
    aec = EchoCanceller(config)
    aec.reference(np.asarray(played, np.float32), base_ns, rate)
    out = np.zeros_like(heard)
    converged = np.zeros(len(heard) // chunk, bool)
    for n in range(len(converged)):
        i = n * chunk
        for piece in aec.process(AudioChunk(mic[i:i + chunk], i, base_ns + i * 10 ** 9 // SAMPLE_RATE)):
            out[piece.first_sample_index:piece.first_sample_index + len(piece.samples)] = piece.samples
        converged[n] = aec.stats.converged
    return RoomPass(heard, out, converged, aec)
