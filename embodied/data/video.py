"""MP4 video features with PyAV (``pip install 'embodied[video]'``), in LeRobot v3's conventions.

Writing follows LeRobot's recorder (``lerobot/datasets/video_utils.py: encode_video_frames`` and
``lerobot/configs/video.py: RGBEncoderConfig``): codec ``libsvtav1`` (AV1), ``pix_fmt`` ``yuv420p``, GOP ``g=2``,
``crf=30``; the episodes of one file lie back to back, frame ``i`` of the file at ``pts = i`` in time base
``1/fps``, so episode ``e`` spans ``[from_timestamp, to_timestamp)`` = ``[first / fps, (first + length) / fps)``.

Reading follows LeRobot's ``decode_video_frames_pyav``: seek to the key frame at or before the first wanted
time, decode forward, and give each wanted time (``from_timestamp + timestamp[t]``) the decoded frame nearest to
it, which must lie within ``tolerance_s`` (LeRobot's default ``1e-4`` s) or the read fails naming the file —
frames are matched by time, never by counting. Depth videos (LeRobot's ``DepthEncoderConfig``: 12-bit codes in
``gray12le``) are dequantised to metres with LeRobot's ``dequantize_depth`` formula and the feature's
``video.depth_min`` / ``video.depth_max`` / ``video.shift`` / ``video.use_log``.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from embodied.data.layout import VIDEO_PATH
from embodied.errors import UserError

DEFAULT_CODEC = "libsvtav1"
PIX_FMT = "yuv420p"
GOP = 2
CRF = 30
TOLERANCE_S = 1e-4
#: LeRobot's depth quantisation defaults (``lerobot/configs/video.py``)
DEPTH_DEFAULTS = {"video.depth_min": 0.01, "video.depth_max": 10.0, "video.shift": 3.5, "video.use_log": True}
DEPTH_QMAX = 4095


class VideoUnavailableError(ImportError, UserError):
    """PyAV is not installed; the message says how to install it."""


def require_av(what: str) -> ModuleType:
    """The ``av`` module, or ``VideoUnavailableError`` naming ``what`` needed it and the extra to install."""
    try:
        import av
    except ImportError as err:
        raise VideoUnavailableError(
            f"{what} needs PyAV to encode/decode MP4: pip install 'embodied[video]' (or pip install av)"
        ) from err
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration on stderr otherwise
    return av


class VideoFileWriter:
    """One MP4 file receiving the frames ``[n, H, W, 3]`` uint8 of consecutive episodes."""

    def __init__(self, path: Path, fps: int, height: int, width: int, codec: str = DEFAULT_CODEC) -> None:
        av = require_av(f"writing {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.fps, self.frames = path, fps, 0
        self._container = av.open(str(path), "w")
        options = {"g": str(GOP), "crf": str(CRF)}
        self._stream = self._container.add_stream(codec, rate=fps, options=options)
        self._stream.pix_fmt, self._stream.height, self._stream.width = PIX_FMT, height, width
        self._stream.codec_context.time_base = Fraction(1, fps)
        self._av = av

    def write(self, frames: np.ndarray) -> tuple[float, float]:
        """Append ``frames``; returns the episode's ``(from_timestamp, to_timestamp)`` in seconds."""
        start = self.frames
        for image in frames:
            frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = self.frames, Fraction(1, self.fps)
            self._container.mux(self._stream.encode(frame))
            self.frames += 1
        return start / self.fps, self.frames / self.fps

    @property
    def size_mb(self) -> float:
        """Bytes on disk so far (the muxer writes as it goes), in MiB."""
        return self.path.stat().st_size / 2**20 if self.path.exists() else 0.0

    def close(self) -> None:
        self._container.mux(self._stream.encode())
        self._container.close()


def probe_info(path: Path) -> dict[str, Any]:
    """The ``video.*`` keys LeRobot's ``get_video_info`` stores in a video feature's ``info`` (plus the encoder
    settings we used), read back from the file."""
    av = require_av(f"reading {path}")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pix_fmt = stream.codec_context.pix_fmt
        info: dict[str, Any] = {
            "video.height": stream.height,
            "video.width": stream.width,
            "video.codec": stream.codec_context.codec.canonical_name,
            "video.pix_fmt": pix_fmt,
            "video.fps": int(stream.base_rate or stream.average_rate),
            "video.channels": 1 if pix_fmt.startswith("gray") else 3,
            "has_audio": bool(container.streams.audio),
        }
    return info | {"video.g": GOP, "video.crf": CRF, "video.video_backend": "pyav", "is_depth_map": False}


