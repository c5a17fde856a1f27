"""The face engine: lip-sync on the clock, expressions that follow the dialogue, blinks."""




def test_lip_sync_follows_the_clock_and_stops_with_the_voice():
    from optimus_voice.speaking.face import LipSync, TimedViseme

    lips = LipSync()
    ms = 1_000_000
    lips.add([TimedViseme(7, "PP", "m", 0, 100 * ms, 0), TimedViseme(7, "aa", "a", 100 * ms, 250 * ms, 1600),
              TimedViseme(7, "sil", " ", 250 * ms, 900 * ms, 4000)])
    # In a gap (here before the first shape), the mouth rests until the next shape: the first entry is now's.
    gap = lips.window(-30 * ms, horizon_s=0.2)
    assert [(v.viseme, v.start_ns, v.end_ns, v.sample_index) for v in gap[:2]] == [("sil", -30 * ms, 0, 0),
                                                                                 ("PP", 0, 100 * ms, 0)]
    assert lips.window(-300 * ms, horizon_s=0.2) == [], "nothing due within the horizon: no command to move"
    assert lips.current(50 * ms) == "PP" and lips.current(120 * ms) == "aa"
    assert [v.viseme for v in lips.window(120 * ms, horizon_s=0.2)] == ["aa", "sil"]
    lips.drop(7)
    assert lips.current(120 * ms) == "sil" and lips.window(120 * ms) == []
    # Visemes of the cut-off turn that arrive after the cut (another topic) stay silent; the next turn speaks.
    lips.add([TimedViseme(7, "O", "o", 300 * ms, 400 * ms, 4800), TimedViseme(8, "E", "e", 300 * ms, 400 * ms, 0)])
    assert [v.turn_id for v in lips.window(300 * ms)] == [8]


def test_face_follows_dialogue_and_blinks():
    from optimus_voice.contract.states import State
    from optimus_voice.speaking.face import FaceMixer

    face = FaceMixer(smoothing_s=0.1, blink_every_s=1.0)
    face.state = State.LISTENING
    face.user_emotion = "sad"
    frames = [face.step(t / 30) for t in range(90)]
    assert frames[-1].expression == "concerned"
    assert frames[-1].valence < -0.2
    assert min(f.eyelid_openness for f in frames) < 0.5  # it blinked
    face.state = State.SPEAKING
    face.reply_expression = "happy"
    assert face.step(3.1).expression == "happy"
