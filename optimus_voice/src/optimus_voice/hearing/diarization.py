"""Who spoke when in a recording: Silero speech regions, GE2E voice vectors of sliding windows, clustering.

Offline (a whole file at once): `optimus-voice diarize` and `bench/diarize.py`. Steps:
1. speech regions from Silero VAD at a low threshold (meeting audio is quiet and far from the microphone);
2. a voice vector every `step_s` for a `window_s` window inside each region (short regions get one of their own);
3. agglomerative clustering of the vectors (average linkage, cosine) until the closest clusters are further
   apart than `merge_below`; clusters holding less than `min_cluster_s` of speech join their nearest neighbour;
4. each 10 ms of speech takes the cluster of the windows covering it (votes weighted toward window centres).
   Where the two best clusters both hold a large share of the votes (a change of speaker, where meetings overlap
   most), the frame gets both: the only overlap this can find. Off by default (`overlap_share` 1.0): it did not
   lower the DER of the tune half.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from optimus_voice.hearing.voice_encoder import RATE, VoiceEncoder

FRAME_S = 0.01  # the resolution of the output


@dataclass(frozen=True)
class DiarizationConfig:
    """Defaults chosen by `bench/diarize.py --tune` on the tune half of the AMI excerpts (BENCHMARKS.md)."""

    vad_threshold: float = 0.1  # far-field meeting speech rarely reaches Silero's usual 0.5
    min_speech_s: float = 0.25  # shorter speech regions are dropped
    min_silence_s: float = 0.6  # shorter gaps inside speech are bridged
    pad_s: float = 0.15  # added around each region
    window_s: float = 1.6
    step_s: float = 0.2
    min_window_s: float = 0.5  # a region shorter than this gets no vector of its own: it takes its neighbours'
    merge_below: float = 0.35  # cosine distance: clusters closer than this are one voice (the middle of 0.3-0.4)
    min_cluster_s: float = 2.0  # seconds of speech: smaller clusters join their nearest
    overlap_share: float = 1.0  # second cluster's share of a frame's votes that marks overlap (1 = never; the
    # tune half scored worse with it on at 0.25 and 0.35)
    max_speakers: int = 8


@dataclass
class Segment:
    start: float
    end: float
    speaker: str


@dataclass
class Diarization:
    segments: list[Segment]
    labels: np.ndarray  # (frames, speakers) bool at FRAME_S
    speakers: list[str]
    windows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step

    def rttm(self, uri: str) -> str:
        return "".join(f"SPEAKER {uri} 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> {s.speaker} <NA> <NA>\n"
                       for s in self.segments)


def speech_regions(probs: np.ndarray, hop_s: float, config: DiarizationConfig) -> list[tuple[float, float]]:
    """Regions where the VAD probability passes the threshold, gaps bridged, short bursts dropped, padded."""
    active = np.asarray(probs) >= config.vad_threshold
    regions: list[list[float]] = []
    i = 0
    while i < len(active):
        if not active[i]:
            i += 1
            continue
        j = i
        while j < len(active) and active[j]:
            j += 1
        start, end = i * hop_s, j * hop_s
        if regions and start - regions[-1][1] < config.min_silence_s:
            regions[-1][1] = end
        else:
            regions.append([start, end])
        i = j
    duration = len(active) * hop_s
    return [(max(0.0, s - config.pad_s), min(duration, e + config.pad_s)) for s, e in regions
            if e - s >= config.min_speech_s]


def window_starts(regions: list[tuple[float, float]], config: DiarizationConfig) -> list[tuple[float, float]]:
    """(start, end) of every window: sliding inside long regions, the whole region for short ones."""
    windows = []
    for start, end in regions:
        length = end - start
        if length < config.min_window_s:
            continue
        if length <= config.window_s:
            windows.append((start, end))
            continue
        t = start
        while t + config.window_s <= end + 1e-6:
            windows.append((t, t + config.window_s))
            t += config.step_s
        if end - (windows[-1][1]) > config.step_s / 2:
            windows.append((end - config.window_s, end))
    return windows


def speech_seconds(windows: list[tuple[float, float]], regions: list[tuple[float, float]]) -> np.ndarray:
    """Each window's share of the speech of its region, so that a cluster's weights sum to its seconds of speech."""
    weights = np.zeros(len(windows))
    for start, end in regions:
        inside = [i for i, (a, b) in enumerate(windows) if a >= start - 1e-6 and b <= end + 1e-6]
        weights[inside] = (end - start) / max(len(inside), 1)
    return weights


def cluster(vectors: np.ndarray, weights: np.ndarray, merge_below: float, min_weight: float,
            max_clusters: int) -> np.ndarray:
    """Average-linkage agglomerative clustering on cosine distance; tiny clusters join their nearest."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, int)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sim = unit @ unit.T
    members = [[i] for i in range(n)]
    # Average linkage over cluster pairs, kept as a (cluster x cluster) matrix of summed similarities.
    total = sim.copy()
    alive = list(range(n))
    while len(alive) > 1:
        sizes = np.array([len(members[a]) for a in alive], float)
        sub = total[np.ix_(alive, alive)] / np.outer(sizes, sizes)
        np.fill_diagonal(sub, -np.inf)
        i, j = np.unravel_index(np.argmax(sub), sub.shape)
        if 1.0 - sub[i, j] > merge_below and len(alive) <= max_clusters:
            break
        a, b = alive[i], alive[j]
        members[a] += members[b]
        total[a, :] += total[b, :]
        total[:, a] += total[:, b]
        alive.remove(b)
    labels = np.empty(n, int)
    for k, a in enumerate(alive):
        labels[members[a]] = k
    return _absorb_small(unit, labels, weights, min_weight)


