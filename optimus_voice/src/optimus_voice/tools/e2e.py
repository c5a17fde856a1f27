"""End-to-end benchmark: the whole graph as separate processes, real speech as the microphone, latency per turn
from message stamps, CPU and memory of every node.

The clips are written to an `/audio/in` bag (a few seconds of silence first, then each clip followed by a pause)
which the capture node replays in real time, exactly as `optimus-voice up mic_source:=bag` would. The stage
latencies of each turn come from message stamps (see turn_timing); the whole session is recorded to a bag that
`optimus-voice report` turns into a timeline.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from optimus_voice.audio_io import bags
from optimus_voice.contract import topics
from optimus_voice.contract.health import PROBLEMS_KEY
from optimus_voice.tools import turn_timing
from optimus_voice.tools.machine import machine

LEAD_S = 10.0  # silence before the first clip: idle listening is measured over its middle
SETTLE_S = 3.0  # the first seconds after activation (warm-up decodes) do not count as idle


class ResourceSampler:
    """CPU (% of one core) and resident memory of each node process with its children (the language-model
    server is a child of the llm node), sampled every second."""

    def __init__(self, processes: dict[str, int]) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in processes.items()}
        self._children: dict[int, object] = {}  # pid -> psutil.Process, kept so cpu_percent has a baseline
        self.samples: dict[str, list[tuple[float, float, float]]] = defaultdict(list)  # (t, cpu%, rss MB)
        self._stop = threading.Event()
        for p in self.procs.values():
            p.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self, p) -> list:
        out = [p]
        for child in p.children(recursive=True):
            if child.pid not in self._children:
                child.cpu_percent(None)  # the first reading has no baseline: it counts from the next sample
                self._children[child.pid] = child
            out.append(self._children[child.pid])
        return out

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for name, p in self.procs.items():
                try:
                    tree = self._tree(p)
                    self.samples[name].append((now, sum(q.cpu_percent(None) for q in tree),
                                               sum(q.memory_info().rss for q in tree) / 2**20))
                except Exception:  # noqa: BLE001 - a node that died or restarted: skip the sample
                    continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def summary(self, idle_from: float, idle_until: float) -> dict:
        out = {}
        for name, rows in self.samples.items():
            idle = [c for t, c, _ in rows if idle_from <= t <= idle_until]
            busy = [c for t, c, _ in rows if t > idle_until]
            rss = [r for t, _, r in rows if t > idle_until]
            # memory over the run, the mean of each fifth of it: growth that levels off (allocator arenas,
            # the largest inputs seen) looks different from a leak that keeps growing
            fifths = [round(float(np.mean(part)), 1) for part in np.array_split(rss, 5) if len(part)]
            out[name] = {"cpu_idle_pct": round(float(np.mean(idle)), 1) if idle else None,
                         "cpu_active_pct": round(float(np.mean(busy)), 1) if busy else None,
                         "rss_max_mb": round(max(r for _, _, r in rows), 1),
                         "rss_fifths_mb": fifths,
                         "rss_growth_mb": round(fifths[-1] - fifths[0], 1) if fifths else None}
        return out


def _name_clips(turns: list[dict], activity: list, clips: list, spans: list[tuple[int, int]]) -> None:
    """Each turn gets the clip its speech came from (`clip`, `clip_index`): the one its speech started in, by
    sample index (the bag's indices reach the recognizer unchanged)."""
    starts = {m.turn_id: m.start_sample_index for m in activity if m.event == m.SPEECH_START}
    for turn in turns:
        start = starts.get(turn["turn_id"])
        if start is None:
            continue
        # The turn's start includes the preroll: the clip is the one whose end comes after the speech start.
        for i, (_first, end) in enumerate(spans):
            if start < end:
                turn["clip"], turn["clip_index"] = Path(str(clips[i])).name, i
                break


def _answered_as(turns: list[dict], states: list) -> None:
    """Each turn gets what the dialogue answered it as (`answered_as`, from /dialogue/state), and `continues`
    when that was the previous turn's words and its own (deciding.continuation)."""
    answered = {m.turn_id: m.user_text for m in states if m.user_text}
    for turn in turns:
        turn["answered_as"] = answered.get(turn["turn_id"], "")
        turn["continues"] = turn["answered_as"].strip() != turn.get("heard", "").strip() \
            and turn["answered_as"].endswith(turn.get("heard", "").strip())


def run(clips: list[str | Path], pause_s: float = 4.0, log_dir: Path | None = None, record: Path | None = None,
        repeat: int = 1, echo=print, llm: str = "off", overrides: dict | None = None) -> dict:
    """Run the graph on the clips; return per-turn latencies, their p50/p95, and each node's CPU and memory.
    The whole session (every topic) goes to the bag `record` (default: in the work dir)."""
    from optimus_voice.tools import bag_ros
    from optimus_voice.tools.probe import TopicProbe
    from optimus_voice.tools.supervisor import Supervisor

    work = Path(tempfile.mkdtemp(prefix="optimus_voice_e2e_"))
    record = Path(record) if record else work / "session"
    bag = work / "speech"
    info = bags.from_wavs(list(clips) * repeat, bag, gap_s=pause_s, lead_s=LEAD_S)
    sup = Supervisor({"mic_source": "bag", "mic_file": str(bag), "audio_out_wav": str(work / "replies.wav"),
                      "llm": llm}, overrides or {},
                     log_dir=log_dir or work / "logs", echo=lambda *_: None)
    watched = (topics.VOICE_ACTIVITY, topics.TRANSCRIPT, topics.EMOTION, topics.SPEECH_REQUEST, topics.AUDIO_OUT,
               topics.DIALOGUE_STATE,
               topics.DIAGNOSTICS)
    probe = TopicProbe(watch=watched, name="optimus_voice_e2e")
    echo(f"[e2e] {len(clips)} clips, {info['seconds']:.0f} s of audio in {bag}; starting the graph")
    recording = bag_ros.BackgroundRecording(record)
    try:
        if not sup.start(timeout_s=90.0):
            raise RuntimeError(f"the graph did not come up; see the logs in {sup.log_dir}")
        sampler = ResourceSampler({n: m.process.pid for n, m in sup.nodes.items()})
        started = time.monotonic()
        deadline = started + info["seconds"] + 8.0
        while time.monotonic() < deadline:
            sup.watch_once()
            time.sleep(0.5)
        sampler.stop()
        resources = sampler.summary(idle_from=started + SETTLE_S, idle_until=started + LEAD_S - 1.0)
    finally:
        sup.stop()
        recording.stop()
        probe.close()
    turns = turn_timing.turn_timings({t.name: probe.of(t) for t in watched})
    _name_clips(turns, probe.of(topics.VOICE_ACTIVITY), list(clips) * repeat, info["spans"])
    result = {"machine": machine(), "clips": [str(c) for c in clips], "audio_s": round(info["seconds"], 1),
              "pause_s": pause_s, "overrides": overrides or {},
              "turns": turns, "answered_turns": sum(1 for t in turns if "first_audio" in t),
              "resources": resources, "work_dir": str(work), "session_bag": str(record),
              **turn_timing.summary(turns)}
    per_clip = Counter(t["clip_index"] for t in turns if "clip_index" in t)
    names = {t["clip_index"]: t["clip"] for t in turns if "clip_index" in t}
    result["clips_cut"] = [names[i] for i, n in sorted(per_clip.items()) if n > 1]
    _answered_as(turns, probe.of(topics.DIALOGUE_STATE))
    # A cut clip whose later pieces went on from the first was answered as a whole, after a reply cut short.
    result["clips_answered_in_pieces"] = [
        names[i] for i, n in sorted(per_clip.items())
        if n > 1 and sum(not t["continues"] for t in turns if t.get("clip_index") == i) > 1]
    half = len(turns) // 2  # latency stability: the first half of the turns against the second
    result["voice_to_voice_halves_p50_ms"] = [
        turn_timing.percentiles([t["first_audio"] for t in part if "first_audio" in t])["p50"]
        for part in (turns[:half], turns[half:])]
    result["node_counters"] = _counters(probe.of(topics.DIAGNOSTICS))
    if llm != "off":
        result["llm"] = _llm_values(probe.of(topics.DIAGNOSTICS))
    result["whole_stack_rss_mb"] = round(sum(r["rss_max_mb"] for r in resources.values()), 1)
    idle = [r["cpu_idle_pct"] for r in resources.values() if r["cpu_idle_pct"] is not None]
    result["idle_cpu_pct_of_one_core"] = round(sum(idle), 1) if idle else None
    return result


def _llm_values(diagnostics: list) -> dict[str, str]:
    """The dialogue's last word on the language model: replies prepared and used, fallbacks, speed, prompt
    tokens, first-sentence and abort timings."""
    out: dict[str, str] = {}
    for msg in diagnostics:
        for status in msg.status:
            if status.name == "optimus_voice/dialogue":
                out = {kv.key: kv.value for kv in status.values if kv.key.startswith("llm")}
    return out


def _counters(diagnostics: list) -> dict[str, dict[str, str]]:
    """Each node's last problem counters from /diagnostics (every counter a node raised as a problem: audio gaps,
    rejected frames, errors of any kind...), and the restarts of each node's process."""
    out: dict[str, dict[str, str]] = {}
    for msg in diagnostics:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            problems = set(filter(None, values.get(PROBLEMS_KEY, "").split(",")))
            name = status.name.removeprefix("optimus_voice/")  # a node, or up/<node> for its process
            out[name] = {k: v for k, v in values.items() if k in problems or (k == "restarts" and v != "0")}
    return {k: v for k, v in out.items() if v}
