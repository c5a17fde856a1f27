"""`optimus-voice bench e2e [CLIP...]`: voice-to-voice latency of the whole graph on real speech;
`optimus-voice bench turns [CLIP...]`: when turns end, false cut-offs against latency;
`optimus-voice bench duplex [CLIP...]`: the robot hears itself through a room while users talk over it."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

# The repository's ../shared/data (the source tree, where a symlink install points back to)
DEFAULT_SET = Path(__file__).resolve().parents[5].parent / "shared" / "data" / "asr_commonvoice_dev"


def default_clips(limit: int) -> list[str]:
    manifest = DEFAULT_SET / "manifest.csv"
    if not manifest.exists():
        raise SystemExit(f"no clips given and {manifest} does not exist: pass audio files")
    with manifest.open(newline="") as f:
        return [str(DEFAULT_SET / row["file"]) for row in csv.DictReader(f)][:limit]


def cmd_e2e(ns: argparse.Namespace) -> int:
    from optimus_voice.tools import e2e, turn_timing
    from optimus_voice.tools.supervisor import parse_overrides

    clips = ns.clips or default_clips(ns.limit)
    result = e2e.run(clips, pause_s=ns.pause, record=ns.record, repeat=ns.repeat,
                     echo=(lambda *_: None) if ns.json else print, llm=ns.llm, overrides=parse_overrides(ns.set))
    if ns.json:
        print(json.dumps(result))
        return 0
    print("\n".join(turn_timing.describe(result)))
    for name, r in result["resources"].items():
        print(f"  {name:10s} CPU idle {r['cpu_idle_pct']}%  active {r['cpu_active_pct']}%  "
              f"RSS max {r['rss_max_mb']} MB (fifths of the run {r['rss_fifths_mb']} MB)")
    print(f"clips cut into more than one turn: {', '.join(result['clips_cut']) or 'none'}")
    print("of those, answered in pieces (not as one sentence): "
          f"{', '.join(result['clips_answered_in_pieces']) or 'none'}")
    print(f"voice to voice p50, first and second half of the turns: {result['voice_to_voice_halves_p50_ms']} ms; "
          f"problem counters: {result['node_counters'] or 'none'}")
    print(f"session bag: {result['session_bag']} (optimus-voice report BAG draws its timeline)")
    print(f"whole stack RSS {result['whole_stack_rss_mb']} MB; idle listening {result['idle_cpu_pct_of_one_core']}% "
          "of one core")
    return 0


def turn_rows(clips: list[str]) -> list[dict]:
    """Clips with their speakers: the given files (each its own speaker), else Common Voice and misc."""
    if clips:
        return [{"path": c, "speaker": Path(c).stem} for c in clips]
    rows = []
    for name in ("asr_commonvoice_dev", "asr_misc_dev"):
        manifest = DEFAULT_SET.parent / name / "manifest.csv"
        if not manifest.exists():
            raise SystemExit(f"no clips given and {manifest} does not exist: pass audio files")
        with manifest.open(newline="") as f:
            rows += [{"path": str(manifest.parent / r["file"]),
                      "speaker": f"{name}/{r.get('speaker') or r['speaker_id']}"} for r in csv.DictReader(f)]
    return rows


def cmd_turns(ns: argparse.Namespace) -> int:
    from optimus_voice.tools import turn_bench

    result = turn_bench.run(turn_rows(ns.clips), echo=(lambda *_: None) if ns.json else print,
                            recognizer=ns.recognizer)
    if ns.plot:
        turn_bench.plot(result, ns.plot)
    if ns.json:
        print(json.dumps(result))
        return 0
    report = result["report_half"]
    print(f"report half ({result['clips_by_half']['report']} clips; tuned on the other "
          f"{result['clips_by_half']['tune']}: {result['tuned']})")
    for name, o in [*((f"fixed {ms} ms", o) for ms, o in report["fixed"].items()),
                    ("text rule", report["text_rule"]), ("text + turn model", report["model_tuned"])]:
        print(f"  {name:18s} clips cut {o['clips_cut_pct']:5.1f}%  inner pauses cut {o['inner_pauses_cut_pct']:5.1f}%"
              f"  latency p50 {o['latency_p50_ms']} ms, mean {o['latency_mean_ms']} ms")
    print(f"turn model: {result['model_ms']} ms a pause")
    return 0


def duplex_clips(clips: list[str]) -> list:
    """The user's clips with their reference texts: the given files (no reference: only barge-ins are scored),
    else Common Voice's, with the half (tune or report) of their speaker."""
    from optimus_voice.tools.duplex_bench import Clip
    from optimus_voice.tools.turn_bench import half_of

    if clips:
        return [Clip(c, "", Path(c).stem, half_of(Path(c).stem)) for c in clips]
    manifest = DEFAULT_SET / "manifest.csv"
    if not manifest.exists():
        raise SystemExit(f"no clips given and {manifest} does not exist: pass audio files")
    with manifest.open(newline="") as f:
        return [Clip(str(DEFAULT_SET / r["file"]), r["transcript"], r["speaker_id"],
                     half_of(f"asr_commonvoice_dev/{r['speaker_id']}")) for r in csv.DictReader(f)]


