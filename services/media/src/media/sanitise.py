"""Turn an untrusted upload into derivatives that are safe to serve: decoded, re-encoded or remuxed, bare.

Nothing the reporter's device wrote beside the pixels and samples survives: no EXIF, GPS, XMP, ICC
(converted to sRGB instead), QuickTime/Matroska tags, ID3 tags, subtitle, data or attachment streams.
The location and time of capture are read before they are dropped and offered back to the reporter
as a `Suggestion`; they are never applied to the report by this module.

Blocking and CPU-bound: the worker runs `sanitise` in a thread. The only files touched are the
original (read) and the derivatives written into `workdir`.

Choices:
- Photos without transparency become JPEG (quality 85); with transparency, lossy WebP with alpha
  (quality 85), because PNG is several times larger for photographic content.
- Video is remuxed, never re-encoded (cheap and lossless): MP4 for MP4/MOV/Matroska, WebM when the
  input is WebM with VP8/VP9/AV1 and Opus/Vorbis. Audio that the MP4 muxer cannot hold is transcoded
  to AAC so that the sound of a report is never lost.
- Audio is remuxed (M4A for AAC/ALAC, Ogg for Opus/Vorbis, MP3 without ID3); WAV, AMR and anything
  the remux refuses are transcoded to AAC in M4A.
"""

from __future__ import annotations

import functools
import io
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import av.error
import pillow_heif
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.stream import Disposition
from av.video.stream import VideoStream
from PIL import Image, ImageCms, UnidentifiedImageError

from media.domain import Kind

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")  # where a camera clock without an offset most likely was

_HEAD_BYTES = 64


@dataclass(frozen=True)
class Policy:
    max_image_pixels: int = 40_000_000
    max_video_seconds: float = 180.0
    max_audio_seconds: float = 1800.0
    display_max_side: int = 1920
    thumbnail_max_side: int = 320


@dataclass(frozen=True)
class Derivative:
    name: str  # "display" | "thumbnail" | "poster" | "video" | "audio"
    content_type: str  # what we serve it as
    path: Path  # a file in `workdir`


@dataclass(frozen=True)
class Suggestion:
    """Where and when the capture happened, per the device: offered back to the reporter, never applied."""

    lat: float | None
    lon: float | None
    taken_at: datetime | None


@dataclass(frozen=True)
class Sanitised:
    kind: Kind
    content_type: str  # the real type found by decoding/probing
    derivatives: tuple[Derivative, ...]
    suggestion: Suggestion | None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


_DERIVATIVE_NAMES = frozenset({"display", "thumbnail", "poster", "video", "audio"})
REFUSAL_CODES = frozenset({"not_media", "undecodable", "too_many_pixels", "too_long", "type_not_allowed"})


class Refused(Exception):
    """The upload cannot become a safe derivative; `code` says why."""

    def __init__(self, code: str) -> None:
        if code not in REFUSAL_CODES:
            raise ValueError(f"unknown refusal code {code!r}")
        super().__init__(code)
        self.code = code


def sanitise(original: Path, workdir: Path, policy: Policy = Policy()) -> Sanitised:
    """The safe derivatives of `original`, written into `workdir`, or `Refused`.

    Derivatives are named after themselves (`display.jpg`, `video.mp4`, `audio.m4a`...): the original
    may sit in `workdir` under any other name.
    """
    if original.resolve().parent == workdir.resolve() and original.stem in _DERIVATIVE_NAMES:
        raise ValueError(f"{original.name} would be overwritten by a derivative; name the original otherwise")
    with original.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    family = _sniff(head)
    if family is None:
        raise Refused("not_media")
    if family in _REFUSED_MEDIA:
        raise Refused("type_not_allowed")
    if family in _IMAGE_FORMATS:
        return _sanitise_image(original, workdir, policy, family)
    return _sanitise_av(original, workdir, policy, family)


# --- what the first bytes say ------------------------------------------------------------------------

