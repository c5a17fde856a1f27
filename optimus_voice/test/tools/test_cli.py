"""The optimus-voice command on real clips: what a user types, what they get back."""

import json
import subprocess
import sys
from pathlib import Path

from optimus_voice.tools.textnorm import wer

TRANSCRIPTS = {"cv_what_did_he_look_like.wav": "What did he look like?",
               "cv_concourse.wav": "Shall I meet you in the concourse then?"}


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimus_voice.tools.cli.main", *args], capture_output=True, text=True,
                          check=check, timeout=300)


def test_transcribe_prints_one_json_object_per_file(data_dir, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    out = cli("transcribe", "--json", *(str(data_dir / f) for f in TRANSCRIPTS), str(bad), check=False)
    assert out.returncode == 1  # one file failed, the others were still transcribed
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"].rsplit("/", 1)[-1] for r in results] == [*TRANSCRIPTS, "bad.wav"]
    for r in results[:2]:
        assert wer([TRANSCRIPTS[r["file"].rsplit("/", 1)[-1]]], [r["text"]]) <= 0.2, r["text"]
        times = [(w["start"], w["end"]) for w in r["words"]]
        assert times == sorted(times) and all(0 <= s <= e <= r["timings"]["audio_s"] for s, e in times)
        assert all(0 <= w["confidence"] <= 1 for w in r["words"])
        assert r["timings"]["rtf"] > 0
    assert "cannot read audio file" in results[2]["error"]


def test_chat_answers_one_turn_as_json():
    reply = json.loads(cli("chat", "--text", "could you speak a bit more slowly", "--json").stdout)
    assert reply["intent"] == "slower" and reply["action"] == "rate_down"
    sad = json.loads(cli("chat", "--text", "I had a rotten day", "--emotion", "sad", "--json").stdout)
    assert sad["expression"] == "concerned" and sad["style"] == "calm"
    assert set(sad) >= {"intent", "confidence", "reply", "expression"}


def test_chat_session_over_stdin_repeats_its_last_reply():
    out = subprocess.run([sys.executable, "-m", "optimus_voice.tools.cli.main", "chat", "--json"],
                         input="what time is it\nsay that again\n", capture_output=True, text=True, check=True,
                         timeout=120)
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["intent"] == "time" and second["intent"] == "repeat"
    assert second["reply"] == f"I said: {first['reply']}"


def test_say_writes_the_wav_and_reports_first_audio_and_visemes(tmp_path):
    import soundfile as sf

    out = tmp_path / "reply.wav"
    result = json.loads(cli("say", "I am sorry to hear that. I am here for you.", "--emotion", "sad", "-o", str(out),
                            "--json").stdout)
    audio, rate = sf.read(str(out))
    assert abs(len(audio) / rate - result["audio_s"]) < 0.01 and result["audio_s"] > 1.5
    assert result["style"] == "sad" and 0 < result["first_audio_ms"] <= result["synth_ms"]
    assert result["pieces"][0]["text"] == "I am sorry to hear that."
    visemes = result["visemes"]
    assert {"PP", "sil"} <= {v["viseme"] for v in visemes}  # the m of "I am"
    assert abs(visemes[-1]["start"] + visemes[-1]["duration"] - result["audio_s"]) < 0.01


def test_bench_e2e_looks_for_its_default_clips_beside_the_repository():
    from optimus_voice.tools.cli.bench import DEFAULT_SET

    repository = Path(__file__).resolve().parents[3]
    assert repository.parent / "shared" / "data" / "asr_commonvoice_dev" == DEFAULT_SET


def test_chat_with_the_local_model_answers_chat_and_keeps_commands():
    """The real local llama.cpp server, started by the command: chat goes to it, a command never does."""
    out = subprocess.run([sys.executable, "-m", "optimus_voice.tools.cli.main", "chat", "--llm", "local", "--json"],
                         input="tell me something about the ocean\nplease speak louder\n", capture_output=True,
                         text=True, check=True, timeout=180)
    chat, command = (json.loads(line) for line in out.stdout.splitlines())
    assert chat["source"] == "llm" and chat["intent"] == "llm" and chat["action"] == "" and chat["reply"]
    assert 0 < chat["first_sentence_ms"] < 10_000 and chat["llm_deltas"] > 0
    assert command["source"] == "embedded" and command["action"] == "volume_up"


def test_demo_audio_is_a_conversation_under_a_minute_that_says_what_is_synthesized(tmp_path):
    import soundfile as sf

    wav = tmp_path / "demo.wav"
    lines = [line for line in cli("demo-audio", str(wav)).stdout.splitlines() if line.startswith("[demo]   ")]
    info = sf.info(str(wav))
    assert info.samplerate == 16000 and 30 < info.duration < 60
    assert len(lines) == 8 and sum("synthesized" in line for line in lines) == 7
    assert sum("recording" in line and "CC0" in line for line in lines) == 1
    assert sum("over the robot" in line for line in lines) == 1


def test_bench_turns_scores_endpointing_rules_on_the_pauses_of_real_speech(data_dir):
    clips = [str(data_dir / name) for name in ("jfk.wav", "cv_concourse.wav", "cv_what_did_he_look_like.wav")]
    result = json.loads(cli("bench", "turns", *clips, "--json").stdout)
    jfk = next(u for u in result["utterances"] if u["clip"] == "jfk.wav")
    inner = [p for p in jfk["pauses"] if p["silence_ms"] is not None]
    assert len(inner) >= 2 and jfk["pauses"][-1]["silence_ms"] is None  # JFK pauses between phrases, then ends
    assert all(0 <= p["done"] <= 1 and p["text"] for p in jfk["pauses"])
    report = result["report_half"]
    assert set(report) == {"fixed", "text_rule", "model_defaults", "model_tuned"}
    # A longer fixed silence never cuts more: the curve only goes down.
    cuts = [o["clips_cut_pct"] for o in report["fixed"].values()]
    assert cuts == sorted(cuts, reverse=True)
    # The other recognizer the ASR node can run reads the pauses' text
    moonshine = json.loads(cli("bench", "turns", clips[0], "--recognizer", "moonshine", "--json").stdout)
    assert moonshine["recognizer"] == "moonshine" and result["recognizer"] == "whisper"
    assert "country" in moonshine["utterances"][0]["pauses"][-1]["text"].lower()


def test_diarize_prints_rttm_for_files_and_bags(data_dir, tmp_path, speech_bag):
    import numpy as np
    import soundfile as sf
    from optimus_voice.audio_io.sources import load_audio

    jfk, other = load_audio(data_dir / "jfk.wav"), load_audio(data_dir / "librivox_ill_disposed.wav")
    two = tmp_path / "two people.wav"
    sf.write(two, np.concatenate([jfk, np.zeros(8000, np.float32), other, other]), 16000)
    out = cli("diarize", "--rttm", str(two), str(speech_bag), str(tmp_path / "missing.wav"), check=False)
    assert out.returncode == 1 and "missing.wav: error" in out.stderr  # the others were still diarized
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows and all(r[0] == "SPEAKER" and len(r) == 10 for r in rows)
    ours = [r for r in rows if r[1] == "two_people"]  # RTTM fields are split on spaces: none in the uri
    assert {r[7] for r in ours} == {"voice_0", "voice_1"}
    assert [r for r in rows if r[1] == "speech"], "the bag's audio was diarized too"
