"""A private PulseAudio server with virtual devices, so PortAudio has real devices where there is no sound card.

A stand-in for the robot's sound card (dev tooling, for tests and benchmarks): a null sink `robot_speaker` where the
speaker node plays, a null sink `room` where a test plays what the microphones hear, and a virtual source
`robot_mic` that captures the room. With `echo=True`, a loopback also carries the robot's speaker into the room,
through the server's own buffers: the robot hears itself as it would through the air. The server runs in a
folder of its own; processes reach it through `env` (PULSE_SERVER), PortAudio through ALSA's pulse plugin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE, to_s16le


class SoundServerError(RuntimeError):
    """The server cannot start (PulseAudio not installed, or it failed): the message says why."""


class SoundServer:
    SPEAKER, ROOM, MIC = "robot_speaker", "room", "robot_mic"

    def __init__(self, echo: bool = False, echo_latency_ms: int = 60) -> None:
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise SoundServerError("pulseaudio is not installed (Debian/Ubuntu: apt install pulseaudio "
                                   "pulseaudio-utils)")
        self.dir = Path(tempfile.mkdtemp(prefix="optimus_pulse_"))
        self.socket = self.dir / "native"
        self.env = {**os.environ, "PULSE_SERVER": f"unix:{self.socket}", "PULSE_RUNTIME_PATH": str(self.dir),
                    "XDG_RUNTIME_DIR": str(self.dir), "PULSE_SINK": self.SPEAKER, "PULSE_SOURCE": self.MIC}
        self.exe = exe
        self.echo, self.echo_latency_ms = echo, echo_latency_ms
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start the server (again, after `stop`: a sound card plugged back in) on the same socket."""
        # -n: no default.pa (no hardware probing); everything this server has is loaded here.
        self.process = subprocess.Popen(
            [self.exe, "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=no",
             "--log-target=stderr", "--log-level=error", "-L", f"module-native-protocol-unix socket={self.socket}",
             "-L", f"module-null-sink sink_name={self.SPEAKER} rate=48000",
             "-L", f"module-null-sink sink_name={self.ROOM} rate=48000",
             "-L", f"module-remap-source master={self.ROOM}.monitor source_name={self.MIC}"],
            env={**self.env, "HOME": str(self.dir)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                err = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None else ""
                self.close()
                raise SoundServerError(f"PulseAudio did not start: {err.strip() or 'no answer in 10 s'}")
            time.sleep(0.05)
        self.pactl("set-default-sink", self.SPEAKER)
        self.pactl("set-default-source", self.MIC)
        if self.echo:
            self.pactl("load-module", "module-loopback", f"source={self.SPEAKER}.monitor", f"sink={self.ROOM}",
                       f"latency_msec={self.echo_latency_ms}", "adjust_time=0")
            # adjust_time=0: no rate adjustment, so the echo's delay stays put as through air (by default the
            # loopback resamples toward its target latency, and the delay slides by tens of milliseconds).

    def stop(self) -> None:
        """Stop the server, as a sound card that is unplugged (PulseAudio would move streams to another device of
        the same server, so unloading one device is not a lost device)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def _answers(self) -> bool:
        return self.socket.exists() and subprocess.run(["pactl", "info"], env=self.env, capture_output=True,
                                                       timeout=5).returncode == 0

    def pactl(self, *args: str) -> str:
        out = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if out.returncode:
            raise SoundServerError(f"pactl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def play(self, samples: np.ndarray, sink: str = ROOM) -> subprocess.Popen:
        """Play 16 kHz mono audio into a sink (the room: the microphones hear it); returns the player process."""
        player = subprocess.Popen(["pacat", f"--device={sink}", f"--rate={SAMPLE_RATE}", "--channels=1",
                                   "--format=s16le", "--raw"], env=self.env, stdin=subprocess.PIPE)
        player.stdin.write(to_s16le(samples))
        player.stdin.close()
        return player

    def record(self, source: str = f"{SPEAKER}.monitor") -> Recording:
        """Start recording a source (the speaker's monitor: what the robot played) at 16 kHz mono."""
        return Recording(subprocess.Popen(
            ["parec", f"--device={source}", f"--rate={SAMPLE_RATE}", "--channels=1", "--format=s16le", "--raw",
             "--latency-msec=50"],
            env=self.env, stdout=subprocess.PIPE))

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Recording:
    """parec's output, read as it comes: a pipe holds 2 s of it, and a parec that cannot write stalls, so a
    recording read only at the end kept its first 2 s and lost the robot's reply."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, name="parec reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.process.stdout.read1(65536):
            self._chunks.append(chunk)

    def stop(self) -> np.ndarray:
        """Stop and return what was recorded, float32."""
        self.process.terminate()
        self.process.wait(10)
        self._reader.join(10)
        data = b"".join(self._chunks)
        data = data[:len(data) // 2 * 2]
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
