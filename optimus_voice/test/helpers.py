"""Helpers the tests of every room share: reading /diagnostics, waiting for both ends of a topic to match,
building audio frames, our robot's voice the same on every run, speech placed around a microphone array, and a local
stand-in for a language-model server."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from optimus_voice.contract import topics
from optimus_voice.contract.audio import S16LE
from optimus_voice.contract.stamps import now_ns, to_time


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@cache
def _synthesizer():
    from optimus_voice.speaking.tts import Synthesizer

    return Synthesizer()


def steady_voice(text: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Our Piper voice saying `text` without its sampled noise, so the same audio on every run (with the noise, a
    threshold that passed once could fail the next time): (16 kHz samples, samples at Piper's rate, that rate)."""
    import soxr
    from optimus_voice.speaking.tts import Prosody

    steady = Prosody(length_scale=1.0, noise_scale=0.0, noise_w=0.0, volume=1.0, espeak_pitch=50)
    chunks = list(_synthesizer().synthesize(text, prosody=steady))
    rate = chunks[0].sample_rate
    native = np.concatenate([c.samples for c in chunks])
    return soxr.resample(native, rate, 16000).astype(np.float32), native, rate


def diagnostics_of(probe, node: str) -> dict[str, str]:
    """The latest /diagnostics values of one node."""
    for msg in reversed(probe.of(topics.DIAGNOSTICS)):
        for status in msg.status:
            if status.name == f"optimus_voice/{node}":
                return {kv.key: kv.value for kv in status.values}
    return {}


def wait_matched(probe, topic, *nodes, timeout_s: float = 10.0) -> bool:
    """Both ends matched: the probe's publisher sees every node, and every node's subscription sees the probe.

    A reliable, volatile reader drops what a writer sent before the reader matched it, so a test that publishes
    as soon as only the writer side has matched can lose its first messages.
    """
    return probe.wait_matched(topic.name, count=len(nodes), timeout_s=timeout_s) and probe.wait_for(
        lambda: all(n.matched_publishers(topic) >= 1 for n in nodes), timeout_s)


def audio_frame(data: bytes, index: int, encoding=S16LE, rate=16000, channels=1):
    from optimus_voice_msgs.msg import AudioFrame

    msg = AudioFrame(encoding=encoding, sample_rate=rate, channels=channels, first_sample_index=index, data=data)
    msg.header.stamp = to_time(now_ns())
    return msg


ANSWER = ("Jazz is music built on improvisation, swing and the blues. Many people love its freedom, "
          "and I enjoy how every performance is a little different. Do you play an instrument?")


def place(audio: np.ndarray, array, azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
    """(n, N): a far-field sound from that direction as each microphone of `array` (an ArrayGeometry, or x, y, z
    of each in a flat list) hears it, by an exact fractional delay per channel (free field)."""
    from optimus_voice.audio_io.mic_array import ArrayGeometry
    from optimus_voice.tools.room import far_field

    if not isinstance(array, ArrayGeometry):
        array = ArrayGeometry.from_flat(array)
    return far_field(audio, array, np.radians(azimuth_deg), np.radians(elevation_deg)).astype(np.float32)


def with_mic_noise(multi: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """Each microphone's own noise (its preamplifier), `snr_db` under the sound."""
    rng = np.random.default_rng(seed)
    level = np.sqrt(np.mean(multi ** 2) / 10 ** (snr_db / 10))
    return (multi + rng.normal(0, level, multi.shape)).astype(np.float32)


class FakeChatServer:
    """A stand-in for the language-model server the robot provides (llama.cpp, vLLM): an OpenAI-compatible
    /v1/chat/completions on loopback that streams a scripted answer a few characters at a time."""

    def __init__(self, answer: str = ANSWER, first_delay_s: float = 0.0, chunk_delay_s: float = 0.0) -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                time.sleep(first_delay_s)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for i in range(0, len(answer), 7):
                        chunk = {"choices": [{"index": 0, "delta": {"content": answer[i:i + 7]}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(chunk_delay_s)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (an interrupted or timed-out reply): expected

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def up_status(probe) -> dict[str, dict[str, str]]:
    """Each node's process as `optimus-voice up` reports it, and its lifecycle state as the lifecycle manager does."""
    from optimus_voice.tools.stack_watch import stack_status

    return stack_status(probe.of(topics.DIAGNOSTICS))


class Up:
    """`optimus-voice up` as a user runs it, in a process session of its own; `stop()` is one Ctrl-C."""

    def __init__(self, *args: str, log_dir, domain_id: int, env: dict[str, str] | None = None) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        exe = Path(sys.prefix) / "bin" / "optimus-voice"
        self.log_dir = log_dir
        self.process = subprocess.Popen([str(exe), "up", *args, "--log-dir", str(log_dir)],
                                        env={**(env or os.environ), "ROS_DOMAIN_ID": str(domain_id)},
                                        start_new_session=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""

    def stop(self, timeout_s: float = 40.0) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.output, _ = self.process.communicate(timeout=timeout_s)
        return self.process.returncode

    def exit_codes(self) -> dict[str, str]:
        stopped = next(line for line in self.output.splitlines() if "all nodes stopped" in line)
        return dict(item.split("=") for item in stopped.split(": ", 1)[1].split(", "))

    def logs(self) -> dict[str, str]:
        return {p.stem: p.read_text(errors="replace") for p in self.log_dir.glob("*.log")}
