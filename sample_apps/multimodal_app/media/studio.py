"""The studio service: one client, four media features."""

import base64
from pathlib import Path

from openai import OpenAI

from media.encoding import b64_file, require_jpeg
from media.settings import IMAGE_MODEL, OUTPUT_DIR, TRANSCRIBE_MODEL, TTS_MODEL, TTS_VOICE, VISION_MODEL

DESCRIBE_PROMPT = "Write a two-sentence marketplace description of the product in this photo."


class ListingStudio:
    def __init__(self, output_dir: Path = OUTPUT_DIR) -> None:
        self.client = OpenAI()
        self.output_dir = output_dir

    def describe_photo_url(self, url: str) -> str:
        response = self.client.chat.completions.create(
            model=VISION_MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": DESCRIBE_PROMPT},
                        {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                    ],
                }
            ],
            max_tokens=200,
        )
        return response.choices[0].message.content or ""

    def describe_photo_file(self, path: Path) -> str:
        """Sellers upload from their phone (JPEG): send the photo inline as a base64 data URL."""
        require_jpeg(path)
        response = self.client.chat.completions.create(
            model=VISION_MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": DESCRIBE_PROMPT},
                        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{b64_file(path)}"}},
                    ],
                }
            ],
            max_tokens=200,
        )
        return response.choices[0].message.content or ""

    def transcribe_voice_note(self, path: Path, language: str | None = None) -> str:
        with path.open("rb") as audio:
            transcript = self.client.audio.transcriptions.create(
                model=TRANSCRIBE_MODEL,
                file=audio,
                **({"language": language} if language else {}),
            )
        return transcript.text

    def draw_banner(self, product: str, name: str = "banner.png") -> Path:
        result = self.client.images.generate(
            model=IMAGE_MODEL,
            prompt=f"A clean, bright marketplace banner for: {product}. No text.",
            size="1024x1024",
            n=1,
        )
        image = result.data[0]
        self.output_dir.mkdir(parents=True, exist_ok=True)
        target = self.output_dir / name
        if image.b64_json:
            target.write_bytes(base64.b64decode(image.b64_json))
        else:
            target.write_text(image.url or "", encoding="utf-8")
        return target

    def read_aloud(self, text: str, name: str = "listing.mp3") -> Path:
        speech = self.client.audio.speech.create(model=TTS_MODEL, voice=TTS_VOICE, input=text)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        target = self.output_dir / name
        target.write_bytes(speech.content)
        return target
