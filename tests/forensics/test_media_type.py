"""Tests for content-based media type detection.

Three kinds of evidence: hand-built headers (one per signature, plus traps that must *not* match), real files
made on the spot by ffmpeg, mkfs and ewfacquire (skipped with a reason where the tool is missing), and
robustness checks (truncated heads and random bytes must never raise).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import shutil
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from forensics.errors import MediaMissingError, MediaUnreadableError
from forensics.media_type import (
    EMPTY,
    HEAD_BYTES,
    MIME_EWF,
    MIME_RAW_DISK,
    UNKNOWN,
    MediaType,
    detect_media_type,
    sniff,
)
from schemas.records import ExhibitKind

BWV = ExhibitKind.BWV
PHOTO = ExhibitKind.PHOTO
AUDIO = ExhibitKind.AUDIO
DEVICE = ExhibitKind.DEVICE_IMAGE
DOC = ExhibitKind.DOCUMENT
OTHER = ExhibitKind.OTHER


# --- builders for hand-made headers -----------------------------------------------------------------------


def box(box_type: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + box_type + payload


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))


def trak(handler: bytes) -> bytes:
    hdlr = box(b"hdlr", b"\x00" * 8 + handler + b"\x00" * 12 + b"name\x00")
    return box(b"trak", box(b"tkhd", b"\x00" * 84) + box(b"mdia", box(b"mdhd", b"\x00" * 24) + hdlr))


def moov(*handlers: bytes) -> bytes:
    return box(b"moov", box(b"mvhd", b"\x00" * 100) + b"".join(trak(h) for h in handlers))


def ebml(ident: int, payload: bytes) -> bytes:
    id_bytes = ident.to_bytes((ident.bit_length() + 7) // 8, "big")
    return id_bytes + b"\x01" + len(payload).to_bytes(7, "big") + payload


def matroska(doctype: bytes, track_types: list[int]) -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4286, b"\x01") + ebml(0x4282, doctype))
    entries = b"".join(
        ebml(0xAE, ebml(0xD7, bytes([n + 1])) + ebml(0x83, bytes([t]))) for n, t in enumerate(track_types)
    )
    body = ebml(0x1549A966, b"") + ebml(0x1654AE6B, entries) + ebml(0x1F43B675, b"\0" * 32)
    segment = ebml(0x18538067, body)
    return header + segment


def ogg_page(packet: bytes, *, bos: bool = True, serial: int = 1) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = b"OggS\x00" + bytes([0x02 if bos else 0x00]) + b"\x00" * 8 + serial.to_bytes(4, "little")
    return header + b"\x00" * 8 + bytes([len(lacing)]) + bytes(lacing) + packet


def mp3_frames(count: int = 4) -> bytes:
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding: 144 * 128000 // 44100 = 417 bytes a frame.
    return (b"\xff\xfb\x90\x64" + b"\x00" * 413) * count


def adts_frames(count: int = 4, length: int = 100) -> bytes:
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (4 << 2),  # AAC LC, 44.1 kHz
            (2 << 6) | ((length >> 11) & 3),  # stereo
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return (header + b"\x00" * (length - 7)) * count


def ts_packets(count: int = 10, *, m2ts: bool = False) -> bytes:
    packet = b"\x47\x40\x00\x10" + b"\xff" * 184
    return ((b"\x00\x00\x00\x00" if m2ts else b"") + packet) * count


def sector(size: int = 512) -> bytearray:
    return bytearray(size)


def mbr(*, ptype: int = 0x83, start: int = 2048, count: int = 20480) -> bytes:
    data = sector()
    data[0:3] = b"\xfa\x33\xc0"  # boot code: cli; xor ax, ax
    entry = bytes([0x80, 0, 0, 0, ptype, 0, 0, 0]) + struct.pack("<II", start, count)
    data[446:462] = entry
    data[510:512] = b"\x55\xaa"
    return bytes(data)


def gpt() -> bytes:
    data = bytearray(mbr(ptype=0xEE, start=1, count=0xFFFFFFFF)) + sector()
    data[512:524] = b"EFI PART\x00\x00\x01\x00"
    return bytes(data)


def fat_boot(fs: str) -> bytes:
    data = sector()
    data[0:3] = b"\xeb\x3c\x90"
    data[3:11] = b"MSDOS5.0"
    struct.pack_into("<HBHBHHBH", data, 11, 512, 4, 1, 2, 512, 0, 0xF8, 32)
    if fs == "FAT32":
        data[0:3] = b"\xeb\x58\x90"
        data[82:90] = b"FAT32   "
    else:
        data[54:62] = fs.encode().ljust(8)
    data[510:512] = b"\x55\xaa"
    return bytes(data)


def ext_superblock(*, compat: int = 0, incompat: int = 0) -> bytes:
    data = bytearray(2048)
    sb = 1024
    struct.pack_into("<II", data, sb, 128, 1024)  # inodes, blocks
    struct.pack_into("<I", data, sb + 24, 0)  # log block size: 1 KiB
    struct.pack_into("<I", data, sb + 40, 128)  # inodes per group
    struct.pack_into("<HH", data, sb + 56, 0xEF53, 1)  # magic, state clean
    struct.pack_into("<I", data, sb + 76, 1)  # dynamic revision
    struct.pack_into("<II", data, sb + 92, compat, incompat)
    return bytes(data)


def iso9660() -> bytes:
    data = bytearray(36864)
    data[32768:32775] = b"\x01CD001\x01"
    data[34816:34823] = b"\xffCD001\x01"
    return bytes(data)


def hfsplus() -> bytes:
    data = bytearray(1536)
    data[1024:1028] = b"H+\x00\x04"
    return bytes(data)


def ole2(stream_name: str | None) -> bytes:
    data = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1528)
    root = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    data[512 : 512 + len(root)] = root
    if stream_name is not None:
        name = stream_name.encode("utf-16-le") + b"\x00\x00"
        data[640 : 640 + len(name)] = name
    return bytes(data)


def zip_with(names: list[str], *, mimetype: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if mimetype is not None:
            zf.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name in names:
            zf.writestr(name, "<x/>" * 10)
    return buf.getvalue()


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def asf(stream_guids: list[bytes]) -> bytes:
    header_guid = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
    stream_props = bytes.fromhex("9107dcb7b7a9cf118ee600c00c205365")
    size = struct.pack("<Q", 24 + 16 + 40)
    objects = b"".join(stream_props + size + g + b"\x00" * 40 for g in stream_guids)
    body = struct.pack("<IBB", len(stream_guids), 1, 2) + objects
    return header_guid + struct.pack("<Q", 24 + len(body)) + body + b"\x00" * 64


_EBML_HEADER = ebml(0x1A45DFA3, ebml(0x4282, b"matroska"))
ASF_VIDEO = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
ASF_AUDIO = bytes.fromhex("409e69f84d5bcf11a8fd00805f5c442b")

# (id, head bytes, expected mime, expected kind)
SIGNATURE_CASES: list[tuple[str, bytes, str, ExhibitKind]] = [
    # images
    ("jpeg-jfif", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 64, "image/jpeg", PHOTO),
    ("jpeg-exif", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00" + b"\x00" * 64, "image/jpeg", PHOTO),
    ("jpeg-bare", b"\xff\xd8\xff\xdb\x00\x43" + b"\x01" * 64, "image/jpeg", PHOTO),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32, "image/png", PHOTO),
    ("gif89a", b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + b"\x00" * 32, "image/gif", PHOTO),
    ("gif87a", b"GIF87a\x10\x00\x10\x00\x80\x00\x00" + b"\x00" * 32, "image/gif", PHOTO),
    ("bmp", b"BM" + struct.pack("<IHHII", 70, 0, 0, 54, 40) + b"\x00" * 64, "image/bmp", PHOTO),
    ("webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "image/webp", PHOTO),
    ("tiff-le", b"II*\x00\x08\x00\x00\x00" + b"\x00" * 32, "image/tiff", PHOTO),
    ("tiff-be", b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 32, "image/tiff", PHOTO),
    ("cr2", b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 32, "image/x-canon-cr2", PHOTO),
    ("jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 32, "image/jp2", PHOTO),
    # HEIF family
    ("heic", ftyp(b"heic", b"mif1", b"heic") + box(b"meta"), "image/heic", PHOTO),
    ("heix", ftyp(b"heix", b"mif1", b"heix") + box(b"meta"), "image/heic", PHOTO),
    ("mif1-heic", ftyp(b"mif1", b"mif1", b"heic", b"hevc") + box(b"meta"), "image/heic", PHOTO),
    ("mif1-only", ftyp(b"mif1", b"mif1") + box(b"meta"), "image/heif", PHOTO),
    ("msf1", ftyp(b"msf1", b"msf1", b"iso8") + box(b"meta"), "image/heif-sequence", PHOTO),
    ("avif", ftyp(b"avif", b"mif1", b"avif", b"miaf") + box(b"meta"), "image/avif", PHOTO),
    # ISO base media video and audio
    ("mp4-isom", ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + box(b"free"), "video/mp4", BWV),
    ("mp4-mp41", ftyp(b"mp41", b"mp41") + box(b"mdat", b"\x00" * 16), "video/mp4", BWV),
    ("mp4-mp42", ftyp(b"mp42", b"mp42", b"mp41") + box(b"mdat", b"\x00" * 16), "video/mp4", BWV),
    ("mp4-avc1", ftyp(b"avc1", b"avc1", b"isom") + box(b"mdat", b"\x00" * 16), "video/mp4", BWV),
    ("mov-qt", ftyp(b"qt  ", b"qt  ") + box(b"wide") + box(b"mdat", b"\x00" * 16), "video/quicktime", BWV),
    ("3gp", ftyp(b"3gp4", b"3gp4", b"isom") + box(b"mdat", b"\x00" * 16), "video/3gpp", BWV),
    ("3g2", ftyp(b"3g2a", b"3g2a") + box(b"mdat", b"\x00" * 16), "video/3gpp2", BWV),
    ("m4v", ftyp(b"M4V ", b"M4V ", b"isom") + box(b"mdat", b"\x00" * 16), "video/x-m4v", BWV),
    ("camera-brand", ftyp(b"XAVC", b"XAVC", b"iso6") + box(b"mdat", b"\x00" * 16), "video/mp4", BWV),
    ("m4a", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom") + box(b"mdat", b"\x00" * 16), "audio/mp4", AUDIO),
    ("m4b", ftyp(b"M4B ", b"M4B ", b"isom") + box(b"mdat", b"\x00" * 16), "audio/mp4", AUDIO),
    ("mp4-audio-only-moov", ftyp(b"isom", b"isom") + moov(b"soun"), "audio/mp4", AUDIO),
    ("mp4-av-moov", ftyp(b"isom", b"isom") + moov(b"soun", b"vide"), "video/mp4", BWV),
    ("m4a-with-video-track", ftyp(b"M4A ", b"M4A ") + moov(b"vide", b"soun"), "video/mp4", BWV),
    ("mp4-moov-after-big-mdat", ftyp(b"isom") + struct.pack(">I", 10**9) + b"mdat", "video/mp4", BWV),
    ("qt-moov-first", moov(b"vide", b"soun"), "video/quicktime", BWV),
    ("qt-moov-audio", moov(b"soun"), "audio/mp4", AUDIO),
    ("qt-mdat-first", box(b"mdat", b"\x00" * 64) + moov(b"vide"), "video/quicktime", BWV),
    ("qt-wide-mdat", box(b"wide") + box(b"mdat", b"\x00" * 64), "video/quicktime", BWV),
    ("qt-free-moov", box(b"free", b"\x00" * 8) + moov(b"vide"), "video/quicktime", BWV),
    ("qt-skip-mdat", box(b"skip") + box(b"mdat", b"\x00" * 8), "video/quicktime", BWV),
    ("qt-pnot", box(b"pnot", b"\x00" * 12) + box(b"PICT", b"\x00" * 8), "video/quicktime", BWV),
    # RIFF / IFF
    ("avi", b"RIFF\x00\x10\x00\x00AVI LIST\x00\x01\x00\x00hdrlavih" + b"\x00" * 32, "video/x-msvideo", BWV),
    ("wav", b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 32, "audio/wav", AUDIO),
    ("rf64", b"RF64\xff\xff\xff\xffWAVEds64" + b"\x00" * 32, "audio/wav", AUDIO),
    ("aiff", b"FORM\x00\x00\x10\x00AIFFCOMM" + b"\x00" * 32, "audio/aiff", AUDIO),
    ("aifc", b"FORM\x00\x00\x10\x00AIFCFVER" + b"\x00" * 32, "audio/aiff", AUDIO),
    # audio
    ("flac", b"fLaC\x00\x00\x00\x22" + b"\x00" * 40, "audio/flac", AUDIO),
    ("mp3-id3", b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + mp3_frames(2), "audio/mpeg", AUDIO),
    ("flac-id3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"fLaC\x00\x00\x00\x22", "audio/flac", AUDIO),
    ("mp3-frames", mp3_frames(), "audio/mpeg", AUDIO),
    ("adts-fff1", adts_frames(), "audio/aac", AUDIO),
    ("adts-fff9", bytes([0xFF, 0xF9]) + adts_frames()[2:], "audio/aac", AUDIO),
    ("amr", b"#!AMR\n\x3c" + b"\x00" * 31, "audio/amr", AUDIO),
    ("amr-wb", b"#!AMR-WB\n\x04" + b"\x00" * 31, "audio/amr-wb", AUDIO),
    ("ogg-opus", ogg_page(b"OpusHead\x01\x02" + b"\x00" * 9), "audio/ogg", AUDIO),
    ("ogg-vorbis", ogg_page(b"\x01vorbis" + b"\x00" * 22), "audio/ogg", AUDIO),
    ("ogg-flac", ogg_page(b"\x7fFLAC\x01\x00" + b"\x00" * 40), "audio/ogg", AUDIO),
    (
        "ogg-theora-vorbis",
        ogg_page(b"\x80theora" + b"\x00" * 34) + ogg_page(b"\x01vorbis" + b"\x00" * 22, serial=2),
        "video/ogg",
        BWV,
    ),
    ("ogg-unknown", ogg_page(b"\x00mystery" + b"\x00" * 20), "application/ogg", OTHER),
    # Matroska / WebM
    ("mkv-video", matroska(b"matroska", [1, 2]), "video/x-matroska", BWV),
    ("webm-video", matroska(b"webm", [1]), "video/webm", BWV),
    ("webm-audio", matroska(b"webm", [2]), "audio/webm", AUDIO),
    ("mka-audio", matroska(b"matroska", [2, 2]), "audio/x-matroska", AUDIO),
    ("mkv-subtitle-only", matroska(b"matroska", [0x11]), "video/x-matroska", BWV),
    ("mkv-no-tracks-visible", matroska(b"matroska", [2])[:60], "video/x-matroska", BWV),
    # other video containers
    ("flv", b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00" + b"\x00" * 32, "video/x-flv", BWV),
    ("flv-flags-say-audio", b"FLV\x01\x04\x00\x00\x00\x09" + b"\x00" * 36, "video/x-flv", BWV),
    ("mpeg-ts", ts_packets(), "video/mp2t", BWV),
    ("m2ts", ts_packets(m2ts=True), "video/mp2t", BWV),
    ("mpeg-ps", b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01" + b"\x00" * 32, "video/mpeg", BWV),
    ("dv-pal", b"\x1f\x07\x00\xbf\x68\x78\x78\x78" + b"\xff" * 72 + b"\x3f\x07\x00", "video/dv", BWV),
    ("dv-ntsc", b"\x1f\x07\x00\x3f\x68\x78\x78\x78" + b"\xff" * 72 + b"\x3f\x07\x00", "video/dv", BWV),
    ("asf-video", asf([ASF_AUDIO, ASF_VIDEO]), "video/x-ms-asf", BWV),
    ("asf-audio-only", asf([ASF_AUDIO]), "audio/x-ms-wma", AUDIO),
    # forensic containers and virtual disks
    ("e01", b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00\x00\x00header" + b"\x00" * 32, MIME_EWF, DEVICE),
    ("e02-segment", b"EVF\x09\x0d\x0a\xff\x00\x01\x02\x00\x00\x00data" + b"\x00" * 32, MIME_EWF, DEVICE),
    ("ex01", b"EVF2\x0d\x0a\x81\x00\x02\x01\x01\x00" + b"\x00" * 32, MIME_EWF, DEVICE),
    ("vhd", b"conectix\x00\x00\x00\x02\x00\x01\x00\x00" + b"\x00" * 32, "application/x-vhd", DEVICE),
    ("vhdx", b"vhdxfile" + "Microsoft".encode("utf-16-le") + b"\x00" * 32, "application/x-vhdx", DEVICE),
    ("vmdk-sparse", b"KDMV\x01\x00\x00\x00\x03\x00\x00\x00" + b"\x00" * 32, "application/x-vmdk", DEVICE),
    (
        "vmdk-descriptor",
        b'# Disk DescriptorFile\nversion=1\nCID=fffffffe\ncreateType="monolithicFlat"\n',
        "application/x-vmdk",
        DEVICE,
    ),
    ("qcow2", b"QFI\xfb\x00\x00\x00\x03" + b"\x00" * 32, "application/x-qemu-disk", DEVICE),
    ("qcow1", b"QFI\xfb\x00\x00\x00\x01" + b"\x00" * 32, "application/x-qemu-disk", DEVICE),
    # raw disk and volume images
    ("mbr", mbr(), MIME_RAW_DISK, DEVICE),
    ("gpt", gpt(), MIME_RAW_DISK, DEVICE),
    ("ntfs", b"\xeb\x52\x90NTFS    \x00\x02\x08" + b"\x00" * 498 + b"\x55\xaa", MIME_RAW_DISK, DEVICE),
    ("exfat", b"\xeb\x76\x90EXFAT   " + b"\x00" * 499 + b"\x55\xaa", MIME_RAW_DISK, DEVICE),
    ("fat12", fat_boot("FAT12"), MIME_RAW_DISK, DEVICE),
    ("fat16", fat_boot("FAT16"), MIME_RAW_DISK, DEVICE),
    ("fat32", fat_boot("FAT32"), MIME_RAW_DISK, DEVICE),
    ("ext2", ext_superblock(), MIME_RAW_DISK, DEVICE),
    ("ext3", ext_superblock(compat=0x4), MIME_RAW_DISK, DEVICE),
    ("ext4", ext_superblock(compat=0x4, incompat=0x2C0), MIME_RAW_DISK, DEVICE),
    ("iso9660", iso9660(), MIME_RAW_DISK, DEVICE),
    ("hfsplus", hfsplus(), MIME_RAW_DISK, DEVICE),
    # documents
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf", DOC),
    ("pdf-after-junk", b"\r\nX-Mailer junk\r\n%PDF-1.4\n", "application/pdf", DOC),
    ("rtf", b"{\\rtf1\\ansi\\deff0 {\\fonttbl}}", "application/rtf", DOC),
    ("ole2-doc", ole2("WordDocument"), "application/msword", DOC),
    ("ole2-xls", ole2("Workbook"), "application/vnd.ms-excel", DOC),
    ("ole2-ppt", ole2("PowerPoint Document"), "application/vnd.ms-powerpoint", DOC),
    ("ole2-msg", ole2("__substg1.0_0037001F"), "application/vnd.ms-outlook", DOC),
    ("ole2-unknown", ole2(None), "application/x-ole-storage", DOC),
    (
        "docx",
        zip_with(["[Content_Types].xml", "_rels/.rels", "word/document.xml"]),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        DOC,
    ),
    (
        "xlsx",
        zip_with(["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"]),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        DOC,
    ),
    (
        "pptx",
        zip_with(["[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"]),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        DOC,
    ),
    (
        "odt",
        zip_with(["content.xml"], mimetype="application/vnd.oasis.opendocument.text"),
        "application/vnd.oasis.opendocument.text",
        DOC,
    ),
    ("text-ascii", b"Officer's notes\nExhibit AB/1 seized 09:14\n", "text/plain", DOC),
    ("text-utf8", "Déclaration du témoin — 砸自己的脚\n".encode(), "text/plain", DOC),
    ("text-latin1", "Café: résumé of the scène\r\n".encode("latin-1"), "text/plain", DOC),
    ("text-utf16", "\ufeffwitness statement\r\n".encode("utf-16-le"), "text/plain", DOC),
    ("html", b"<!DOCTYPE html>\n<html><head><title>x</title></head></html>\n", "text/html", DOC),
    ("xml", b"<?xml version='1.0' encoding='UTF-8'?>\n<dfxml/>\n", "application/xml", DOC),
    ("json", b'{"files": ["image.dd"], "itype": "raw"}\n', "application/json", DOC),
    # archives and other
    ("zip", zip_with(["a.bin", "b.bin"]), "application/zip", OTHER),
    ("gzip", gzip.compress(b"raw image data" * 100), "application/gzip", OTHER),
    ("bzip2", bz2.compress(b"raw image data" * 100), "application/x-bzip2", OTHER),
    ("xz", lzma.compress(b"raw image data" * 100), "application/x-xz", OTHER),
    ("7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 32, "application/x-7z-compressed", OTHER),
    ("tar", tar_bytes(), "application/x-tar", OTHER),
    ("sqlite", b"SQLite format 3\x00\x10\x00\x01\x01" + b"\x00" * 80, "application/vnd.sqlite3", OTHER),
]


@pytest.mark.parametrize(
    ("head", "mime", "kind"),
    [pytest.param(head, mime, kind, id=case_id) for case_id, head, mime, kind in SIGNATURE_CASES],
)
def test_signature(head: bytes, mime: str, kind: ExhibitKind) -> None:
    result = sniff(head)
    assert (result.mime, result.kind) == (mime, kind), result.description
    assert result.description


@pytest.mark.parametrize(
    ("head", "fragment"),
    [
        pytest.param(ext_superblock(), "ext2", id="ext2"),
        pytest.param(ext_superblock(compat=0x4), "ext3", id="ext3"),
        pytest.param(ext_superblock(compat=0x4, incompat=0x2C0), "ext4", id="ext4"),
        pytest.param(fat_boot("FAT12"), "FAT12", id="fat12"),
        pytest.param(fat_boot("FAT32"), "FAT32", id="fat32"),
        pytest.param(gpt(), "GPT", id="gpt"),
        pytest.param(mbr(), "MBR", id="mbr"),
        pytest.param(iso9660(), "ISO 9660", id="iso"),
        pytest.param(ftyp(b"isom", b"isom") + box(b"free"), "brand isom", id="mp4-brand"),
        pytest.param(b"EVF\x09\x0d\x0a\xff\x00\x01\x02\x00", "segment 2", id="e02"),
    ],
)
def test_description_names_the_variant(head: bytes, fragment: str) -> None:
    assert fragment in sniff(head).description


def test_head_bytes_covers_iso9660_descriptor() -> None:
    assert HEAD_BYTES >= 34 * 1024
    assert 32769 + len(b"CD001") < HEAD_BYTES


def test_empty_bytes() -> None:
    assert sniff(b"") == EMPTY
    assert MediaType("application/x-empty", OTHER, "empty file") == EMPTY


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_unrecognised(seed: int) -> None:
    data = random.Random(seed).randbytes(HEAD_BYTES)
    assert sniff(data) == UNKNOWN
    assert MediaType("application/octet-stream", OTHER, "unrecognised data") == UNKNOWN


def test_zeros_are_unrecognised() -> None:
    assert sniff(b"\x00" * HEAD_BYTES) == UNKNOWN


# --- traps: heuristics must not claim what a signature already explains ---------------------------------


def test_jpeg_with_boot_signature_and_partition_table_is_still_jpeg() -> None:
    head = bytearray(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2048)
    head[446:512] = mbr()[446:512]
    head[512:520] = b"EFI PART"
    head[1080:1082] = b"\x53\xef"
    assert sniff(bytes(head)).kind == PHOTO


def test_png_with_iso_descriptor_is_still_png() -> None:
    head = bytearray(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40000)
    head[32769:32774] = b"CD001"
    assert sniff(bytes(head)).mime == "image/png"


def test_mp4_with_text_looking_payload_is_video() -> None:
    head = ftyp(b"isom", b"isom") + box(b"mdat", b"plain ascii payload " * 100)
    assert sniff(head).kind == BWV


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"BMW service history, 2019-2023\n", id="starts-with-BM"),
        pytest.param(b"abcdfree text that is not a QuickTime atom\n", id="free-at-4"),
        pytest.param(b"abcdmoov along please\n", id="moov-at-4"),
        pytest.param(("G" + "x" * 187) * 6, id="G-every-188"),
        pytest.param(b"ID3 is a tag format\n", id="starts-with-ID3"),
        pytest.param(b"FORM 27B/6 witness\n", id="starts-with-FORM"),
        pytest.param(b"RIFF raff\n", id="starts-with-RIFF"),
    ],
)
def test_text_lookalikes_stay_text(text: bytes | str) -> None:
    data = text.encode() if isinstance(text, str) else text
    result = sniff(data)
    assert (result.mime, result.kind) == ("text/plain", DOC), result.description


def test_quicktime_free_atom_followed_by_junk_is_not_video() -> None:
    head = box(b"free") + random.Random(1).randbytes(4096)
    assert sniff(head).kind != BWV


def test_mp3_sync_needs_a_second_frame() -> None:
    one_frame_then_junk = b"\xff\xfb\x90\x64" + b"\x00" * 413 + b"\x12\x34\x56\x78" + b"\x01" * 1000
    assert sniff(one_frame_then_junk).kind != AUDIO


def test_zip_without_office_parts_is_other() -> None:
    result = sniff(zip_with(["evidence/notes.txt", "evidence/photo.bin"]))
    assert (result.mime, result.kind) == ("application/zip", OTHER)


# --- robustness -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", [pytest.param(head, id=case_id) for case_id, head, *_ in SIGNATURE_CASES])
def test_every_truncation_of_a_signature_is_handled(head: bytes) -> None:
    # A head cut anywhere (a partial recovery, a short read) must give an answer, never an exception.
    for cut in range(min(len(head), 700)):
        assert isinstance(sniff(head[:cut]), MediaType)


def test_mutated_headers_never_raise() -> None:
    rng = random.Random(42)
    for _case_id, head, _mime, _kind in SIGNATURE_CASES:
        for _ in range(30):
            data = bytearray(head[:2048])
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            assert isinstance(sniff(bytes(data)), MediaType)


def test_deeply_nested_containers_do_not_recurse() -> None:
    # Crafted input: thousands of nested unknown-size Segments, and boxes inside boxes.
    nested_mkv = _EBML_HEADER + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" * 5000
    assert sniff(nested_mkv).kind == BWV
    nested_boxes = ftyp(b"isom") + b"\x00\x00\xff\xffmoov" + b"\x00\x00\xff\xfftrak" * 5000
    assert sniff(nested_boxes).kind == BWV


def test_sniff_accepts_more_than_head_bytes() -> None:
    assert sniff(b"%PDF-1.4\n" + b"\x00" * (HEAD_BYTES * 2)).mime == "application/pdf"


# --- detect_media_type: reads the head of a file, ignores its name ----------------------------------------


def test_content_not_name_decides(tmp_path: Path) -> None:
    disguised = tmp_path / "holiday.jpg"
    disguised.write_bytes(ftyp(b"isom", b"isom", b"avc1") + box(b"mdat", b"\x00" * 256))
    result = detect_media_type(disguised)
    assert (result.mime, result.kind) == ("video/mp4", BWV)


def test_name_without_extension(tmp_path: Path) -> None:
    target = tmp_path / "EXHIBIT-0001"
    target.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64)
    assert detect_media_type(str(target)).kind == AUDIO


def test_only_the_head_is_read(tmp_path: Path) -> None:
    # Text for the first HEAD_BYTES, binary after: detection must not look past the head.
    target = tmp_path / "long.log"
    target.write_bytes(b"line of log text\n" * (HEAD_BYTES // 17 + 1) + b"\x00\x01\x02" * 1000)
    assert detect_media_type(target).mime == "text/plain"


def test_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "bogus.E01"
    target.write_bytes(b"")
    assert detect_media_type(target) == EMPTY


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaMissingError) as info:
        detect_media_type(tmp_path / "nope.bin")
    assert info.value.code == "EX-MEDIA-MISSING"


def test_fifo_is_refused_not_read(tmp_path: Path) -> None:
    # Opening a FIFO for reading would block until a writer appears; it must be refused up front.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(MediaUnreadableError):
        detect_media_type(fifo)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaUnreadableError) as info:
        detect_media_type(tmp_path)
    assert info.value.code == "EX-MEDIA-UNREADABLE"


# --- real files made by real tools ----------------------------------------------------------------------

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed: cannot make media fixtures")

VIDEO_IN = ["-f", "lavfi", "-i", "testsrc=size=176x144:rate=10:duration=1"]
PAL_IN = "testsrc=size=720x576:rate=25:duration=1"
AUDIO_IN = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=44100"]
X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]

# (output name, ffmpeg arguments between inputs and output, expected mime, expected kind)
FFMPEG_CASES: list[tuple[str, list[str], str, ExhibitKind]] = [
    ("clip.mp4", [*VIDEO_IN, *AUDIO_IN, *X264, "-c:a", "aac"], "video/mp4", BWV),
    ("clip-faststart.mp4", [*VIDEO_IN, *X264, "-movflags", "+faststart"], "video/mp4", BWV),
    ("clip.mov", [*VIDEO_IN, *AUDIO_IN, "-c:v", "mjpeg", "-c:a", "pcm_s16le"], "video/quicktime", BWV),
    ("clip.3gp", [*VIDEO_IN, *X264, "-an"], "video/3gpp", BWV),
    ("clip.m4v", [*VIDEO_IN, *X264, "-an", "-f", "ipod"], "video/x-m4v", BWV),
    ("clip.mkv", [*VIDEO_IN, *AUDIO_IN, *X264, "-c:a", "libopus"], "video/x-matroska", BWV),
    ("clip.webm", [*VIDEO_IN, *AUDIO_IN, "-c:v", "libvpx", "-c:a", "libopus"], "video/webm", BWV),
    ("clip.avi", [*VIDEO_IN, *AUDIO_IN, "-c:v", "mjpeg", "-c:a", "pcm_s16le"], "video/x-msvideo", BWV),
    ("clip.flv", [*VIDEO_IN, *AUDIO_IN, "-c:v", "flv", "-c:a", "libmp3lame"], "video/x-flv", BWV),
    ("clip.ts", [*VIDEO_IN, *AUDIO_IN, "-c:v", "mpeg2video", "-c:a", "mp2"], "video/mp2t", BWV),
    ("clip.m2ts", [*VIDEO_IN, *X264, "-an", "-f", "mpegts", "-mpegts_m2ts_mode", "1"], "video/mp2t", BWV),
    ("clip.mpg", [*VIDEO_IN, *AUDIO_IN, "-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"], "video/mpeg", BWV),
    (
        "clip.dv",
        ["-f", "lavfi", "-i", PAL_IN, "-c:v", "dvvideo", "-pix_fmt", "yuv420p"],
        "video/dv",
        BWV,
    ),
    ("clip.wmv", [*VIDEO_IN, *AUDIO_IN, "-c:v", "wmv2", "-c:a", "wmav2"], "video/x-ms-asf", BWV),
    ("clip.ogv", [*VIDEO_IN, *AUDIO_IN, "-c:v", "libtheora", "-c:a", "libvorbis"], "video/ogg", BWV),
    ("tone.wav", [*AUDIO_IN, "-c:a", "pcm_s16le"], "audio/wav", AUDIO),
    ("tone-rf64.wav", [*AUDIO_IN, "-c:a", "pcm_s16le", "-rf64", "always"], "audio/wav", AUDIO),
    ("tone.aiff", [*AUDIO_IN], "audio/aiff", AUDIO),
    ("tone.flac", [*AUDIO_IN], "audio/flac", AUDIO),
    ("tone.mp3", [*AUDIO_IN, "-c:a", "libmp3lame"], "audio/mpeg", AUDIO),
    (
        "tone-bare.mp3",
        [*AUDIO_IN, "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"],
        "audio/mpeg",
        AUDIO,
    ),
    ("tone.mp2", [*AUDIO_IN, "-c:a", "mp2"], "audio/mpeg", AUDIO),
    ("tone.opus", [*AUDIO_IN, "-c:a", "libopus"], "audio/ogg", AUDIO),
    ("tone.ogg", [*AUDIO_IN, "-c:a", "libvorbis"], "audio/ogg", AUDIO),
    ("tone-flac.oga", [*AUDIO_IN, "-c:a", "flac", "-f", "ogg"], "audio/ogg", AUDIO),
    ("tone.aac", [*AUDIO_IN, "-c:a", "aac", "-f", "adts"], "audio/aac", AUDIO),
    ("tone.m4a", [*AUDIO_IN, "-c:a", "aac", "-f", "ipod"], "audio/mp4", AUDIO),
    ("tone-audio-only.mp4", [*AUDIO_IN, "-c:a", "aac"], "audio/mp4", AUDIO),
    ("tone.mka", [*AUDIO_IN, "-c:a", "libopus", "-f", "matroska"], "audio/x-matroska", AUDIO),
    ("tone.webm", [*AUDIO_IN, "-c:a", "libopus"], "audio/webm", AUDIO),
    ("tone.wma", [*AUDIO_IN, "-c:a", "wmav2", "-f", "asf"], "audio/x-ms-wma", AUDIO),
    ("tone.caf", [*AUDIO_IN, "-c:a", "pcm_s16le"], "audio/x-caf", AUDIO),
    ("tone.au", [*AUDIO_IN], "audio/basic", AUDIO),
    ("frame.jpg", [*VIDEO_IN, "-frames:v", "1"], "image/jpeg", PHOTO),
    ("frame.png", [*VIDEO_IN, "-frames:v", "1"], "image/png", PHOTO),
    ("frame.bmp", [*VIDEO_IN, "-frames:v", "1"], "image/bmp", PHOTO),
    ("frame.gif", [*VIDEO_IN, "-frames:v", "1"], "image/gif", PHOTO),
    ("frame.tiff", [*VIDEO_IN, "-frames:v", "1"], "image/tiff", PHOTO),
    ("frame.webp", [*VIDEO_IN, "-frames:v", "1", "-c:v", "libwebp"], "image/webp", PHOTO),
]


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "args", "mime", "kind"),
    [pytest.param(*case, id=case[0]) for case in FFMPEG_CASES],
)
def test_ffmpeg_generated(tmp_path: Path, name: str, args: list[str], mime: str, kind: ExhibitKind) -> None:
    out = tmp_path / name
    _run([str(FFMPEG), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)])
    result = detect_media_type(out)
    assert (result.mime, result.kind) == (mime, kind), result.description


@needs_ffmpeg
def test_ffmpeg_video_renamed_to_jpg_is_video(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    _run([str(FFMPEG), "-hide_banner", "-loglevel", "error", "-y", *VIDEO_IN, *X264, str(out)])
    disguised = out.rename(tmp_path / "IMG_0001.jpg")
    assert detect_media_type(disguised).kind == BWV


@needs_ffmpeg
def test_ffmpeg_truncated_video_is_still_video(tmp_path: Path) -> None:
    # A recovered fragment: only the first 2 KiB of a camera file survive.
    out = tmp_path / "clip.mov"
    _run([str(FFMPEG), "-hide_banner", "-loglevel", "error", "-y", *VIDEO_IN, "-c:v", "mjpeg", str(out)])
    fragment = tmp_path / "fragment.bin"
    fragment.write_bytes(out.read_bytes()[:2048])
    assert detect_media_type(fragment).kind == BWV


def _mkfs_image(tmp_path: Path, tool: str, size: int, args: list[str]) -> Path:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (apt-get install dosfstools e2fsprogs)")
    image = tmp_path / "volume.img"
    with image.open("wb") as fh:
        fh.truncate(size)
    _run([path, *args, str(image)])
    return image


@pytest.mark.parametrize(
    ("fat_bits", "size", "label"),
    [
        pytest.param("12", 1_474_560, "FAT12", id="fat12"),
        pytest.param("16", 16 * 1024 * 1024, "FAT16", id="fat16"),
        pytest.param("32", 64 * 1024 * 1024, "FAT32", id="fat32"),
    ],
)
def test_mkfs_fat(tmp_path: Path, fat_bits: str, size: int, label: str) -> None:
    image = _mkfs_image(tmp_path, "mkfs.fat", size, ["-F", fat_bits])
    result = detect_media_type(image)
    assert (result.mime, result.kind) == (MIME_RAW_DISK, DEVICE)
    assert label in result.description


@pytest.mark.parametrize("fs", ["ext2", "ext3", "ext4"])
def test_mkfs_ext(tmp_path: Path, fs: str) -> None:
    image = _mkfs_image(tmp_path, f"mkfs.{fs}", 8 * 1024 * 1024, ["-q", "-F"])
    result = detect_media_type(image)
    assert (result.mime, result.kind) == (MIME_RAW_DISK, DEVICE)
    assert result.description.startswith(fs)


def test_ewfacquire_e01(tmp_path: Path) -> None:
    tool = shutil.which("ewfacquire")
    if tool is None:
        pytest.skip("ewfacquire not installed (ewf-tools): cannot make an E01")
    source = tmp_path / "source.raw"
    source.write_bytes(ext_superblock() + b"\x00" * (1024 * 1024 - 2048))
    target = tmp_path / "exhibit"
    _run([tool, "-u", "-q", "-t", str(target), "-f", "encase6", "-C", "case", "-e", "examiner", str(source)])
    e01 = tmp_path / "exhibit.E01"
    result = detect_media_type(e01)
    assert (result.mime, result.kind) == (MIME_EWF, DEVICE)
    # The raw source it was made from is a raw image; the container is not mistaken for it or vice versa.
    assert detect_media_type(source).mime == MIME_RAW_DISK
