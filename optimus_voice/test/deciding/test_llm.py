"""The optional language-model backend: streamed sentences, what the context keeps, clear errors.

The chat endpoint is a stand-in for a service the robot provides (a llama.cpp or vLLM server): helpers.FakeChatServer.
"""

import time

import pytest
from helpers import ANSWER, FakeChatServer, dead_url
from optimus_voice.deciding.llm import ChatStream, Conversation, LlmConfig, LlmError, sentences


@pytest.fixture
def chat_server():
    server = FakeChatServer()
    yield server
    server.close()


def test_reply_streams_as_speakable_sentences(chat_server):
    stream = ChatStream(LlmConfig(chat_server.url, "robot-llm"))
    pieces = list(sentences(stream.deltas([{"role": "user", "content": "tell me about jazz"}])))
    assert pieces[:2] == ["Jazz is music built on improvisation,", "swing and the blues."]  # a short first piece
    assert pieces[-1] == "Do you play an instrument?"
    assert " ".join(pieces) == ANSWER
    # Its own count of what streamed: a reply cut short never gets the server's timings.
    assert stream.deltas_received == -(-len(ANSWER) // 7) and stream.pieces_per_second() > 0
    request = chat_server.requests[0]
    assert request["stream"] is True and request["model"] == "robot-llm"
    # The cap holds whatever the model says.
    capped = list(sentences(stream.deltas([{"role": "user", "content": "again"}]), max_words=12))
    assert capped == pieces[:2]  # the last whole piece within 12 words: nothing is cut mid-sentence
    # A reply the model left unfinished at its token limit loses its unfinished end.
    assert list(sentences(iter(["It is nice. And then the", " model stops"]))) == ["It is nice."]
    assert list(sentences(iter(["Sure"]))) == ["Sure"]  # unless that is all there is


def test_a_long_first_sentence_starts_the_voice_at_a_phrase():
    """Small models write long sentences without commas: the first piece ends before a phrase's first word."""
    said = "The crew are still breathing fire with a smile on their faces. It was fun, and I liked it."
    words = iter(word + " " for word in said.split())
    assert list(sentences(words)) == ["The crew are still breathing fire", "with a smile on their faces.",
                                      "It was fun, and I liked it."]
    assert list(sentences(iter(["I am so happy to see you", " with"]))) == ["I am so happy to see you with"]
    # The sentence the first piece began is finished even when the model stops without punctuation.
    assert list(sentences(iter(["I am so happy to see you with", " me"]))) == ["I am so happy to see you", "with me"]
    assert list(sentences(iter(["Oh it is good to see you"]))) == ["Oh it is good to see you"]  # too short to cut


def test_a_list_is_said_line_by_line_and_abbreviations_end_no_sentence():
    """A model asked for plain words may still write a list: each line is a piece (the TTS drops its mark), and
    the full stops of "Dr.", "e.g." and a list's "1." end no piece, whatever the deltas' sizes."""
    listed = "Steps:\n1. Open the door.\n2. Step inside\n- then wait\nThat is all."
    said = "Ask Dr. Smith at 5:30, e.g. after lunch. No. J. K. Rowling counted to 3. Then she stopped."
    def deltas(text: str, size: int) -> list[str]:
        return [text[i:i + size] for i in range(0, len(text), size)]

    for size in (1, 3, 7):
        assert list(sentences(deltas(listed, size))) == ["Steps:", "1. Open the door.", "2. Step inside",
                                                         "- then wait", "That is all."]
        assert list(sentences(deltas(said, size))) == ["Ask Dr. Smith at 5:30,", "e.g. after lunch.", "No.",
                                                       "J. K. Rowling counted to 3.", "Then she stopped."]


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
    # How the user sounds goes with their turn, so the start shared by every request (the server's prompt cache)
    # stays the same whatever the emotion.
    assert "happy" in messages[-1]["content"] and messages[:-1] == talk.history()
    assert talk.messages("thanks", "sad")[:-1] == talk.history()


def test_a_cancelled_reply_stops_streaming_at_once():
    """A barge-in or a newer turn cancels the model's reply: its stream is closed, no further sentence is handed
    back, and the worker says it was cancelled (the time from cancel() to the closed stream goes to /diagnostics)."""
    import threading

    from optimus_voice.deciding.llm import LlmWorker

    slow = FakeChatServer(chunk_delay_s=0.05)  # the whole answer takes about 1.3 s to stream
    events, first = [], threading.Event()

    def deliver(event):
        events.append(event)
        first.set()

    worker = LlmWorker(LlmConfig(slow.url, timeout_s=5.0), deliver)
    try:
        worker.submit(7, [{"role": "user", "content": "tell me about jazz"}])
        assert first.wait(10) and events[0].kind == "sentence"
        worker.cancel(7)
        deadline = time.monotonic() + 5
        while not any(e.kind == "cancelled" for e in events) and time.monotonic() < deadline:
            time.sleep(0.01)
        kinds = [e.kind for e in events]
        assert kinds[-1] == "cancelled" and kinds.count("sentence") < 3 and "done" not in kinds, kinds
        # A newer turn's reply cancels the one still running, and is answered.
        events.clear()
        worker.submit(8, [{"role": "user", "content": "again"}])
        time.sleep(0.2)
        worker.submit(9, [{"role": "user", "content": "and again"}])
        deadline = time.monotonic() + 10
        while not any(e.kind == "done" for e in events) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [e.kind for e in events if e.job_id == 8][-1] == "cancelled"
        assert [e.kind for e in events if e.job_id == 9][-1] == "done"
    finally:
        worker.stop()
        slow.close()
