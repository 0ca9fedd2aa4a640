"""Times from evidence, normalised to UTC with where they came from and how far to trust them.

Devices disagree (a camera's clock is whatever its owner set; the GPS photos in the shared data have GPSDate a
day after DateTimeOriginal), so a time is never just a time: it is a reading, with its source and reliability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

# How far a source is to be trusted, best first.
GPS = "gps"  # satellite time: right to the second, if the fix was good
DEVICE_ZONED = "device clock, zone stated"  # the device's clock with its UTC offset (EXIF OffsetTime, ISO 8601 Z)
DEVICE_LOCAL = "device clock, zone unknown"  # a local wall-clock time: UTC cannot be known without the zone
FILE_SYSTEM = "file system"  # times a copy or an OS wrote: says little about when the content was made
RECEIPT = "evidence system clock"  # when Exhibit received it: exact, but only an upper bound on when it was made

_ISO = re.compile(
    r"^(?P<date>\d{4}[-:]\d{2}[-:]\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True, slots=True)
class TimeReading:
    utc: str | None  # ISO 8601 with Z, when the zone is known
    local: str | None  # the wall-clock time as written, when the zone is not known
    source: str  # which tag or field
    reliability: str  # one of the constants above

    def __post_init__(self) -> None:
        if self.utc is None and self.local is None:
            raise ValueError("a time reading needs a UTC or a local time")


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def read_time(text: str | None, source: str, zone: str | None = None, zoned: str = DEVICE_ZONED) -> TimeReading | None:
    """Parses `2016-02-06T00:53:22.000000Z`, `2008:10:22 16:28:39` (+ EXIF OffsetTime `+02:00`) and the like.

    Returns None for absent or unparseable text, and for the zero dates cameras write when their clock was
    never set (`0000:00:00 00:00:00`).
    """
    if not text:
        return None
    match = _ISO.match(text.strip().rstrip("\x00"))
    if not match or match["date"].startswith("0000"):
        return None
    try:
        moment = datetime.strptime(f"{match['date'].replace(':', '-')} {match['time']}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    stated = match["zone"] or (zone.strip() if zone and re.match(r"^(Z|[+-]\d{2}:?\d{2})$", zone.strip()) else None)
    if stated is None:
        return TimeReading(None, moment.isoformat(), source, DEVICE_LOCAL)
    utc = moment.replace(tzinfo=_zone(stated)).astimezone(UTC)
    return TimeReading(utc.strftime("%Y-%m-%dT%H:%M:%SZ"), None, source, zoned)
