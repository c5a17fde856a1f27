"""A session report from a recorded bag: a timeline of the conversation and a per-turn latency waterfall (PNG).

Timeline lanes, on the message clocks: the user's speech (voice activity) with what was heard, the user's emotion,
the dialogue state, the robot's speech (started to done or interrupted) with its reply, and the face expression.
The waterfall splits each turn's voice-to-voice time into its stages (see turn_timing). No rclpy: the bag is read
with rosbags, so a report can be made anywhere.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from optimus_voice.audio_io import bags
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import from_time
from optimus_voice.speaking.face import COLOURS
from optimus_voice.tools import turn_timing

REPORT_TOPICS = (topics.VOICE_ACTIVITY, topics.TRANSCRIPT, topics.EMOTION, topics.DIALOGUE_STATE,
                 topics.SPEECH_REQUEST, topics.SPEECH_PROGRESS, topics.AUDIO_OUT, topics.FACE)
VOICE_COLOURS = ("#6aa84f", "#3d85c6", "#e69138", "#a64d79", "#45818e", "#cc0000", "#674ea7", "#bf9000")
LANES = ("face", "robot speech", "dialogue", "user emotion", "user speech")
STATE_NAMES = {0: "idle", 1: "listening", 2: "thinking", 3: "speaking"}
STATE_COLOURS = {"idle": "#dddddd", "listening": "#8fd18f", "thinking": "#f3c26b", "speaking": "#6fa8dc"}
EMOTION_COLOURS = {"neutral": (0.6, 0.6, 0.6), **COLOURS}
STAGE_COLOURS = {"final_transcript": "#6aa84f", "reply_decided": "#f1c232", "first_audio": "#3d85c6"}
STAGE_LABELS = {"final_transcript": "end of speech -> final transcript", "reply_decided": "-> reply decided",
                "first_audio": "-> first reply audio"}


def load(bag: str | Path) -> dict[str, list]:
    """The report's topics of a bag, deserialized, in recorded order."""
    names = [t.name for t in REPORT_TOPICS]
    bags.connections(bag, names)  # a clear error for a bag without any of them
    messages: dict[str, list] = defaultdict(list)
    for m in bags.read(bag, names):
        messages[m.topic].append(bags.deserialize(m))
    return messages


def segments(events: list[tuple[int, str]], end_ns: int) -> list[tuple[int, int, str]]:
    """(start, end, value) runs of a value sampled at times, each lasting until the value changes."""
    runs: list[tuple[int, int, str]] = []
    for t, value in events:
        if runs and runs[-1][2] == value:
            continue
        if runs:
            runs[-1] = (runs[-1][0], t, runs[-1][2])
        runs.append((t, end_ns, value))
    return runs


def speech_spans(messages: dict[str, list]) -> list[tuple[int, int, int, bool]]:
    """(turn id, start, end, interrupted) of each reply the robot spoke, from speech progress."""
    started, spans = {}, []
    for p in messages.get(topics.SPEECH_PROGRESS.name, []):
        if p.state == p.STARTED:
            started[p.turn_id] = from_time(p.header.stamp)
        elif p.state in (p.DONE, p.INTERRUPTED) and p.turn_id in started:
            spans.append((p.turn_id, started.pop(p.turn_id), from_time(p.header.stamp), p.state == p.INTERRUPTED))
    return spans


def summarize(messages: dict[str, list]) -> dict:
    rows = turn_timing.turn_timings(messages)
    spans = speech_spans(messages)
    return {"turns": rows, "answered_turns": sum(1 for r in rows if "first_audio" in r),
            "interrupted_replies": sum(1 for s in spans if s[3]), **turn_timing.summary(rows)}