# A copy of the allow-list in media.domain, extended with the audio the sanitiser also accepts
# (ADTS AAC, AMR, every MPEG audio frame header), and with recognisable media we refuse by name.
_IMAGE_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}
_REFUSED_MEDIA = frozenset({"gif", "bmp", "tiff", "avif", "avi", "flac"})


_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\x1a\x45\xdf\xa3", "matroska"),
    (b"OggS", "ogg"),
    (b"#!AMR", "amr"),
    (b"ID3", "mp3"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"fLaC", "flac"),
)
_RIFF = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def _sniff(head: bytes) -> str | None:
    """The family of the file from its magic number; None for anything that is not media at all."""
    for prefix, family in _PREFIXES:
        if head.startswith(prefix):
            return family
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heic"
        # MP4, MOV, M4A: the streams decide whether it is video or audio
        return "avif" if brand in (b"avif", b"avis") else "isobmff"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # 11 sync bits; layer bits 00 mean ADTS AAC, anything else an MPEG audio frame
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


# --- photos ------------------------------------------------------------------------------------------

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
_PIXELS_LOCK = threading.Lock()
_ORIENTATION_TAG = 0x0112
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@functools.cache
def _register_heif() -> None:
    # Registering the plugin changes Pillow globally: done once, on first use, not at import.
    pillow_heif.register_heif_opener(thumbnails=False)


def _sanitise_image(original: Path, workdir: Path, policy: Policy, family: str) -> Sanitised:
    pil_format = _IMAGE_FORMATS[family]
    if pil_format == "HEIF":
        _register_heif()
    with _PIXELS_LOCK:
        # Pillow's own bomb check (a warning past the limit, an error past twice it) runs inside
        # Image.open; ours below is exact. The global is process-wide: all workers share one policy.
        Image.MAX_IMAGE_PIXELS = policy.max_image_pixels
    try:
        # Only the named decoder may read the file: a JPEG-looking file is never handed to, say, EPS.
        with Image.open(original, formats=[pil_format]) as im:
            width, height = im.size  # from the header alone: no pixel is decoded yet
            if width * height > policy.max_image_pixels:
                raise Refused("too_many_pixels")
            suggestion = _exif_suggestion(im)
            orientation = _orientation(im)
            icc = im.info.get("icc_profile")
            target = _fit((width, height), policy.display_max_side)
            if pil_format == "JPEG":
                # DCT-domain downscaling while decoding: a 12 MP photo decodes at 1/2 or 1/4 the cost.
                im.draft(im.mode, target)
            im.load()
            display = _prepare(im, target, orientation, icc if isinstance(icc, bytes) else None)
    except Refused:
        raise
    except Image.DecompressionBombError as exc:
        raise Refused("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Refused("undecodable") from exc

    derivatives = _write_pictures(display, workdir, policy, names=("display", "thumbnail"))
    out_w, out_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return Sanitised(
        kind="image",
        content_type=_CONTENT_TYPES[pil_format],
        derivatives=derivatives,
        suggestion=suggestion,
        width=out_w,
        height=out_h,
    )


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longer side is at most `max_side`."""
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _prepare(im: Image.Image, target: tuple[int, int], orientation: int, icc: bytes | None) -> Image.Image:
    """Resized, upright, 8-bit sRGB (with alpha only if the source had some), and with no info at all."""
    mode = "RGBA" if _has_alpha(im) else "RGB"
    keep_cmyk = im.mode == "CMYK" and icc is not None  # the profile converts CMYK to RGB properly
    picture = im if im.mode == mode or keep_cmyk else im.convert(mode)
    if picture.size != target:
        # Resizing before rotating and colour-converting: both then work on far fewer pixels.
        picture = picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if orientation in _TRANSPOSE:
        picture = picture.transpose(_TRANSPOSE[orientation])
    if icc is not None:
        picture = _to_srgb(picture, icc, mode)
    if picture.mode != mode:
        picture = picture.convert(mode)
    clean = picture if picture is not im else picture.copy()
    clean.info = {}  # the PNG writer falls back on info["icc_profile"]; nothing of the source may follow
    return clean


def _to_srgb(picture: Image.Image, icc: bytes, mode: str) -> Image.Image:
    """The pixels converted from the embedded profile to sRGB, so no profile needs to be shipped."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(picture, source, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken or exotic profile: the pixels are shown as if sRGB, which is what most viewers do.
        return picture.convert(mode)
    return converted if converted is not None else picture


def _write_pictures(
    picture: Image.Image, workdir: Path, policy: Policy, names: tuple[str, str]
) -> tuple[Derivative, ...]:
    """The display-size picture and its thumbnail, saved without any metadata."""
    display_name, thumbnail_name = names
    if picture.size != _fit(picture.size, policy.display_max_side):
        picture = picture.resize(_fit(picture.size, policy.display_max_side), Image.Resampling.LANCZOS)
    thumbnail = picture.resize(_fit(picture.size, policy.thumbnail_max_side), Image.Resampling.LANCZOS)
    thumbnail.info = {}
    return (_save(picture, workdir, display_name), _save(thumbnail, workdir, thumbnail_name))


def _save(picture: Image.Image, workdir: Path, name: str) -> Derivative:
    # No exif=, icc_profile=, xmp= and no embedded thumbnail: the writers add nothing unasked.
    if picture.mode == "RGBA":
        path = workdir / f"{name}.webp"
        picture.save(path, "WEBP", quality=85, method=4)
        return Derivative(name=name, content_type="image/webp", path=path)
    path = workdir / f"{name}.jpg"
    picture.save(path, "JPEG", quality=85)
    return Derivative(name=name, content_type="image/jpeg", path=path)


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not refuse the photo; it is dropped anyway
        return 1
    return value if isinstance(value, int) else 1


def _exif_suggestion(im: Image.Image) -> Suggestion | None:
    """GPS position and capture time from EXIF, if the device wrote them and they make sense."""
    try:
        exif = im.getexif()
        gps = exif.get_ifd(_GPS_IFD)
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 - malformed EXIF: no suggestion, the photo itself is fine
        return None
    lat = _gps_degrees(gps.get(2), gps.get(1), "S")
    lon = _gps_degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    taken_at = _exif_time(sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_TIME_ORIGINAL))
    if lat is None and taken_at is None:
        return None
    return Suggestion(lat=lat, lon=lon, taken_at=taken_at)


