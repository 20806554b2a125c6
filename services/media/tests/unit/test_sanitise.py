"""The sanitiser on files made in the test itself: what goes in untrusted comes out bare."""

from __future__ import annotations

import array
import io
import math
import random
import re
import resource
import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pillow_heif
import pytest
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageCms, PngImagePlugin

from media.sanitise import HO_CHI_MINH, Policy, Refused, Sanitised, sanitise


def _exif_with_gps(*, offset: str | None = "+07:00") -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not survive either
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2025:03:14 09:26:53"
    if offset is not None:
        sub[0x9011] = offset
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (21.0, 1.0, 42.6)  # 21.0285 N, Hoàn Kiếm
    gps[3] = "E"
    gps[4] = (105.0, 51.0, 15.12)  # 105.8542 E
    return exif


def _photo(size: tuple[int, int] = (800, 600), mode: str = "RGB") -> Image.Image:
    noise = random.Random(7).randbytes(  # noqa: S311 - reproducible noise, not a secret
        size[0] * size[1] * len(mode)
    )
    return Image.frombytes(mode, size, noise)


def _assert_bare_picture(path: Path, fmt: str) -> None:
    raw = path.read_bytes()
    with Image.open(path) as im:
        assert im.format == fmt
        assert not im.getexif()
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp"} & set(im.info)
    assert b"Exif" not in raw
    assert b"PhoneMaker" not in raw
    assert b"http://ns.adobe.com/xap" not in raw


def _names(result: Sanitised) -> dict[str, Path]:
    return {d.name: d.path for d in result.derivatives}


def test_jpeg_loses_all_metadata_and_offers_its_location_and_time(tmp_path: Path) -> None:
    """EXIF, GPS, ICC and XMP are gone from both derivatives; GPS and time come back as a suggestion."""
    original = tmp_path / "photo.jpg"
    srgb = b"fake-icc-profile"  # an undecodable profile must not break the photo either
    _photo((2400, 1600)).save(
        original, "JPEG", exif=_exif_with_gps(), icc_profile=srgb, xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    )

    result = sanitise(original, tmp_path)

    assert result.kind == "image"
    assert result.content_type == "image/jpeg"
    paths = _names(result)
    assert set(paths) == {"display", "thumbnail"}
    for path in paths.values():
        _assert_bare_picture(path, "JPEG")
    with Image.open(paths["display"]) as display, Image.open(paths["thumbnail"]) as thumbnail:
        assert display.size == (1280, 1920)  # upright after orientation 6, longer side 1920
        assert max(thumbnail.size) == 320
    assert (result.width, result.height) == (1600, 2400)
    assert result.suggestion is not None
    assert result.suggestion.lat == pytest.approx(21.0285, abs=1e-6)
    assert result.suggestion.lon == pytest.approx(105.8542, abs=1e-6)
    assert result.suggestion.taken_at == datetime(2025, 3, 14, 9, 26, 53, tzinfo=timezone(timedelta(hours=7)))


def test_embedded_colour_profile_is_converted_not_shipped(tmp_path: Path) -> None:
    """A real ICC profile is applied to the pixels (here a no-op sRGB→sRGB) and left out of the output."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = tmp_path / "photo.jpg"
    _photo().save(original, "JPEG", icc_profile=profile)

    result = sanitise(original, tmp_path)

    for path in _names(result).values():
        _assert_bare_picture(path, "JPEG")
        assert profile[36:40] not in path.read_bytes()  # the "acsp" signature of any ICC profile


def test_time_without_offset_is_taken_as_vietnamese_local_time(tmp_path: Path) -> None:
    """A camera clock without OffsetTimeOriginal is assumed to be on Asia/Ho_Chi_Minh time."""
    original = tmp_path / "photo.jpg"
    _photo().save(original, "JPEG", exif=_exif_with_gps(offset=None))

    result = sanitise(original, tmp_path)

    assert result.suggestion is not None
    assert result.suggestion.taken_at == datetime(2025, 3, 14, 9, 26, 53, tzinfo=HO_CHI_MINH)


def test_southern_and_western_hemispheres_are_negative(tmp_path: Path) -> None:
    """The GPS reference letters give the sign of the decimal degrees."""
    exif = _exif_with_gps()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "S", "W"
    original = tmp_path / "photo.jpg"
    _photo().save(original, "JPEG", exif=exif)

    suggestion = sanitise(original, tmp_path).suggestion

    assert suggestion is not None
    assert suggestion.lat == pytest.approx(-21.0285, abs=1e-6)
    assert suggestion.lon == pytest.approx(-105.8542, abs=1e-6)


def test_photo_without_exif_has_no_suggestion(tmp_path: Path) -> None:
    """Nothing to offer means None, not a suggestion full of Nones."""
    original = tmp_path / "photo.jpg"
    _photo().save(original, "JPEG")

    assert sanitise(original, tmp_path).suggestion is None


def test_png_with_text_chunks_becomes_a_bare_jpeg(tmp_path: Path) -> None:
    """An opaque PNG is accepted; its text chunks and EXIF stay behind."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "PhoneMaker secret")
    original = tmp_path / "screenshot.png"
    _photo().save(original, "PNG", pnginfo=info, exif=_exif_with_gps())

    result = sanitise(original, tmp_path)

    assert result.content_type == "image/png"
    assert result.suggestion is not None
    for path in _names(result).values():
        _assert_bare_picture(path, "JPEG")
        assert b"secret" not in path.read_bytes()


