"""`optimus-voice chat`: the dialogue on typed text, one turn (--text) or an interactive session; with --llm, chat
goes to a language model (`local`: the packaged llama.cpp server, started here; or an OpenAI-compatible URL) as it
does in the graph, commands stay with the embedded policy."""

from __future__ import annotations

import argparse
import json
import sys
import time

from optimus_voice.feeling.emotions import LABELS


class Chat:
    """The embedded policy, and the language model for the intents it hands over (as the dialogue node does)."""

    def __init__(self, ns: argparse.Namespace) -> None:
        from optimus_voice.deciding.llm import Conversation, LlmConfig
        from optimus_voice.deciding.policy import Policy
        from optimus_voice.tools.supervisor import share_dir

        self.policy = Policy(ns.intents or share_dir() / "config" / "intents.yaml", use_embeddings=not ns.words)
        self.server = None
        url = ns.llm
        if ns.llm == "local":
            from optimus_voice.deciding.llm_server import LocalLlmServer, ServerConfig

            self.server = LocalLlmServer(ServerConfig(ns.llm_model, port=0))
            url = self.server.url
        self.llm = LlmConfig(url, timeout_s=ns.llm_timeout) if url else None
        self.llm_intents = ("unknown", "small_talk")
        self.conversation = Conversation()
        self.turn = 0

    def turn_json(self, text: str, emotion: str, mood: float) -> dict:
        from optimus_voice.deciding.llm import ChatStream, LlmError, sentences

        self.turn += 1
        reply = self.policy.respond(text, emotion, mood)
        out = {"intent": reply.intent, "confidence": round(reply.confidence, 3), "reply": reply.text,
               "source": "embedded", "expression": reply.expression, "style": reply.style, "action": reply.action,
               "amount": reply.amount, "emotion": reply.emotion, "decide_ms": round(reply.decide_ms, 2),
               "first_sentence_ms": round(reply.decide_ms, 2)}
        if self.llm is not None and reply.intent in self.llm_intents:
            t0 = time.perf_counter()
            stream = ChatStream(self.llm)
            try:
                pieces = []
                for piece in sentences(stream.deltas(self.conversation.messages(text, reply.emotion))):
                    if not pieces:
                        out["first_sentence_ms"] = round(reply.decide_ms + (time.perf_counter() - t0) * 1000, 1)
                    pieces.append(piece)
                if pieces:
                    out.update(reply=" ".join(pieces), source="llm", intent="llm", action="")
                out["llm_deltas"] = stream.deltas_received
                out["llm_timings"] = stream.timings  # empty when the reply was cut short before the model ended
            except LlmError as exc:
                out["llm_error"] = str(exc)  # the embedded reply stands
        said = out["reply"]
        self.policy.spoken(said)  # no speaker here: all of the reply counts as said
        self.conversation.spoken(self.turn, text, said)
        return out

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _print(out: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out), flush=True)
    else:
        extra = f", action {out['action']}" if out["action"] else ""
        print(f"robot: {out['reply']}   [{out['source']}: {out['intent']} {out['confidence']:.2f}, "
              f"{out['expression']}/{out['style']}{extra}, first sentence {out['first_sentence_ms']:.0f} ms]",
              flush=True)


def cmd_chat(ns: argparse.Namespace) -> int:
    chat = Chat(ns)
    try:
        if ns.text is not None:
            _print(chat.turn_json(ns.text, ns.emotion, ns.mood), ns.json)
            return 0
        if sys.stdin.isatty() and not ns.json:
            print("type what you would say (Ctrl-D to end)", file=sys.stderr)
        for line in sys.stdin:
            _print(chat.turn_json(line.strip(), ns.emotion, ns.mood), ns.json)
        return 0
    finally:
        chat.close()


def add_parser(sub) -> None:
    p = sub.add_parser("chat", help="talk to the dialogue in text (one turn with --text, else stdin lines)")
    p.add_argument("--text", help="one user turn")
    p.add_argument("--emotion", default="neutral", choices=LABELS, help="the user's emotion for this turn")
    p.add_argument("--mood", type=float, default=0.0, help="the user's mood valence, -1..1")
    p.add_argument("--json", action="store_true", help="one JSON object per turn: reply, intent, source, action, "
                   "first_sentence_ms, ...")
    p.add_argument("--intents", help="intents YAML (default: the package's config/intents.yaml)")
    p.add_argument("--words", action="store_true", help="match intents by words, not embeddings")
    p.add_argument("--llm", default="", metavar="local|URL",
                   help="language model for chat: 'local' (the packaged server, started here) or an OpenAI-compatible "
                        "URL (http://host:port/v1); default none")
    p.add_argument("--llm-model", default="", help="GGUF file for --llm local (default: the packaged SmolLM2)")
    p.add_argument("--llm-timeout", type=float, default=5.0, help="seconds to wait for the model")
    p.set_defaults(func=cmd_chat)
