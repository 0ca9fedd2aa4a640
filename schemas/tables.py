"""Arrow schemas of the analysis tables, by table name. Later analyses register theirs here."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_WARNING_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("code", pa.string(), nullable=False),
    pa.field("severity", pa.string(), nullable=False),  # "warning" (damaged but readable) or "info"
    pa.field("message", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),  # the step or analyser that noticed it
]
WARNINGS = pa.schema(
    _WARNING_FIELDS,
    metadata={"description": "problems noticed with an exhibit that did not stop its processing"},
)

_STREAM = pa.struct(
    [
        pa.field("index", pa.int32()),
        pa.field("kind", pa.string()),
        pa.field("codec", pa.string()),
        pa.field("profile", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("frame_rate", pa.float64()),
        pa.field("rotation", pa.int32()),
        pa.field("sample_rate", pa.int32()),
        pa.field("channels", pa.int32()),
        pa.field("channel_layout", pa.string()),
        pa.field("bit_rate", pa.int64()),
        pa.field("duration_s", pa.float64()),
        pa.field("frames", pa.int64()),
        pa.field("language", pa.string()),
        pa.field("handler", pa.string()),
    ]
)
_CODED = pa.struct([pa.field("code", pa.string()), pa.field("message", pa.string())])
_MEDIA_PROBE_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("container", pa.string(), nullable=False),
    pa.field("container_long_name", pa.string()),
    pa.field("duration_s", pa.float64()),
    pa.field("size", pa.int64()),
    pa.field("bit_rate", pa.int64()),
    pa.field("recorded_at_utc", pa.string()),  # ISO 8601 Z, where the zone is known
    pa.field("recorded_at_local", pa.string()),  # wall-clock time as written, where it is not
    pa.field("time_source", pa.string()),
    pa.field("time_reliability", pa.string()),
    pa.field("make", pa.string()),
    pa.field("model", pa.string()),
    pa.field("device_serial", pa.string()),
    pa.field("officer_id", pa.string()),
    pa.field("encoder", pa.string()),
    pa.field("latitude", pa.float64()),
    pa.field("longitude", pa.float64()),
    pa.field("altitude_m", pa.float64()),
    pa.field("location_source", pa.string()),
    pa.field("video_codec", pa.string()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("frame_rate", pa.float64()),
    pa.field("rotation", pa.int32()),
    pa.field("audio_codec", pa.string()),
    pa.field("sample_rate", pa.int32()),
    pa.field("channels", pa.int32()),
    pa.field("decodable", pa.bool_()),
    pa.field("streams", pa.list_(_STREAM)),
    pa.field("tags", pa.map_(pa.string(), pa.string())),
    pa.field("warnings", pa.list_(_CODED)),
    pa.field("tool", pa.string(), nullable=False),
]
MEDIA_PROBE = pa.schema(
    _MEDIA_PROBE_FIELDS,
    metadata={"description": "container, streams, device, time and place of a video or audio exhibit (ffprobe)"},
)

_PHOTO_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("image_format", pa.string()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("make", pa.string()),
    pa.field("model", pa.string()),
    pa.field("serial", pa.string()),
    pa.field("software", pa.string()),
    pa.field("edited", pa.bool_()),  # the software tag names an image editor
    pa.field("taken_utc", pa.string()),
    pa.field("taken_local", pa.string()),
    pa.field("taken_source", pa.string()),
    pa.field("taken_reliability", pa.string()),
    pa.field("latitude", pa.float64()),
    pa.field("longitude", pa.float64()),
    pa.field("altitude_m", pa.float64()),
    pa.field("direction_deg", pa.float64()),
    pa.field("gps_time_utc", pa.string()),
    pa.field("orientation", pa.int32()),
    pa.field("has_thumbnail", pa.bool_()),
    pa.field("phash", pa.string()),
    pa.field("thumbnail_phash", pa.string()),  # of the thumbnail embedded in the EXIF
    pa.field("thumbnail_distance", pa.int32()),  # Hamming bits between the two hashes
    pa.field("thumbnail_mismatch", pa.bool_()),  # the embedded thumbnail shows something else: edited, or cropped
    pa.field("has_xmp", pa.bool_()),
    pa.field("text_tags", pa.map_(pa.string(), pa.string())),  # PNG/TIFF/XMP/JPEG text beyond EXIF, capped
    pa.field("tag_count", pa.int32()),
    pa.field("warnings", pa.list_(_CODED)),
    pa.field("tool", pa.string(), nullable=False),
]
PHOTO_METADATA = pa.schema(
    _PHOTO_FIELDS, metadata={"description": "EXIF of a photo: device, time, GPS, orientation, editing; pHash"}
)

_THUMBNAIL_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("index", pa.int32(), nullable=False),
    pa.field("time_s", pa.float64()),  # from the first frame
    pa.field("at_utc", pa.string()),  # the recording's start plus time_s, where the start is known in UTC
    pa.field("sheet_sha256", pa.string(), nullable=False),  # the contact sheet (a derivative) it is a tile of
    pa.field("sheet_page", pa.int32(), nullable=False),
    pa.field("x", pa.int32(), nullable=False),
    pa.field("y", pa.int32(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("tool", pa.string(), nullable=False),
]
THUMBNAILS = pa.schema(
    _THUMBNAIL_FIELDS,
    metadata={"description": "one frame every N seconds of a video, as tiles of its contact sheets, with times"},
)

_KEYFRAME_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("index", pa.int32(), nullable=False),
    pa.field("time_s", pa.float64()),
    pa.field("at_utc", pa.string()),
    pa.field("scene_score", pa.float64()),  # ffmpeg's scene-change score; none for the first frame
    pa.field("sha256", pa.string(), nullable=False),  # the keyframe image (a derivative)
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("phash", pa.string()),
    pa.field("tool", pa.string(), nullable=False),
]
KEYFRAMES = pa.schema(
    _KEYFRAME_FIELDS, metadata={"description": "the first frame and every scene change of a video, with times"}
)

_SPAN = pa.struct([pa.field("start_s", pa.float64()), pa.field("end_s", pa.float64())])
_AUDIO_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("duration_s", pa.float64()),  # as decoded
    pa.field("declared_duration_s", pa.float64()),  # as the container says
    pa.field("audio_codec", pa.string()),
    pa.field("sample_rate", pa.int32()),
    pa.field("channels", pa.int32()),
    pa.field("integrated_lufs", pa.float64()),  # EBU R128
    pa.field("loudness_range_lu", pa.float64()),
    pa.field("true_peak_dbtp", pa.float64()),
    pa.field("silences", pa.list_(_SPAN)),  # below -50 dB for at least 0.5 s
    pa.field("silence_seconds", pa.float64()),
    pa.field("speech", pa.list_(_SPAN)),  # voice activity (webrtcvad)
    pa.field("speech_seconds", pa.float64()),
    pa.field("command", pa.list_(pa.string())),
    pa.field("tools", pa.list_(pa.string())),
    pa.field("warnings", pa.list_(_CODED)),
]
AUDIO_ANALYSIS = pa.schema(
    _AUDIO_FIELDS, metadata={"description": "loudness (EBU R128), silences and speech segments of a recording"}
)

_WORD = pa.struct(
    [
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("text", pa.string()),
        pa.field("confidence", pa.float64()),
    ]
)
_TRANSCRIPT_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("engine", pa.string(), nullable=False),
    pa.field("engine_version", pa.string()),
    pa.field("model", pa.string()),
    pa.field("language", pa.string()),  # the only language the model knows, not a detected one
    pa.field("text", pa.string()),
    pa.field("segments", pa.list_(_WORD)),
    pa.field("duration_s", pa.float64()),
    pa.field("command", pa.list_(pa.string())),
    pa.field("tools", pa.list_(pa.string())),
    pa.field("warnings", pa.list_(_CODED)),
]
TRANSCRIPT = pa.schema(
    _TRANSCRIPT_FIELDS,
    metadata={"description": "a machine transcript of a recording, word by word: a guess to check, not evidence"},
)

_SECTORS = pa.struct([pa.field("first_sector", pa.int64()), pa.field("sector_count", pa.int64())])
_DEVICE_VERIFICATION_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("format", pa.string(), nullable=False),  # raw, split-raw, ewf, vhd, vhdx, vmdk, qcow
    pa.field("media_size", pa.int64(), nullable=False),
    pa.field("computed_md5", pa.string(), nullable=False),
    pa.field("computed_sha1", pa.string(), nullable=False),
    pa.field("computed_sha256", pa.string(), nullable=False),
    pa.field("stored_md5", pa.string()),  # what the acquisition wrote into the image
    pa.field("stored_sha1", pa.string()),
    pa.field("matches", pa.bool_()),  # null: nothing stored to compare with
    pa.field("verified", pa.bool_(), nullable=False),  # matches, every byte read, no checksum error
    pa.field("unreadable_bytes", pa.int64(), nullable=False),
    pa.field("checksum_errors", pa.list_(_SECTORS)),
    pa.field("case_number", pa.string()),
    pa.field("description", pa.string()),
    pa.field("examiner", pa.string()),
    pa.field("evidence_number", pa.string()),
    pa.field("notes", pa.string()),
    pa.field("acquisition_date", pa.string()),  # as libewf renders it: no zone is stated
    pa.field("system_date", pa.string()),
    pa.field("acquisition_software", pa.string()),
    pa.field("acquisition_software_version", pa.string()),
    pa.field("operating_system", pa.string()),
    pa.field("model", pa.string()),
    pa.field("serial_number", pa.string()),
    pa.field("bytes_per_sector", pa.int64()),
    pa.field("sector_count", pa.int64()),
    pa.field("ewf_format", pa.string()),
    pa.field("warnings", pa.list_(_CODED)),
    pa.field("tool", pa.string(), nullable=False),
]
DEVICE_VERIFICATION = pa.schema(
    _DEVICE_VERIFICATION_FIELDS,
    metadata={"description": "a device image's media hashes against those its acquisition stored, and who made it"},
)

_DEVICE_VOLUME_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("index", pa.int32(), nullable=False),
    pa.field("address", pa.int32(), nullable=False),  # mmls's first column
    pa.field("volume_system", pa.string(), nullable=False),  # dos (MBR), gpt, ..., none
    pa.field("start", pa.int64(), nullable=False),  # bytes into the media
    pa.field("length", pa.int64(), nullable=False),
    pa.field("start_sector", pa.int64(), nullable=False),
    pa.field("sector_count", pa.int64(), nullable=False),
    pa.field("sector_size", pa.int32(), nullable=False),
    pa.field("description", pa.string()),
    pa.field("allocated", pa.bool_(), nullable=False),
    pa.field("unallocated", pa.bool_(), nullable=False),
    pa.field("meta", pa.bool_(), nullable=False),
    pa.field("file_system", pa.string()),  # what TSK finds there: NTFS, FAT16, Ext2, exFAT, ...
    pa.field("warnings", pa.list_(_CODED)),
]
DEVICE_VOLUMES = pa.schema(
    _DEVICE_VOLUME_FIELDS, metadata={"description": "a device image's partitions (as mmls lists them) and file systems"}
)

_DEVICE_FILE_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("volume", pa.int32()),  # index in device_volumes
    pa.field("path", pa.string(), nullable=False),  # "/dir/name", "/dir/name:stream" for an NTFS stream
    pa.field("name", pa.string(), nullable=False),
    pa.field("stream", pa.string()),  # the alternate data stream; null for the file's own content
    pa.field("inode", pa.int64()),  # inode, MFT entry, FAT directory-entry address
    pa.field("sequence", pa.int32()),
    pa.field("parent_inode", pa.int64()),
    pa.field("file_type", pa.string(), nullable=False),  # regular, directory, symlink, other
    pa.field("name_type", pa.string()),  # as fls prints it
    pa.field("meta_type", pa.string()),
    pa.field("virtual", pa.bool_(), nullable=False),  # made up by TSK ($MBR, $FAT1, $OrphanFiles)
    pa.field("deleted", pa.bool_(), nullable=False),
    pa.field("name_allocated", pa.bool_()),
    pa.field("meta_allocated", pa.bool_()),
    pa.field("size", pa.int64()),
    pa.field("mode", pa.int32()),
    pa.field("uid", pa.int64()),
    pa.field("gid", pa.int64()),
    pa.field("nlink", pa.int32()),
    pa.field("link_target", pa.string()),
    pa.field("mtime", pa.string()),  # ISO 8601: UTC with Z, or the wall clock with no zone where times_are_local
    pa.field("atime", pa.string()),
    pa.field("ctime", pa.string()),
    pa.field("crtime", pa.string()),
    pa.field("times_are_local", pa.bool_(), nullable=False),  # FAT/exFAT: the disk holds no zone
    pa.field("md5", pa.string()),
    pa.field("sha1", pa.string()),
    pa.field("sha256", pa.string()),
    pa.field("magic_mime", pa.string()),  # from the content's first bytes, not the name
    pa.field("magic_kind", pa.string()),
    pa.field("recovery_unreliable", pa.bool_(), nullable=False),  # deleted FAT content: clusters may be reused
    pa.field("resident", pa.bool_(), nullable=False),
    pa.field("attr_type", pa.int32()),
    pa.field("attr_id", pa.int32()),
    pa.field("known", pa.bool_()),  # in an imported hash set; null where no set is imported or nothing hashed
    pa.field("known_sets", pa.list_(pa.string())),
    pa.field("alert", pa.bool_(), nullable=False),  # in a known_bad set
    pa.field("child_exhibit_id", pa.int64()),  # the exhibit its content became (photos, video, audio)
    pa.field("child_exhibit_ref", pa.string()),
    pa.field("warnings", pa.list_(_CODED)),
]
DEVICE_FILES = pa.schema(
    _DEVICE_FILE_FIELDS,
    metadata={"description": "every file, directory and stream of a device image's file systems, with hashes"},
)

_BOX_FIELDS: list[pa.Field[Any]] = [  # face_recognition's order, in display-frame pixels (photos upright)
    pa.field("top", pa.int32(), nullable=False),
    pa.field("right", pa.int32(), nullable=False),
    pa.field("bottom", pa.int32(), nullable=False),
    pa.field("left", pa.int32(), nullable=False),
]
FACE_ENCODING = pa.list_(pa.float32(), 128)
_FACE_DETECTION_FIELDS: list[pa.Field[Any]] = [
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("track", pa.int32(), nullable=False),  # 1, 2, ... per exhibit; a photo's faces are one track each
    pa.field("time_s", pa.float64()),  # from the video's first frame; null for a photo
    *_BOX_FIELDS,
    pa.field("frame_width", pa.int32(), nullable=False),
    pa.field("frame_height", pa.int32(), nullable=False),
    pa.field("face_height_px", pa.int32(), nullable=False),
    pa.field("sharpness", pa.float32(), nullable=False),
    pa.field("landmarks_plausible", pa.bool_(), nullable=False),
    pa.field("quality", pa.float32(), nullable=False),  # 0..1
    pa.field("encoding", FACE_ENCODING),  # personal data: only in the encrypted store; null where not encoded
    pa.field("model", pa.string(), nullable=False),  # detector: hog or cnn
]
FACE_DETECTIONS = pa.schema(
    _FACE_DETECTION_FIELDS,
    metadata={"description": "faces found in a photo or in sampled video frames, tracked, with encodings"},
)
_CASE_PERSON_FIELDS: list[pa.Field[Any]] = [
    pa.field("person_id", pa.string(), nullable=False),  # P1, P2, ... stable across re-clustering
    pa.field("name", pa.string()),  # given by a user; null until then
    pa.field("confirmed", pa.bool_(), nullable=False),  # a user decided something about this person
    pa.field("confidence", pa.float32(), nullable=False),  # of the person: how tightly its faces agree, 0..1
    pa.field("exhibit_id", pa.int64(), nullable=False),
    pa.field("exhibit_ref", pa.string(), nullable=False),
    pa.field("track", pa.int32(), nullable=False),
    pa.field("start_s", pa.float64()),  # the appearance's first and last sampled time; null for a photo
    pa.field("end_s", pa.float64()),
    pa.field("time_s", pa.float64()),  # of the best face of the appearance (the box below)
    *_BOX_FIELDS,
    pa.field("quality", pa.float32(), nullable=False),
    pa.field("distance", pa.float32(), nullable=False),  # from the person's mean encoding
    pa.field("representative", pa.bool_(), nullable=False),  # the face shown for the person
    pa.field("pinned", pa.bool_(), nullable=False),  # placed by a user's decision, not by the clustering
]
CASE_PERSONS = pa.schema(
    _CASE_PERSON_FIELDS,
    metadata={"description": "persons of a case: face appearances clustered across exhibits, one row each"},
)

TABLES: dict[str, pa.Schema] = {
    "warnings": WARNINGS,
    "media_probe": MEDIA_PROBE,
    "photo_metadata": PHOTO_METADATA,
    "thumbnails": THUMBNAILS,
    "keyframes": KEYFRAMES,
    "audio_analysis": AUDIO_ANALYSIS,
    "transcript": TRANSCRIPT,
    "device_verification": DEVICE_VERIFICATION,
    "device_volumes": DEVICE_VOLUMES,
    "device_files": DEVICE_FILES,
    "face_detections": FACE_DETECTIONS,
    "case_persons": CASE_PERSONS,
}
CASE_TABLES = frozenset({"case_persons"})  # one per case, not per exhibit