def cmd_duplex(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io.echo import EchoConfig
    from optimus_voice.tools import duplex_bench
    from optimus_voice.tools.room import Room

    clips = duplex_clips(ns.clips)
    if ns.half:
        clips = [c for c in clips if c.half == ns.half]
    aec = None if ns.aec == "off" else EchoConfig(mode=ns.aec, noise_suppression=ns.noise_suppression,
                                                  gate_db=ns.gate_db, residual_db=ns.residual_db,
                                                  residual_floor_db=ns.residual_floor_db,
                                                  gate_open_on_double_talk=ns.gate_open_on_double_talk,
                                                  ungated_words=ns.ungated_words)
    result = duplex_bench.run(clips, robot_minutes=ns.minutes, echo_db=ns.echo_db, aec=aec,
                              sustained_s=ns.sustained_ms / 1000, echo_free_s=ns.echo_free_ms / 1000,
                              double_talk=ns.double_talk, unmarked_waits=ns.unmarked_waits,
                              converging_logprob=ns.converging_logprob, cold=ns.cold, remember=ns.remember,
                              learning_sound=ns.learning_sound, seed=ns.seed, recognizer=ns.recognizer,
                              room=Room(rt60_s=ns.rt60, delay_ms=ns.delay_ms, seed=ns.seed),
                              echo=(lambda *_: None) if ns.json else print)
    if ns.json:
        print(json.dumps(result))
        return 0
    print(f"{result['robot_minutes']} min of robot speech, echo {ns.echo_db:+.0f} dB over the user, AEC {ns.aec}: "
          f"false barge-ins {result['false_barge_ins']}, ERLE {result['erle_db']} dB, "
          f"AEC CPU {result['aec_cpu_pct_of_one_core']}% of a core")
    for half in ("tune", "report"):
        if half in result:
            h = result[half]
            print(f"  {half} half: barge-ins {h['barge_ins_detected']}/{h['barge_ins_total']}, after the user's start "
                  f"p50 {h['barge_in_after_onset_ms']['p50']} ms p95 {h['barge_in_after_onset_ms']['p95']} ms; "
                  f"user WER over the robot {h['user_wer_over_robot']}% alone {h['user_wer_alone']}%")
    return 0


def add_parser(sub) -> None:
    from optimus_voice.audio_io.echo import EchoConfig
    from optimus_voice.hearing.recognizers import RECOGNIZERS

    bench = sub.add_parser("bench", help="benchmarks of the running graph")
    kinds = bench.add_subparsers(dest="kind", required=True)
    e2e = kinds.add_parser("e2e", help="voice-to-voice latency, per stage, plus CPU and memory of every node")
    e2e.add_argument("clips", nargs="*", help="speech files (default: Common Voice clips from ../shared/data)")
    e2e.add_argument("--limit", type=int, default=12, help="number of default clips")
    e2e.add_argument("--pause", type=float, default=4.0, help="seconds of silence after each clip")
    e2e.add_argument("--repeat", type=int, default=1, help="play the clips this many times (a soak)")
    e2e.add_argument("--record", help="write the session bag here (default: in a temporary folder)")
    e2e.add_argument("--json", action="store_true", help="the whole result as JSON on stdout")
    e2e.add_argument("--llm", default="off", metavar="off|local|URL", help="language model for chat (launch "
                     "argument llm); the first sentence of its replies is timed as llm_first_sentence_ms")
    e2e.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                     help="a node parameter for this run, as `up --set` (e.g. asr.voice_ids=false)")
    e2e.set_defaults(func=cmd_e2e)
    turns = kinds.add_parser("turns", help="end of turn: false cut-offs against latency, fixed silences beside "
                             "the text rule and the audio turn model (tuned on half the speakers, reported on the "
                             "other)")
    turns.add_argument("clips", nargs="*", help="speech files, one utterance each (default: Common Voice and misc "
                       "from ../shared/data)")
    turns.add_argument("--json", action="store_true", help="the whole result as JSON on stdout")
    turns.add_argument("--plot", help="draw the curve to this PNG")
    turns.add_argument("--recognizer", default="whisper", choices=RECOGNIZERS, help="the ASR node's recognizer")
    turns.set_defaults(func=cmd_turns)
    duplex = kinds.add_parser("duplex", help="full duplex: false barge-ins on the robot's own echo, barge-ins "
                              "detected and how fast, the user's WER over the robot, echo removed, AEC CPU")
    duplex.add_argument("clips", nargs="*", help="the user's speech files (default: Common Voice clips from "
                        "../shared/data, with their transcripts)")
    duplex.add_argument("--half", choices=("tune", "report"), help="only the clips of this half of the speakers")
    duplex.add_argument("--minutes", type=float, default=10.0, help="minutes of robot speech with no user")
    duplex.add_argument("--echo-db", type=float, default=10.0, help="the robot's echo level over the user's voice")
    duplex.add_argument("--aec", default="linear", choices=("linear", "webrtc", "both", "off"),
                        help="echo canceller (capture's echo_cancel mode)")
    duplex.add_argument("--noise-suppression", action="store_true", help="WebRTC noise suppression after the AEC")
    duplex.add_argument("--residual-floor-db", type=float, default=EchoConfig.residual_floor_db,
                        help="lowest residual gate threshold, reached as the filter's ERLE grows (EchoConfig."
                             "residual_floor_db; equal to --residual-db: a fixed threshold)")
    duplex.add_argument("--gate-open-on-double-talk", action=argparse.BooleanOptionalAction,
                        default=EchoConfig.gate_open_on_double_talk,
                        help="keep the residual gate open while the filter hears double talk (EchoConfig."
                             "gate_open_on_double_talk)")
    duplex.add_argument("--ungated-words", action=argparse.BooleanOptionalAction, default=EchoConfig.ungated_words,
                        help="decode the words from the canceller's output before the residual gate once it has "
                             "converged; the VAD keeps the gated audio (EchoConfig.ungated_words)")
    duplex.add_argument("--gate-db", type=float, default=EchoConfig.gate_db,
                        help="residual echo gate attenuation (capture's echo_gate_db)")
    duplex.add_argument("--residual-db", type=float, default=EchoConfig.residual_db,
                        help="output under this much of the estimated echo is residual (capture's echo_residual_db)")
    duplex.add_argument("--sustained-ms", type=float, default=1200.0,
                        help="the dialogue's barge_in_sustained_ms")
    duplex.add_argument("--echo-free-ms", type=float, default=150.0,
                        help="the dialogue's barge_in_echo_free_ms (used once the echo canceller has converged)")
    duplex.add_argument("--double-talk", type=float, default=0.5,
                        help="the dialogue's barge_in_double_talk (0: off)")
    duplex.add_argument("--unmarked-waits", action="store_true",
                        help="a turn with no double talk at all waits the sustained-speech time even when the "
                             "canceller has converged (an experiment; the dialogue does not have it)")
    duplex.add_argument("--converging-logprob", type=float, default=None,
                        help="while the canceller converges, words decoded less surely than this mean log-probability "
                             "per token do not interrupt (default: no floor)")
    duplex.add_argument("--cold", action="store_true",
                        help="a canceller that has not heard the room yet at every episode (start-up, converging)")
    duplex.add_argument("--remember", action="store_true",
                        help="the canceller starts from the echo path learnt in the room before the run (with "
                             "--cold, each new one from the last one's), as the capture node does from its "
                             "echo_path_file")
    duplex.add_argument("--learning-sound", action="store_true",
                        help="a canceller that starts from nothing first hears the TTS node's learning sound "
                             "(through the room and the recognizer), as the capture node asks for it at a start-up")
    duplex.add_argument("--rt60", type=float, default=0.3, help="the room's reverberation time (s)")
    duplex.add_argument("--delay-ms", type=float, default=25.0, help="speaker-to-microphone delay the stamps miss")
    duplex.add_argument("--seed", type=int, default=0)
    duplex.add_argument("--recognizer", default="whisper", choices=RECOGNIZERS, help="the ASR node's recognizer")
    duplex.add_argument("--json", action="store_true", help="the whole result as JSON on stdout")
    duplex.set_defaults(func=cmd_duplex)
