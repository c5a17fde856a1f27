"""The optional language-model backend: streamed sentences, what the context keeps, and falling back.

The chat endpoint is a test double of an external service the robot would provide (a llama.cpp or vLLM server):
a local HTTP server speaking the OpenAI streaming chat protocol, replaying a scripted answer.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from optimus_voice.engines.llm import ChatStream, Conversation, LlmConfig, LlmError, sentences
from optimus_voice.stamps import now_ns
from test_nodes import diagnostics_of, wait_matched

from optimus_voice import topics

ANSWER = ("Jazz is music built on improvisation, swing and the blues. Many people love its freedom, "
          "and I enjoy how every performance is a little different. Do you play an instrument?")


class FakeChatServer:
    """OpenAI-compatible /v1/chat/completions that streams ANSWER a few characters at a time."""

    def __init__(self, answer: str = ANSWER, first_delay_s: float = 0.0) -> None:
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                time.sleep(first_delay_s)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for i in range(0, len(answer), 7):
                        chunk = {"choices": [{"index": 0, "delta": {"content": answer[i:i + 7]}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (an interrupted or timed-out reply): expected

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = FakeChatServer()
    yield server
    server.close()


def dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_reply_streams_as_speakable_sentences(chat_server):
    stream = ChatStream(LlmConfig(chat_server.url, "robot-llm"))
    pieces = list(sentences(stream.deltas([{"role": "user", "content": "tell me about jazz"}])))
    assert pieces[0] == "Jazz is music built on improvisation, swing and the blues."
    assert pieces[-1] == "Do you play an instrument?"
    assert " ".join(pieces) == ANSWER
    request = chat_server.requests[0]
    assert request["stream"] is True and request["model"] == "robot-llm"
    # The cap holds whatever the model says.
    capped = list(sentences(stream.deltas([{"role": "user", "content": "again"}]), max_words=12))
    assert sum(len(p.split()) for p in capped) == 12


def test_unreachable_or_slow_endpoint_is_a_clear_error():
    with pytest.raises(LlmError, match=r"127\.0\.0\.1"):
        list(ChatStream(LlmConfig(dead_url(), timeout_s=1.0)).deltas([]))
    slow = FakeChatServer(first_delay_s=2.0)
    try:
        with pytest.raises(LlmError):
            list(ChatStream(LlmConfig(slow.url, timeout_s=0.5)).deltas([]))
    finally:
        slow.close()


def test_context_keeps_only_what_was_said():
    talk = Conversation()
    talk.spoken(1, "tell me about jazz", "Jazz is music built on improvisation,")  # interrupted there
    talk.spoken(2, "what about rock", "Rock grew out of rhythm and blues.")
    talk.spoken(2, "what about rock", "It is louder.")  # the second piece of the same reply
    messages = talk.messages("thanks", "happy")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[2]["content"] == "Jazz is music built on improvisation,"
    assert messages[4]["content"] == "Rock grew out of rhythm and blues. It is louder."
    assert "happy" in messages[0]["content"]


def test_dialogue_speaks_the_model_a_sentence_at_a_time_and_falls_back_when_it_is_down(ros_graph, probe,
                                                                                        chat_server):
    from optimus_voice.nodes.dialogue_node import DialogueNode

    from optimus_voice_msgs.msg import SpeechProgress, Transcript

    dialogue = ros_graph.add(DialogueNode, llm_url=chat_server.url, emotion_wait_ms=0.0)
    transcripts = probe.publisher(topics.TRANSCRIPT)
    progress = probe.publisher(topics.SPEECH_PROGRESS)
    assert wait_matched(probe, topics.TRANSCRIPT, dialogue)
    assert wait_matched(probe, topics.SPEECH_PROGRESS, dialogue)
    turn = now_ns() // 1_000_000
    transcripts.publish(Transcript(turn_id=turn, text="what do you think about jazz music", is_final=True))
    assert probe.wait_for(lambda: len(probe.of(topics.SPEECH_REQUEST)) >= 3, 10)
    says = [r for r in probe.of(topics.SPEECH_REQUEST) if r.turn_id == turn]
    assert " ".join(r.text for r in says) == ANSWER and len(says) == 3
    # A command never goes to the model: the embedded policy answers it (and owns the action).
    transcripts.publish(Transcript(turn_id=turn + 1, text="please speak louder", is_final=True))
    assert probe.wait_for(lambda: any(r.turn_id == turn + 1 for r in probe.of(topics.SPEECH_REQUEST)), 10)
    assert len(chat_server.requests) == 1
    # The user interrupted the first reply after its first words: only those reach the next request's context.
    progress.publish(SpeechProgress(turn_id=turn, state=SpeechProgress.INTERRUPTED, spoken_text="Jazz is music"))
    time.sleep(0.3)
    transcripts.publish(Transcript(turn_id=turn + 2, text="who invented the saxophone", is_final=True))
    assert probe.wait_for(lambda: len(chat_server.requests) == 2, 10)
    assert {"role": "assistant", "content": "Jazz is music"} in chat_server.requests[1]["messages"]

    # The endpoint goes away: the embedded clarification is spoken instead, and it is counted.
    chat_server.close()
    transcripts.publish(Transcript(turn_id=turn + 3, text="what do you think about opera", is_final=True))
    assert probe.wait_for(lambda: any(r.turn_id == turn + 3 for r in probe.of(topics.SPEECH_REQUEST)), 10)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "dialogue").get("llm_fallbacks", 0)) == 1, 5)
