"""`audio_analysis`: loudness, silences, speech and a waveform of a recording, from one ffmpeg decode; and
`transcribe`: words with their times, from a pluggable, offline speech-to-text engine.

One decode pass of the first audio stream is split two ways inside ffmpeg: one branch goes through `ebur128`
(EBU R128 integrated loudness, loudness range and true peak) and `silencedetect`, whose findings ffmpeg writes
to its log; the other is resampled to 16 kHz mono 16-bit PCM and read from ffmpeg's stdout in chunks, for the
speech segments (webrtcvad) and the waveform peaks. Nothing holds more than a chunk of decoded audio, so a
ten-hour recording costs the same memory as a ten-second one. The log goes to a temporary file, not a pipe: a
long recording with many silences writes more log than a pipe holds, and ffmpeg would block on it while we
block on its stdout.

Three outcomes, as for every analyser:

- not my format: the file has no audio stream (`NoAudioStreamError`, EX-AUDIO-NO-STREAM): a silent video;
- damaged but readable: an `AudioAnalysis` with `warnings`. A file that declares an audio stream but holds
  no samples (a header and nothing after it, like a voice memo cut off as it started) is this tier, with
  EX-AUDIO-NO-SAMPLES: the container, codec and rate are facts worth a row, and the media probe already calls
  such a file damaged rather than failed. Decoding errors part-way (EX-AUDIO-DECODE-ERROR) and a decoded length
  well short of the declared one (EX-AUDIO-SHORTER-THAN-DECLARED) are also warnings;
- failed: ffprobe cannot open the file (`MediaDamagedError`), ffmpeg fails before the first sample
  (`AudioUndecodableError`, EX-AUDIO-UNDECODABLE), or a tool is missing or too slow (`ToolMissingError`,
  `ToolTimeoutError`).

The same file, ffmpeg and webrtcvad give the same record: every number comes from the decoded samples or from
ffmpeg's fixed-precision log, never from a clock.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

import numpy as np
import webrtcvad
from PIL import Image, ImageDraw, ImageFont

from forensics.errors import (
    AudioUndecodableError,
    DuplicateTranscriberError,
    MediaMissingError,
    NoAudioStreamError,
    ToolTimeoutError,
    UnknownTranscriberError,
)
from forensics.media_probe import (
    MediaProbe,
    ProbeWarning,
    StreamInfo,
    find_tool,
    media_input,
    probe_media,
    tool_version,
)

PCM_RATE = 16000  # webrtcvad and pocketsphinx both want 16 kHz mono 16-bit
_SAMPLE_BYTES = 2
_READ_BYTES = 1 << 16  # about 2 s of PCM per read: the most decoded audio held at once

VAD_AGGRESSIVENESS = 2  # webrtcvad: 0 calls the most frames speech, 3 the fewest
VAD_FRAME_S = 0.03  # webrtcvad accepts 10, 20 or 30 ms frames; 30 ms gives it the most to go on
VAD_HANGOVER_S = 0.3  # pauses shorter than this between words stay inside one segment
VAD_MIN_SPEECH_S = 0.24  # shorter bursts are clicks and knocks, not speech
SILENCE_THRESHOLD_DB = -50  # dBFS; quieter than this for SILENCE_MIN_S is a silence (a pause, not the gap
SILENCE_MIN_S = 0.5  # between two words)
WAVEFORM_BUCKETS = 1000
SHORTFALL_TOLERANCE_S = 0.5  # decoders disagree by a frame or two about where a stream ends

_FRAME_SAMPLES = round(PCM_RATE * VAD_FRAME_S)
_FRAME_BYTES = _FRAME_SAMPLES * _SAMPLE_BYTES
_MAX_LOGGED_ERRORS = 20
_NO_LOUDNESS = -70.0  # what ebur128 prints when every block fell under its absolute gate

# The input is given as `file:<path>` so that a seized file named like a protocol ("concat:...", "http:...")
# is still read as a file. `[0:a:0]` is the first audio stream whatever the container puts before it;
# `framelog=verbose` keeps the ten-per-second loudness lines below the `info` log level, which the silences
# and the summary need.
_FILTERS = (
    "[0:a:0]asplit=2[loud][pcm];"
    f"[loud]ebur128=peak=true:framelog=verbose,silencedetect=n={SILENCE_THRESHOLD_DB}dB:d={SILENCE_MIN_S}[measured];"
    f"[pcm]aresample={PCM_RATE},aformat=sample_fmts=s16:channel_layouts=mono[pcm16]"
)
_PCM_OUTPUT = ("-f", "s16le", "pipe:1")
_PCM_ONLY = ("-map", "0:a:0", "-ac", "1", "-ar", str(PCM_RATE), "-sample_fmt", "s16")

_LOG_ERROR = re.compile(r"\[(?:error|fatal)\] (.*)$")
# Only lines the filters themselves wrote count: a tag such as a title "silence_start: 5" is printed in the
# same log (as the input's metadata) and must not become a silence.
_SILENCE_START = re.compile(r"^\[silencedetect @ [^\]]+\] \[info\] silence_start: (-?[0-9.]+(?:e[-+]?\d+)?)")
_SILENCE_END = re.compile(r"^\[silencedetect @ [^\]]+\] \[info\] silence_end: (-?[0-9.]+(?:e[-+]?\d+)?)")
_SUMMARY_START = re.compile(r"^\[Parsed_ebur128_\d+ @ [^\]]+\] \[info\] Summary:")
_SUMMARY_VALUE = re.compile(r"^\s+(I|LRA|Peak):\s+(-?(?:[0-9.]+|inf))\s")


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A stretch of the recording, in seconds from its first decoded sample."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not (0 <= self.start_s <= self.end_s):
            raise ValueError(f"not a time span: {self.start_s} .. {self.end_s}")

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, float]:
        return {"start_s": self.start_s, "end_s": self.end_s}


@dataclass(frozen=True, slots=True)
class AudioAnalysis:
    """What one decode of a recording's first audio stream measured."""

    duration_s: float  # decoded, from the 16 kHz samples
    declared_duration_s: float | None  # what the container says
    codec: str | None
    sample_rate: int | None  # of the source stream
    channels: int | None
    integrated_lufs: float | None  # None: nothing loud or long enough to measure
    loudness_range_lu: float | None
    true_peak_dbtp: float | None  # None: digital silence
    silences: tuple[TimeSpan, ...]  # below SILENCE_THRESHOLD_DB for at least SILENCE_MIN_S
    speech: tuple[TimeSpan, ...]  # webrtcvad, merged over short pauses
    speech_seconds: float
    waveform: tuple[tuple[float, float], ...]  # (min, max) per bucket, -1.0..1.0, at most WAVEFORM_BUCKETS
    waveform_bucket_s: float  # seconds per waveform bucket (the last may be shorter)
    command: tuple[str, ...]  # as run, with INPUT in place of the path
    tools: tuple[str, ...]  # e.g. ("ffmpeg 5.1.6-0+deb12u1", "webrtcvad-wheels 2.0.14")
    warnings: tuple[ProbeWarning, ...] = field(default=())

    def to_row(self) -> dict[str, Any]:
        """The analysis as a row of an `audio_analysis` table (without the exhibit's id and reference).

        The waveform stays out: it is a picture's worth of numbers, stored as the rendered PNG instead.
        """
        return {
            "duration_s": self.duration_s,
            "declared_duration_s": self.declared_duration_s,
            "audio_codec": self.codec,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "integrated_lufs": self.integrated_lufs,
            "loudness_range_lu": self.loudness_range_lu,
            "true_peak_dbtp": self.true_peak_dbtp,
            "silences": [s.to_dict() for s in self.silences],
            "silence_seconds": round(float(sum(s.seconds for s in self.silences)), 3),
            "speech": [s.to_dict() for s in self.speech],
            "speech_seconds": self.speech_seconds,
            "command": list(self.command),
            "tools": list(self.tools),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }


