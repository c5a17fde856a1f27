"""The dialogue without DDS: when a turn is answered, what is said and sent, barge-in, actions, what the robot
actually said, and the language model's sentences handed back to it."""

import dataclasses

import pytest
from optimus_voice.contract.health import Health
from optimus_voice.contract.states import State
from optimus_voice.deciding.manager import CancelLlm, DialogueConfig, DialogueManager, LlmJob, Say, Stop


@pytest.fixture
def dialogue(policy):
    policy.last_spoken = ""
    return DialogueManager(policy, DialogueConfig(emotion_wait_s=0.15), Health())


def said(out):
    return [o for o in out if isinstance(o, Say)]


def answer(dm, turn, text, t=0.0, emotion="neutral"):
    """A whole user turn: speech start and end, the final transcript, its emotion."""
    dm.voice_activity(turn, started=True, ended=False, now_s=t)
    dm.voice_activity(turn, started=False, ended=True, now_s=t + 1)
    out = dm.transcript(turn, text, final=True, now_s=t + 1.2)
    return out + dm.emotion(turn, emotion, 0.0, now_s=t + 1.25)


def test_a_final_waits_for_its_emotion_then_is_answered_once(dialogue):
    dialogue.voice_activity(1, True, False, 0.0)
    assert dialogue.snapshot().state == State.LISTENING
    assert dialogue.transcript(1, "hello there", final=True, now_s=1.0) == []  # waits for the emotion
    assert dialogue.snapshot().state == State.THINKING and dialogue.busy
    (say,) = said(dialogue.emotion(1, "sad", -0.4, now_s=1.05))
    assert say.turn_id == 1 and say.intent == "greeting" and say.style == "calm"  # a sad greeting, answered gently
    assert dialogue.tick(2.0) == []  # answered once
    # Without an emotion, the wait ends after emotion_wait_s.
    dialogue.transcript(2, "what time is it", final=True, now_s=3.0)
    assert dialogue.tick(3.1) == []
    (late,) = said(dialogue.tick(3.2))
    assert late.intent == "time" and dialogue.snapshot().user_emotion == "neutral"


def test_a_turn_the_user_went_on_from_is_never_answered(dialogue):
    dialogue.transcript(1, "hello there", final=True, now_s=0.0)
    dialogue.voice_activity(2, True, False, 0.05)  # the user goes on before the reply was decided
    out = dialogue.transcript(2, "what time is it", final=True, now_s=0.1) + dialogue.tick(0.5)
    assert [s.turn_id for s in said(out)] == [2]
    assert dialogue.health.counters["stale_turns_dropped"] == 1


def test_words_over_the_robot_stop_it_and_its_echo_does_not(dialogue):
    (reply,) = said(answer(dialogue, 1, "what can you do"))
    dialogue.progress(1, "started", "")
    assert dialogue.snapshot().state == State.SPEAKING
    # Its own words come back through the microphone: no stop.
    dialogue.voice_activity(2, True, False, 5.0)
    echo = " ".join(reply.text.split()[:5])
    assert dialogue.transcript(2, echo, final=False, now_s=5.5) == []
    assert dialogue.transcript(2, echo, final=True, now_s=6.0) == []
    assert dialogue.health.counters["transcripts_not_answered"] == 1
    # A real interruption stops the reply at once, and the new turn is answered.
    dialogue.voice_activity(3, True, False, 7.0)
    assert dialogue.transcript(3, "hold on, who made you", final=False, now_s=7.5) == [Stop(1)]
    assert dialogue.snapshot().state == State.LISTENING
    dialogue.progress(1, "interrupted", "I can chat with")
    out = dialogue.transcript(3, "hold on, who made you", final=True, now_s=8.0) + dialogue.tick(8.5)
    assert [s.intent for s in said(out)] == ["identity"]
    assert dialogue.health.counters["barge_ins_words"] == 1
    # What was played, not what was planned, is what "say that again" repeats.
    dialogue.progress(3, "done", "It is late.")
    assert said(answer(dialogue, 4, "say that again", t=10))[0].text == "I said: It is late."