def _gps_degrees(value: object, ref: object, negative_ref: str) -> float | None:
    """Degrees, minutes, seconds (rationals) and a hemisphere reference → signed decimal degrees."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(part) for part in (degrees, minutes, seconds)):
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative_ref:
        decimal = -decimal
    return round(decimal, 7)


def _exif_time(value: object, offset: object) -> datetime | None:
    """DateTimeOriginal with OffsetTimeOriginal; without an offset, Vietnamese local time."""
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: timezone | ZoneInfo = HO_CHI_MINH
    if isinstance(offset, str):
        match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", offset.strip("\x00 "))
        if match:
            sign = -1 if match[1] == "-" else 1
            delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
            if delta < timedelta(hours=15):
                zone = timezone(sign * delta)
    return naive.replace(tzinfo=zone)


# --- video and audio ---------------------------------------------------------------------------------

# The demuxer is forced from the magic number, never guessed by FFmpeg's prober: playlist-like
# demuxers (HLS, concat...) could otherwise make it open other files or URLs.
_DEMUXERS = {
    "isobmff": "mov",
    "matroska": "matroska",
    "ogg": "ogg",
    "mp3": "mp3",
    "aac": "aac",
    "wav": "wav",
    "amr": "amr",
}
_INPUT_OPTIONS = {"protocol_whitelist": "file", "enable_drefs": "0"}
_OUTPUT_OPTIONS = {"fflags": "+bitexact"}  # no "encoder=Lavf…" tag either
_MP4_VIDEO = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"})
_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus"})
_WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
_WEBM_AUDIO = frozenset({"opus", "vorbis"})


def _open_input(original: Path, family: str) -> InputContainer:
    try:
        return av.open(str(original), "r", format=_DEMUXERS[family], container_options=dict(_INPUT_OPTIONS))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise Refused("undecodable") from exc


def _sanitise_av(original: Path, workdir: Path, policy: Policy, family: str) -> Sanitised:
    with _open_input(original, family) as container:
        videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
        audios = list(container.streams.audio)
        suggestion = _container_suggestion(dict(container.metadata))
        if videos:
            if family not in ("isobmff", "matroska"):
                raise Refused("type_not_allowed")
            return _sanitise_video(container, videos[0], audios[0] if audios else None, workdir, policy, suggestion)
        if not audios:
            raise Refused("undecodable")
        return _sanitise_audio(original, container, audios[0], workdir, policy, family, suggestion)


def _codec(stream: VideoStream | AudioStream) -> str:
    """The codec's canonical name ("mp3"), not the decoder's ("mp3float")."""
    return stream.codec_context.codec.canonical_name


def _declared_seconds(container: InputContainer, stream: VideoStream | AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _seconds(pts: int | None, time_base: Fraction | None) -> float:
    return 0.0 if pts is None or time_base is None else float(pts * time_base)


def _sanitise_video(
    container: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    workdir: Path,
    policy: Policy,
    suggestion: Suggestion | None,
) -> Sanitised:
    declared = _declared_seconds(container, video)
    if declared is not None and declared > policy.max_video_seconds:
        raise Refused("too_long")
    width, height = video.codec_context.width, video.codec_context.height
    if width * height > policy.max_image_pixels:
        raise Refused("too_many_pixels")  # each decoded frame (the poster) would be that big
    if width <= 0 or height <= 0:
        raise Refused("undecodable")
    is_webm = container.format.name.startswith("matroska") and _is_webm_doctype(container)
    if is_webm and _codec(video) in _WEBM_VIDEO:
        out_format, content_type = "webm", "video/webm"
    elif _codec(video) in _MP4_VIDEO:
        out_format, content_type = "mp4", "video/mp4"
    else:
        raise Refused("type_not_allowed")

    path = workdir / f"video.{out_format}"
    try:
        poster, last_seconds = _remux_video(container, video, audio, path, out_format, policy)
    except Refused:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise Refused("undecodable") from exc
    if poster is None:
        raise Refused("undecodable")  # not one frame of the video stream could be decoded
    pictures = _write_pictures(
        _prepare(poster, _fit(poster.size, policy.display_max_side), 1, None),
        workdir,
        policy,
        names=("poster", "thumbnail"),
    )
    return Sanitised(
        kind="video",
        content_type=_video_content_type(container, is_webm),
        derivatives=(Derivative(name="video", content_type=content_type, path=path), *pictures),
        suggestion=suggestion,
        width=width,
        height=height,
        duration_seconds=declared if declared is not None else last_seconds,
    )


def _remux_video(
    container: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    path: Path,
    out_format: str,
    policy: Policy,
) -> tuple[Image.Image | None, float]:
    """Copies the video (and audio) packets into a bare container; returns the poster and the last time."""
    poster: Image.Image | None = None
    last_seconds = 0.0
    with av.open(str(path), "w", format=out_format, container_options=dict(_OUTPUT_OPTIONS)) as out:
        out_video = out.add_stream_from_template(video)
        _strip_stream(out_video)
        out_audio: AudioStream | None = None
        transcoder: _AacEncoder | None = None
        if audio is not None and _codec(audio) in (_WEBM_AUDIO if out_format == "webm" else _MP4_AUDIO):
            out_audio = out.add_stream_from_template(audio)
            _strip_stream(out_audio)
        elif audio is not None:
            # e.g. PCM in a MOV: re-encoded rather than dropped, the sound may matter to the report
            transcoder = _AacEncoder(out, audio)
        for packet in container.demux([video] if audio is None else [video, audio]):
            if packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            seconds = _seconds(packet.pts, packet.time_base)
            last_seconds = max(last_seconds, seconds)
            if seconds > policy.max_video_seconds:
                raise Refused("too_long")  # the header lied, or said nothing
            if packet.stream is video:
                poster = poster or _first_frame(packet)
                packet.stream = out_video
                out.mux(packet)
            elif transcoder is not None:
                transcoder.feed(packet)
            elif out_audio is not None:
                packet.stream = out_audio
                out.mux(packet)
        if transcoder is not None:
            transcoder.flush()
    if poster is None:
        poster = _drain_first_frame(video)  # a decoder with delay may hold a short clip's only frames
    return poster, last_seconds


def _is_webm_doctype(container: InputContainer) -> bool:
    # FFmpeg's matroska demuxer reports "matroska,webm" for both; the codecs tell them apart well enough.
    names = {_codec(s) for s in container.streams.video} | {_codec(s) for s in container.streams.audio}
    return names <= (_WEBM_VIDEO | _WEBM_AUDIO)


def _video_content_type(container: InputContainer, is_webm: bool) -> str:
    if container.format.name.startswith("matroska"):
        return "video/webm" if is_webm else "video/x-matroska"
    major = str(container.metadata.get("major_brand", "")).strip()
    return "video/quicktime" if major == "qt" else "video/mp4"


def _strip_stream(stream: VideoStream | AudioStream) -> None:
    """No stream-level tags (handler names, languages, creation times, vendor ids) in the output."""
    for key in list(stream.metadata):
        del stream.metadata[key]


def _first_frame(packet: av.Packet[Any]) -> Image.Image | None:
    try:
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame):
                return _upright(frame)
    except (av.error.FFmpegError, ValueError):
        return None  # a broken first packet: try the next one
    return None


def _drain_first_frame(video: VideoStream) -> Image.Image | None:
    try:
        frames = video.codec_context.decode(None)
    except (av.error.FFmpegError, ValueError):
        return None
    return _upright(frames[0]) if frames else None


def _upright(frame: av.VideoFrame) -> Image.Image:
    picture: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
    # The display matrix (phones filming upright) is applied by players; the poster follows suit.
    turn = _COUNTERCLOCKWISE.get(round(frame.rotation) % 360)
    return picture.transpose(turn) if turn is not None else picture


_COUNTERCLOCKWISE = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
_ISO6709 = re.compile(r"([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def _container_suggestion(metadata: dict[str, str]) -> Suggestion | None:
    """Location (ISO 6709, as phones write it) and creation time from the container's tags."""
    lat = lon = None
    location = metadata.get("com.apple.quicktime.location.ISO6709") or metadata.get("location")
    if location:
        match = _ISO6709.match(location.strip())
        if match:
            lat_value, lon_value = float(match[1]), float(match[2])
            if -90 <= lat_value <= 90 and -180 <= lon_value <= 180:
                lat, lon = lat_value, lon_value
    taken_at = None
    created = metadata.get("com.apple.quicktime.creationdate") or metadata.get("creation_time")
    if created:
        try:
            taken_at = datetime.fromisoformat(created.strip().replace("Z", "+00:00"))
        except ValueError:
            taken_at = None
        if taken_at is not None and taken_at.tzinfo is None:
            taken_at = taken_at.replace(tzinfo=HO_CHI_MINH)
    if lat is None and taken_at is None:
        return None
    return Suggestion(lat=lat, lon=lon, taken_at=taken_at)


