"""Per-turn latency of every stage, from message stamps: the one contract (header stamp + turn id) at work.

Works on live messages (a TopicProbe) and on messages read back from a bag alike: `messages` maps a topic name to
its messages in arrival order. Per user turn, from the end of the user's speech:
  final_transcript  the final Transcript's header stamp
  emotion           the final Emotion's stamp
  reply_decided     the SpeechRequest (say) stamp
  first_audio       the first /audio/out frame of the reply: voice to voice
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import from_time

STAGES = ("final_transcript", "emotion", "reply_decided", "first_audio")


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {"n": len(values), "p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1), "max": round(float(np.max(values)), 1)}


def turn_timings(messages: dict[str, list]) -> list[dict]:
    """One row per ended user turn: what was heard and answered, and each stage's ms after the end of speech."""
    ends = {a.turn_id: from_time(a.speech_end) for a in messages.get(topics.VOICE_ACTIVITY.name, [])
            if a.event == a.SPEECH_END}
    first: dict[int, dict[str, int]] = defaultdict(dict)
    heard, replies, voices = {}, {}, {}
    for t in messages.get(topics.TRANSCRIPT.name, []):
        if t.is_final:
            first[t.turn_id].setdefault("final_transcript", from_time(t.header.stamp))
            heard.setdefault(t.turn_id, t.text)
            voices.setdefault(t.turn_id, t.voice_id)
    for e in messages.get(topics.EMOTION.name, []):
        if e.is_final:
            first[e.turn_id].setdefault("emotion", from_time(e.header.stamp))
    for r in messages.get(topics.SPEECH_REQUEST.name, []):
        if r.action == r.ACTION_SAY:
            first[r.turn_id].setdefault("reply_decided", from_time(r.header.stamp))
            replies.setdefault(r.turn_id, r.text)
    for f in messages.get(topics.AUDIO_OUT.name, []):
        first[f.turn_id].setdefault("first_audio", from_time(f.header.stamp))
    # Where a reply came from: the intent of the turn's last dialogue state (the one after its reply; the first ones
    # of a turn still name the reply before).
    last_intent = {s.turn_id: s.intent for s in messages.get(topics.DIALOGUE_STATE.name, [])}
    from_model = {turn for turn, intent in last_intent.items() if intent == "llm"}
    rows = []
    for turn_id, end in sorted(ends.items()):
        row = {"turn_id": turn_id, "speech_end_ns": end, "heard": heard.get(turn_id, ""),
               "voice_id": voices.get(turn_id, ""),
               "reply": replies.get(turn_id, ""), "source": "llm" if turn_id in from_model else "embedded"}
        row.update({s: round((first[turn_id][s] - end) / 1e6, 1) for s in STAGES if s in first[turn_id]})
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    """p50/p95 of each stage over the turns; the last stage is named voice_to_voice_ms."""
    out = {f"{s}_ms": percentiles([r[s] for r in rows if s in r]) for s in STAGES}
    out["voice_to_voice_ms"] = out.pop("first_audio_ms")
    # The language model's first sentence, asked of the voice, after the end of the user's speech.
    out["llm_first_sentence_ms"] = percentiles([r["reply_decided"] for r in rows
                                                if r.get("source") == "llm" and "reply_decided" in r])
    return out


def describe(result: dict) -> list[str]:
    """Human-readable lines: one per turn, then the p50/p95 of each stage (result: turns + summary())."""
    lines = []
    for t in result["turns"]:
        stages = "  ".join(f"{s} {t[s]:.0f}" for s in STAGES if s in t)
        lines.append(f"  heard {t['heard'][:50]!r:54s} {stages}{'  [llm]' if t.get('source') == 'llm' else ''}")
    answered = sum(1 for t in result["turns"] if "first_audio" in t)
    lines.append(f"{answered}/{len(result['turns'])} turns answered; ms after the end of the user's speech:")
    for stage in ("final_transcript_ms", "emotion_ms", "reply_decided_ms", "voice_to_voice_ms",
                  "llm_first_sentence_ms"):
        if result.get(stage, {}).get("n"):
            lines.append(f"  {stage:22s} p50 {result[stage]['p50']}  p95 {result[stage]['p95']}")
    return lines