def _absorb_small(unit: np.ndarray, labels: np.ndarray, weights: np.ndarray, min_weight: float) -> np.ndarray:
    while True:
        ids = np.unique(labels)
        mass = np.array([weights[labels == k].sum() for k in ids])
        if len(ids) <= 1 or mass.min() >= min_weight:
            break
        small = ids[np.argmin(mass)]
        centroids = {k: unit[labels == k].mean(axis=0) for k in ids if k != small}
        centre = unit[labels == small].mean(axis=0)
        nearest = max(centroids, key=lambda k: float(centroids[k] @ centre))
        labels = np.where(labels == small, nearest, labels)
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def frame_labels(windows: list[tuple[float, float]], labels: np.ndarray, regions: list[tuple[float, float]],
                 n_frames: int, overlap_share: float) -> np.ndarray:
    """(frames, clusters) bool: each speech frame's winning cluster, and a second one where votes are split."""
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    votes = np.zeros((n_frames, max(n_clusters, 1)))
    for (start, end), label in zip(windows, labels, strict=True):
        a, b = round(start / FRAME_S), min(n_frames, round(end / FRAME_S))
        if b <= a:
            continue
        # Triangular weight: a window knows its middle best.
        w = 1.0 - np.abs(np.linspace(-1, 1, b - a)) * 0.9
        votes[a:b, label] += w
    speech = np.zeros(n_frames, bool)
    for start, end in regions:
        speech[round(start / FRAME_S):min(n_frames, round(end / FRAME_S))] = True
    out = np.zeros((n_frames, max(n_clusters, 1)), bool)
    if n_clusters == 0:
        return out[:, :0]
    # Speech frames no window covers (short regions) take the nearest covered frame's votes.
    covered = votes.sum(axis=1) > 0
    if covered.any():
        idx = np.where(covered)[0]
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(n_frames)), 0, len(idx) - 1)]
        prev = idx[np.clip(np.searchsorted(idx, np.arange(n_frames)) - 1, 0, len(idx) - 1)]
        pick = np.where(np.abs(prev - np.arange(n_frames)) < np.abs(nearest - np.arange(n_frames)), prev, nearest)
        votes = np.where(covered[:, None], votes, votes[pick])
    order = np.argsort(-votes, axis=1)
    rows = np.arange(n_frames)
    out[rows, order[:, 0]] = speech
    if n_clusters > 1 and overlap_share < 1.0:
        share = votes[rows, order[:, 1]] / np.maximum(votes.sum(axis=1), 1e-9)
        out[rows, order[:, 1]] |= speech & (share >= overlap_share)
    return out


