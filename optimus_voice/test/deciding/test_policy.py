"""The embedded reply policy: paraphrases, emotion, what was actually said, the fallback matcher."""

import dataclasses
from pathlib import Path

import pytest


def test_policy_understands_paraphrases_it_was_not_given(policy):
    assert policy.matcher.backend == "minilm"
    # None of these is an example in intents.yaml (the benchmark has a larger set of its own).
    cases = {"hey there, good to see you": "greeting", "could you let me know the current hour": "time",
             "I can hardly hear a thing you say": "louder", "please don't talk so fast": "slower",
             "who exactly am I talking to": "identity", "okay, I'm heading out now, bye": "farewell",
             "sorry, could you say it one more time": "repeat", "be silent now": "stop"}
    for text, intent in cases.items():
        assert policy.respond(text).intent == intent, text
    for off_topic in ["what is the square root of two hundred", "please water the plants in the garden"]:
        assert policy.respond(off_topic).intent == "unknown", off_topic


def test_policy_answers_the_users_emotion_and_mood(policy):
    assert policy.respond("please speak louder").action == "volume_up"
    sad = policy.respond("how is it going", emotion="sad")
    assert (sad.expression, sad.style) == ("concerned", "calm")
    assert "sorry" in sad.text.lower() or "tough" in sad.text.lower()
    happy = policy.respond("how is it going", emotion="happy")
    assert happy.expression == "happy" and happy.text != sad.text
    # A neutral-sounding turn of a user whose mood has been low is answered gently.
    assert policy.respond("how is it going", emotion="neutral", mood=-0.6).style == "calm"
    unknown = policy.respond("the quantum chromodynamics of jellybeans", emotion="angry")
    assert unknown.intent == "unknown" and unknown.style == "calm"


def test_policy_repeats_what_was_actually_said_and_caps_replies(policy, tmp_path):
    from optimus_voice.common.words import cap
    from optimus_voice.deciding.policy import MAX_REPLY_CHARS, Policy

    policy.respond("what can you do")
    policy.spoken("I can chat with you, tell you")  # interrupted after these words
    assert policy.respond("say that again").text == "I said: I can chat with you, tell you"
    long = "This is a sentence. " * 40
    assert len(cap(long, MAX_REPLY_CHARS)) <= MAX_REPLY_CHARS and cap(long, MAX_REPLY_CHARS).endswith(".")
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents:\n  x:\n    examples: [a]\n    replies: [b]\n    action: rm_rf\nunknown:\n  replies: [c]\n")
    with pytest.raises(ValueError, match="whitelist"):
        Policy(bad)


def test_policy_falls_back_to_words_without_the_embedding_model():
    from pathlib import Path

    from optimus_voice.deciding.policy import Policy

    words_policy = Policy(Path(__file__).parents[2] / "config" / "intents.yaml", use_embeddings=False)
    assert words_policy.matcher.backend == "words"
    assert words_policy.respond("what time is it now").intent == "time"


def test_the_policy_remembers_the_users_name_and_what_they_said():
    from optimus_voice.deciding.policy import Policy

    policy = Policy(Path(__file__).parents[2] / "config" / "intents.yaml")
    assert policy.respond("what's my name").text.startswith("You haven't told me your name")
    assert policy.respond("what's your name").intent == "identity"  # about the robot, not the user
    hello = policy.respond("Hi, my name is Anna.")
    assert hello.intent == "introduce" and "Anna" in hello.text and policy.name == "Anna"
    assert policy.respond("I'm tired today").intent != "introduce" or policy.name == "Anna"  # not a name
    assert "Anna" in policy.respond("hello there").text
    assert policy.respond("do you remember my name").text == "You're Anna."
    policy.respond("what time is it")
    assert policy.respond("what did I just ask").text == "You said: what time is it"
    assert policy.respond("remind me to call Bob").intent == "unknown"  # not an introduction


def test_adjustments_carry_how_much(policy):
    louder = policy.respond("a lot louder please")
    assert (louder.action, louder.amount) == ("volume_up", 2.0)
    quietly = policy.respond("could you speak more quietly")
    assert (quietly.intent, quietly.action) == ("softer", "volume_down")
    level = policy.respond("set the volume to three")
    assert (level.action, level.amount, level.text) == ("volume_set", 3.0, "Okay, volume 3.")


def test_each_voice_has_its_own_name_and_memory():
    from optimus_voice.deciding.policy import Policy

    policy = Policy(Path(__file__).parents[2] / "config" / "intents.yaml")
    policy.respond("Hi, my name is Anna.", voice_id="voice_1")
    policy.respond("call me Sam", voice_id="voice_2")
    assert policy.respond("do you remember my name", voice_id="voice_1").text == "You're Anna."
    assert policy.respond("do you remember my name", voice_id="voice_2").text == "You're Sam."
    assert policy.respond("what's my name", voice_id="voice_3").intent == "no_name"  # a stranger
    policy.respond("what time is it", voice_id="voice_1")
    policy.respond("tell me a joke", voice_id="voice_2")
    assert "what time is it" in policy.respond("what did I just ask", voice_id="voice_1").text


def test_a_preview_remembers_nothing_and_the_reply_that_follows_is_the_same(policy):
    """A reply prepared at the user's first pause is a preview: if the turn then ends as it was, the real decision
    gives the same words (so the prepared audio is the one needed); if it goes on, nothing was remembered."""
    def timeless(reply):
        return dataclasses.replace(reply, decide_ms=0.0)

    for text in ("hello there", "Hi, my name is Zoe.", "what did I just ask"):
        preview = timeless(policy.respond(text, voice_id="voice_9", commit=False))
        assert timeless(policy.respond(text, voice_id="voice_9", commit=False)) == preview  # no reply turned
        assert timeless(policy.respond(text, voice_id="voice_9")) == preview
    assert "Zoe" in policy.respond("hello there", voice_id="voice_9").text
    greetings = {policy.respond("hello there", voice_id="voice_8").text for _ in range(3)}
    assert len(greetings) == 3  # committed replies still take turns
    policy.respond("I'm Max", voice_id="voice_7", commit=False)
    assert policy.person("voice_7").name == "" and not policy.person("voice_7").heard


def test_a_name_given_is_an_introduction_not_a_question(policy):
    reply = policy.respond("Hi, my name is Zoe.", voice_id="voice_6")
    assert reply.intent == "introduce" and "Zoe" in reply.text
    assert policy.respond("what's my name", voice_id="voice_6").text == "You're Zoe."


def test_the_time_is_written_as_people_write_it(policy):
    import datetime as dt

    evening = policy.respond("what time is it", now=dt.datetime(2026, 12, 7, 19, 5))
    assert evening.text == "It's 7:05 PM on Monday, December 7."
    assert policy.respond("what time is it", now=dt.datetime(2026, 1, 1, 0, 30)).text == \
        "It's 12:30 AM on Thursday, January 1."


def test_the_fixed_replies_to_synthesize_ahead():
    from optimus_voice.deciding.policy import fixed_replies

    replies = fixed_replies(Path(__file__).parents[2] / "config" / "intents.yaml")
    assert replies[0] == ("Sorry, I didn't get that. Could you say it another way?", "neutral")  # said most
    assert ("Sorry, I didn't get that. Could you say it another way?", "calm") in replies  # to a sad user
    assert ("I'm sorry you're feeling down. Could you tell me a little more?", "calm") in replies  # as answered
    assert not any("{" in text for text, _ in replies)  # "It's {time} on {date}." is never the same twice
    assert len(set(replies)) == len(replies)