def test_what_the_robot_says_that_it_did_not_decide_is_known_as_its_own_when_heard_back(dialogue):
    """The robot's own software made it say more in the turn (a request of no turn, said as more of the latest
    turn): the speech node's progress carries the whole reply, and those words heard back are its echo, not a
    barge-in."""
    answer(dialogue, 1, "what can you do")
    dialogue.progress(1, "started", "", text="I can chat with you. My battery is low.")
    dialogue.voice_activity(2, True, False, 5.0)
    assert dialogue.transcript(2, "my battery is low", final=False, now_s=5.5) == []
    assert dialogue.transcript(2, "my battery is low", final=True, now_s=6.0) == []
    dialogue.voice_activity(3, True, False, 7.0)
    assert dialogue.transcript(3, "hold on, who made you", final=False, now_s=7.5) == [Stop(1)]


def test_sustained_speech_stops_the_robot_and_barge_in_can_be_switched_off(dialogue):
    answer(dialogue, 1, "what can you do")
    dialogue.progress(1, "started", "")
    dialogue.voice_activity(2, True, False, 5.0)
    assert dialogue.tick(5.5) == []
    assert dialogue.tick(6.3) == [Stop(1)]
    fast = DialogueManager(dialogue.policy, DialogueConfig())
    fast.echo_cancelled(True)
    answer(fast, 1, "what can you do")
    fast.progress(1, "started", "")
    fast.voice_activity(2, True, False, 5.0)
    assert fast.tick(5.2) == [Stop(1)]
    quiet = DialogueManager(dialogue.policy, DialogueConfig(barge_in=False))
    answer(quiet, 1, "what can you do")
    quiet.progress(1, "started", "")
    quiet.voice_activity(2, True, False, 5.0)
    assert quiet.tick(6.3) == [] and "barge_ins_sustained_speech" not in quiet.health.counters
    heard_over = DialogueManager(dialogue.policy, DialogueConfig(barge_in_double_talk=0.5), Health())
    heard_over.echo_cancelled(True)
    answer(heard_over, 1, "what can you do")
    heard_over.progress(1, "started", "")
    # The canceller heard most of the turn's opening speech over the robot's voice: the robot stops at once.
    assert heard_over.voice_activity(2, True, False, 5.0, double_talk=0.9) == [Stop(1)]
    assert heard_over.health.counters["barge_ins_double_talk"] == 1


def test_actions_change_how_the_robot_speaks_and_stop_stops_it(dialogue):
    (louder,) = said(answer(dialogue, 1, "please speak louder"))
    assert louder.volume == pytest.approx(1.25) and louder.rate == 1.0
    (slower,) = said(answer(dialogue, 2, "you talk too fast", t=5))
    assert slower.rate == pytest.approx(1 / 1.15) and slower.volume == pytest.approx(1.25)
    dialogue.progress(2, "started", "")
    out = answer(dialogue, 3, "stop talking", t=10)
    assert isinstance(out[0], Stop) and said(out)[0].intent == "stop"


def test_the_language_model_answers_chat_and_the_embedded_reply_stands_in_when_it_fails(dialogue):
    dialogue.configure(DialogueConfig(emotion_wait_s=0.15, llm=True))
    (job,) = answer(dialogue, 1, "what do you think about jazz music")
    assert isinstance(job, LlmJob)
    assert job.messages[-1] == {"role": "user", "content": "what do you think about jazz music"}
    first = said(dialogue.llm_sentence(job.job_id, "Jazz is great."))[0]
    assert (first.text, first.intent) == ("Jazz is great.", "llm")
    assert dialogue.llm_done(job.job_id) == []
    # Commands never go to the model.
    assert said(answer(dialogue, 2, "please speak louder", t=5))[0].intent == "louder"
    # A failure before the first sentence: the embedded clarification is said instead, and counted.
    (job,) = answer(dialogue, 3, "tell me about opera", t=10)
    (fallback,) = said(dialogue.llm_failed(job.job_id, "connection refused"))
    assert fallback.intent == "unknown" and dialogue.health.counters["llm_fallbacks"] == 1
    # A reply for a turn the user already went on from is cancelled, never said.
    (job,) = answer(dialogue, 4, "tell me about rock music", t=20)
    dialogue.voice_activity(5, True, False, 21.0)
    assert CancelLlm(job.job_id) in dialogue.transcript(5, "actually never mind", final=True, now_s=22.0)
    assert dialogue.llm_sentence(job.job_id, "Rock is loud.") == []
    assert dialogue.health.counters["llm_stale_dropped"] == 1