def test_png_with_transparency_keeps_its_alpha_as_webp(tmp_path: Path) -> None:
    """Transparency survives (as WebP with alpha) instead of turning black."""
    original = tmp_path / "sticker.png"
    _photo(mode="RGBA").save(original, "PNG")

    result = sanitise(original, tmp_path)

    for path in _names(result).values():
        _assert_bare_picture(path, "WEBP")
        with Image.open(path) as im:
            assert im.mode == "RGBA"


def test_webp_is_accepted(tmp_path: Path) -> None:
    """WebP photos are on the allow-list."""
    original = tmp_path / "photo.webp"
    _photo().save(original, "WEBP", exif=_exif_with_gps())

    result = sanitise(original, tmp_path)

    assert result.content_type == "image/webp"
    for path in _names(result).values():
        _assert_bare_picture(path, "JPEG")


def test_heic_is_accepted(tmp_path: Path) -> None:
    """HEIC, as iPhones shoot it, decodes and comes out as a bare JPEG."""
    original = tmp_path / "photo.heic"
    pillow_heif.from_pillow(_photo((64, 48))).save(original, quality=80, exif=_exif_with_gps().tobytes())

    result = sanitise(original, tmp_path)

    assert result.content_type == "image/heic"
    assert result.suggestion is not None
    for path in _names(result).values():
        _assert_bare_picture(path, "JPEG")


def test_html_appended_to_a_jpeg_is_left_behind(tmp_path: Path) -> None:
    """A polyglot JPEG+HTML decodes as the JPEG it is; the derivative carries none of the HTML."""
    original = tmp_path / "polyglot.jpg"
    buffer = io.BytesIO()
    _photo().save(buffer, "JPEG")
    original.write_bytes(buffer.getvalue() + b"<html><script>alert(document.cookie)</script></html>")

    result = sanitise(original, tmp_path)

    for path in _names(result).values():
        assert b"<script" not in path.read_bytes()
        assert b"<html" not in path.read_bytes()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.jpg", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("doc.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
        ("photos.zip", b"PK\x03\x04" + b"\x00" * 60),
        ("app.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 60),
        ("setup.mp4", b"MZ\x90\x00" + b"\x00" * 60),
    ],
)
def test_things_that_are_not_media_are_refused(tmp_path: Path, name: str, content: bytes) -> None:
    """Whatever the name says, HTML, SVG, PDF, archives and executables are not media."""
    original = tmp_path / name
    original.write_bytes(content)

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "not_media"