def segments_of(labels: np.ndarray, names: list[str]) -> list[Segment]:
    segments = []
    for k, name in enumerate(names):
        active = np.concatenate([[False], labels[:, k], [False]])
        edges = np.flatnonzero(np.diff(active.astype(np.int8)))
        segments += [Segment(round(float(a) * FRAME_S, 3), round(float(b) * FRAME_S, 3), name)
                     for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return sorted(segments, key=lambda s: (s.start, s.speaker))


class Diarizer:
    """Audio of a whole recording in, speaker segments out."""

    def __init__(self, config: DiarizationConfig | None = None, encoder: VoiceEncoder | None = None,
                 vad_model_path: str = "") -> None:
        from optimus_voice.hearing.vad import SileroVad

        self.config = config or DiarizationConfig()
        self.encoder = encoder or VoiceEncoder()
        self._vad = SileroVad(vad_model_path)

    def vad_probabilities(self, audio: np.ndarray) -> tuple[np.ndarray, float]:
        from optimus_voice.hearing.vad import WINDOW

        self._vad.reset()
        return np.array(self._vad.push(audio)), WINDOW / RATE

    def __call__(self, audio: np.ndarray, probs: np.ndarray | None = None,
                 vectors: dict | None = None) -> Diarization:
        """Diarize 16 kHz mono audio. `probs` / `vectors` (a cache keyed by window) skip work already done."""
        import time

        cfg, seconds = self.config, {}
        t0 = time.perf_counter()
        if probs is None:
            probs, hop = self.vad_probabilities(audio)
        else:
            from optimus_voice.hearing.vad import WINDOW

            hop = WINDOW / RATE
        seconds["vad"] = time.perf_counter() - t0
        regions = speech_regions(probs, hop, cfg)
        windows = window_starts(regions, cfg)
        t0 = time.perf_counter()
        embedded = self._embed(audio, windows, vectors if vectors is not None else {})
        seconds["embed"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        weights = speech_seconds(windows, regions)
        labels = cluster(embedded, weights, cfg.merge_below, cfg.min_cluster_s, cfg.max_speakers)
        n_frames = int(np.ceil(len(audio) / RATE / FRAME_S))
        frames = frame_labels(windows, labels, regions, n_frames, cfg.overlap_share)
        names = [f"voice_{k}" for k in range(frames.shape[1])]
        seconds["cluster"] = time.perf_counter() - t0
        return Diarization(segments_of(frames, names), frames, names, len(windows), seconds)

    def _embed(self, audio: np.ndarray, windows: list[tuple[float, float]], cache: dict) -> np.ndarray:
        from optimus_voice.hearing.voice_encoder import EMBEDDING_SIZE, mel_spectrogram, normalize_volume

        if not windows:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        todo = [w for w in windows if w not in cache]
        level = normalize_volume(audio)
        for length in sorted({round(e - s, 3) for s, e in todo}):
            batch = [w for w in todo if round(w[1] - w[0], 3) == length]
            n = round(length * RATE)
            pieces = [level[round(s * RATE):][:n] for s, _ in batch]
            mels = np.stack([mel_spectrogram(np.pad(p, (0, n - len(p)))) for p in pieces])
            for w, v in zip(batch, self.encoder.encode_mels(mels), strict=True):
                cache[w] = v
        return np.stack([cache[w] for w in windows])
