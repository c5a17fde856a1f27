"""When has the user finished? Decide from what they said, not only from how long they have been quiet.

A pause after a complete sentence ends the turn quickly; a pause after "and", "um", a comma or a trailing "..."
is someone thinking, and gets longer before the turn ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimus_voice.common.words import words

if TYPE_CHECKING:
    from optimus_voice.hearing.asr import AsrConfig

# Words a finished sentence almost never ends with, even when Whisper put a full stop after them: conjunctions,
# fillers, articles and possessives. Kept short on purpose; "Where are you from?" must still count as complete.
CONTINUATION_WORDS = frozenset([
    "and", "or", "but", "so", "because", "cause", "although", "though", "unless", "than", "whereas", "um",
    "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "the", "a", "an", "my", "your", "our", "their", "of"
])

# Words a statement rarely ends with although a question may ("Where are you from?"): Whisper often puts a full
# stop after a trailing "and" misheard as "in". Waiting longer after these costs little; cutting the user off
# costs a turn.
STATEMENT_CONTINUATION_WORDS = frozenset([
    "in", "on", "at", "to", "for", "from", "with", "by", "about", "into", "onto", "over", "under", "between",
    "after", "before", "through", "as", "like", "than", "then", "if", "when", "while", "since", "until", "i",
    "we", "they", "he", "she", "very", "every"
])

def sounds_complete(text: str) -> bool:
    """True unless `text` trails off: a trailing comma, dash or "...", a word that continues a sentence, or a
    statement ending on a preposition or subject pronoun. Missing end punctuation alone does not count: Whisper
    often leaves it out of short windows."""
    text = text.strip()
    if not text or text.endswith(("...", "…", ",", "-", ";", ":")):
        return False
    said = words(text)
    if not said or said[-1] in CONTINUATION_WORDS:
        return False
    return text[-1] in "?!" or said[-1] not in STATEMENT_CONTINUATION_WORDS


def needed_silence_ms(complete_text: bool, done: float | None, cfg: AsrConfig) -> float:
    """The silence that ends the turn at a pause, from the text rule and, when it ran, the audio turn model's
    probability `done` that the user is finished. Both calling it finished end it soonest (fast_silence_ms); the
    voice saying "more to come" holds it whatever the text says; in between, unsure_silence_ms."""
    if done is None:
        return cfg.end_silence_ms if complete_text else cfg.hold_silence_ms
    if done < cfg.turn_hold_below:
        return cfg.hold_silence_ms
    if complete_text and done >= cfg.turn_done_above:
        return cfg.fast_silence_ms
    return cfg.unsure_silence_ms if complete_text or done >= cfg.turn_done_above else cfg.hold_silence_ms
