"""What of the robot's speech has actually been played, word by word (no rclpy).

The speaker reports the samples it played of each reply (or, without a speaker that reports, the clock says how
much must have played since the first frame); the word ends from the synthesis turn that into the words the user
has heard. Those, not the planned reply, are what "say that again" repeats and what the conversation remembers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from optimus_voice.contract.stamps import NS_PER_S

STARTED, SPEAKING, DONE, INTERRUPTED = "STARTED", "SPEAKING", "DONE", "INTERRUPTED"


@dataclass
class Utterance:
    """One reply being spoken."""

    turn_id: int
    text: str
    words: list[tuple[str, int]] = field(default_factory=list)  # (word, end sample within the reply)
    samples: int = 0             # synthesized (and sent) so far
    synthesized: bool = False    # all of it has been sent
    started: bool = False
    finished: bool = False       # done or interrupted: nothing more is sent or reported
    played: int = 0
    first_audio_ns: int = 0
    offset: int = 0              # samples of the same turn sent before this reply (the speaker counts per turn)

    def spoken(self) -> tuple[int, str]:
        """Number and text of the words played so far."""
        done = [w for w, end in self.words if end <= self.played]
        return len(done), " ".join(done)


@dataclass
class Progress:
    """A speech-progress report of one reply."""

    turn_id: int
    state: str                   # STARTED, SPEAKING, DONE or INTERRUPTED
    text: str                    # the whole planned reply
    spoken_text: str
    words_played: int
    words_total: int
    samples_played: int


class PlaybackTracker:
    """The reply being spoken, which requests supersede it, and how much of it has been played."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.current: Utterance | None = None
        self.latest_turn = 0
        self.taken = 0       # requests taken so far: the last one's ticket
        self._stopped = 0    # requests taken before the last stop: none of them is spoken any more
        self._lock = threading.Lock()

    def request(self, turn_id: int) -> tuple[bool, Progress | None]:
        """A reply for turn_id was asked for: (take it?, the INTERRUPTED report of the reply it supersedes). A
        request taken gets the ticket `taken`."""
        if turn_id < self.latest_turn:
            return False, None
        interrupted = self.interrupt() if turn_id > self.latest_turn else None
        self.latest_turn = turn_id
        self.taken += 1
        return True, interrupted

    def stop(self) -> Progress | None:
        """Stop speaking: the reply being spoken, and every one asked for before, still waiting its turn (the next
        sentences of a language model's reply). The INTERRUPTED report, or None if nothing was being spoken."""
        self._stopped = self.taken
        return self.interrupt()

    def wanted(self, ticket: int | None) -> bool:
        """Whether the request with this ticket is still to be spoken (no stop came since it was taken); a reply
        without a ticket (not taken through `request`) always is."""
        return ticket is None or ticket > self._stopped

    def superseded(self, turn_id: int) -> bool:
        return turn_id < self.latest_turn

    def begin(self, turn_id: int, text: str) -> Utterance:
        """The reply turn_id's text is about to be sent. More of a turn whose reply is still being spoken (a language
        model's next sentence) continues it: one reply, one account of its words, as the speaker counts the turn's
        samples."""
        with self._lock:
            current = self.current
            if current is not None and current.turn_id == turn_id and not current.finished:
                current.text = f"{current.text} {text}".strip()
                current.synthesized = False
                return current
            offset = 0
            if current is not None and current.turn_id == turn_id:
                # All of it played; or, stopped, what the speaker played of it before it dropped the rest.
                whole = current.synthesized and current.played >= current.samples
                offset = current.offset + (current.samples if whole else current.played)
            self.current = Utterance(turn_id, text, offset=offset)
            return self.current

    def interrupt(self) -> Progress | None:
        """Stop the current reply: its INTERRUPTED report, or None if nothing was being spoken."""
        with self._lock:
            utt = self.current
            if utt is None or utt.finished:
                return None
            utt.finished = True
        return self.progress(utt, INTERRUPTED)

    def finish_quietly(self) -> None:
        """Stop the current reply without a report (the node is being torn down)."""
        with self._lock:
            if self.current is not None:
                self.current.finished = True

    def reported(self, turn_id: int, samples_played: int, sample_rate: int, drained: bool) -> list[Progress]:
        """The speaker played `samples_played` samples (at its `sample_rate`) of turn_id's reply."""
        utt = self.current
        if utt is None or turn_id != utt.turn_id or utt.finished:
            return []
        ratio = self.sample_rate / sample_rate if sample_rate else 1.0
        utt.played = max(utt.played, int(samples_played * ratio) - utt.offset)
        return self._advance(utt, drained)

    def by_clock(self, now_ns: int) -> list[Progress]:
        """Without a speaker that reports, assume it plays in real time from the first frame."""
        utt = self.current
        if utt is None or utt.finished or not utt.first_audio_ns:
            return []
        utt.played = min(utt.samples, int((now_ns - utt.first_audio_ns) / NS_PER_S * self.sample_rate))
        return self._advance(utt, drained=utt.played >= utt.samples)

    def _advance(self, utt: Utterance, drained: bool) -> list[Progress]:
        out = []
        if not utt.started and utt.played > 0:
            utt.started = True
            out.append(self.progress(utt, STARTED))
        if utt.synthesized and drained and utt.played >= utt.samples:
            with self._lock:
                if utt.finished:
                    return out
                utt.finished = True
            out.append(self.progress(utt, DONE))
        elif utt.started:
            out.append(self.progress(utt, SPEAKING))
        return out

    def progress(self, utt: Utterance, state: str) -> Progress:
        n, text = utt.spoken() if state != DONE else (len(utt.words), " ".join(w for w, _ in utt.words))
        return Progress(utt.turn_id, state, utt.text, text, n, len(utt.text.split()), utt.played)
