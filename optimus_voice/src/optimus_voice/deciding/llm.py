"""Optional language-model replies: any OpenAI-compatible streaming chat endpoint (llama.cpp server, vLLM, ...).

The model only ever produces words to say: robot actions stay with the embedded policy's whitelist. Replies are
streamed a sentence (or a long clause) at a time so speech starts with the first one. The conversation keeps only
what the robot actually said (the words played, from speech progress), not what it planned to say.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from optimus_voice.common.worker import Worker

SYSTEM_PROMPT = ("You are the voice of a friendly humanoid robot. Answer in one to three short spoken sentences, "
                 "plain words only: no lists, no markdown, no emoji.")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[,;:])\s+")


class LlmError(RuntimeError):
    """The endpoint could not be reached, timed out, or answered something that is not a chat stream."""


@dataclass
class LlmConfig:
    url: str                 # base URL, e.g. http://localhost:8080/v1
    model: str = ""
    timeout_s: float = 1.5   # to connect, and between two pieces of the stream (the first included)
    max_tokens: int = 120


class ChatStream:
    """Streams a chat completion's text deltas from an OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(self, config: LlmConfig) -> None:
        self.config = config

    def deltas(self, messages: list[dict[str, str]]) -> Iterator[str]:
        body = json.dumps({"model": self.config.model, "messages": messages, "stream": True,
                           "max_tokens": self.config.max_tokens}).encode()
        request = urllib.request.Request(self.config.url.rstrip("/") + "/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                for raw in response:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content") or ""
                    except (ValueError, KeyError, IndexError, TypeError) as exc:
                        raise LlmError(f"not a chat completion chunk: {data[:80]!r}") from exc
                    if delta:
                        yield delta
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LlmError(f"{self.config.url}: {getattr(exc, 'reason', exc)}") from exc


def sentences(deltas: Iterable[str], min_words: int = 8, max_words: int = 60) -> Iterator[str]:
    """Group streamed text into speakable pieces: sentences, or clauses once they have `min_words`. Stops after
    `max_words` in all (the reply cap)."""
    buffer, said = "", 0
    for delta in deltas:
        buffer += delta
        while True:
            cut = next((m.end() for m in _BOUNDARY.finditer(buffer)
                        if buffer[m.start() - 1] in ".!?" or len(buffer[:m.start()].split()) >= min_words), None)
            if cut is None:
                break
            piece, buffer = buffer[:cut].strip(), buffer[cut:]
            if piece:
                words = piece.split()[:max_words - said]
                said += len(words)
                yield " ".join(words)
                if said >= max_words:
                    return
    if buffer.strip():
        yield " ".join(buffer.split()[:max_words - said])


class Conversation:
    """The last exchanges as chat messages: what the user said and what the robot actually said back."""

    def __init__(self, turns: int = 6, system: str = SYSTEM_PROMPT) -> None:
        self.system = system
        self.exchanges: deque[list] = deque(maxlen=turns)  # [turn id, user said, robot said]

    def spoken(self, turn_id: int, user: str, robot: str) -> None:
        """The robot finished (or was interrupted in) a piece of its reply to turn_id; `robot` is what played."""
        if self.exchanges and self.exchanges[-1][0] == turn_id:
            self.exchanges[-1][2] = f"{self.exchanges[-1][2]} {robot.strip()}".strip()
        elif user.strip() or robot.strip():
            self.exchanges.append([turn_id, user.strip(), robot.strip()])

    def messages(self, user: str, emotion: str = "neutral") -> list[dict[str, str]]:
        system = self.system + (f" The user sounds {emotion}; respond to that kindly." if emotion != "neutral" else "")
        out = [{"role": "system", "content": system}]
        for _, said, answered in self.exchanges:
            out += [{"role": "user", "content": said}, {"role": "assistant", "content": answered or "(interrupted)"}]
        return [*out, {"role": "user", "content": user}]


@dataclass
class LlmEvent:
    """What the worker hands back: a sentence to say, a failure, or the end of a reply."""

    turn_id: int
    kind: str              # "sentence", "failed" or "done"
    text: str = ""         # the sentence, or the error
    first_ms: float = 0.0  # for the first sentence: ms from the request to it


class LlmWorker:
    """Streams the model's replies one at a time on a thread of its own and hands each sentence to `deliver`
    (which must pass it on to the dialogue's thread). A reply can be cancelled; a newer one cancels it too."""

    def __init__(self, stream: ChatStream, deliver: Callable[[LlmEvent], None], max_words: int = 60) -> None:
        self.stream = stream
        self.deliver = deliver
        self.max_words = max_words
        self._cancelled: set[int] = set()
        self._latest = 0
        self._worker: Worker[tuple[int, list[dict[str, str]]]] = Worker("llm", self._reply, self._failed)

    def submit(self, turn_id: int, messages: list[dict[str, str]]) -> None:
        self._latest = max(self._latest, turn_id)
        self._worker.put((turn_id, messages))

    def cancel(self, turn_id: int) -> None:
        self._cancelled.add(turn_id)

    def _wanted(self, turn_id: int) -> bool:
        return turn_id not in self._cancelled and turn_id >= self._latest

    def _reply(self, job: tuple[int, list[dict[str, str]]]) -> None:
        turn_id, messages = job
        t0 = time.perf_counter()
        said = 0
        try:
            for piece in sentences(self.stream.deltas(messages), max_words=self.max_words):
                if not self._wanted(turn_id):
                    return
                self.deliver(LlmEvent(turn_id, "sentence", piece, (time.perf_counter() - t0) * 1000 if not said
                                      else 0.0))
                said += 1
        except LlmError as exc:
            self.deliver(LlmEvent(turn_id, "failed", str(exc)))
            return
        self.deliver(LlmEvent(turn_id, "done"))

    def _failed(self, exc: Exception) -> None:
        self.deliver(LlmEvent(self._latest, "failed", f"{type(exc).__name__}: {exc}"))

    def stop(self) -> None:
        self._cancelled.add(self._latest)
        self._worker.stop(timeout_s=5.0)