# -- running ffmpeg -----------------------------------------------------------------------------------------


class _PcmDecode:
    """ffmpeg writing 16 kHz mono PCM to its stdout, its log to a temporary file, killed at a deadline.

    A timer kills ffmpeg at the deadline, which ends the stream at once, so a reader blocked on a hung decoder
    is released too; `finish` then raises `ToolTimeoutError`. Leaving the block early (an exception) kills it.
    """

    def __init__(self, command: list[str], deadline: float, what: str) -> None:
        self.command = command
        self.what = what
        self.deadline = deadline
        self.timed_out = False
        self.tail = b""  # set by blocks()
        self._allowed = 0.0
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _PcmDecode:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ToolTimeoutError(f"no time was left for {self.what}", tool="ffmpeg")
        self._allowed = remaining
        self._log = tempfile.TemporaryFile()  # lives as long as the block: __exit__ closes it
        self._proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log)
        self._timer = threading.Timer(remaining, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _expire(self) -> None:
        self.timed_out = True
        if self._proc is not None:
            self._proc.kill()

    def blocks(self) -> Iterator[bytes]:
        """The PCM in blocks of whole VAD frames; what is left after the last whole frame (whole samples
        only) is `tail` once the blocks are exhausted."""
        assert self._proc is not None and self._proc.stdout is not None
        carry = b""
        while chunk := self._proc.stdout.read(_READ_BYTES):
            data = carry + chunk
            whole = len(data) - len(data) % _FRAME_BYTES
            if whole:
                yield data[:whole]
            carry = data[whole:]
        self.tail = carry[: len(carry) - len(carry) % _SAMPLE_BYTES]

    def finish(self) -> tuple[int, Iterator[str]]:
        """Waits for ffmpeg; its exit code and its log, line by line (read from the file, never whole).

        Raises:
            ToolTimeoutError: the deadline passed first.
        """
        assert self._proc is not None and self._log is not None
        returncode = self._proc.wait()
        if self._timer is not None:
            self._timer.cancel()
        if self.timed_out:
            raise ToolTimeoutError(f"{self.what} did not finish within {self._allowed:.1f} s", tool="ffmpeg")
        self._log.seek(0)
        return returncode, (raw.decode("utf-8", "replace").rstrip("\r\n") for raw in self._log)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        if self._log is not None:
            self._log.close()


def _audio_stream(path: Path, probe: MediaProbe | None, deadline: float) -> tuple[MediaProbe, StreamInfo]:
    if not path.is_file():
        raise MediaMissingError(f"{path} does not exist", path=str(path))
    if probe is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ToolTimeoutError("no time was left to run ffprobe", tool="ffprobe")
        probe = probe_media(path, looks_like_media=True, timeout=remaining, decode_check=False)
    if probe.audio is None:
        raise NoAudioStreamError(f"{path.name} has no audio stream", path=str(path))
    return probe, probe.audio


class _Complaints:
    """ffmpeg's errors from its log: the first few distinct ones and how many in all, never the whole list (a
    damaged ten-hour file can log an error for every frame)."""

    def __init__(self) -> None:
        self.first: list[str] = []
        self.count = 0

    def see(self, line: str) -> None:
        if match := _LOG_ERROR.search(line):
            self.count += 1
            text = match[1].strip()[:500]
            if text not in self.first and len(self.first) < _MAX_LOGGED_ERRORS:
                self.first.append(text)

    def warnings(self, returncode: int, samples: int, name: str) -> list[ProbeWarning]:
        """The errors as warnings of a damaged but readable file.

        Raises:
            AudioUndecodableError: ffmpeg failed and decoded nothing.
        """
        if returncode != 0 and samples == 0:
            why = self.first[-1] if self.first else f"ffmpeg exited with {returncode}"
            raise AudioUndecodableError(f"no audio of {name} could be decoded: {why}")
        warnings = [ProbeWarning("EX-AUDIO-DECODE-ERROR", text) for text in self.first]
        if self.count > len(self.first):
            message = f"ffmpeg reported {self.count} decoding errors in all; the first distinct ones are listed"
            warnings.append(ProbeWarning("EX-AUDIO-DECODE-ERROR", message))
        if returncode != 0:
            message = f"ffmpeg exited with {returncode} after {samples / PCM_RATE:.3f} s: the rest may be missing"
            warnings.append(ProbeWarning("EX-AUDIO-DECODE-ERROR", message))
        return warnings


def _recorded(command: list[str], path: Path) -> tuple[str, ...]:
    recorded = ["ffmpeg", *command[1:]]
    recorded[recorded.index(media_input(path))] = "INPUT"
    return tuple(recorded)


def _package_version(distribution: str) -> str:
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return distribution


# -- streaming measurements ---------------------------------------------------------------------------------


class _SpeechTracker:
    """webrtcvad's speech/non-speech per 30 ms frame, merged into segments as the frames arrive."""

    def __init__(self) -> None:
        self._vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
        self._hangover = round(VAD_HANGOVER_S / VAD_FRAME_S)
        self._shortest = round(VAD_MIN_SPEECH_S / VAD_FRAME_S)
        self._frame = 0
        self._start: int | None = None
        self._last = 0
        self.segments: list[TimeSpan] = []

    def add(self, frame: bytes) -> bool:
        speech = self._vad.is_speech(frame, PCM_RATE)
        if speech:
            if self._start is not None and self._frame - self._last - 1 > self._hangover:
                self._close()
            if self._start is None:
                self._start = self._frame
            self._last = self._frame
        self._frame += 1
        return bool(speech)

    def _close(self) -> None:
        if self._start is not None and self._last + 1 - self._start >= self._shortest:
            start, end = self._start * _FRAME_SAMPLES, (self._last + 1) * _FRAME_SAMPLES
            self.segments.append(TimeSpan(round(start / PCM_RATE, 3), round(end / PCM_RATE, 3)))
        self._start = None

    def finish(self) -> tuple[TimeSpan, ...]:
        self._close()
        return tuple(self.segments)


class _PeakTracker:
    """(min, max) per bucket of samples, in at most `buckets` buckets, for a stream of unknown length.

    The bucket size starts from the declared duration (or one sample); whenever 2 x `buckets` buckets are full,
    neighbours merge pairwise and the size doubles, so memory stays bounded whatever the true length, every
    bucket covers the same number of samples, and a declared duration that is wrong costs only resolution.
    """

    def __init__(self, buckets: int, expected_samples: int | None) -> None:
        self.buckets = buckets
        self.size = max(1, math.ceil(expected_samples / buckets)) if expected_samples else 1
        self.mins: list[int] = []
        self.maxs: list[int] = []
        self._fill = 0
        self._low = 0
        self._high = 0

    def add(self, samples: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        pos, total = 0, len(samples)
        while pos < total:
            if self._fill == 0 and (whole := min((total - pos) // self.size, 2 * self.buckets - len(self.mins))):
                block = samples[pos : pos + whole * self.size].reshape(whole, self.size)
                self.mins.extend(block.min(axis=1).tolist())
                self.maxs.extend(block.max(axis=1).tolist())
                pos += whole * self.size
                self._merge_if_full()
                continue
            take = min(self.size - self._fill, total - pos)
            part = samples[pos : pos + take]
            low, high = int(part.min()), int(part.max())
            self._low, self._high = (low, high) if self._fill == 0 else (min(self._low, low), max(self._high, high))
            self._fill += take
            pos += take
            if self._fill == self.size:
                self._close()

    def _close(self) -> None:
        self.mins.append(self._low)
        self.maxs.append(self._high)
        self._fill = 0
        self._merge_if_full()

    def _merge_if_full(self) -> None:
        if len(self.mins) >= 2 * self.buckets:
            self._merge()

    def _merge(self) -> None:
        self.mins = [min(self.mins[i : i + 2]) for i in range(0, len(self.mins), 2)]
        self.maxs = [max(self.maxs[i : i + 2]) for i in range(0, len(self.maxs), 2)]
        self.size *= 2

    def finish(self) -> tuple[tuple[tuple[float, float], ...], float]:
        if self._fill:
            self.mins.append(self._low)
            self.maxs.append(self._high)
            self._fill = 0
        while len(self.mins) > self.buckets:
            self._merge()
        scale = 1 << 15
        peaks = tuple((low / scale, high / scale) for low, high in zip(self.mins, self.maxs, strict=True))
        return peaks, (self.size / PCM_RATE if peaks else 0.0)


def _loudness_and_silences(
    lines: Iterable[str], duration: float, complaints: _Complaints
) -> tuple[dict[str, float | None], list[TimeSpan]]:
    """ebur128's last summary (ffmpeg 5 prints an empty one while it builds the graph) and the silences; the
    errors on the way go to `complaints`."""
    summary: dict[str, float | None] = {}
    silences: list[TimeSpan] = []
    open_at: float | None = None
    in_summary = False
    for line in lines:
        if _SUMMARY_START.match(line):
            in_summary, summary = True, {}
        elif in_summary and (match := _SUMMARY_VALUE.match(line)):
            value = float(match[2])
            summary[match[1]] = value if math.isfinite(value) else None
        elif match := _SILENCE_START.match(line):
            open_at = max(0.0, float(match[1]))
        elif (match := _SILENCE_END.match(line)) and open_at is not None:
            end = min(max(float(match[1]), open_at), max(duration, open_at))
            silences.append(TimeSpan(round(open_at, 3), round(end, 3)))
            open_at = None
        complaints.see(line)
    if open_at is not None and duration > open_at:  # older ffmpeg leaves a silence to the end unclosed
        silences.append(TimeSpan(round(open_at, 3), round(duration, 3)))
    return summary, silences


def analyse_audio(path: str | Path, *, timeout: float, probe: MediaProbe | None = None) -> AudioAnalysis:
    """Measures loudness, silences, speech and the waveform of the first audio stream of `path`, in one decode.

    Args:
        path: a recording, or a video with sound.
        timeout: seconds the whole analysis (probe and decode) may take.
        probe: the file's media probe, if the caller has it; otherwise ffprobe is run here.

    Returns:
        The analysis; its warnings say what was wrong with a damaged but readable file.

    Raises:
        MediaMissingError: no such file.
        MediaDamagedError: ffprobe cannot open it.
        NoAudioStreamError: it has no audio stream (not my format).
        AudioUndecodableError: ffmpeg fails before decoding a single sample.
        ToolMissingError, ToolTimeoutError: ffmpeg or ffprobe is absent, or the analysis ran past `timeout`.
    """
    path = Path(path).absolute()  # ffprobe reads a relative "concat:x.wav" as a protocol
    deadline = time.monotonic() + timeout
    probe, stream = _audio_stream(path, probe, deadline)
    declared = stream.duration or probe.duration
    command = [find_tool("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info",
               "-i", media_input(path), "-filter_complex", _FILTERS,
               "-map", "[measured]", "-f", "null", "-", "-map", "[pcm16]", *_PCM_OUTPUT]  # fmt: skip
    speech = _SpeechTracker()
    peaks = _PeakTracker(WAVEFORM_BUCKETS, round(declared * PCM_RATE) if declared else None)
    samples = 0
    with _PcmDecode(command, deadline, "the audio analysis") as decode:
        for block in decode.blocks():
            peaks.add(np.frombuffer(block, dtype="<i2"))
            for offset in range(0, len(block), _FRAME_BYTES):
                speech.add(block[offset : offset + _FRAME_BYTES])
            samples += len(block) // _SAMPLE_BYTES
        if decode.tail:  # too short for one VAD frame, but still part of the recording
            peaks.add(np.frombuffer(decode.tail, dtype="<i2"))
            samples += len(decode.tail) // _SAMPLE_BYTES
        returncode, log = decode.finish()
        duration = samples / PCM_RATE
        complaints = _Complaints()
        summary, silences = _loudness_and_silences(log, duration, complaints)
    warnings = complaints.warnings(returncode, samples, path.name)
    waveform, bucket_s = peaks.finish()
    speech_spans = speech.finish()
    lufs, lra, peak = summary.get("I"), summary.get("LRA"), summary.get("Peak")
    if samples == 0:
        warnings.insert(0, ProbeWarning("EX-AUDIO-NO-SAMPLES", "the audio stream holds no samples at all"))
        lufs = lra = peak = None
        silences = []
    elif lufs is None or lufs <= _NO_LOUDNESS:
        message = "no loudness could be measured: the recording is silent, or shorter than 0.4 s"
        warnings.append(ProbeWarning("EX-AUDIO-NO-LOUDNESS", message))
        lufs = lra = None
    if declared and declared - duration > SHORTFALL_TOLERANCE_S + 0.01 * declared and samples:
        message = f"{duration:.3f} s decoded of the {declared:.3f} s the file declares: it may be cut short"
        warnings.append(ProbeWarning("EX-AUDIO-SHORTER-THAN-DECLARED", message))
    return AudioAnalysis(
        duration_s=duration,
        declared_duration_s=declared,
        codec=stream.codec,
        sample_rate=stream.sample_rate,
        channels=stream.channels,
        integrated_lufs=lufs,
        loudness_range_lu=lra,
        true_peak_dbtp=peak,
        silences=tuple(silences),
        speech=speech_spans,
        speech_seconds=round(float(sum(s.seconds for s in speech_spans)), 3),
        waveform=waveform,
        waveform_bucket_s=bucket_s,
        command=_recorded(command, path),
        tools=(tool_version("ffmpeg"), _package_version("webrtcvad-wheels")),
        warnings=tuple(warnings),
    )


# -- waveform picture ---------------------------------------------------------------------------------------

_BACKGROUND = (255, 255, 255)
_WAVE = (31, 58, 96)
_SPEECH = (204, 226, 246)
_AXIS = (90, 90, 90)
_AXIS_HEIGHT = 18
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
_MIN_TICK_GAP = 80  # pixels between labelled ticks, so the labels never touch


def _tick_step(duration: float, width: int) -> float:
    for step in _TICK_STEPS:
        if duration <= 0 or step * width / duration >= _MIN_TICK_GAP:
            return step
    return _TICK_STEPS[-1]


def _tick_label(seconds: float, step: float) -> str:
    if step < 1:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def render_waveform(analysis: AudioAnalysis, path: str | Path, width: int = 1200, height: int = 200) -> Path:
    """Draws the waveform as a PNG: speech shaded, a time axis with a tick and label every few seconds.

    The same analysis gives the same bytes (no timestamps or text chunks in the PNG).

    Args:
        analysis: what `analyse_audio` measured.
        path: the PNG to write.
        width: in pixels.
        height: in pixels, the time axis included.

    Returns:
        `path`.

    Raises:
        ValueError: a picture too small to draw in.
    """
    if width < 100 or height < 2 * _AXIS_HEIGHT:
        raise ValueError(f"a waveform needs at least 100 x {2 * _AXIS_HEIGHT} pixels, not {width} x {height}")
    path = Path(path)
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    wave_height = height - _AXIS_HEIGHT
    middle = (wave_height - 1) / 2
    duration = analysis.duration_s
    per_second = width / duration if duration > 0 else 0.0
    for span in analysis.speech:
        left, right = round(span.start_s * per_second), max(round(span.end_s * per_second) - 1, 0)
        draw.rectangle((left, 0, max(left, right), wave_height - 1), fill=_SPEECH)
    draw.line((0, round(middle), width - 1, round(middle)), fill=_AXIS)
    peaks = analysis.waveform
    if peaks and duration > 0:
        per_bucket = analysis.waveform_bucket_s * per_second  # pixels per bucket
        for x in range(width):
            first = int(x / per_bucket)
            last = max(first, math.ceil((x + 1) / per_bucket) - 1)
            if first >= len(peaks):
                break
            chunk = peaks[first : last + 1]
            low, high = min(p[0] for p in chunk), max(p[1] for p in chunk)
            draw.line((x, round(middle - high * middle), x, round(middle - low * middle)), fill=_WAVE)
    draw.line((0, wave_height, width - 1, wave_height), fill=_AXIS)
    font = ImageFont.load_default()
    step = _tick_step(duration, width)
    ticks = int(duration / step) + 1 if duration > 0 else 1
    for n in range(ticks):
        x = min(round(n * step * per_second), width - 1)
        draw.line((x, wave_height, x, wave_height + 4), fill=_AXIS)
        label = _tick_label(n * step, step)
        if x + 4 + draw.textlength(label, font=font) < width:
            draw.text((x + 2, wave_height + 4), label, fill=_AXIS, font=font)
    image.save(path, format="PNG", optimize=False)
    return path


# -- transcription ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A word (or, for engines that give no words, a phrase) and when it was said."""

    start_s: float
    end_s: float
    text: str
    confidence: float | None  # 0..1 where the engine gives one

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s, "text": self.text, "confidence": self.confidence}


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a speech-to-text engine heard: a machine's guess, to be read against the recording, not evidence."""

    engine: str  # the registry name
    engine_version: str
    model: str
    language: str  # BCP 47: the only language the model knows
    text: str
    segments: tuple[TranscriptSegment, ...]
    duration_s: float  # decoded
    command: tuple[str, ...]  # the ffmpeg that fed the engine, with INPUT in place of the path
    tools: tuple[str, ...]
    warnings: tuple[ProbeWarning, ...] = field(default=())

    def to_row(self) -> dict[str, Any]:
        """The transcript as a row of a `transcript` table (without the exhibit's id and reference)."""
        return {
            "engine": self.engine,
            "engine_version": self.engine_version,
            "model": self.model,
            "language": self.language,
            "text": self.text,
            "segments": [s.to_dict() for s in self.segments],
            "duration_s": self.duration_s,
            "command": list(self.command),
            "tools": list(self.tools),
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
        }


class Transcriber(ABC):
    """A speech-to-text engine that runs offline, on models that ship with it: none may download at run time
    (an evidence system may be air-gapped, and a model fetched today may differ tomorrow)."""

    NAME: ClassVar[str]
    language: ClassVar[str]  # BCP 47
    model: ClassVar[str]

    @abstractmethod
    def transcribe(self, path: str | Path, *, timeout: float, probe: MediaProbe | None = None) -> Transcript:
        """Transcribes the first audio stream of `path`.

        Args:
            path: a recording, or a video with sound.
            timeout: seconds the whole transcription may take.
            probe: the file's media probe, if the caller has it.

        Raises:
            MediaMissingError, MediaDamagedError, NoAudioStreamError, AudioUndecodableError: as `analyse_audio`.
            ToolMissingError, ToolTimeoutError: ffmpeg is absent, or it ran past `timeout`.
        """


# pocketsphinx normalises each utterance as a whole (batch CMN) and keeps its search history until the end of
# it, so an uncut hour would be an hour of features in memory; but a word alone in a short utterance loses
# the context that helps it be heard (measured: "one" alone comes out as "or you know"). So an utterance ends
# at a short pause once it is long enough, at a long pause, or at the maximum length regardless; and stretches
# without speech are not decoded at all, past a short lead-in, so a mostly quiet recording is quick.
_UTTERANCE_MIN_S = 10.0
_UTTERANCE_MAX_S = 30.0
_SHORT_PAUSE_S = 0.3
_LONG_PAUSE_S = 1.0
_LEAD_IN_S = 0.5
_GATE_AGGRESSIVENESS = 1  # gentler than the analysis: a word not decoded is lost, noise decoded costs time
_SPHINX_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_SPHINX_VARIANT = re.compile(r"\(\d+\)$")  # "want(2)": the second pronunciation of "want"


class _Utterances:
    """Cuts the 16 kHz PCM stream into utterances, decodes each with pocketsphinx, gathers what it hears."""

    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder
        self._frame_rate = int(decoder.config["frate"])  # pocketsphinx's frames per second (100)
        self._buffer = bytearray()
        self._start = 0  # the buffer's first sample, from the start of the recording
        self._heard = False  # the buffer holds speech
        self._quiet = 0  # frames without speech in a row
        self.texts: list[str] = []
        self.segments: list[TranscriptSegment] = []

    def add(self, frame: bytes, speech: bool) -> None:
        self._buffer += frame
        self._heard = self._heard or speech
        self._quiet = 0 if speech else self._quiet + 1
        if not self._heard:
            if len(self._buffer) > _LEAD_IN_S * PCM_RATE * _SAMPLE_BYTES:
                del self._buffer[:_FRAME_BYTES]
                self._start += _FRAME_SAMPLES
            return
        length, pause = len(self._buffer) / (PCM_RATE * _SAMPLE_BYTES), self._quiet * VAD_FRAME_S
        long_enough = length >= _UTTERANCE_MIN_S and pause >= _SHORT_PAUSE_S
        if long_enough or pause >= _LONG_PAUSE_S or length >= _UTTERANCE_MAX_S:
            self.flush()

    def flush(self, tail: bytes = b"") -> None:
        self._buffer += tail
        if self._heard and self._buffer:
            self._decode()
        self._start += len(self._buffer) // _SAMPLE_BYTES
        self._buffer.clear()
        self._heard, self._quiet = False, 0

    def _decode(self) -> None:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(bytes(self._buffer), False, True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is not None and hypothesis.hypstr.strip():
            self.texts.append(hypothesis.hypstr.strip())
        offset = self._start / PCM_RATE
        for seg in decoder.seg():
            if _SPHINX_FILLER.match(seg.word):
                continue
            self.segments.append(
                TranscriptSegment(
                    round(offset + seg.start_frame / self._frame_rate, 3),
                    round(offset + (seg.end_frame + 1) / self._frame_rate, 3),
                    _SPHINX_VARIANT.sub("", seg.word),
                    round(float(seg.prob), 4),  # the word's posterior probability
                )
            )


class PocketSphinxTranscriber(Transcriber):
    """CMU PocketSphinx with the US English model inside its wheel: English (en-US) only, and rough.

    Other languages come out as English words that sound alike; the transcript says which language it
    assumed. The model files are named explicitly from the installed package, so neither POCKETSPHINX_PATH
    nor anything on the network decides which model runs.
    """

    NAME = "pocketsphinx"
    language = "en-US"
    model = "cmusphinx en-us (en-us acoustic model, en-us.lm.bin, cmudict-en-us.dict)"

    def transcribe(self, path: str | Path, *, timeout: float, probe: MediaProbe | None = None) -> Transcript:
        import pocketsphinx  # imported here: its model loads only when a transcript is asked for

        path = Path(path).absolute()  # ffprobe reads a relative "concat:x.wav" as a protocol
        deadline = time.monotonic() + timeout
        _audio_stream(path, probe, deadline)
        models = Path(pocketsphinx.__file__).parent / "model" / "en-us"
        decoder = pocketsphinx.Decoder(
            hmm=str(models / "en-us"),
            lm=str(models / "en-us.lm.bin"),
            dict=str(models / "cmudict-en-us.dict"),
            samprate=PCM_RATE,
            loglevel="ERROR",
        )
        command = [find_tool("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+warning",
                   "-i", media_input(path), *_PCM_ONLY, *_PCM_OUTPUT]  # fmt: skip
        gate = webrtcvad.Vad(_GATE_AGGRESSIVENESS)
        utterances = _Utterances(decoder)
        samples = 0
        # ffmpeg waits on the pipe while an utterance is decoded, so the deadline's kill also stops a slow
        # decoder, at the end of the utterance in hand.
        with _PcmDecode(command, deadline, "the transcription") as decode:
            for block in decode.blocks():
                for offset in range(0, len(block), _FRAME_BYTES):
                    frame = block[offset : offset + _FRAME_BYTES]
                    utterances.add(frame, bool(gate.is_speech(frame, PCM_RATE)))
                samples += len(block) // _SAMPLE_BYTES
            utterances.flush(decode.tail)
            samples += len(decode.tail) // _SAMPLE_BYTES
            returncode, log = decode.finish()
            complaints = _Complaints()
            for line in log:
                complaints.see(line)
        warnings = complaints.warnings(returncode, samples, path.name)
        if samples == 0:
            warnings.insert(0, ProbeWarning("EX-AUDIO-NO-SAMPLES", "the audio stream holds no samples at all"))
        return Transcript(
            engine=self.NAME,
            engine_version=_package_version("pocketsphinx"),
            model=self.model,
            language=self.language,
            text=" ".join(utterances.texts),
            segments=tuple(utterances.segments),
            duration_s=samples / PCM_RATE,
            command=_recorded(command, path),
            tools=(tool_version("ffmpeg"), _package_version("pocketsphinx"), _package_version("webrtcvad-wheels")),
            warnings=tuple(warnings),
        )


def register_transcribers(*engines: type[Transcriber]) -> dict[str, type[Transcriber]]:
    """The registry of transcription engines by NAME.

    Raises:
        DuplicateTranscriberError: two engines share a NAME.
    """
    registry: dict[str, type[Transcriber]] = {}
    for engine in engines:
        if engine.NAME in registry:
            raise DuplicateTranscriberError(
                f"two transcription engines are named {engine.NAME!r}: {registry[engine.NAME].__name__} and "
                f"{engine.__name__}"
            )
        registry[engine.NAME] = engine
    return registry


# The one place an engine is made available; a duplicate name fails the import.
TRANSCRIBERS = register_transcribers(PocketSphinxTranscriber)


def transcriber(name: str) -> Transcriber:
    """The registered engine called `name`, ready to use.

    Raises:
        UnknownTranscriberError: no engine of that name.
    """
    try:
        return TRANSCRIBERS[name]()
    except KeyError:
        known = ", ".join(sorted(TRANSCRIBERS))
        raise UnknownTranscriberError(f"no transcription engine is called {name!r} (there is: {known})") from None
