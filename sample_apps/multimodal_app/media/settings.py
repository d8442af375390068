"""Model choices and output folder, from the environment."""

import os
from pathlib import Path

VISION_MODEL = os.environ.get("STUDIO_VISION_MODEL", "gpt-4o")
TRANSCRIBE_MODEL = "whisper-1"
IMAGE_MODEL = "gpt-image-1"
TTS_MODEL = "tts-1"
TTS_VOICE = os.environ.get("STUDIO_TTS_VOICE", "alloy")
OUTPUT_DIR = Path(os.environ.get("STUDIO_OUTPUT_DIR", "studio-output"))
