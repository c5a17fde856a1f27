"""Speaker output: a PortAudio device via sounddevice, or a WAV file when there is none (no rclpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class SinkError(RuntimeError):
    """The output cannot be opened: the message says why."""


class WavSink:
    """Appends played audio to a 16-bit WAV file."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        import soundfile as sf

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self.sample_rate = sample_rate
        self._file = sf.SoundFile(str(path), mode="w", samplerate=sample_rate, channels=1, subtype="PCM_16")

    def write(self, samples: np.ndarray) -> None:
        self._file.write(samples)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class DeviceSink:
    """A PortAudio output device (blocking writes pace playback in real time)."""

    def __init__(self, device: str, sample_rate: int) -> None:
        try:
            import sounddevice as sd

            dev = int(device) if device.isdigit() else (device or None)
            self._stream = sd.OutputStream(device=dev, samplerate=sample_rate, channels=1, dtype="float32")
            self._stream.start()
        except Exception as exc:
            raise SinkError(f"cannot open audio output device {device or 'default'}: {exc}") from exc
        self.sample_rate = sample_rate
        self.latency_s = float(self._stream.latency)  # from a write to the speaker, as PortAudio reports it

    def write(self, samples: np.ndarray) -> None:
        self._stream.write(samples.astype(np.float32).reshape(-1, 1))

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