def test_the_models_reply_is_prepared_at_the_first_pause_and_spoken_once_the_turn_is_over(dialogue):
    dialogue.configure(DialogueConfig(emotion_wait_s=0.0, llm=True))
    dialogue.voice_activity(1, True, False, 0.0)
    dialogue.voice_activity(1, False, False, 1.0, paused=True)
    (job,) = dialogue.transcript(1, "tell me about jazz", final=False, now_s=1.1)  # the speculative final
    assert isinstance(job, LlmJob) and dialogue.health.counters["llm_prepared"] == 1
    assert dialogue.llm_sentence(job.job_id, "Jazz swings.") == []  # held: the user may go on
    dialogue.voice_activity(1, False, True, 1.3)
    out = dialogue.transcript(1, "tell me about jazz", final=True, now_s=1.4)
    assert [s.text for s in said(out)] == ["Jazz swings."]  # spoken the moment the turn is over
    assert [s.text for s in said(dialogue.llm_sentence(job.job_id, "It is old."))] == ["It is old."]
    # The user went on after the pause: the prepared reply is dropped and the whole turn asked for.
    dialogue.voice_activity(2, True, False, 5.0)
    dialogue.voice_activity(2, False, False, 6.0, paused=True)
    (early,) = dialogue.transcript(2, "what do you think of", final=False, now_s=6.1)
    assert dialogue.llm_sentence(early.job_id, "About what?") == []
    dialogue.voice_activity(2, False, True, 7.0)
    out = dialogue.transcript(2, "what do you think of the blues", final=True, now_s=7.1)
    assert out[0] == CancelLlm(early.job_id) and isinstance(out[1], LlmJob) and not said(out)
    # A command at the pause is never sent to the model.
    dialogue.voice_activity(3, True, False, 9.0)
    dialogue.voice_activity(3, False, False, 9.5, paused=True)
    assert dialogue.transcript(3, "speak louder", final=False, now_s=9.6) == []
    # Chat at the pause that ends as a command: the model's reply is dropped and the command is answered.
    dialogue.voice_activity(4, True, False, 12.0)
    dialogue.voice_activity(4, False, False, 12.5, paused=True)
    (early,) = dialogue.transcript(4, "tell me about the ocean", final=False, now_s=12.6)
    dialogue.voice_activity(4, False, True, 13.0)
    out = dialogue.transcript(4, "tell me about the ocean and speak louder", final=True, now_s=13.1)
    assert out[0] == CancelLlm(early.job_id) and said(out)[0].volume > 1.0


def test_a_barge_in_stops_the_models_reply_too(dialogue):
    dialogue.configure(DialogueConfig(emotion_wait_s=0.15, llm=True))
    (job,) = answer(dialogue, 1, "what do you think about jazz music")
    dialogue.llm_sentence(job.job_id, "Jazz is great.")
    dialogue.progress(1, "started", "")
    dialogue.voice_activity(2, True, False, 5.0)
    out = dialogue.transcript(2, "hold on, who made you", final=False, now_s=5.3)
    assert out == [Stop(1), CancelLlm(job.job_id)]  # the voice stops, and the model stops writing the rest
    assert dialogue.llm_sentence(job.job_id, "It has swing.") == []


def test_each_voice_has_its_own_mood_history_and_name(dialogue):
    def turn(turn_id, text, voice, mood=0.0, t=0.0):
        dialogue.voice_activity(turn_id, True, False, t)
        dialogue.voice_activity(turn_id, False, True, t + 1)
        out = dialogue.transcript(turn_id, text, final=True, now_s=t + 1.2, voice_id=voice)
        out += dialogue.emotion(turn_id, "neutral", mood, now_s=t + 1.25, voice_id=voice)
        for say in said(out):
            dialogue.progress(turn_id, "started", "")
            dialogue.progress(turn_id, "done", say.text)
        return said(out)

    turn(1, "Hi, my name is Anna.", "voice_1", t=0)
    turn(2, "I'm Tom", "voice_2", t=5)
    (reply,) = turn(3, "do you remember my name", "voice_1", t=10)
    assert reply.text == "You're Anna."
    # Tom is down; Anna is not: a neutral turn of Tom's is answered as sad, Anna's is not.
    sad = turn(4, "hello", "voice_2", mood=-0.8, t=15)
    calm = turn(5, "hello", "voice_1", mood=0.0, t=20)
    assert sad[0].style != calm[0].style or sad[0].expression != calm[0].expression
    # Each voice's conversation holds only what that voice said.
    anna = [m["content"] for m in dialogue.conversation_of("voice_1").history() if m["role"] == "user"]
    tom = [m["content"] for m in dialogue.conversation_of("voice_2").history() if m["role"] == "user"]
    assert "I'm Tom" not in anna and "hello" in anna and tom == ["I'm Tom", "hello"]