def draw(messages: dict[str, list], out: str | Path, title: str = "") -> Path:
    """Write the timeline and waterfall PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = turn_timing.turn_timings(messages)
    every = [from_time(m.header.stamp) for msgs in messages.values() for m in msgs]
    if not every:
        raise bags.BagError("the bag has none of the report's topics")
    t0, t_end = min(every), max(every)

    def sec(ns: int) -> float:
        return (ns - t0) / 1e9

    fig, (ax, wf) = plt.subplots(2, 1, figsize=(16, 6 + 0.35 * max(len(rows), 4)),
                                 gridspec_kw={"height_ratios": [3, max(len(rows), 4) * 0.35 + 1]})
    lane = {name: i for i, name in enumerate(LANES)}

    def bar(name: str, start: float, end: float, colour, **kw) -> None:
        ax.broken_barh([(start, max(end - start, 0.02))], (lane[name] - 0.35, 0.7), facecolors=colour, **kw)

    # The user's speech coloured by who spoke it (voice ids; grey for a turn of no known voice).
    voices = sorted({a.voice_id for a in messages.get(topics.VOICE_ACTIVITY.name, []) if a.voice_id})
    voice_colour = {v: VOICE_COLOURS[i % len(VOICE_COLOURS)] for i, v in enumerate(voices)}
    for a in messages.get(topics.VOICE_ACTIVITY.name, []):
        if a.event == a.SPEECH_END:
            bar("user speech", sec(from_time(a.speech_start)), sec(from_time(a.speech_end)),
                voice_colour.get(a.voice_id, "#999999"), label=a.voice_id or None)
    if voices:
        handles = [plt.Rectangle((0, 0), 1, 1, color=voice_colour[v]) for v in voices]
        ax.legend(handles, voices, loc="upper left", fontsize=7, title="voices", title_fontsize=7)
    for i, r in enumerate(rows):  # labels alternate above and below their lane so neighbours do not overlap
        if r["heard"]:
            ax.text(sec(r["speech_end_ns"]), lane["user speech"] + (0.38 if i % 2 else -0.38),
                    f"\u201c{r['heard'][:40]}\u201d", fontsize=7, ha="right", va="bottom" if i % 2 else "top")
    for e in messages.get(topics.EMOTION.name, []):
        if e.is_final:
            x = sec(from_time(e.header.stamp))
            ax.plot(x, lane["user emotion"], "o", color=EMOTION_COLOURS.get(e.label, "k"), markersize=9)
            ax.text(x, lane["user emotion"] + 0.3, e.label, fontsize=7, ha="center")
    states = [(from_time(s.header.stamp), STATE_NAMES.get(s.state, "?"))
              for s in messages.get(topics.DIALOGUE_STATE.name, [])]
    for start, end, state in segments(states, t_end):
        bar("dialogue", sec(start), sec(end), STATE_COLOURS.get(state, "w"))
    replies = {r["turn_id"]: r["reply"] for r in rows}
    for i, (turn_id, start, end, interrupted) in enumerate(speech_spans(messages)):
        bar("robot speech", sec(start), sec(end), "#e06666" if interrupted else "#6fa8dc",
            hatch="//" if interrupted else None)
        ax.text(sec(start), lane["robot speech"] + (0.38 if i % 2 else -0.38), replies.get(turn_id, "")[:40],
                fontsize=7, va="bottom" if i % 2 else "top")
    faces = [(from_time(f.header.stamp), f.expression) for f in messages.get(topics.FACE.name, [])]
    for start, end, expression in segments(faces, t_end):
        bar("face", sec(start), sec(end), COLOURS.get(expression, (0.9, 0.9, 0.9)))
        if sec(end) - sec(start) > 2.5:
            ax.text((sec(start) + sec(end)) / 2, lane["face"], expression, fontsize=6, ha="center", va="center")
    ax.set_yticks(range(len(LANES)), LANES)
    ax.set_ylim(-0.6, len(LANES) - 0.1)
    ax.set_xlim(0, sec(t_end) + 0.5)
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "optimus_voice session")

    _waterfall(wf, rows)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _waterfall(wf, rows: list[dict]) -> None:
    """One bar per turn: the time from the end of the user's speech to each stage, stacked."""
    for y, r in enumerate(rows):
        previous = 0.0
        for stage in ("final_transcript", "reply_decided", "first_audio"):
            if stage not in r:
                break
            wf.barh(y, r[stage] - previous, left=previous, color=STAGE_COLOURS[stage],
                    label=STAGE_LABELS[stage] if y == 0 else None)
            previous = r[stage]
        if "emotion" in r:
            wf.plot(r["emotion"], y, "kd", markersize=5, label="final emotion" if y == 0 else None)
        total = r.get("first_audio")
        wf.text(previous + 10, y, f"{total:.0f} ms" if total is not None else "no reply", va="center", fontsize=7)
    wf.axvline(800, color="r", linestyle="--", linewidth=1, label="800 ms target")
    wf.set_yticks(range(len(rows)), [r["heard"][:30] or str(r["turn_id"]) for r in rows], fontsize=7)
    wf.invert_yaxis()
    wf.set_xlabel("ms after the end of the user's speech")
    wf.set_title("per-turn latency")
    wf.legend(fontsize=7, loc="lower right")
