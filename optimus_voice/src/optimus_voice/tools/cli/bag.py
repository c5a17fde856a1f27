"""`optimus-voice bag record|play|from-wav|info|upgrade`: rosbag2 (mcap) bags of the stack's topics."""

from __future__ import annotations

import argparse
import json


def cmd_record(ns: argparse.Namespace) -> int:
    from optimus_voice.tools import bag_ros

    result = bag_ros.record(ns.output, ns.topics or bag_ros.stack_topics(ns.namespace), duration_s=ns.duration,
                            max_messages=ns.max_messages)
    print(json.dumps(result))
    return 0


def cmd_play(ns: argparse.Namespace) -> int:
    from optimus_voice.tools import bag_ros

    result = bag_ros.play(ns.bag, rate=ns.rate, loop=ns.loop, names=ns.topics,
                          wait_subscribers_s=ns.wait_subscribers, clock=ns.clock)
    print(json.dumps(result))
    return 0


def cmd_from_wav(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io import bags

    print(json.dumps(bags.from_wavs(ns.files, ns.output, frame_ms=ns.frame_ms, gap_s=ns.gap)))
    return 0


def cmd_info(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io import bags

    counts: dict[str, int] = {}
    first = last = None
    for message in bags.read(ns.bag):
        counts[message.topic] = counts.get(message.topic, 0) + 1
        first = message.timestamp_ns if first is None else first
        last = message.timestamp_ns
    print(json.dumps({"bag": ns.bag, "types": bags.connections(ns.bag), "messages": counts,
                      "duration_s": ((last or 0) - (first or 0)) / 1e9}))
    return 0


def cmd_upgrade(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io import bags

    print(json.dumps(bags.upgrade(ns.bag, ns.output)))
    return 0


def add_parser(sub) -> None:
    bag = sub.add_parser("bag", help="record, play and make rosbag2 (mcap) bags of the stack's topics")
    verbs = bag.add_subparsers(dest="verb", required=True)

    rec = verbs.add_parser("record", help="record live topics (default: every topic of the stack) until Ctrl-C")
    rec.add_argument("topics", nargs="*", help="topics to record (default: all of the stack's topics)")
    rec.add_argument("-o", "--output", required=True, help="new bag folder")
    rec.add_argument("--duration", type=float, help="stop after this many seconds")
    rec.add_argument("--max-messages", type=int, help="stop after this many messages")
    rec.add_argument("--namespace", default="", help="the stack's namespace (for its default topics)")
    rec.set_defaults(func=cmd_record)

    play = verbs.add_parser("play", help="publish a bag's messages with their recorded timing")
    play.add_argument("bag", help="bag folder")
    play.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    play.add_argument("--loop", action="store_true", help="play again from the start until Ctrl-C")
    play.add_argument("--topics", nargs="+", default=[], help="only these topics")
    play.add_argument("--wait-subscribers", type=float, default=2.0, metavar="S",
                      help="wait up to S seconds for every topic to have a subscriber before starting")
    play.add_argument("--clock", action="store_true",
                      help="publish the bag's time on /clock (for nodes run with use_sim_time:=true)")
    play.set_defaults(func=cmd_play)

    wav = verbs.add_parser("from-wav", help="turn speech files into an /audio/in bag (as the microphone would)")
    wav.add_argument("files", nargs="+", help="WAV/FLAC/OGG files, any rate (resampled to 16 kHz mono)")
    wav.add_argument("-o", "--output", required=True, help="new bag folder")
    wav.add_argument("--gap", type=float, default=1.0, help="seconds of silence after each file")
    wav.add_argument("--frame-ms", type=float, default=20.0, help="frame length in milliseconds")
    wav.set_defaults(func=cmd_from_wav)

    info = verbs.add_parser("info", help="topics, types, message counts and duration of a bag")
    info.add_argument("bag", help="bag folder")
    info.set_defaults(func=cmd_info)

    up = verbs.add_parser("upgrade", help="copy a bag recorded with older definitions of our messages into a new "
                                          "bag of today's (for ros2 bag play)")
    up.add_argument("bag", help="bag folder")
    up.add_argument("-o", "--output", required=True, help="new bag folder")
    up.set_defaults(func=cmd_upgrade)
