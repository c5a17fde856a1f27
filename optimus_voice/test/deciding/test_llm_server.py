"""The local language-model server (real llama.cpp on the packaged SmolLM2): it answers, it stops at once even with a
reply streaming to a client that never hangs up, and it never outlives the process that started it."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from optimus_voice.common.models import ModelMissingError
from optimus_voice.deciding.llm_server import LlmServerError, LocalLlmServer, ServerConfig


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _open_stream(address: str) -> http.client.HTTPConnection:
    """A chat request whose reply is left streaming: the client reads one line and never closes."""
    host, port = address.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    body = json.dumps({"messages": [{"role": "user", "content": "Tell me a long story about the sea."}],
                       "stream": True, "max_tokens": 400})
    connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    connection.getresponse().readline()
    return connection


def test_the_server_answers_and_stops_at_once_with_a_client_still_connected():
    server = LocalLlmServer(ServerConfig(port=0))
    port = int(server.address.rsplit(":", 1)[1])
    assert server.healthy()
    held = _open_stream(server.address)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2.0, "stopping waited on the open connection"
    assert not server.running and not server.healthy()
    assert _port_free(port)
    held.close()


def test_a_missing_or_broken_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelMissingError, match=r"nowhere\.gguf"):
        LocalLlmServer(ServerConfig(model_path="/nowhere.gguf", port=0))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model" * 100)
    with pytest.raises(LlmServerError, match=r"broken\.gguf"):
        LocalLlmServer(ServerConfig(model_path=str(broken), port=0))


def test_the_server_goes_when_its_parent_is_killed():
    code = ("from optimus_voice.deciding.llm_server import LlmServerError, LocalLlmServer, ServerConfig\n"
            "s = LocalLlmServer(ServerConfig(port=0)); print(s.address, s._process.pid, flush=True)\n"
            "import time; time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        address, child = parent.stdout.readline().split()
        port, child = int(address.rsplit(":", 1)[1]), int(child)
        assert not _port_free(port)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _port_free(port):
            time.sleep(0.1)
        assert _port_free(port), "the server outlived its parent"
        with pytest.raises(ProcessLookupError):
            for _ in range(50):  # reaped by init once it exits
                os.kill(child, 0)
                time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
