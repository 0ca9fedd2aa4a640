"""`forensics.audio` on audio made here by ffmpeg, with the answers known in advance."""

from __future__ import annotations

import dataclasses
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics.audio import (
    TRANSCRIBERS,
    AudioAnalysis,
    PocketSphinxTranscriber,
    TimeSpan,
    Transcriber,
    Transcript,
    _Complaints,
    _PcmDecode,
    _PeakTracker,
    analyse_audio,
    register_transcribers,
    render_waveform,
    transcriber,
)
from forensics.errors import (
    AudioUndecodableError,
    DuplicateTranscriberError,
    MediaMissingError,
    NoAudioStreamError,
    ToolTimeoutError,
    UnknownTranscriberError,
)
from forensics.media_probe import MediaProbe, probe_media

# 997 Hz (not 1 kHz: it does not line up with any sample rate) at half scale, then 2 s of digital silence,
# then the tone again. Half scale is -6.02 dBFS; one channel of it reads -9.03 LUFS, and ebur128's 400 ms
# blocks straddling the two edges pull the integrated value a few tenths lower.
TONE_GAP = "aevalsrc='if(between(t,2,4),0,0.5*sin(2*PI*997*t))':s=48000:d=6"


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True, timeout=60)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    files = {
        "tone_gap": folder / "tone_gap.wav",
        "silent": folder / "silent.flac",
        "video_only": folder / "video_only.mp4",
        "empty": folder / "empty.wav",
        "cut_mp3": folder / "cut.mp3",
        "beep": folder / "beep.wav",
    }
    _ffmpeg("-f", "lavfi", "-i", TONE_GAP, "-c:a", "pcm_s16le", str(files["tone_gap"]))
    beep = "aevalsrc='if(between(t,0.5,1.5),0.3*sin(2*PI*440*t),0)':s=16000:d=2"
    _ffmpeg("-f", "lavfi", "-i", beep, "-c:a", "pcm_s16le", str(files["beep"]))
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "2", "-c:a", "flac", str(files["silent"]))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x64:r=10", "-c:v", "mpeg4", str(files["video_only"]))
    with wave.open(str(files["empty"]), "wb") as empty:
        empty.setnchannels(1)
        empty.setsampwidth(2)
        empty.setframerate(16000)
    # A 10 s MP3 whose Xing header declares 10 s, cut to its first half: a recording cut short.
    whole = folder / "whole.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=10", "-c:a", "libmp3lame", "-b:a", "64k", str(whole))
    data = whole.read_bytes()
    files["cut_mp3"].write_bytes(data[: len(data) // 2])
    # The same MP3 with a run of its frames overwritten in the middle: damaged, but most of it plays.
    garbled = bytearray(data)
    garbled[len(data) // 2 : len(data) // 2 + 4000] = bytes(range(256)) * 15 + bytes(160)
    files["garbled_mp3"] = folder / "garbled.mp3"
    files["garbled_mp3"].write_bytes(bytes(garbled))
    return files


@pytest.fixture(scope="module")
def tone_gap(media: dict[str, Path]) -> AudioAnalysis:
    return analyse_audio(media["tone_gap"], timeout=60)


def test_loudness_silence_and_peaks_of_a_known_signal(tone_gap: AudioAnalysis) -> None:
    a = tone_gap
    assert a.duration_s == pytest.approx(6.0, abs=0.01)
    assert a.declared_duration_s == pytest.approx(6.0, abs=0.01)
    assert (a.codec, a.sample_rate, a.channels) == ("pcm_s16le", 48000, 1)
    assert a.integrated_lufs is not None and -10.0 < a.integrated_lufs < -8.5
    assert a.true_peak_dbtp is not None and -6.6 < a.true_peak_dbtp < -5.5
    assert a.loudness_range_lu is not None and a.loudness_range_lu >= 0
    assert len(a.silences) == 1
    assert (a.silences[0].start_s, a.silences[0].end_s) == pytest.approx((2.0, 4.0), abs=0.05)
    assert not any(s.start_s < 3.9 and s.end_s > 2.1 for s in a.speech)  # nothing heard in digital silence
    assert a.speech_seconds == pytest.approx(sum(s.seconds for s in a.speech), abs=0.001)
    assert a.warnings == ()


def test_the_waveform_follows_the_signal(tone_gap: AudioAnalysis) -> None:
    a = tone_gap
    assert 900 <= len(a.waveform) <= 1000  # the declared duration sizes the buckets
    assert a.waveform_bucket_s * len(a.waveform) == pytest.approx(6.0, abs=2 * a.waveform_bucket_s)
    assert max(high for _low, high in a.waveform) == pytest.approx(0.5, abs=0.02)
    assert min(low for low, _high in a.waveform) == pytest.approx(-0.5, abs=0.02)
    per_second = len(a.waveform) / a.duration_s
    quiet = a.waveform[round(2.1 * per_second) : round(3.9 * per_second)]
    assert quiet and all(low == high == 0.0 for low, high in quiet)


def test_the_record_names_its_command_and_tools(tone_gap: AudioAnalysis, media: dict[str, Path]) -> None:
    assert "INPUT" in tone_gap.command and str(media["tone_gap"]) not in tone_gap.command
    assert tone_gap.command[0] == "ffmpeg" and "-filter_complex" in tone_gap.command
    assert tone_gap.tools[0].startswith("ffmpeg ") and tone_gap.tools[1].startswith("webrtcvad-wheels ")


def test_the_row(tone_gap: AudioAnalysis) -> None:
    row = tone_gap.to_row()
    assert "waveform" not in row
    assert row["silences"] == [{"start_s": tone_gap.silences[0].start_s, "end_s": tone_gap.silences[0].end_s}]
    assert all(set(s) == {"start_s", "end_s"} for s in row["speech"])
    assert row["silence_seconds"] == pytest.approx(2.0, abs=0.05)
    assert row["warnings"] == [] and row["command"] == list(tone_gap.command)
    assert set(row) >= {"duration_s", "integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "speech_seconds"}


def test_the_same_file_gives_the_same_record(tone_gap: AudioAnalysis, media: dict[str, Path]) -> None:
    again = analyse_audio(media["tone_gap"], timeout=60)
    assert again == tone_gap
    assert again.to_row() == tone_gap.to_row()


def test_without_a_declared_duration_the_waveform_still_fits(tone_gap: AudioAnalysis, media: dict[str, Path]) -> None:
    probe = probe_media(media["tone_gap"], decode_check=False)
    assert probe.audio is not None
    undeclared = dataclasses.replace(
        probe, duration=None, streams=tuple(dataclasses.replace(s, duration=None) for s in probe.streams)
    )
    a = analyse_audio(media["tone_gap"], timeout=60, probe=undeclared)
    assert 500 < len(a.waveform) <= 1000
    assert a.declared_duration_s is None
    assert (a.integrated_lufs, a.silences, a.speech) == (tone_gap.integrated_lufs, tone_gap.silences, tone_gap.speech)
    assert max(h for _l, h in a.waveform) == max(h for _l, h in tone_gap.waveform)


@pytest.mark.parametrize("declared", [None, 5000, 20000, 1_000_000])
def test_peak_buckets_stream_exactly(declared: int | None) -> None:
    samples = np.random.default_rng(7).integers(-32768, 32767, size=20000, dtype=np.int16)
    tracker = _PeakTracker(100, declared)
    pos, sizes = 0, [1, 2, 3, 977, 4096]  # odd chunk sizes, as a pipe delivers them
    while pos < len(samples):
        size = sizes[pos % len(sizes)]
        tracker.add(samples[pos : pos + size])
        pos += size
    peaks, bucket_s = tracker.finish()
    size = round(bucket_s * 16000)
    assert 0 < len(peaks) <= 100
    for i, (low, high) in enumerate(peaks):
        part = samples[i * size : (i + 1) * size]
        assert (low, high) == (part.min() / 32768, part.max() / 32768)
    assert len(peaks) == -(-len(samples) // size)


def test_digital_silence_has_no_loudness(media: dict[str, Path]) -> None:
    a = analyse_audio(media["silent"], timeout=60)
    assert (a.integrated_lufs, a.loudness_range_lu, a.true_peak_dbtp) == (None, None, None)
    assert [w.code for w in a.warnings] == ["EX-AUDIO-NO-LOUDNESS"]
    assert a.speech == ()
    assert [(s.start_s, s.end_s) for s in a.silences] == [(0.0, pytest.approx(2.0, abs=0.01))]
    assert (a.sample_rate, a.channels) == (44100, 2)


def test_an_empty_wav_is_a_record_with_a_warning(media: dict[str, Path], tmp_path: Path) -> None:
    a = analyse_audio(media["empty"], timeout=60)
    assert [w.code for w in a.warnings] == ["EX-AUDIO-NO-SAMPLES"]
    assert (a.duration_s, a.silences, a.speech, a.waveform, a.waveform_bucket_s) == (0.0, (), (), (), 0.0)
    assert (a.integrated_lufs, a.true_peak_dbtp, a.sample_rate) == (None, None, 16000)
    with Image.open(render_waveform(a, tmp_path / "empty.png")) as image:
        assert image.size == (1200, 200)


def test_a_recording_cut_short_says_so(media: dict[str, Path]) -> None:
    a = analyse_audio(media["cut_mp3"], timeout=60)
    assert a.declared_duration_s == pytest.approx(10.0, abs=0.1)
    assert 3.0 < a.duration_s < 7.0
    assert "EX-AUDIO-SHORTER-THAN-DECLARED" in [w.code for w in a.warnings]


def test_frames_damaged_part_way_are_warnings(media: dict[str, Path]) -> None:
    a = analyse_audio(media["garbled_mp3"], timeout=60)
    assert a.duration_s > 8.0
    assert "EX-AUDIO-DECODE-ERROR" in [w.code for w in a.warnings]
    assert analyse_audio(media["garbled_mp3"], timeout=60) == a


def test_a_file_named_like_an_ffmpeg_protocol_is_read_as_a_file(
    tone_gap: AudioAnalysis, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "concat:tone.wav").write_bytes(media["tone_gap"].read_bytes())
    monkeypatch.chdir(tmp_path)
    a = analyse_audio("concat:tone.wav", timeout=60)
    assert (a.integrated_lufs, a.silences, a.speech) == (tone_gap.integrated_lufs, tone_gap.silences, tone_gap.speech)


def test_tags_that_look_like_filter_output_are_ignored(
    tone_gap: AudioAnalysis, media: dict[str, Path], tmp_path: Path
) -> None:
    tagged = tmp_path / "tagged.wav"
    # ffmpeg prints the tags in order of name, in the same log as the filters: "artist" before "title".
    _ffmpeg("-i", str(media["tone_gap"]), "-metadata", "artist=silence_start: 0.1", "-metadata",
            "title=silence_end: 0.9", "-metadata", "comment=Summary:", "-c", "copy", str(tagged))  # fmt: skip
    a = analyse_audio(tagged, timeout=60)
    assert (a.integrated_lufs, a.silences) == (tone_gap.integrated_lufs, tone_gap.silences)


def test_no_audio_stream_is_not_my_format(media: dict[str, Path]) -> None:
    with pytest.raises(NoAudioStreamError) as caught:
        analyse_audio(media["video_only"], timeout=60)
    assert caught.value.code == "EX-AUDIO-NO-STREAM"


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaMissingError):
        analyse_audio(tmp_path / "nothing.wav", timeout=60)


def test_ffmpeg_failing_before_any_sample_is_a_failure() -> None:
    complaints = _Complaints()
    for line in ["[info] Input #0", "[mp3 @ 0x1] [error] Header missing", "[error] Error while decoding"] * 30:
        complaints.see(line)
    with pytest.raises(AudioUndecodableError, match="Error while decoding"):
        complaints.warnings(1, 0, "x.mp3")
    warnings = complaints.warnings(0, 16000, "x.mp3")
    assert [w.message for w in warnings[:2]] == ["Header missing", "Error while decoding"]
    assert [w.code for w in warnings] == ["EX-AUDIO-DECODE-ERROR"] * 3 and "60 decoding errors" in warnings[2].message


def test_a_decoder_past_its_deadline_is_killed() -> None:
    # -re holds ffmpeg to real time, so 30 s of tone takes 30 s: far past the half-second allowed.
    command = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=d=30", "-f", "s16le", "pipe:1"]
    started = time.monotonic()
    with pytest.raises(ToolTimeoutError), _PcmDecode(command, time.monotonic() + 0.5, "a test decode") as decode:
        for _chunk in decode.blocks():
            pass
        decode.finish()
    assert time.monotonic() - started < 5


def test_no_time_left_is_a_timeout(media: dict[str, Path]) -> None:
    with pytest.raises(ToolTimeoutError):
        analyse_audio(media["tone_gap"], timeout=0)


# -- the picture --------------------------------------------------------------------------------------------


def _analysis(duration: float, speech: tuple[TimeSpan, ...]) -> AudioAnalysis:
    peaks = tuple((-0.5, 0.5) if i % 2 else (-0.1, 0.1) for i in range(800))
    return AudioAnalysis(
        duration_s=duration,
        declared_duration_s=duration,
        codec="pcm_s16le",
        sample_rate=16000,
        channels=1,
        integrated_lufs=-20.0,
        loudness_range_lu=3.0,
        true_peak_dbtp=-1.0,
        silences=(),
        speech=speech,
        speech_seconds=sum(s.seconds for s in speech),
        waveform=peaks,
        waveform_bucket_s=duration / len(peaks),
        command=("ffmpeg",),
        tools=("ffmpeg test",),
    )


def test_the_waveform_picture(tmp_path: Path) -> None:
    a = _analysis(80.0, (TimeSpan(20.0, 40.0),))
    first = render_waveform(a, tmp_path / "a.png")
    second = render_waveform(a, tmp_path / "b.png", width=1200, height=200)
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as image:
        assert (image.format, image.size) == ("PNG", (1200, 200))
        rgb = image.convert("RGB")
        assert rgb.getpixel((450, 2)) == (204, 226, 246)  # 30 s: inside the speech, above the wave
        assert rgb.getpixel((150, 2)) == (255, 255, 255)  # 10 s: outside it
        assert rgb.getpixel((600, 91)) != (255, 255, 255)  # the wave crosses the middle
        axis_row = [rgb.getpixel((x, 184)) for x in range(1200)]
        assert sum(p != (255, 255, 255) for p in axis_row) >= 5  # tick marks
    with Image.open(render_waveform(a, tmp_path / "small.png", width=640, height=120)) as image:
        assert image.size == (640, 120)
    with pytest.raises(ValueError):
        render_waveform(a, tmp_path / "tiny.png", width=10, height=10)


def test_the_waveform_of_a_real_analysis(tone_gap: AudioAnalysis, tmp_path: Path) -> None:
    with Image.open(render_waveform(tone_gap, tmp_path / "tone.png")) as image:
        assert image.size == (1200, 200)
        rgb = image.convert("RGB")
        column = [rgb.getpixel((100, y)) for y in range(182)]  # 0.5 s: the tone fills half the height
        assert sum(p == (31, 58, 96) for p in column) > 60


# -- transcription ------------------------------------------------------------------------------------------


def test_the_registry() -> None:
    assert {"pocketsphinx": PocketSphinxTranscriber} == TRANSCRIBERS
    engine = transcriber("pocketsphinx")
    assert isinstance(engine, PocketSphinxTranscriber)
    assert engine.language == "en-US" and "en-us" in engine.model
    with pytest.raises(UnknownTranscriberError):
        transcriber("whisper")


class _Echo(Transcriber):
    NAME = "echo"
    language = "und"
    model = "none"

    def transcribe(self, path: str | Path, *, timeout: float, probe: MediaProbe | None = None) -> Transcript:
        return Transcript(self.NAME, "0", self.model, self.language, "", (), 0.0, (), ())


class _OtherEcho(_Echo):
    pass


def test_a_duplicate_name_is_refused() -> None:
    assert register_transcribers(PocketSphinxTranscriber, _Echo) == {
        "pocketsphinx": PocketSphinxTranscriber,
        "echo": _Echo,
    }
    with pytest.raises(DuplicateTranscriberError, match="'echo'"):
        register_transcribers(_Echo, _OtherEcho)


@pytest.mark.slow
def test_pocketsphinx_on_generated_audio(media: dict[str, Path]) -> None:
    engine = transcriber("pocketsphinx")
    transcript = engine.transcribe(media["beep"], timeout=60)
    assert (transcript.engine, transcript.language) == ("pocketsphinx", "en-US")
    assert transcript.engine_version.startswith("pocketsphinx ")
    assert transcript.duration_s == pytest.approx(2.0, abs=0.01)
    assert all(0 <= s.start_s <= s.end_s <= 2.01 for s in transcript.segments)
    assert all(s.confidence is None or 0 <= s.confidence <= 1 for s in transcript.segments)
    assert "INPUT" in transcript.command
    assert transcript == engine.transcribe(media["beep"], timeout=60)  # deterministic
    row = transcript.to_row()
    assert row["language"] == "en-US" and isinstance(row["segments"], list)


@pytest.mark.slow
def test_pocketsphinx_outcomes(media: dict[str, Path]) -> None:
    engine = transcriber("pocketsphinx")
    empty = engine.transcribe(media["empty"], timeout=60)
    assert (empty.text, empty.segments, [w.code for w in empty.warnings]) == ("", (), ["EX-AUDIO-NO-SAMPLES"])
    silent = engine.transcribe(media["silent"], timeout=60)
    assert silent.warnings == () and silent.duration_s == pytest.approx(2.0, abs=0.01)
    with pytest.raises(NoAudioStreamError):
        engine.transcribe(media["video_only"], timeout=60)