def test_the_embedded_reply_is_prepared_at_the_first_pause_and_decided_again_at_the_end(dialogue):
    """At the pause the likely reply goes out to be synthesized, not played, once the emotion of its text is in;
    the final decides as always, and when the turn ended as it was, that decision is the prepared reply (the TTS
    starts from its audio)."""
    dialogue.voice_activity(1, True, False, 0.0)
    dialogue.voice_activity(1, False, False, 1.0, paused=True)
    assert dialogue.transcript(1, "what can you do", final=False, now_s=1.1) == []
    (early,) = dialogue.emotion_so_far(1, "happy")  # the estimate of the text up to the pause
    assert early.prepare and early.style == "happy" and dialogue.health.counters["replies_prepared"] == 1
    assert dialogue.emotion_so_far(1, "happy") == []  # prepared once
    assert dialogue.snapshot().robot_text == "" and dialogue.snapshot().state == State.LISTENING  # nothing said
    dialogue.voice_activity(1, False, True, 1.3)
    assert dialogue.transcript(1, "what can you do", final=True, now_s=1.4) == []  # waits for its emotion
    (final,) = said(dialogue.emotion(1, "happy", 0.2, now_s=1.41))
    assert not final.prepare and final == dataclasses.replace(early, prepare=False)
    # The user went on: a new preview, and the decision at the end answers the whole turn.
    dialogue.voice_activity(2, True, False, 5.0)
    dialogue.voice_activity(2, False, False, 6.0, paused=True)
    dialogue.transcript(2, "hello there", final=False, now_s=6.1)
    (early,) = dialogue.emotion_so_far(2, "neutral")
    dialogue.voice_activity(2, False, True, 7.0)
    dialogue.transcript(2, "hello there, what can you do", final=True, now_s=7.1)
    (final,) = said(dialogue.emotion(2, "neutral", 0.0, now_s=7.2))
    assert early.prepare and not final.prepare and final.intent != early.intent
    # Went on before the emotion came: nothing is prepared for the text that was not the end.
    dialogue.voice_activity(5, True, False, 20.0)
    dialogue.voice_activity(5, False, False, 20.5, paused=True)
    dialogue.transcript(5, "what is", final=False, now_s=20.6)
    dialogue.transcript(5, "what is the time", final=False, now_s=21.0)
    assert dialogue.emotion_so_far(5, "neutral") == []
    # Actions take effect only once the turn is over: nothing is prepared for them.
    dialogue.voice_activity(3, True, False, 9.0)
    dialogue.voice_activity(3, False, False, 9.5, paused=True)
    dialogue.transcript(3, "speak louder", final=False, now_s=9.6)
    assert dialogue.emotion_so_far(3, "neutral") == [] and dialogue.volume == 1.0


def test_nothing_is_prepared_for_a_turn_heard_over_the_robot_until_it_takes_the_floor(dialogue):
    """A turn that opens while the robot speaks may be the robot's own voice: no reply is prepared for it."""
    (reply,) = said(answer(dialogue, 1, "what can you do"))
    dialogue.progress(1, "started", "")
    dialogue.voice_activity(2, True, False, 5.0)
    dialogue.voice_activity(2, False, False, 5.5, paused=True)
    assert dialogue.transcript(2, reply.text, final=False, now_s=5.6) == []  # its own words: echo
    dialogue.voice_activity(3, True, False, 8.0)
    dialogue.voice_activity(3, False, False, 8.5, paused=True)
    assert dialogue.emotion_so_far(2, "neutral") == []
    assert dialogue.transcript(3, "hold on, what time is it", final=False, now_s=8.6) == [Stop(1)]
    assert [o.prepare for o in dialogue.emotion_so_far(3, "neutral")] == [True]  # a barge-in: it has the floor
