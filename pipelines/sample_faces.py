"""Synthetic faces for the tests and the demo: drawn here from numbers, never from a photograph.

Each face is painted procedurally with numpy: a height map (head, eye sockets, brow ridge, cheekbones, nose,
lips, chin) lit by a light source, over which go the eyes (whites, iris, pupil, lids), brows, lips, hair, and
for some identities make-up, a beard, a moustache or glasses. dlib's HOG frontal face detector (what
`face_recognition.face_locations` runs with model "hog") finds them, and face_recognition's 128-d encodings of
one identity stay close across position, size and lighting while different identities are far apart:

- `face_image`: one face on a plain background (a photo of one person);
- `scene_image`: several faces side by side (a group photo), with `scene_boxes` for where they are;
- `write_face_video`: an MP4 (H.264 + a sine tone) in which faces appear, drift slowly and go at known times;
  it returns a `VideoTruth` with each face's interval and approximate box.

The three identities (`IDENTITIES`) were tuned against face_recognition 1.3 / dlib 20. Over 100 random
variations each (offset up to 12 px, scale 0.8-1.15, seed, background colour) every face was detected at
upsample 0 and 1, encodings of one identity were at most 0.27 apart (mean 0.12) and of different identities
at least 0.63 (mean 0.75), either side of face_recognition's match tolerance of 0.6; with scale 0.55-1.3 and
JPEG quality 50-90 as well, at most 0.36 and at least 0.61. The faces are cartoon-like; none is, or is meant
to resemble, a real person.

Everything is deterministic for a given seed; a 200 px image takes about 10 ms.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # face_recognition's order: top, right, bottom, left
Float = npt.NDArray[Any]  # float32 in practice; numpy's stubs widen float32 arithmetic to float64
Image = npt.NDArray[np.uint8]

__all__ = [
    "DEFAULT_TIMELINE",
    "IDENTITIES",
    "FaceParams",
    "FaceTrack",
    "VideoTruth",
    "face_box",
    "face_image",
    "scene_boxes",
    "scene_image",
    "write_face_video",
]


@dataclass(frozen=True)
class FaceParams:
    """One synthetic identity. Lengths are in face units: the face (forehead to chin) spans -1..1 vertically
    and the cheeks -1..1 horizontally, the eye line sits `eye_height` above the face's centre, and so on."""

    name: str
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    shirt: RGB
    face_length: float = 1.0  # scales the whole head
    face_width: float = 0.74  # width / length
    jaw: float = 0.3  # 0 round .. 1 square
    eye_height: float = 0.12  # eye line above the face's centre
    eye_spacing: float = 0.38  # each eye's centre from the midline
    eye_width: float = 0.19  # half-widths and half-heights
    eye_open: float = 0.065
    eye_slant: float = 0.0  # positive: outer corners higher
    eyeliner: float = 1.0  # width of the lid line, in pixels
    brow_raise: float = 0.15  # above the eye line
    brow_thickness: float = 0.03
    brow_tilt: float = 0.0
    brow_arch: float = 0.05
    nose_length: float = 0.36  # eye line to nose tip
    nose_width: float = 0.16
    nose_relief: float = 1.0  # how far the bridge stands out (shading)
    mouth_drop: float = 0.2  # nose tip to mouth
    mouth_width: float = 0.34
    lip_thickness: float = 0.045
    hairline: float = 0.5  # above the face's centre, at the midline
    hairline_curve: float = 0.25  # how much lower it comes at the temples
    hair_part: float = 0.0  # tilts the hairline: a fringe swept to one side
    sideburn: float = -0.05  # how low the hair comes down the sides
    hair_volume: float = 0.04
    hair_length: float = 0.0  # 0 short; 1 to the shoulders
    eye_shadow: float = 0.0  # 0..1
    eye_shadow_colour: tuple[float, float, float] = (120.0, 80.0, 110.0)
    beard: float = 0.0  # 0..1, in the hair colour
    moustache: float = 0.0
    glasses: float = 0.0  # rim thickness; 0 none
    shine: float = 0.12  # specular highlight strength


