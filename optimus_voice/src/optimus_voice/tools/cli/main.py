"""`optimus-voice`: the one command-line tool of the stack."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from optimus_voice.tools.cli import bag, bench, chat, diarize, emotion, report, say, transcribe


def _launch_args(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if ":=" not in pair:
            raise SystemExit(f"expected NAME:=VALUE (as with ros2 launch), got {pair!r}")
        name, value = pair.split(":=", 1)
        out[name] = value
    return out


def cmd_up(ns: argparse.Namespace) -> int:
    from optimus_voice.contract import graph
    from optimus_voice.tools.supervisor import Supervisor, parse_overrides

    args = _launch_args(ns.args)
    if ns.record and Path(ns.record).exists():
        print(f"[up] {ns.record} already exists; a bag is recorded into a new folder", file=sys.stderr)
        return 2
    if ns.mic_file:
        args.update(mic_source="file", mic_file=ns.mic_file)
    try:
        sup = Supervisor(args, parse_overrides(ns.set), log_dir=ns.log_dir, restart=not ns.no_restart)
    except ValueError as exc:
        print(f"[up] {exc}", file=sys.stderr)
        return 2
    print(f"[up] {len(sup.managed)} nodes of {len(graph.NODES)} and their lifecycle manager; logs in {sup.log_dir}")
    printer = None
    if ns.show:
        from optimus_voice.tools.conversation import ConversationPrinter

        printer = ConversationPrinter(namespace=sup.namespace)
    recording = None
    if ns.record:
        from optimus_voice.tools.bag_ros import BackgroundRecording

        recording = BackgroundRecording(ns.record, namespace=sup.namespace)
    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # SIGTERM while starting stops as Ctrl-C does
    try:
        if not sup.start(timeout_s=ns.timeout):
            print("[up] not every node reached 'active'; still running, the lifecycle manager keeps trying "
                  "(see /diagnostics and the logs)", file=sys.stderr)
        print("[up] graph is up; Ctrl-C to stop")
        sup.run(duration_s=ns.duration)
    except KeyboardInterrupt:  # Ctrl-C while starting: stop everything, as after it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop()
    except BaseException:
        sup.stop()
        raise
    finally:
        if printer is not None:
            printer.close()
        if recording is not None:
            recording.stop()
            print(f"[up] session recorded to {ns.record} (optimus-voice report {ns.record} draws its timeline)")
    return 0


def cmd_demo_audio(ns: argparse.Namespace) -> int:
    from optimus_voice.tools import demo

    lines = demo.write(ns.output)
    print(f"[demo] the user's turns in {ns.output} ({len(lines)}):")
    for line in lines:
        print(f"[demo]   {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from optimus_voice.contract import graph

    parser = argparse.ArgumentParser(prog="optimus-voice", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole node graph (what ros2 launch optimus_voice voice.launch.py does)",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="launch arguments (NAME:=VALUE):\n" + "\n".join(
                            f"  {a.name} (default {a.default!r}): {a.description}" for a in graph.ARGS))
    up.add_argument("args", nargs="*", metavar="NAME:=VALUE", help="launch arguments, as for ros2 launch")
    up.add_argument("--mic-file", help="play this audio file as the microphone (mic_source:=file mic_file:=...)")
    up.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                    help="override one node parameter (repeatable)")
    up.add_argument("--duration", type=float, help="stop after this many seconds")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds each node has to become active")
    up.add_argument("--log-dir", help="folder for the nodes' logs (default: a new temporary folder)")
    up.add_argument("--no-restart", action="store_true", help="do not restart nodes that die")
    up.add_argument("--record", metavar="DIR", help="record every topic of the session to this new bag")
    up.add_argument("--show", action="store_true", help="print the conversation (heard, emotion, reply, latency)")
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo-audio", help="write the demo's conversation (the user's turns) to a WAV")
    demo.add_argument("output", help="WAV file to write")
    demo.set_defaults(func=cmd_demo_audio)

    bag.add_parser(sub)
    transcribe.add_parser(sub)
    diarize.add_parser(sub)
    chat.add_parser(sub)
    say.add_parser(sub)
    emotion.add_parser(sub)
    bench.add_parser(sub)
    report.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
