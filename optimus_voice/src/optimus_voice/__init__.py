"""optimus_voice: the speech-interaction stack of a humanoid robot."""