def decode_at(path: Path, times: np.ndarray, *, depth: bool = False, tolerance_s: float = TOLERANCE_S) -> np.ndarray:
    """The frames of ``path`` at ``times`` (seconds, ascending): ``[n, H, W, 3]`` uint8 RGB, or ``[n, H, W]``
    uint16 12-bit codes when ``depth``. Each time gets the nearest decoded frame; farther than ``tolerance_s``
    is an error naming the file and the time."""
    av = require_av(f"reading {path}")
    first, last = float(times.min()), float(times.max())
    stamps: list[float] = []
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        container.seek(max(0, round(first / stream.time_base) - 1), backward=True, any_frame=False, stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            stamp = float(frame.pts * stream.time_base)
            if stamp < first - tolerance_s:
                continue
            frames.append(frame.to_ndarray(format="gray12le" if depth else "rgb24"))
            stamps.append(stamp)
            if stamp >= last - tolerance_s:
                break
    if not frames:
        raise ValueError(f"{path}: no frame decodes in [{first:.4f}, {last:.4f}] s")
    decoded = np.asarray(stamps)
    nearest = np.abs(decoded[None, :] - times[:, None]).argmin(1)
    gap = np.abs(decoded[nearest] - times)
    if gap.max() > tolerance_s:
        bad = int(np.flatnonzero(gap > tolerance_s)[0])
        raise ValueError(
            f"{path}: no frame within {tolerance_s} s of t={times[bad]:.6f} s "
            f"(the nearest is at {decoded[nearest[bad]]:.6f} s)"
        )
    return np.stack([frames[i] for i in nearest])


def dequantize_depth(codes: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """12-bit depth codes ``[..., H, W]`` → float32 metres, LeRobot's ``dequantize_depth`` with the feature's
    quantisation (``info``'s ``video.depth_min``, ``video.depth_max``, ``video.shift``, ``video.use_log``)."""
    params = DEPTH_DEFAULTS | {k: info[k] for k in DEPTH_DEFAULTS if info.get(k) is not None}
    low, high, shift = float(params["video.depth_min"]), float(params["video.depth_max"]), float(params["video.shift"])
    if params["video.use_log"]:
        log_low, log_high = math.log(low + shift), math.log(high + shift)
        metres = np.exp(codes.astype(np.float64) * (log_high - log_low) / DEPTH_QMAX + log_low) - shift
    else:
        metres = codes.astype(np.float64) * (high - low) / DEPTH_QMAX + low
    return np.clip(metres, low, high).astype(np.float32)


def quantize_depth(metres: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The inverse of ``dequantize_depth`` (LeRobot's ``quantize_depth``): float metres → uint16 codes 0..4095."""
    params = DEPTH_DEFAULTS | {k: info[k] for k in DEPTH_DEFAULTS if info.get(k) is not None}
    low, high, shift = float(params["video.depth_min"]), float(params["video.depth_max"]), float(params["video.shift"])
    if params["video.use_log"]:
        norm = (np.log(metres + shift) - math.log(low + shift)) / (math.log(high + shift) - math.log(low + shift))
    else:
        norm = (metres - low) / (high - low)
    return np.rint(norm * DEPTH_QMAX).clip(0, DEPTH_QMAX).astype(np.uint16)


class VideoFeatureWriter:
    """Every episode's frames of one video feature, into ``videos/<key>/chunk-XXX/file-YYY.mp4`` files that are
    closed (and the next one opened) once they hold ``file_mb`` MiB, as LeRobot's ``_save_episode_video`` rolls
    ``video_files_size_in_mb``; returns each episode's ``videos/<key>/...`` episodes-parquet columns."""

    def __init__(self, root: Path, key: str, fps: int, codec: str, file_mb: float, chunks_size: int) -> None:
        self.root, self.key, self.fps, self.codec = root, key, fps, codec
        self.file_mb, self.chunks_size = file_mb, chunks_size
        self.chunk_index = self.file_index = 0
        self._file: VideoFileWriter | None = None
        self.first_path: Path | None = None

    def write(self, frames: np.ndarray) -> dict[str, Any]:
        """Append one episode's frames ``[T, H, W, 3]`` uint8."""
        if self._file is not None and self._file.size_mb >= self.file_mb:
            self._file.close()
            self._file = None
            last = self.file_index + 1 == self.chunks_size
            self.chunk_index, self.file_index = (
                (self.chunk_index + 1, 0) if last else (self.chunk_index, self.file_index + 1)
            )
        if self._file is None:
            path = self.root / VIDEO_PATH.format(
                video_key=self.key, chunk_index=self.chunk_index, file_index=self.file_index
            )
            self._file = VideoFileWriter(path, self.fps, frames.shape[1], frames.shape[2], self.codec)
            self.first_path = self.first_path or path
        start, stop = self._file.write(frames)
        prefix = f"videos/{self.key}/"
        return {
            prefix + "chunk_index": self.chunk_index,
            prefix + "file_index": self.file_index,
            prefix + "from_timestamp": start,
            prefix + "to_timestamp": stop,
        }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
