# The README's two commands. Each sets up whatever is missing first (idempotent: seconds on a rerun).
.PHONY: setup demo test lint clean train-emotion bench

VENV := .venv
PY := $(VENV)/bin/python

setup:
	bash scripts/setup.sh

# A conversation of eight turns (LLM=off for embedded replies only): the user's voice is synthesized where no
# recording exists, and the demo says so.
LLM ?= local
demo: setup
	rm -rf out/demo_session
	$(VENV)/bin/optimus-voice demo-audio out/demo_conversation.wav
	$(VENV)/bin/optimus-voice up --mic-file out/demo_conversation.wav llm:=$(LLM) \
		audio_out_wav:=out/demo_replies.wav --log-dir out/demo_logs --record out/demo_session --show \
		--duration $${DURATION:-55}
	$(VENV)/bin/optimus-voice report out/demo_session -o out/demo_timeline.png

test: setup lint
	$(PY) -m pytest optimus_voice/test -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .

# Retrain the acoustic emotion model (CPU, about 15 minutes): make train-emotion DATA=path/to/labelled/folder
DATA ?= ../shared/data/ser_ravdess_dev
train-emotion: setup
	$(VENV)/bin/pip install -q -r requirements-train.txt
	$(PY) tools/train_emotion.py --data $(DATA)

# The stage benchmarks on ../shared/data; results in bench/results/, summarised in BENCHMARKS.md.
bench: setup
	$(PY) bench/asr.py
	$(PY) bench/dialogue.py
	$(PY) bench/tts.py
	$(PY) bench/idle.py
	$(PY) bench/diarize.py
	$(PY) bench/voices.py

clean:
	rm -rf build log out