def test_gif_is_media_but_not_allowed(tmp_path: Path) -> None:
    """Recognisable media outside the allow-list gets its own code."""
    original = tmp_path / "anim.gif"
    _photo((16, 16)).save(original, "GIF")

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "type_not_allowed"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height`: decoding it would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)  # a few rows' worth; the rest is "truncated"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_pixel_bomb_is_refused_before_any_pixel_is_decoded(tmp_path: Path) -> None:
    """50,000×50,000 (7.5 GB of RGB) is refused from the header, and memory does not grow."""
    original = tmp_path / "bomb.png"
    original.write_bytes(_png_claiming(50_000, 50_000))
    peak_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "too_many_pixels"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before_kib < 200 * 1024  # KiB on Linux


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # refused right after
def test_pixel_limit_follows_the_policy(tmp_path: Path) -> None:
    """A photo just over the policy's pixel budget is refused, even far below Pillow's default."""
    original = tmp_path / "photo.jpg"
    _photo((101, 100)).save(original, "JPEG")

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path, Policy(max_image_pixels=10_000))

    assert refused.value.code == "too_many_pixels"


def test_garbage_after_a_jpeg_header_is_undecodable(tmp_path: Path) -> None:
    """The magic number lets it in; the decoder finds nothing to decode."""
    original = tmp_path / "broken.jpg"
    original.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "undecodable"


def test_truncated_jpeg_is_undecodable(tmp_path: Path) -> None:
    """Half a photo is not served as a photo with a grey half."""
    buffer = io.BytesIO()
    _photo().save(buffer, "JPEG")
    original = tmp_path / "half.jpg"
    original.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "undecodable"


# --- video and audio ---------------------------------------------------------------------------------

_TAGS = {"title": "Secret title", "location": "+21.0285+105.8542/", "comment": "PhoneMaker"}


def _make_video(path: Path, seconds: float, *, fmt: str = "mp4", codec: str = "libx264", audio: bool = True) -> None:
    """`seconds` of noisy video at 25 fps (and a tone), with tags in the container and the streams."""
    rng = random.Random(1)  # noqa: S311 - reproducible noise, not a secret
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(_TAGS)
        video = out.add_stream(codec, rate=25)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.metadata["handler_name"] = "PhoneMaker video"
        sound = out.add_stream("aac" if fmt != "webm" else "libopus", rate=48_000) if audio else None
        assert sound is None or isinstance(sound, AudioStream)
        for _ in range(round(seconds * 25)):
            picture = Image.frombytes("RGB", (160, 120), rng.randbytes(160 * 120 * 3))
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # unannotated in PyAV
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            _write_tone(out, sound, seconds)


def _assert_no_tags(path: Path) -> None:
    raw = path.read_bytes()
    assert not re.search(rb"Lavf\d", raw)  # not even the muxer's version
    for value in [*_TAGS.values(), "PhoneMaker video"]:
        assert value.encode() not in raw, value
    with av.open(str(path)) as container:
        assert not {"title", "location", "comment"} & set(container.metadata)
        for stream in container.streams:
            assert "handler_name" not in stream.metadata or "PhoneMaker" not in stream.metadata["handler_name"]


def test_mp4_is_remuxed_without_metadata_and_gets_a_poster(tmp_path: Path) -> None:
    """Container and stream tags are gone; the streams are copied; poster and thumbnail are bare JPEGs."""
    original = tmp_path / "clip.mp4"
    _make_video(original, 1.0)

    result = sanitise(original, tmp_path)

    assert result.kind == "video"
    assert result.content_type == "video/mp4"
    assert (result.width, result.height) == (160, 120)
    assert result.duration_seconds == pytest.approx(1.0, abs=0.1)
    paths = _names(result)
    assert set(paths) == {"video", "poster", "thumbnail"}
    _assert_no_tags(paths["video"])
    with av.open(str(paths["video"])) as remuxed:
        assert [s.codec_context.codec.canonical_name for s in remuxed.streams] == ["h264", "aac"]
        assert remuxed.streams.video[0].frames == 25
    _assert_bare_picture(paths["poster"], "JPEG")
    _assert_bare_picture(paths["thumbnail"], "JPEG")
    assert result.suggestion is not None
    assert (result.suggestion.lat, result.suggestion.lon) == (21.0285, 105.8542)


def test_webm_stays_webm(tmp_path: Path) -> None:
    """VP9 and Opus in WebM are remuxed into WebM, tags dropped."""
    original = tmp_path / "clip.webm"
    _make_video(original, 0.5, fmt="webm", codec="libvpx-vp9")

    result = sanitise(original, tmp_path)

    assert result.content_type == "video/webm"
    video = _names(result)["video"]
    assert video.suffix == ".webm"
    _assert_no_tags(video)
    with av.open(str(video)) as remuxed:
        assert [s.codec_context.codec.canonical_name for s in remuxed.streams] == ["vp9", "opus"]


def test_one_frame_video_still_gets_a_poster(tmp_path: Path) -> None:
    """A clip shorter than the decoder's delay yields its poster when the decoder is drained."""
    original = tmp_path / "blink.mp4"
    _make_video(original, 0.04, audio=False)

    result = sanitise(original, tmp_path)

    assert set(_names(result)) == {"video", "poster", "thumbnail"}


def test_video_longer_than_the_policy_is_refused(tmp_path: Path) -> None:
    """The declared duration is checked before anything is written."""
    original = tmp_path / "long.mp4"
    _make_video(original, 1.0, audio=False)

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path, Policy(max_video_seconds=0.5))

    assert refused.value.code == "too_long"


def _make_audio(path: Path, fmt: str, codec: str, seconds: float = 1.0) -> None:
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(_TAGS)
        sound = out.add_stream(codec, rate=48_000 if codec != "libopencore_amrnb" else 8000)
        assert isinstance(sound, AudioStream)
        if codec == "libopencore_amrnb":
            sound.layout = "mono"
        _write_tone(out, sound, seconds)


def _write_tone(out: OutputContainer, sound: AudioStream, seconds: float) -> None:
    """A 440 Hz mono tone, in frames of 160 samples (the encoders regroup them as they need)."""
    rate = sound.rate
    samples = int(rate * seconds)
    for start in range(0, samples, 160):
        count = min(160, samples - start)
        tone = array.array("h", (int(6000 * math.sin(2 * math.pi * 440 * (start + i) / rate)) for i in range(count)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(tone.tobytes())
        frame.sample_rate = rate
        frame.pts = start
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


@pytest.mark.parametrize(
    ("name", "fmt", "codec", "source_type", "served_as", "out_codec"),
    [
        ("note.m4a", "ipod", "aac", "audio/mp4", "audio/mp4", "aac"),
        ("note.mp3", "mp3", "libmp3lame", "audio/mpeg", "audio/mpeg", "mp3"),
        ("note.opus", "ogg", "libopus", "audio/opus", "audio/ogg", "opus"),
        ("note.wav", "wav", "pcm_s16le", "audio/wav", "audio/mp4", "aac"),
        ("note.aac", "adts", "aac", "audio/aac", "audio/mp4", "aac"),
        ("note.amr", "amr", "libopencore_amrnb", "audio/amr", "audio/mp4", "aac"),
    ],
)
def test_audio_is_remuxed_or_transcoded_without_tags(
    tmp_path: Path, name: str, fmt: str, codec: str, source_type: str, served_as: str, out_codec: str
) -> None:
    """Each accepted audio format comes out playable, in the expected container, with no tags."""
    original = tmp_path / name
    _make_audio(original, fmt, codec)

    result = sanitise(original, tmp_path)

    assert result.kind == "audio"
    assert result.content_type == source_type
    assert result.duration_seconds == pytest.approx(1.0, abs=0.15)
    [derivative] = result.derivatives
    assert (derivative.name, derivative.content_type) == ("audio", served_as)
    _assert_no_tags(derivative.path)
    assert b"ID3" not in derivative.path.read_bytes()[:10]
    with av.open(str(derivative.path)) as clean:
        assert [s.codec_context.codec.canonical_name for s in clean.streams] == [out_codec]
        decoded = sum(frame.samples for frame in clean.decode(audio=0))
        assert decoded > 0


def test_audio_longer_than_the_policy_is_refused(tmp_path: Path) -> None:
    """The audio limit is the policy's, not the video one."""
    original = tmp_path / "long.m4a"
    _make_audio(original, "ipod", "aac")

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path, Policy(max_audio_seconds=0.5))

    assert refused.value.code == "too_long"


def test_mp4_with_garbage_inside_is_undecodable(tmp_path: Path) -> None:
    """An ftyp box followed by noise is refused as undecodable, not crashed on."""
    original = tmp_path / "broken.mp4"
    original.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 20)

    with pytest.raises(Refused) as refused:
        sanitise(original, tmp_path)

    assert refused.value.code == "undecodable"
