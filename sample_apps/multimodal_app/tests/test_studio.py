import io
import wave
from pathlib import Path

import pytest

from media.encoding import UnsupportedMedia
from media.studio import ListingStudio


@pytest.fixture
def studio(tmp_path):
    return ListingStudio(output_dir=tmp_path / "out")


def _jpeg(path: Path) -> Path:
    # A JPEG header is all the app checks; the server only sees base64.
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9")
    return path


def _wav(path: Path) -> Path:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(1600))
    path.write_bytes(buf.getvalue())
    return path


def test_describe_photo_by_url(studio):
    assert studio.describe_photo_url("https://cdn.example.com/listings/kettle.jpg").strip()


def test_describe_uploaded_photo(studio, tmp_path):
    assert studio.describe_photo_file(_jpeg(tmp_path / "phone.jpg")).strip()


def test_non_jpeg_upload_is_refused_before_any_request(studio, tmp_path):
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(UnsupportedMedia, match="shot.png"):
        studio.describe_photo_file(png)
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"GIF89a")
    with pytest.raises(UnsupportedMedia, match="not a JPEG"):
        studio.describe_photo_file(fake)


def test_transcribe_voice_note(studio, tmp_path):
    text = studio.transcribe_voice_note(_wav(tmp_path / "note.wav"), language="en")
    assert isinstance(text, str) and text.strip()


def test_draw_banner_writes_the_image(studio):
    path = studio.draw_banner("a copper kettle")
    assert path.parent == studio.output_dir
    assert path.stat().st_size > 0


def test_read_aloud_writes_audio(studio):
    path = studio.read_aloud("Copper kettle, 1.7 litres, like new.")
    assert path.stat().st_size > 0
