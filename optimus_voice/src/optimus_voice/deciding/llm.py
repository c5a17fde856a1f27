"""Optional language-model replies: any OpenAI-compatible streaming chat endpoint (llama.cpp server, vLLM, ...).

The model only ever produces words to say: robot actions stay with the embedded policy's whitelist. Replies are
streamed a sentence (or a long clause) at a time so speech starts with the first one. The conversation keeps only
what the robot actually said (the words played, from speech progress), not what it planned to say.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from optimus_voice.common.worker import Worker

SYSTEM_PROMPT = ("You are the voice of a friendly humanoid robot. Answer in one to three short spoken sentences, "
                 "plain words only: no lists, no markdown, no emoji.")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[,;:])\s+|\s*\n\s*")
# A full stop that ends no sentence: an abbreviation's ("e.g.", "Dr."), an initial's, a list's number ("1.").
_NOT_AN_END = re.compile(r"(?:(?:^|[\s(])(?i:e\.g|i\.e|etc|approx|vs|dr|mr|mrs|ms|st|[a-z])|^\s*\d{1,2})\.$")
# Where a first piece may end without punctuation: before a word that starts a new phrase. Small models write long
# sentences without commas; waiting for their end held the voice back by a second (bench e2e --llm local).
_PHRASE_START = re.compile(r"\s+(?=(?:and|but|or|so|because|with|that|which|who|when|where|while|for|to|in|on|at|"
                           r"of|from|after|before|as|if|like|about|into|than)\s)", re.IGNORECASE)


class LlmError(RuntimeError):
    """The endpoint could not be reached, timed out, or answered something that is not a chat stream."""


class LlmCancelled(Exception):
    """The reply was cancelled (a barge-in, a newer turn): not a failure."""


@dataclass
class LlmConfig:
    url: str                 # base URL, e.g. http://localhost:8080/v1
    model: str = ""
    timeout_s: float = 1.5   # to connect, and between two pieces of the stream (the first included)
    max_tokens: int = 120
    deadline_s: float = 10.0  # for the whole reply


class ChatStream:
    """Streams one chat completion's text deltas from an OpenAI-compatible `/chat/completions` endpoint; `abort()`
    from another thread closes it at once (the server stops generating when it notices)."""

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.timings: dict = {}  # llama.cpp's last "timings": prompt_n, predicted_per_second, ...
        self.deltas_received = 0  # text pieces streamed; the timings come only with the last, not when cut short
        self._first_last: list[float] = []  # monotonic times of the first and the latest piece
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._aborted = False

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread now

    def pieces_per_second(self) -> float | None:
        """The stream's own generation rate (llama.cpp sends one token a piece), for when the server's timings are
        missing: a reply cut short at its word limit never gets them."""
        if self.deltas_received < 2 or self._first_last[-1] <= self._first_last[0]:
            return None
        return (self.deltas_received - 1) / (self._first_last[-1] - self._first_last[0])

    def deltas(self, messages: list[dict[str, str]]) -> Iterator[str]:
        url = urllib.parse.urlsplit(self.config.url.rstrip("/") + "/chat/completions")
        body = json.dumps({"model": self.config.model, "messages": messages, "stream": True,
                           "max_tokens": self.config.max_tokens, "cache_prompt": True,
                           # small models loop ("He was a man. He was a man."): llama.cpp's penalties against it
                           "repeat_penalty": 1.3, "frequency_penalty": 0.5, "temperature": 0.7}).encode()
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = kind(url.hostname, url.port, timeout=self.config.timeout_s)
        deadline = time.monotonic() + self.config.deadline_s
        self.deltas_received, self._first_last = 0, []
        with self._lock:
            if self._aborted:
                raise LlmCancelled
            self._connection = connection
        try:
            connection.request("POST", url.path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise LlmError(f"{self.config.url}: HTTP {response.status} {response.reason}")
            for raw in response:
                if time.monotonic() > deadline:
                    raise LlmError(f"{self.config.url}: the reply took longer than {self.config.deadline_s:g} s")
                delta = self._delta(raw.decode("utf-8", "replace").strip())
                if delta is None:
                    return
                if delta:
                    self.deltas_received += 1
                    self._first_last[1:] = [time.monotonic()]
                    yield delta
        except (OSError, http.client.HTTPException) as exc:
            if self._aborted:
                raise LlmCancelled from exc
            raise LlmError(f"{self.config.url}: {exc}") from exc
        finally:
            with self._lock:
                self._connection = None
            connection.close()
        if self._aborted:
            raise LlmCancelled

    def _delta(self, line: str) -> str | None:
        """The text of one server-sent line ("" for none), or None at the end of the stream."""
        if not line.startswith("data:"):
            return ""
        data = line[5:].strip()
        if data == "[DONE]":
            return None
        try:
            chunk = json.loads(data)
            self.timings = chunk.get("timings", self.timings)
            choices = chunk["choices"]
            return (choices[0].get("delta", {}).get("content") or "") if choices else ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LlmError(f"not a chat completion chunk: {data[:80]!r}") from exc


def _ends(buffer: str, boundary: re.Match) -> bool | None:
    """At a boundary: True where a sentence or a line ends (a list's lines are said one by one), False where only
    a clause does, None where a full stop ends no sentence."""
    before = buffer[:boundary.start()]
    if "\n" in boundary[0]:
        return True
    if before.endswith("."):
        return None if _NOT_AN_END.search(before) else True
    return before[-1:] in "!?"


def sentences(deltas: Iterable[str], min_words: int = 8, max_words: int = 60, first_min_words: int = 4,
              first_phrase_words: int = 6) -> Iterator[str]:
    """Group streamed text into speakable pieces: sentences, or clauses once they have `min_words` (the first piece
    already at `first_min_words`, so the voice can start sooner, or with no punctuation in sight before a phrase's
    first word such as "with" or "because", once it has `first_phrase_words`). The reply stops
    at the last whole piece within `max_words` (the first is cut there if it alone is longer), or where the model
    repeats a piece it said already; a piece it left unfinished at its token limit (no end punctuation) is not
    spoken unless nothing else was, or it finishes the sentence the first piece began."""
    buffer, said, seen, mid_sentence = "", 0, set(), False
    for delta in deltas:
        buffer += delta
        while True:
            least = first_min_words if not said else min_words
            cut = next((m.end() for m in _BOUNDARY.finditer(buffer) if (end := _ends(buffer, m)) is not None
                        and (end or len(buffer[:m.start()].split()) >= least)), None)
            phrase_cut = cut is None and not said
            if phrase_cut:
                cut = next((m.end() for m in _PHRASE_START.finditer(buffer)
                            if len(buffer[:m.start()].split()) >= first_phrase_words), None)
            if cut is None:
                break
            piece, buffer = buffer[:cut].strip(), buffer[cut:]
            if not piece:
                continue
            if piece.lower() in seen:  # the model repeats itself: the reply is over
                return
            seen.add(piece.lower())
            words = piece.split()
            if said and said + len(words) > max_words:
                return
            said += len(words[:max_words])
            mid_sentence = phrase_cut  # the next piece finishes the sentence this one began
            yield " ".join(words[:max_words])
            if said >= max_words:
                return
    tail = buffer.split()
    if tail and not said:
        yield " ".join(tail[:max_words])
    elif tail and (buffer.rstrip()[-1] in ".!?" or mid_sentence) and said + len(tail) <= max_words:
        yield " ".join(tail)


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

    def forget(self, turn_id: int) -> None:
        """Drop the exchange of a turn that a later one went on from: the later one holds all it said."""
        self.exchanges = deque((e for e in self.exchanges if e[0] != turn_id), maxlen=self.exchanges.maxlen)

    def history(self) -> list[dict[str, str]]:
        """The system prompt and the exchanges so far: the start every next request shares (the server keeps it
        in its prompt cache, so a turn only costs its own new words)."""
        out = [{"role": "system", "content": self.system}]
        for _, said, answered in self.exchanges:
            out += [{"role": "user", "content": said}, {"role": "assistant", "content": answered or "(interrupted)"}]
        return out

    def messages(self, user: str, emotion: str = "neutral") -> list[dict[str, str]]:
        """The request for the user's new turn; how they sound goes with it, not into the shared start."""
        hint = f"(I sound {emotion}.) " if emotion != "neutral" else ""
        return [*self.history(), {"role": "user", "content": hint + user}]


WARM_UP = -1  # the job id of a warm-up: it fills the server's prompt cache, and hands nothing back


@dataclass
class LlmEvent:
    """What the worker hands back about one job: a sentence to say, a failure, the end of a reply, or a cancelled
    one."""

    job_id: int
    kind: str              # "sentence", "failed", "done" or "cancelled"
    text: str = ""         # the sentence, or the error
    ms: float = 0.0        # first sentence: ms from the request to it; cancelled: ms from cancel() to the end
    timings: dict | None = None  # done: the server's timings (tokens per second, prompt tokens), when it sends them


class LlmWorker:
    """Streams the model's replies one at a time on a thread of its own and hands each sentence to `deliver`
    (which must pass it on to the dialogue's thread). `cancel(job)` ends that job's reply at once, closing its
    stream; a newer job cancels the one running. Job ids increase: a reply prepared before its turn was over is a
    job, and the reply asked for again when the turn went on is a newer one."""

    def __init__(self, config: LlmConfig, deliver: Callable[[LlmEvent], None], max_words: int = 60) -> None:
        self.config = config
        self.deliver = deliver
        self.max_words = max_words
        self._lock = threading.Lock()
        self._cancelled: dict[int, float] = {}  # job -> when it was cancelled (monotonic)
        self._current: tuple[int, ChatStream] | None = None
        self._latest = 0
        self._worker: Worker[tuple[int, list[dict[str, str]]]] = Worker("llm", self._reply, self._failed)

    def warm_up(self, messages: list[dict[str, str]]) -> None:
        """Have the server process `messages` (the system prompt) once, so every reply finds them in its prompt
        cache; nothing is delivered."""
        self._worker.put((WARM_UP, messages))

    def submit(self, job_id: int, messages: list[dict[str, str]]) -> None:
        with self._lock:
            self._latest = max(self._latest, job_id)
            current = self._current
        if current is not None and current[0] < job_id:
            if current[0] == WARM_UP:
                current[1].abort()  # a reply is wanted now: the warm-up must not hold it up
            else:
                self.cancel(current[0])
        self._worker.put((job_id, messages))

    def cancel(self, job_id: int) -> None:
        with self._lock:
            self._cancelled.setdefault(job_id, time.monotonic())
            current = self._current
        if current is not None and current[0] == job_id:
            current[1].abort()

    def _wanted(self, job_id: int) -> bool:
        with self._lock:
            return job_id not in self._cancelled and job_id >= self._latest

    def _reply(self, job: tuple[int, list[dict[str, str]]]) -> None:
        job_id, messages = job
        if job_id == WARM_UP:
            if self._worker.pending():
                return  # a reply waits: it reads the conversation anyway
            stream = ChatStream(dataclasses.replace(self.config, max_tokens=1))
            with self._lock:
                self._current = (WARM_UP, stream)
            with contextlib.suppress(LlmError, LlmCancelled):
                for _ in stream.deltas(messages):
                    pass
            with self._lock:
                self._current = None
            return
        if not self._wanted(job_id):
            return
        stream = ChatStream(self.config)
        with self._lock:
            self._current = (job_id, stream)
        t0 = time.perf_counter()
        said = 0
        try:
            for piece in sentences(stream.deltas(messages), max_words=self.max_words):
                if not self._wanted(job_id):
                    stream.abort()
                    raise LlmCancelled
                self.deliver(LlmEvent(job_id, "sentence", piece, (time.perf_counter() - t0) * 1000 if not said
                                      else 0.0))
                said += 1
        except LlmCancelled:
            with self._lock:
                since = self._cancelled.get(job_id, time.monotonic())
            self.deliver(LlmEvent(job_id, "cancelled", ms=(time.monotonic() - since) * 1000))
            return
        except LlmError as exc:
            self.deliver(LlmEvent(job_id, "failed", str(exc)))
            return
        finally:
            with self._lock:
                self._current = None
                for old in [j for j in self._cancelled if j < job_id - 1000]:  # the cancellations of old jobs
                    del self._cancelled[old]
        timings = dict(stream.timings)
        rate = stream.pieces_per_second()
        if "predicted_per_second" not in timings and rate is not None:
            timings["predicted_per_second"] = rate
        self.deliver(LlmEvent(job_id, "done", timings=timings or None))

    def _failed(self, exc: Exception) -> None:
        self.deliver(LlmEvent(self._latest, "failed", f"{type(exc).__name__}: {exc}"))

    def stop(self) -> None:
        with self._lock:
            current = self._current
        if current is not None:
            current[1].abort()
        self._worker.stop(timeout_s=5.0)
