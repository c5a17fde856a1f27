# The README's two commands. Each sets up whatever is missing first (idempotent: seconds on a rerun).
.PHONY: setup demo test lint clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/optimus-voice up --mic-file optimus_voice/test/data/cv_what_did_he_look_like.wav mic_loop:=true \
		audio_out_wav:=out/demo_replies.wav --log-dir out/demo_logs --show --duration $${DURATION:-30}

test: setup lint
	$(PY) -m pytest optimus_voice/test -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf build log out