class _AacEncoder:
    """Decodes an audio stream and encodes it as AAC into an output container, packet by packet."""

    def __init__(self, out: OutputContainer, source: AudioStream) -> None:
        self._out = out
        rate = source.codec_context.sample_rate or 48_000
        # AAC in MP4 plays everywhere up to 48 kHz; higher rates are resampled down.
        self._stream = out.add_stream("aac", rate=min(rate, 48_000))
        channels = source.codec_context.channels
        self._stream.layout = "mono" if channels == 1 else "stereo"
        self._stream.bit_rate = 96_000 if channels == 1 else 128_000
        self._resampler = av.AudioResampler(format="fltp", layout=self._stream.layout, rate=self._stream.rate)

    def feed(self, packet: av.Packet[Any]) -> None:
        for frame in packet.decode():
            if isinstance(frame, av.AudioFrame):
                self._encode(self._resampler.resample(frame))

    def flush(self) -> None:
        self._encode(self._resampler.resample(None))
        self._out.mux(self._stream.encode(None))

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            frame.pts = None  # let the encoder count samples: sources with gaps or odd time bases stay valid
            self._out.mux(self._stream.encode(frame))


_REMUX_AUDIO = {
    # (source codec) → output muxer, file suffix, content type served
    "aac": ("ipod", "m4a", "audio/mp4"),
    "alac": ("ipod", "m4a", "audio/mp4"),
    "opus": ("ogg", "ogg", "audio/ogg"),
    "vorbis": ("ogg", "ogg", "audio/ogg"),
    "mp3": ("mp3", "mp3", "audio/mpeg"),
}
_AUDIO_SOURCE_TYPES = {
    "isobmff": "audio/mp4",
    "matroska": "audio/webm",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "wav": "audio/wav",
    "amr": "audio/amr",
}
_MP3_OPTIONS = {"id3v2_version": "0", "write_id3v1": "0"}


