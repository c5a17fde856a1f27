"""A turn cut at a pause inside a sentence, and the user going on before the robot's answer could be heard: the
dialogue answers the whole sentence once, and the cut answer leaves no trace in the conversation. A turn that
answers the robot, another voice, or a command stands alone."""

import pytest
from optimus_voice.contract.health import Health
from optimus_voice.deciding.manager import DialogueConfig, DialogueManager, Say, Stop

FIRST, REST = "What is", "my name?"  # heard alone, the first half asks who the robot is


@pytest.fixture
def dialogue(policy):
    policy.last_spoken = ""
    return DialogueManager(policy, DialogueConfig(emotion_wait_s=0.15), Health())


def turn(dm, turn_id, text, onset_s, end_s, voice=""):
    """One user turn as the ASR and emotion nodes report it (times: capture clock, s; the dialogue's own clock
    runs 0.2 s later)."""
    out = dm.voice_activity(turn_id, True, False, onset_s + 0.2, at_s=onset_s)
    out += dm.transcript(turn_id, text, final=False, now_s=onset_s + 0.3, voice_id=voice)
    out += dm.voice_activity(turn_id, False, True, end_s + 0.2, at_s=end_s)
    out += dm.transcript(turn_id, text, final=True, now_s=end_s + 0.2, voice_id=voice)
    return out + dm.emotion(turn_id, "neutral", 0.0, now_s=end_s + 0.25, voice_id=voice)


def says(out):
    return [o for o in out if isinstance(o, Say)]


def test_going_on_before_the_answer_was_heard_gets_one_answer_to_the_whole_sentence(dialogue):
    (cut,) = says(turn(dialogue, 1, FIRST, 0.2, 1.0))
    assert cut.intent == "identity"
    dialogue.progress(1, "started", "", at_s=1.35)  # its answer starts to play...
    # ... and 70 ms later, too soon to have heard it, the user goes on: the robot stops.
    assert dialogue.voice_activity(2, True, False, 1.62, at_s=1.42) == []
    assert dialogue.transcript(2, REST, final=False, now_s=1.9) == [Stop(1)]
    dialogue.progress(1, "interrupted", "I'm Optimus")
    dialogue.voice_activity(2, False, True, 2.1, at_s=2.0)
    out = dialogue.transcript(2, REST, final=True, now_s=2.2)
    (whole,) = says(out + dialogue.emotion(2, "neutral", 0.0, now_s=2.25))
    assert whole.turn_id == 2 and whole.intent == "no_name"  # it was never told the user's name
    assert dialogue.snapshot().user_text == f"{FIRST} {REST}"
    assert dialogue.health.counters["turns_continued"] == 1
    dialogue.progress(2, "done", whole.text)
    history = [m["content"] for m in dialogue.conversation.history()[1:]]
    assert history == [f"{FIRST} {REST}", whole.text]  # the cut answer is not part of it


def test_the_reply_before_the_robot_has_answered_at_all_is_joined_too(dialogue):
    """The answer to the first half was still being decided (or the model was writing it)."""
    dialogue.voice_activity(1, True, False, 0.4, at_s=0.2)
    dialogue.voice_activity(1, False, True, 1.1, at_s=1.0)
    dialogue.transcript(1, FIRST, final=True, now_s=1.2)
    out = turn(dialogue, 2, REST, 1.25, 2.0)  # its decision is stale: only the whole is answered
    assert [s.intent for s in says(out)] == ["no_name"]
    assert dialogue.health.counters["stale_turns_dropped"] == 1


def test_a_turn_after_the_answer_was_heard_stands_alone(dialogue):
    turn(dialogue, 1, FIRST, 0.2, 1.0)
    dialogue.progress(1, "started", "", at_s=1.3)
    (alone,) = says(turn(dialogue, 2, REST, 1.7, 2.2))  # 400 ms into the answer: a reply to it
    assert alone.intent == "no_name" and "turns_continued" not in dialogue.health.counters


@pytest.mark.parametrize("case", ["other voice", "too late", "switched off", "command", "after a command",
                                  "unstamped reply"])
def test_other_voices_late_turns_and_commands_are_never_joined(policy, case):
    dm = DialogueManager(policy, DialogueConfig(continue_within_s=0.0 if case == "switched off" else 1.5), Health())
    first = "turn it up" if case == "after a command" else FIRST
    turn(dm, 1, first, 0.2, 1.0, voice="voice_1")
    if case == "unstamped reply":  # a progress message without a stamp: the reply may have been heard
        dm.progress(1, "started", "")
    second = "stop" if case == "command" else REST
    start = 2.6 if case == "too late" else 1.2  # the robot had not started its answer (as far as it can tell)
    voice = "voice_2" if case == "other voice" else "voice_1"
    out = turn(dm, 2, second, start, start + 0.6, voice=voice)
    assert dm.snapshot().user_text == second
    assert "turns_continued" not in dm.health.counters
    if case != "command":
        assert [s.intent for s in says(out)] == ["no_name"]


def test_the_whole_is_prepared_at_the_pause_and_a_command_at_the_end_stands_alone(dialogue):
    turn(dialogue, 1, FIRST, 0.2, 1.0)
    dialogue.voice_activity(2, True, False, 1.4, at_s=1.2)
    dialogue.voice_activity(2, False, False, 1.9, paused=True)
    dialogue.transcript(2, REST, final=False, now_s=2.0)
    (early,) = dialogue.emotion_so_far(2, "neutral")
    assert early.prepare and early.intent == "no_name"  # the reply to the whole sentence is prepared
    dialogue.voice_activity(2, False, True, 2.6, at_s=2.4)
    dialogue.transcript(2, "stop", final=True, now_s=2.7)  # the user went on, and it ended as a command
    assert dialogue.snapshot().user_text == "stop"
