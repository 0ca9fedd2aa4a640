"""Generated sample media, for the demo and the tests: ffmpeg's test sources with the tags a body-worn camera
writes, and a phone photo with EXIF (make, time and offset, GPS, orientation), all made here, nothing downloaded."""

from __future__ import annotations

import io
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def make_bwv_clip(folder: Path, name: str = "bwv.mp4", seconds: int = 2) -> Path:
    """A 320x240 H.264/AAC clip tagged Axon Body 3, serial X81234567, 2026-11-20T21:14:00Z, at Westminster
    (+51.5007-000.1246, 12 m), with a display matrix that turns it a quarter counter-clockwise."""
    plain = folder / f"plain-{name}"
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
        *("-metadata", "location=+51.5007-000.1246+012.000/", "-metadata", "make=Axon"),
        *("-metadata", "model=Body 3", "-metadata", "serial_number=X81234567"),
        *("-movflags", "use_metadata_tags", str(plain)),
    )
    clip = folder / name
    ffmpeg(
        *("-i", str(plain), "-c", "copy", "-movflags", "use_metadata_tags", "-metadata:s:v:0", "rotate=90"),
        *("-metadata", "creation_time=2026-11-20T21:14:00Z", str(clip)),
    )
    plain.unlink()
    return clip


def make_scene_cut_clip(folder: Path, name: str = "cut.mp4", seconds: int = 3) -> Path:
    """A 320x240 clip: `seconds` of ffmpeg's moving test pattern, then a hard cut to colour bars for as long."""
    clip = folder / name
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}"),
        *("-f", "lavfi", "-i", f"smptebars=size=320x240:rate=25:duration={seconds}"),
        *("-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "creation_time=2026-11-20T21:14:00Z", str(clip)),
    )
    return clip


def make_999_call(folder: Path, name: str = "999-call.m4a") -> Path:
    """6 s of AAC: 2 s of a 440 Hz tone, 2 s of silence, 2 s of 660 Hz (a call with a pause in it)."""
    call = folder / name
    tone = "aevalsrc='0.4*sin(2*PI*(440+220*gte(t,4))*t)*(1-between(t,2,4))':s=16000:d=6"
    ffmpeg("-f", "lavfi", "-i", tone, "-c:a", "aac", "-b:a", "64k", str(call))
    return call


def scene(size: tuple[int, int] = (320, 240), shift: int = 0) -> Image.Image:
    image = Image.new("RGB", size, (40, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40 + shift, 40, 180 + shift, 200), fill=(220, 200, 40))
    draw.ellipse((200, 60, 300, 160), fill=(200, 30, 30))
    return image


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round((value - degrees - minutes / 60) * 3600 * 1000), 1000)
    return Fraction(degrees), Fraction(minutes), seconds


def write_scene_photo(path: Path, *, software: str = "Firmware 1.0", orientation: int = 6) -> Path:
    """A JPEG as a phone writes it: Make, Model, serial, DateTimeOriginal + offset, GPS (Westminster), orientation."""
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = "Galaxy S24"  # Model
    exif[0x0131] = software  # Software
    exif[0x0112] = orientation  # Orientation
    details = exif.get_ifd(0x8769)
    details[0x9003] = "2026:11:20 21:14:05"  # DateTimeOriginal
    details[0x9011] = "+01:00"  # OffsetTimeOriginal
    details[0xA431] = "R58N12345"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", _dms(51.500729)
    gps[3], gps[4] = "W", _dms(0.124625)
    gps[5], gps[6] = b"\x00", Fraction(12)
    gps[7] = (Fraction(20), Fraction(14), Fraction(3))
    gps[29] = "2026:11:20"
    scene().save(path, "JPEG", exif=exif, quality=90)
    return path


def exif_with_thumbnail(thumbnail: bytes, orientation: int = 1) -> bytes:
    """An APP1 body as a camera writes it: IFD0 (Make, Orientation) and IFD1 pointing at a JPEG thumbnail.
    Pillow writes no IFD1, so the TIFF structure is laid out here by hand (little-endian)."""
    make = b"TestCam\x00"
    ifd0, ifd1 = 8, 8 + 2 + 2 * 12 + 4
    make_at = ifd1 + 2 + 3 * 12 + 4
    thumb_at = make_at + len(make)
    tiff = b"II*\x00" + struct.pack("<I", ifd0)
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x010F, 2, len(make), make_at)  # Make
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation
    tiff += struct.pack("<I", ifd1)
    tiff += struct.pack("<H", 3)
    tiff += struct.pack("<HHIHH", 0x0103, 3, 1, 6, 0)  # Compression: JPEG
    tiff += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)  # JPEGInterchangeFormat
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))  # JPEGInterchangeFormatLength
    tiff += struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff + make + thumbnail


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def photo_with_thumbnail(path: Path, main: Image.Image, thumbnail: Image.Image, orientation: int = 1) -> Path:
    main.save(path, "JPEG", quality=90, exif=exif_with_thumbnail(jpeg_bytes(thumbnail), orientation))
    return path


def cropped_scene() -> Image.Image:
    """What an editor leaves: the right part of the scene, enlarged back to the frame."""
    return scene().crop((120, 40, 320, 200)).resize((320, 240))


def make_seized_card(folder: Path, photo: Path, name: str = "sd-card") -> list[Path]:
    """A seized SD card as a forensic lab hands it over: a FAT volume holding a photo (in DCIM), a note and a
    deleted copy of the photo, acquired as a two-segment E01 (`NAME.E01`, `NAME.E02`) with case details.

    Needs mkfs.vfat and mtools (dosfstools, mtools) and ewfacquirestream (ewf-tools), all in `make setup`.
    """
    card = folder / f"{name}.img"
    subprocess.run(["mkfs.vfat", "-C", "-n", "SDCARD", str(card), "2880"], check=True, capture_output=True)
    note = folder / f"{name}-note.txt"
    note.write_text("back door code 4471\n")
    for args in (
        ["mmd", "-i", str(card), "::/DCIM"],
        ["mcopy", "-i", str(card), str(photo), "::/DCIM/IMG_0001.JPG"],
        ["mcopy", "-i", str(card), str(note), "::/NOTE.TXT"],
        ["mcopy", "-i", str(card), str(photo), "::/OLD.JPG"],
        ["mdel", "-i", str(card), "::/OLD.JPG"],
    ):
        subprocess.run(args, check=True, capture_output=True)
    with card.open("rb") as source:
        subprocess.run(
            ["ewfacquirestream", "-q", "-t", str(folder / name), "-C", "OP-DEMO-001", "-D", "SD card from the hallway",
             "-e", "Jane Smith", "-E", "JS/SD1", "-S", "1MiB", "-c", "none"],
            stdin=source, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    card.unlink()
    note.unlink()
    return sorted(folder.glob(f"{name}.E0?"))
