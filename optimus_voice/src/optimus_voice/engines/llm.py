"""Optional language-model replies: any OpenAI-compatible streaming chat endpoint (llama.cpp server, vLLM, ...).

The model only ever produces words to say: robot actions stay with the embedded policy's whitelist. Replies are
streamed a sentence (or a long clause) at a time so speech starts with the first one. The conversation keeps only
what the robot actually said (the words played, from speech progress), not what it planned to say.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