def _skin(tone: float, warmth: float = 0.0) -> tuple[float, float, float]:
    """A natural skin colour: `tone` 0 (pale) .. 1 (deep brown), `warmth` -1 (yellower) .. 1 (redder)."""
    stops = np.array(
        [(245, 215, 195), (232, 190, 160), (205, 160, 125), (170, 120, 85), (125, 85, 60), (85, 58, 42)], np.float64
    )
    x = min(max(tone, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    colour = stops[i] * (1 - (x - i)) + stops[i + 1] * (x - i) + np.array([12 * warmth, 0, -8 * warmth])
    return _triple(np.clip(colour, 0, 255))


def _lips(skin: tuple[float, float, float], lipstick: float) -> tuple[float, float, float]:
    natural = np.array(skin) * np.array([0.82, 0.55, 0.55])
    return _triple(natural * (1 - lipstick) + np.array([185.0, 40.0, 70.0]) * lipstick)


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (round(float(v), 1) for v in values)
    return (a, b, c)


_HAIR = {
    "black": (20.0, 16.0, 14.0),
    "dark brown": (55.0, 38.0, 26.0),
    "brown": (105.0, 70.0, 42.0),
    "auburn": (140.0, 65.0, 35.0),
    "blond": (205.0, 170.0, 105.0),
    "grey": (160.0, 158.0, 155.0),
    "white": (215.0, 212.0, 205.0),
}
_IRIS = {
    "brown": (80.0, 55.0, 35.0),
    "dark brown": (45.0, 30.0, 20.0),
    "blue": (70.0, 120.0, 170.0),
    "green": (85.0, 115.0, 70.0),
    "grey": (110.0, 115.0, 120.0),
}


def _scaled(colour: tuple[float, float, float], factor: float) -> tuple[float, float, float]:
    return _triple(np.clip(np.array(colour) * factor, 0, 255))


# Tuned by a random search (with the renderer below) for detector confidence and distance between identities,
# within natural skin, hair and eye colours. Changing the drawing code means measuring the distances again.
IDENTITIES: tuple[FaceParams, ...] = (
    FaceParams(
        name="Synthetic A",
        skin=_skin(0.000, 0.48),
        hair=_scaled(_HAIR["grey"], 0.97),
        iris=_IRIS["dark brown"],
        lips=_lips(_skin(0.000, 0.48), 0.49),
        shirt=(121, 44, 114),
        face_length=1.120,
        face_width=0.640,
        jaw=0.000,
        eye_height=0.143,
        eye_spacing=0.446,
        eye_width=0.200,
        eye_open=0.082,
        eye_slant=-0.117,
        eyeliner=0.948,
        brow_raise=0.195,
        brow_thickness=0.012,
        brow_tilt=-0.025,
        brow_arch=0.072,
        nose_length=0.260,
        nose_width=0.110,
        nose_relief=0.783,
        mouth_drop=0.171,
        mouth_width=0.298,
        lip_thickness=0.060,
        hairline=0.320,
        hairline_curve=0.345,
        hair_part=0.249,
        sideburn=-0.173,
        hair_volume=0.108,
        hair_length=0.855,
        eye_shadow=0.513,
        beard=0.122,
        moustache=0.000,
        glasses=0.000,
        shine=0.120,
        eye_shadow_colour=(143.0, 96.0, 94.0),
    ),
    FaceParams(
        name="Synthetic B",
        skin=_skin(1.000, -0.36),
        hair=_scaled(_HAIR["black"], 0.89),
        iris=_IRIS["dark brown"],
        lips=_lips(_skin(1.000, -0.36), 0.22),
        shirt=(13, 67, 69),
        face_length=1.009,
        face_width=0.640,
        jaw=0.696,
        eye_height=0.108,
        eye_spacing=0.500,
        eye_width=0.169,
        eye_open=0.058,
        eye_slant=-0.083,
        eyeliner=1.422,
        brow_raise=0.120,
        brow_thickness=0.046,
        brow_tilt=0.004,
        brow_arch=-0.013,
        nose_length=0.449,
        nose_width=0.260,
        nose_relief=0.721,
        mouth_drop=0.300,
        mouth_width=0.428,
        lip_thickness=0.054,
        hairline=0.645,
        hairline_curve=0.472,
        hair_part=-0.008,
        sideburn=-0.039,
        hair_volume=0.000,
        hair_length=0.121,
        eye_shadow=0.000,
        beard=0.775,
        moustache=0.651,
        glasses=0.000,
        shine=0.298,
    ),
    FaceParams(
        name="Synthetic C",
        skin=_skin(0.450, -0.63),
        hair=_scaled(_HAIR["blond"], 0.91),
        iris=_IRIS["green"],
        lips=_lips(_skin(0.450, -0.63), 0.00),
        shirt=(120, 127, 184),
        face_length=1.103,
        face_width=0.653,
        jaw=0.499,
        eye_height=0.160,
        eye_spacing=0.368,
        eye_width=0.170,
        eye_open=0.045,
        eye_slant=-0.012,
        eyeliner=1.219,
        brow_raise=0.212,
        brow_thickness=0.035,
        brow_tilt=0.060,
        brow_arch=0.046,
        nose_length=0.409,
        nose_width=0.155,
        nose_relief=1.372,
        mouth_drop=0.182,
        mouth_width=0.330,
        lip_thickness=0.035,
        hairline=0.365,
        hairline_curve=0.515,
        hair_part=0.000,
        sideburn=-0.186,
        hair_volume=0.019,
        hair_length=0.436,
        eye_shadow=0.000,
        beard=0.000,
        moustache=0.810,
        glasses=1.200,
        shine=0.074,
    ),
)


# -- drawing ---------------------------------------------------------------------------------------------------

_LIGHT = (-0.35, -0.45)  # direction of the light in the image plane (from the upper left), z towards the viewer
_U_EXTENT = 2.3  # a face's drawing reaches this far either side of its centre, in face widths
_V_TOP, _V_BOTTOM = -1.45, 3.1  # and this far above and below, in face half-lengths


def _gauss(u: Float, v: Float, cu: float, cv: float, su: float, sv: float) -> Float:
    return np.exp(-(((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2))


def _ellipse(u: Float, v: Float, cu: float, cv: float, au: float, av: float, px: float) -> Float:
    """Coverage (0..1, anti-aliased over about a pixel) of an ellipse; `px` is a pixel's size in u units."""
    e = np.sqrt(((u - cu) / au) ** 2 + ((v - cv) / av) ** 2)
    return np.clip((1 - e) * (min(au, av) / px) + 0.5, 0, 1)


def _inside(distance: Float, px: float) -> Float:
    """Coverage of the side of an edge where `distance` (in the units of `px`) is positive."""
    return np.clip(distance / px + 0.5, 0, 1)


def _smooth(a: float, b: float, x: Float) -> Float:
    t = np.clip((x - a) / (b - a), 0, 1)
    return t * t * (3 - 2 * t)


class _Layer:
    """Premultiplied colour and coverage on a pixel grid with face coordinates: column j is at u = us[j],
    row i at v = vs[i]. Painted over back to front, each shape only within its own window."""

    def __init__(self, us: Float, vs: Float) -> None:
        self.us, self.vs = us, vs
        self.colour = np.zeros((len(vs), len(us), 3), np.float32)
        self.alpha = np.zeros((len(vs), len(us)), np.float32)

    def window(self, u0: float, u1: float, v0: float, v1: float) -> tuple[slice, slice, Float, Float]:
        """The rows and columns covering u0..u1, v0..v1 (and a pixel more), with their u (1 x w) and v (h x 1)."""
        du, dv = float(self.us[1] - self.us[0]), float(self.vs[1] - self.vs[0])
        c0, c1 = np.searchsorted(self.us, [u0 - 2 * du, u1 + 2 * du])
        r0, r1 = np.searchsorted(self.vs, [v0 - 2 * dv, v1 + 2 * dv])
        rows, cols = slice(int(r0), int(r1)), slice(int(c0), int(c1))
        return rows, cols, self.us[None, cols], self.vs[rows, None]

    def paint(self, rows: slice, cols: slice, mask: Float, colour: Any) -> None:
        shape = self.alpha[rows, cols].shape
        if not shape[0] or not shape[1]:
            return
        m = np.broadcast_to(np.asarray(mask, np.float32), shape)
        region = self.colour[rows, cols]
        region += (np.asarray(colour, np.float32) - region) * m[..., None]
        alpha = self.alpha[rows, cols]
        alpha += (1 - alpha) * m

    def over(self, canvas: Float, top: int, left: int) -> None:
        """Composite onto `canvas` with this layer's top-left corner at (top, left), clipped to the canvas."""
        h, w = self.alpha.shape
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + h, canvas.shape[0]), min(left + w, canvas.shape[1])
        if y0 >= y1 or x0 >= x1:
            return
        a = self.alpha[y0 - top : y1 - top, x0 - left : x1 - left, None]
        region = canvas[y0:y1, x0:x1]
        region *= 1 - a
        region += self.colour[y0 - top : y1 - top, x0 - left : x1 - left]


def _face_layer(
    p: FaceParams,
    half_length: float,
    fx: float = 0.5,
    fy: float = 0.5,
    light: float = 1.0,
    light_dir: tuple[float, float] = _LIGHT,
) -> tuple[_Layer, int, int]:
    """One face (with hair, neck and shoulders) on a transparent layer.

    `half_length` is the face's half-length in pixels (before `p.face_length`); (fx, fy) the sub-pixel position
    of the face's centre within its pixel. Returns the layer and the centre's pixel (row, column) in it.
    """
    hh = half_length * p.face_length
    ww = hh * p.face_width
    left, right = math.floor(-_U_EXTENT * ww), math.ceil(_U_EXTENT * ww)
    top, bottom = math.floor(_V_TOP * hh), math.ceil(_V_BOTTOM * hh)
    layer = _Layer(
        (np.arange(left, right, dtype=np.float32) + np.float32(0.5 - fx)) / np.float32(ww),
        (np.arange(top, bottom, dtype=np.float32) + np.float32(0.5 - fy)) / np.float32(hh),
    )
    px, pv = 1.0 / ww, 1.0 / hh
    skin = np.asarray(p.skin, np.float32)
    hair = np.asarray(p.hair, np.float32)

    def hair_light(u: Float, v: Float) -> Float:
        return ((1.0 - 0.25 * (u * 0.5 + 0.5) - 0.1 * _smooth(-1, 1, v)) * light)[..., None]

    if p.hair_length > 0:  # long hair, behind the head
        reach = 1.1 + p.hair_volume
        rows, cols, u, v = layer.window(-reach - 0.05, reach + 0.05, -1.2 - p.hair_volume, 0.1 + p.hair_length * 1.3)
        back = np.maximum(
            _ellipse(u, v, 0, -0.1, 1.12 + p.hair_volume, 1.0 + p.hair_volume, px),
            _inside(reach - np.abs(u) - 0.15 * _smooth(0, 1.3, v), px)
            * _inside(0.1 + p.hair_length * 1.3 - v, pv)
            * (v > -0.1),
        )
        layer.paint(rows, cols, back, hair * 0.75 * hair_light(u, v))
    rows, cols, u, v = layer.window(-0.45, 0.45, 0.3, 1.4)
    layer.paint(rows, cols, _inside(0.45 - np.abs(u), px) * (v > 0.3), skin * 0.6 * light)
    rows, cols, u, v = layer.window(-_U_EXTENT, _U_EXTENT, 1.2, _V_BOTTOM)
    shoulders = _inside(0.75 + 1.45 * _smooth(1.2, 2.1, v) - np.abs(u), px) * _inside(v - 1.2 - 0.2 * u**2, pv)
    layer.paint(rows, cols, shoulders, np.asarray(p.shirt, np.float32) * light)
    for s in (-1, 1):
        rows, cols, u, v = layer.window(s * 0.97 - 0.13, s * 0.97 + 0.13, -0.21, 0.21)
        layer.paint(rows, cols, _ellipse(u, v, s * 0.97, 0.0, 0.13, 0.21, px), skin * 0.78 * light)

    # The face: a round top, a lower half between round and square, as a height map lit from `light_dir`.
    rows, cols, u1, v1 = layer.window(-1.0, 1.0, -1.0, 1.0)
    u, v = np.broadcast_arrays(u1, v1)
    n = 2.0 + p.jaw * 1.5
    au, av = np.abs(u), np.abs(v)
    r = np.where(v < 0, np.sqrt(u * u + v * v), (au**n + av**n) ** (1.0 / n))
    face = _inside(1 - r, px)
    z = np.sqrt(np.clip(1 - r * r, 0, 1)) * 0.9
    ey, es, ew, eo = -p.eye_height, p.eye_spacing, p.eye_width, p.eye_open
    for s in (-1, 1):
        z -= 0.22 * _gauss(u1, v1, s * es, ey + 0.01, ew * 1.3, 0.14)  # eye socket
        z += 0.10 * _gauss(u1, v1, s * es, ey - p.brow_raise, ew * 1.6, 0.07)  # brow ridge
        z += 0.10 * _gauss(u1, v1, s * 0.55, 0.12, 0.25, 0.15)  # cheekbone
    ny = ey + p.nose_length
    nw = p.nose_width
    ridge = _smooth(ey - 0.05, ny, v1) * (v1 < ny + 0.02) + (v1 >= ny + 0.02) * np.exp(
        -(((v1 - ny - 0.02) / 0.05) ** 2)
    )
    z += 0.35 * p.nose_relief * np.exp(-((u1 / (nw * 0.55)) ** 2)) * ridge
    z += 0.12 * _gauss(u1, v1, 0, ny - 0.02, nw, 0.07)
    my, mw = ny + p.mouth_drop, p.mouth_width
    z += 0.06 * _gauss(u1, v1, 0, my - 0.03, mw * 0.9, 0.05) + 0.07 * _gauss(u1, v1, 0, my + 0.05, mw * 0.8, 0.06)
    z -= 0.05 * _gauss(u1, v1, 0, my + 0.17, mw * 0.7, 0.05)
    z += 0.08 * _gauss(u1, v1, 0, 0.9, 0.3, 0.12)
    dzdx = np.gradient(z, axis=1) / px
    dzdy = np.gradient(z, axis=0) / pv
    norm = np.sqrt(dzdx**2 + dzdy**2 + 1)
    lx, ly, lz = (np.array([light_dir[0], light_dir[1], 1.0]) / math.hypot(light_dir[0], light_dir[1], 1.0)).tolist()
    diffuse = np.clip((-dzdx * lx - dzdy * ly + lz) / norm, 0, 1)
    hx, hy, hz = (np.array([lx, ly, lz + 1.0]) / math.hypot(lx, ly, lz + 1.0)).tolist()
    specular = np.clip((-dzdx * hx - dzdy * hy + hz) / norm, 0, 1) ** 12 * (p.shine * 255 * light)

    albedo = _Layer(layer.us[cols], layer.vs[rows])
    albedo.colour[:] = skin
    if p.eye_shadow > 0:
        for s in (-1, 1):
            r2, c2, u, v = albedo.window(
                s * es - 2.5 * ew, s * es + 2.5 * ew, ey - eo * 1.3 - 0.16, ey - eo * 1.3 + 0.16
            )
            shadow = _gauss(u, v, s * es, ey - eo * 1.3, ew * 1.2, 0.06) * p.eye_shadow
            albedo.paint(r2, c2, shadow, p.eye_shadow_colour)
    lip = np.where(
        v1 > my,
        _ellipse(u1, v1, 0, my + 0.01, mw, p.lip_thickness * 1.3, px),
        _ellipse(u1, v1, 0, my, mw, p.lip_thickness * 0.8, px),
    )
    albedo.paint(slice(None), slice(None), lip, p.lips)
    albedo.colour *= (1 - 0.6 * np.clip(1 - np.abs(v1 - my) / (1.2 * pv), 0, 1) * (np.abs(u1) < mw * 0.95))[..., None]
    for s in (-1, 1):
        nostril = _ellipse(u1, v1, s * nw * 0.45, ny + 0.03, nw * 0.28, 0.025, px)
        albedo.colour *= (1 - 0.55 * nostril)[..., None]
    moustache = np.clip(1 - np.abs(v1 - (my - 0.06)) / 0.045, 0, 1) * (np.abs(u1) < mw * 1.15) * p.moustache
    if p.beard > 0:
        lower = _smooth(ny + 0.02, ny + 0.12, v1) * _smooth(0.55, 0.85, 1 - np.abs(u1)) * (1 - lip) * p.beard
        albedo.paint(slice(None), slice(None), np.maximum(lower, moustache), hair * 0.8)
    elif p.moustache > 0:
        albedo.paint(slice(None), slice(None), moustache, hair * 0.8)
    shaded = albedo.colour * (((0.35 + 0.75 * diffuse) * light)[..., None]) + specular[..., None]
    layer.paint(rows, cols, face, shaded)

    for s in (-1, 1):
        ex = s * es
        slant = abs(p.eye_slant) * ew
        rows, cols, u, v = layer.window(ex - ew, ex + ew, ey - eo - slant, ey + eo + slant)
        vv = v - ey + p.eye_slant * s * (u - ex)
        white = _ellipse(u, vv, ex, 0, ew, eo, px)
        layer.paint(rows, cols, white, np.array((232, 228, 222), np.float32) * light)
        iris = eo * 0.95 * hh  # in pixels: the iris is round
        ui, vi = u * ww, v * hh
        layer.paint(rows, cols, _ellipse(ui, vi, ex * ww, ey * hh, iris, iris, 1.0) * white, np.asarray(p.iris) * light)
        pupil = _ellipse(ui, vi, ex * ww, ey * hh, iris * 0.45, iris * 0.45, 1.0) * white
        layer.paint(rows, cols, pupil, (15, 12, 10))
        e = np.sqrt(((u - ex) / ew) ** 2 + (vv / eo) ** 2)
        lid = np.clip(1 - np.abs(e - 1) * (ew / px / p.eyeliner), 0, 1) * (vv < eo * 0.3)
        layer.paint(rows, cols, lid * 0.9, (40, 28, 22))
        by = ey - p.brow_raise
        reach = p.brow_thickness * 1.5 + abs(p.brow_arch) + abs(p.brow_tilt)
        rows, cols, u, v = layer.window(ex - ew * 1.25, ex + ew * 1.25, by - reach, by + reach)
        bu = (u - ex) / (ew * 1.25)
        bv = v - by - p.brow_arch * bu**2 + s * p.brow_tilt * bu
        brow = np.clip((p.brow_thickness * (1 - 0.5 * bu * s) - np.abs(bv)) * hh, 0, 1)
        layer.paint(rows, cols, brow * np.clip((1 - np.abs(bu)) * 6, 0, 1), hair * 0.9 * light)
    if p.glasses > 0:
        frame = (25, 25, 30)
        for s in (-1, 1):
            rows, cols, u, v = layer.window(s * es - ew * 1.8, s * es + ew * 1.8, ey - 0.2, ey + 0.2)
            e = np.sqrt(((u - s * es) / (ew * 1.45)) ** 2 + ((v - ey) / 0.13) ** 2)
            layer.paint(rows, cols, np.clip(1 - np.abs(e - 1) / (p.glasses * 0.12), 0, 1), frame)
        rows, cols, u, v = layer.window(-es, es, ey - 0.03 - 2 * pv, ey - 0.03 + 2 * pv)
        layer.paint(
            rows, cols, np.clip(1 - np.abs(v - ey + 0.03) / (1.5 * pv), 0, 1) * (np.abs(u) < es - ew * 1.4), frame
        )
    width, height = 1.08 + p.hair_volume, 1.0 + p.hair_volume * 1.5
    lowest = max(p.sideburn, -p.hairline + p.hairline_curve * width**2 + abs(p.hair_part) * width)
    rows, cols, u, v = layer.window(-width, width, -0.08 - height, min(lowest, 0.92))
    hairline = -p.hairline + p.hairline_curve * u**2 + p.hair_part * u
    top_hair = np.clip((hairline - v) * hh, 0, 1)
    side_hair = _inside(np.abs(u) - 0.93, px) * (v < p.sideburn)
    head = _ellipse(u, v, 0, -0.08, width, height, px)
    layer.paint(rows, cols, head * np.maximum(top_hair, side_hair), hair * hair_light(u, v))
    return layer, -top, -left


def _backdrop(height: int, width: int, colour: Sequence[float]) -> Float:
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = np.asarray(colour, np.float32)
    canvas *= (1.08 - 0.18 * np.arange(height, dtype=np.float32) / height)[:, None, None]
    return canvas


def _place(canvas: Float, p: FaceParams, cx: float, cy: float, half_length: float, light: float,
           light_dir: tuple[float, float]) -> None:  # fmt: skip
    """Paint face `p` centred at (cx, cy) (pixels, may be fractional) onto `canvas`."""
    col, row = math.floor(cx), math.floor(cy)
    layer, top, left = _face_layer(p, half_length, cx - col, cy - row, light, light_dir)
    layer.over(canvas, row - top, col - left)


def _finish(canvas: Float, rng: np.random.Generator | None, noise: float = 1.5) -> Image:
    if rng is not None and noise > 0:
        grain = rng.standard_normal(canvas.shape[:2], dtype=np.float32) * np.float32(noise)
        canvas += grain[..., None]
    out: Image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return out


# -- images ----------------------------------------------------------------------------------------------------

# Where dlib's HOG detector puts its box (upsample 0 or 1), relative to the face's centre, in the face's
# half-length, averaged over the identities: from the brows to below the lips, and across the cheeks.
_BOX_TOP, _BOX_BOTTOM, _BOX_LEFT, _BOX_RIGHT = -0.52, 0.88, 0.72, 0.68


def _identity(identity: int) -> FaceParams:
    if not 0 <= identity < len(IDENTITIES):
        raise ValueError(f"identity must be 0..{len(IDENTITIES) - 1}, not {identity}")
    return IDENTITIES[identity]


def _jitter(rng: np.random.Generator) -> tuple[float, tuple[float, float]]:
    """A seed's small lighting variation: brightness and the light's direction."""
    light = float(rng.uniform(0.9, 1.06))
    return light, (_LIGHT[0] + float(rng.uniform(-0.12, 0.12)), _LIGHT[1] + float(rng.uniform(-0.12, 0.12)))


def face_box(cx: float, cy: float, half_length: float, identity: int = 0) -> Box:
    """Roughly where the detector reports a face centred at (cx, cy) with that half-length: (top, right, bottom,
    left), as `face_recognition.face_locations` gives it: IoU with the detector's box typically 0.85, 0.7 at worst."""
    hh = half_length * _identity(identity).face_length
    return (
        round(cy + _BOX_TOP * hh),
        round(cx + _BOX_RIGHT * hh),
        round(cy + _BOX_BOTTOM * hh),
        round(cx - _BOX_LEFT * hh),
    )


def _face_geometry(size: int, offset: tuple[int, int], scale: float) -> tuple[float, float, float]:
    return size / 2 + offset[0], size / 2 + offset[1] + size * 0.02 * scale, size * 0.30 * scale


def face_image(
    identity: int,
    *,
    size: int = 200,
    background: tuple[int, int, int] = (110, 130, 150),
    offset: tuple[int, int] = (0, 0),
    scale: float = 1.0,
    seed: int = 0,
) -> Image:
    """One face, head and shoulders, on a plain background: an RGB uint8 array `size` x `size` x 3.

    At scale 1 the face (forehead to chin) is 0.6 of the image high, so about 0.45 of it in the detector's box
    (90 px at the default size); `offset` moves it (x, y) in pixels. The seed varies the lighting a little
    and adds faint sensor noise; the same arguments always give the same pixels.
    """
    p = _identity(identity)
    rng = np.random.default_rng([seed, identity, 1])
    light, light_dir = _jitter(rng)
    cx, cy, half = _face_geometry(size, offset, scale)
    canvas = _backdrop(size, size, background)
    _place(canvas, p, cx, cy, half, light, light_dir)
    return _finish(canvas, rng)


def _scene_layout(count: int, width: int, height: int, seed: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng([seed, count, 2])
    slot = width / count
    half = min(0.28 * height, slot / 2.6)
    return [
        ((i + 0.5) * slot + float(rng.uniform(-0.04, 0.04)) * slot,
         height * 0.42 + float(rng.uniform(-0.03, 0.03)) * height, half * float(rng.uniform(0.95, 1.05)))
        for i in range(count)
    ]  # fmt: skip


def scene_image(identities: Sequence[int], width: int = 640, height: int = 360, seed: int = 0) -> Image:
    """Several faces side by side (a group photo), left to right in the order given; an identity may appear
    more than once. The faces are sized to their share of the width (at most 0.28 of the height for the face's
    half-length): the detector finds all of them at upsample 1 while each has 65 px of width or more (boxes of
    ~40 px), at upsample 0 from about 130 px (boxes of ~75 px). `scene_boxes` says where they are."""
    rng = np.random.default_rng([seed, 3])
    wall = _WALLS[int(rng.integers(len(_WALLS)))]
    canvas = _backdrop(height, width, wall)
    for number, (cx, cy, half) in zip(identities, _scene_layout(len(identities), width, height, seed), strict=True):
        light, light_dir = _jitter(rng)
        _place(canvas, _identity(number), cx, cy, half, light, light_dir)
    return _finish(canvas, rng)


def scene_boxes(identities: Sequence[int], width: int = 640, height: int = 360, seed: int = 0) -> list[Box]:
    """Roughly where the detector finds each face of `scene_image` (same arguments), in the same order."""
    layout = _scene_layout(len(identities), width, height, seed)
    return [face_box(cx, cy, half, number) for number, (cx, cy, half) in zip(identities, layout, strict=True)]


_WALLS: tuple[RGB, ...] = ((150, 160, 170), (170, 160, 140), (120, 140, 130), (185, 185, 190))


# -- video -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceTrack:
    """One person's time on screen: drawn in every frame whose time `t = frame / fps` has start <= t < end,
    the face's centre moving in a straight line from (x0, y) at `start` to (x1, y) at `end` (fractions of the
    frame's width and height). `size` is the face's half-length as a fraction of the frame's height; the
    detector's box is then about 1.4 times that high (0.2 of 360 px: a box of about 100 px)."""

    identity: int
    start: float
    end: float
    x0: float
    x1: float
    y: float = 0.42
    size: float = 0.2

    def __post_init__(self) -> None:
        _identity(self.identity)
        if not (0 <= self.start < self.end and self.size > 0):
            raise ValueError(f"not a track: {self}")

    def on_screen(self, t: float) -> bool:
        return self.start <= t < self.end

    def centre(self, t: float, width: int, height: int) -> tuple[int, int]:
        """The pixel the face's centre is drawn in at time t (it moves in whole pixels)."""
        f = min(max((t - self.start) / (self.end - self.start), 0.0), 1.0)
        return math.floor((self.x0 + (self.x1 - self.x0) * f) * width), math.floor(self.y * height)

    def box(self, t: float, width: int, height: int) -> Box:
        """Roughly where the detector finds this face at time t (whether or not it is on screen then)."""
        col, row = self.centre(t, width, height)
        return face_box(col + 0.5, row + 0.5, self.size * height, self.identity)


DEFAULT_TIMELINE: tuple[FaceTrack, ...] = (
    FaceTrack(0, 0.5, 4.5, 0.20, 0.30),  # alone from 0.5 s, joined by 1 at 2 s
    FaceTrack(1, 2.0, 6.5, 0.80, 0.70),  # with 0 until 4.5 s, with 2 from 5 s
    FaceTrack(2, 5.0, 8.0, 0.30, 0.22),  # alone from 6.5 s
)


@dataclass(frozen=True)
class VideoTruth:
    """What `write_face_video` drew: frame i shows, at time i / fps, the faces whose tracks are on screen then."""

    width: int
    height: int
    fps: int
    frames: int
    tracks: tuple[FaceTrack, ...]

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def faces_at(self, t: float) -> list[tuple[int, Box]]:
        """(identity, approximate detector box) of every face on screen at time t, in timeline order. A face
        partly outside the frame (walking in from an edge) has a box reaching outside it too, and is likely
        not detected until most of it is in."""
        return [(tr.identity, tr.box(t, self.width, self.height)) for tr in self.tracks if tr.on_screen(t)]

    def intervals(self, identity: int) -> list[tuple[float, float]]:
        """When `identity` is on screen: [(start, end), ...] in seconds."""
        return [(tr.start, tr.end) for tr in self.tracks if tr.identity == identity]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the video's shape and, per track, identity, interval and boxes at start, middle and end."""

        def boxes(tr: FaceTrack) -> list[list[int]]:
            last = max(tr.start, math.ceil(tr.end * self.fps - 1) / self.fps)
            return [list(tr.box(t, self.width, self.height)) for t in (tr.start, (tr.start + last) / 2, last)]

        return {
            "width": self.width, "height": self.height, "fps": self.fps, "frames": self.frames,
            "tracks": [{"identity": tr.identity, "name": IDENTITIES[tr.identity].name, "start": tr.start,
                        "end": tr.end, "boxes": boxes(tr)} for tr in self.tracks],
        }  # fmt: skip


def write_face_video(
    path: Path,
    identities_timeline: Sequence[FaceTrack] = DEFAULT_TIMELINE,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    seconds: float | None = None,
    seed: int = 0,
) -> VideoTruth:
    """An MP4 (H.264 yuv420p, and AAC carrying a 440 Hz tone) of faces against a plain wall following
    `identities_timeline`; `seconds` defaults to half a second after the last face goes. Needs ffmpeg with
    libx264. Returns the ground truth: which identity is on screen when, and roughly where."""
    if width % 2 or height % 2:
        raise ValueError(f"H.264 in yuv420p needs an even frame size, not {width}x{height}")
    tracks = tuple(identities_timeline)
    total = seconds if seconds is not None else max((tr.end for tr in tracks), default=0.0) + 0.5
    frames = max(1, round(total * fps))
    rng = np.random.default_rng([seed, 4])
    wall = _backdrop(height, width, _WALLS[int(rng.integers(len(_WALLS)))])
    wall[round(height * 0.8) :] *= np.float32(0.7)  # a floor
    layers = []
    for tr in tracks:
        light, light_dir = _jitter(rng)
        layers.append(_face_layer(IDENTITIES[tr.identity], tr.size * height, 0.5, 0.5, light, light_dir))
    command = [
        "ffmpeg", "-v", "error", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={frames / fps}",
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log, subprocess.Popen(command, stdin=subprocess.PIPE, stderr=log) as ffmpeg:
        assert ffmpeg.stdin is not None
        try:
            for i in range(frames):
                t = i / fps
                canvas = wall.copy()
                for tr, (layer, top, left) in zip(tracks, layers, strict=True):
                    if tr.on_screen(t):
                        col, row = tr.centre(t, width, height)
                        layer.over(canvas, row - top, col - left)
                ffmpeg.stdin.write(_finish(canvas, None).tobytes())
            ffmpeg.stdin.close()
        except BrokenPipeError:
            pass
        if ffmpeg.wait(timeout=120) != 0:
            log.seek(0)
            raise subprocess.CalledProcessError(ffmpeg.returncode, command, stderr=log.read().decode(errors="replace"))
    return VideoTruth(width, height, fps, frames, tracks)
