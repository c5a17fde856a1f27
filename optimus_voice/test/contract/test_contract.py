"""The interface contract: every message is stamped, every message about a user turn carries its turn id."""

import pytest
from optimus_voice.contract import topics
from optimus_voice.contract.msgtypes import message_class

OURS = [t for t in topics.ALL if t.type.startswith("optimus_voice_msgs/")]
PER_TURN = {"VoiceActivity", "Transcript", "Emotion", "SpeechRequest", "SpeechProgress", "PlaybackStatus",
            "VisemeSequence", "VoiceDirection",
            "FaceExpression", "DialogueState", "AudioFrame"}


@pytest.mark.parametrize("topic", OURS, ids=[t.name for t in OURS])
def test_every_message_has_a_header_stamp(topic):
    cls = message_class(topic.type)
    fields = cls.get_fields_and_field_types()
    assert fields.get("header") == "std_msgs/Header"


@pytest.mark.parametrize("name", sorted(PER_TURN))
def test_turn_messages_carry_turn_id(name):
    cls = message_class(f"optimus_voice_msgs/msg/{name}")
    assert cls.get_fields_and_field_types()["turn_id"] == "uint64"


def test_emotion_labels_are_the_fixed_set():
    from optimus_voice.feeling.emotions import LABELS

    from optimus_voice_msgs.msg import Emotion

    constants = {getattr(Emotion, k) for k in dir(Emotion) if k.isupper() and isinstance(getattr(Emotion, k), str)}
    assert set(LABELS) == constants


def test_turn_ids_increase_across_counters():
    from optimus_voice.contract.stamps import TurnCounter, plausible_turn

    first = TurnCounter()
    ids = [first.next() for _ in range(100)]
    assert ids == sorted(set(ids))
    # A restarted allocator (a new counter) still issues larger ids than before.
    assert TurnCounter().next() >= ids[0]
    # A corrupt stamp far in the future does not drag the ids after it into the future.
    assert plausible_turn(first.next(2**62)) and plausible_turn(first.next())
