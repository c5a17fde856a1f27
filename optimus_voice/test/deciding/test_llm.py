"""The optional language-model backend: streamed sentences, what the context keeps, clear errors.

The chat endpoint is a stand-in for a service the robot provides (a llama.cpp or vLLM server): helpers.FakeChatServer.
"""

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
    assert pieces[0] == "Jazz is music built on improvisation, swing and the blues."
    assert pieces[-1] == "Do you play an instrument?"
    assert " ".join(pieces) == ANSWER
    request = chat_server.requests[0]
    assert request["stream"] is True and request["model"] == "robot-llm"
    # The cap holds whatever the model says.
    capped = list(sentences(stream.deltas([{"role": "user", "content": "again"}]), max_words=12))
    assert capped == [pieces[0]]  # the last whole sentence within 12 words: nothing is cut mid-sentence
    # A reply the model left unfinished at its token limit loses its unfinished end.
    assert list(sentences(iter(["It is nice. And then the", " model stops"]))) == ["It is nice."]
    assert list(sentences(iter(["Sure"]))) == ["Sure"]  # unless that is all there is


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