def _sanitise_audio(
    original: Path,
    container: InputContainer,
    audio: AudioStream,
    workdir: Path,
    policy: Policy,
    family: str,
    suggestion: Suggestion | None,
) -> Sanitised:
    declared = _declared_seconds(container, audio)
    if declared is not None and declared > policy.max_audio_seconds:
        raise Refused("too_long")
    codec = _codec(audio)
    source_type = _AUDIO_SOURCE_TYPES[family]
    if family == "ogg" and codec == "opus":
        source_type = "audio/opus"
    remux = _REMUX_AUDIO.get(codec) if family not in ("wav", "amr") else None
    if (family == "mp3" and codec != "mp3") or (family == "isobmff" and codec not in ("aac", "alac")):
        remux = None  # e.g. MP2 in an .mp3, MP3 inside MP4: the AAC path plays everywhere
    derivative: Derivative | None = None
    if remux is not None:
        muxer, suffix, content_type = remux
        path = workdir / f"audio.{suffix}"
        try:
            seconds = _remux_audio(container, audio, path, muxer, policy)
            derivative = Derivative(name="audio", content_type=content_type, path=path)
        except (av.error.FFmpegError, OSError, ValueError):
            path.unlink(missing_ok=True)  # the muxer refused this stream: transcode instead
    if derivative is None:
        path = workdir / "audio.m4a"
        with _open_input(original, family) as fresh:
            seconds = _transcode_audio(fresh, fresh.streams.audio[0], path, policy)
        derivative = Derivative(name="audio", content_type="audio/mp4", path=path)
    return Sanitised(
        kind="audio",
        content_type=source_type,
        derivatives=(derivative,),
        suggestion=suggestion,
        duration_seconds=declared if declared is not None else seconds,
    )


