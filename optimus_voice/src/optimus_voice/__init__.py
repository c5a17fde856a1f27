"""optimus_voice: the speech-interaction stack of a humanoid robot."""

import os
import sys

# Installed into a Python venv (the ROS 2 PyPI wheels) nothing sources a setup script: the venv is then the
# ament prefix, so package share directories resolve as they would in a sourced workspace.
if not os.environ.get("AMENT_PREFIX_PATH") and os.path.isdir(os.path.join(sys.prefix, "share", "ament_index")):
    os.environ["AMENT_PREFIX_PATH"] = sys.prefix
