"""Prints the conversation as it happens (for `optimus-voice up --show` and the demo), from the graph's topics."""

from __future__ import annotations

import threading
import time

from optimus_voice.contract import topics
from optimus_voice.contract.stamps import from_time, ms_between
from optimus_voice.tools.probe import TopicProbe

WATCH = (topics.TRANSCRIPT, topics.EMOTION, topics.SPEECH_REQUEST, topics.AUDIO_OUT, topics.SPEECH_PROGRESS,
         topics.DIALOGUE_STATE)


class ConversationPrinter:
    """Polls a TopicProbe and prints one block per user turn: heard, emotion, reply, and latencies."""

    def __init__(self, echo=print, namespace: str = "") -> None:
        self.probe = TopicProbe(WATCH, name="optimus_voice_conversation", namespace=namespace)
        self.echo = echo
        self._seen: dict[str, int] = {}
        self._speech_end: dict[int, int] = {}
        self._intent: dict[int, tuple[float, str]] = {}  # turn -> (when seen, intent of its latest state)
        self._requests: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _new(self, topic: topics.Topic) -> list:
        msgs = self.probe.of(topic)
        start = self._seen.get(topic.name, 0)
        self._seen[topic.name] = len(msgs)
        return msgs[start:]

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for m in self._new(topics.TRANSCRIPT):
                if m.is_final and m.text:
                    self._speech_end[m.turn_id] = from_time(m.speech_end)
                    lag = ms_between(from_time(m.speech_end), from_time(m.header.stamp))
                    self.echo(f"\n[turn {m.turn_id}] user: {m.text!r} (final transcript {lag:.0f} ms after speech end)")
            for m in self._new(topics.EMOTION):
                if m.is_final:
                    self.echo(f"[turn {m.turn_id}] emotion: {m.label} (valence {m.valence:+.2f}, "
                              f"mood {m.mood_valence:+.2f})")
            states = self._new(topics.DIALOGUE_STATE)
            for s in states:
                self._intent[s.turn_id] = (time.monotonic(), s.intent)
            self._requests += [(time.monotonic(), m) for m in self._new(topics.SPEECH_REQUEST)]
            # The dialogue state that says where a reply came from follows its request: wait a little for it.
            ready = [r for r in self._requests if self._intent.get(r[1].turn_id, (0.0,))[0] >= r[0]
                     or time.monotonic() - r[0] > 1.0]
            self._requests = [r for r in self._requests if r not in ready]
            for _, m in ready:
                if m.action == m.ACTION_SAY:
                    source = "language model" if self._intent.get(m.turn_id, (0, ""))[1] == "llm" else "embedded"
                    how = f"{m.expression}, {m.style}" + (f", volume {m.volume:.2f}" if m.volume != 1.0 else "") + \
                        (f", rate {m.rate:.2f}" if m.rate != 1.0 else "")
                    self.echo(f"[turn {m.turn_id}] robot ({source}; {how}): {m.text!r}")
                else:
                    self.echo(f"[turn {m.turn_id}] robot told to stop: the user talks over it")
            for m in self._new(topics.AUDIO_OUT):
                end = self._speech_end.pop(m.turn_id, None)
                if end is not None:
                    lag = ms_between(end, from_time(m.header.stamp))
                    self.echo(f"[turn {m.turn_id}] first reply audio {lag:.0f} ms after the user stopped speaking "
                              "(voice-to-voice)")
            for m in self._new(topics.SPEECH_PROGRESS):
                if m.state in (m.DONE, m.INTERRUPTED):
                    how = "done" if m.state == m.DONE else "interrupted"
                    self.echo(f"[turn {m.turn_id}] speech {how}: played {m.words_played}/{m.words_total} words")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.probe.close()