def _packets(container: InputContainer, audio: AudioStream, policy: Policy) -> Iterator[av.Packet[Any]]:
    for packet in container.demux(audio):
        if packet.dts is None:
            continue
        if _seconds(packet.pts, packet.time_base) > policy.max_audio_seconds:
            raise Refused("too_long")
        yield packet


def _remux_audio(container: InputContainer, audio: AudioStream, path: Path, muxer: str, policy: Policy) -> float:
    options = dict(_OUTPUT_OPTIONS)
    if muxer == "mp3":
        options.update(_MP3_OPTIONS)
    last = 0.0
    with av.open(str(path), "w", format=muxer, container_options=options) as out:
        stream = out.add_stream_from_template(audio)
        _strip_stream(stream)
        for packet in _packets(container, audio, policy):
            last = max(last, _seconds(packet.pts, packet.time_base))
            packet.stream = stream
            out.mux(packet)
    return last


def _transcode_audio(container: InputContainer, audio: AudioStream, path: Path, policy: Policy) -> float:
    last = 0.0
    try:
        with av.open(str(path), "w", format="ipod", container_options=dict(_OUTPUT_OPTIONS)) as out:
            encoder = _AacEncoder(out, audio)
            for packet in _packets(container, audio, policy):
                last = max(last, _seconds(packet.pts, packet.time_base))
                encoder.feed(packet)
            encoder.flush()
    except Refused:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise Refused("undecodable") from exc
    return last
