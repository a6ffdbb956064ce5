"""Per-frame blending of precomputed overlay regions, in the frame's own pixel format.

Once per overlay change, each RGBA region becomes premultiplied planes plus
an inverse alpha (Y at full resolution, U and V at half resolution for I420;
three channels for BGR). Per frame that leaves, per plane and region, one
``cv2.multiply`` and one ``cv2.add`` on a small uint8 view of the frame:
no float math and no full-frame colour conversion. Opaque regions (the QR
tile) are plain copies, so the code stays pixel-exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from overlays.render import OverlayRegion

# BT.601 limited range (what H.264 assumes for untagged video and what
# cv2.COLOR_YUV2BGR_I420 decodes with), as a cv2.transform matrix: RGB -> YUV.
_RGB_TO_YUV = np.array(
    [
        [65.481, 128.553, 24.966, 16 * 255],
        [-37.797, -74.203, 112.0, 128 * 255],
        [112.0, -93.786, -18.214, 128 * 255],
    ],
    dtype=np.float32,
) / 255.0


@dataclass(frozen=True)
class PlaneBlend:
    """One region of one plane: ``plane = plane * inv / 255 + premul`` (or a copy when opaque)."""

    x: int
    y: int
    premul: np.ndarray
    inv: np.ndarray | None  # None: opaque, copy ``premul``

    def apply(self, plane: np.ndarray) -> None:
        h, w = self.premul.shape[:2]
        roi = plane[self.y : self.y + h, self.x : self.x + w]
        if self.inv is None:
            np.copyto(roi, self.premul)
            return
        cv2.add(cv2.multiply(roi, self.inv, scale=1 / 255), self.premul, dst=roi)

    @classmethod
    def premultiplied(cls, x: int, y: int, premul: np.ndarray, alpha: np.ndarray, opaque: bool) -> PlaneBlend:
        """From float32 premultiplied values (0..255) and alpha (0..1) of the same shape."""
        values = _to_uint8(premul)
        return cls(x, y, values, None if opaque else _to_uint8(255 - alpha * 255))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(values + 0.5, 0, 255).astype(np.uint8))


def i420_blends(region: OverlayRegion) -> tuple[PlaneBlend, PlaneBlend, PlaneBlend]:
    """Y, U, V blends for a region; chroma is the mean of premultiplied values per 2x2 block,
    so colours of transparent pixels never bleed into the edge of a rounded card."""
    rgb = np.ascontiguousarray(region.rgba[:, :, :3]).astype(np.float32)
    alpha = region.rgba[:, :, 3].astype(np.float32) / 255
    yuv = cv2.transform(rgb, _RGB_TO_YUV) * alpha[:, :, None]  # premultiplied
    h, w = alpha.shape
    half = (w // 2, h // 2)
    alpha_half = cv2.resize(alpha, half, interpolation=cv2.INTER_AREA)
    chroma_half = cv2.resize(np.ascontiguousarray(yuv[:, :, 1:]), half, interpolation=cv2.INTER_AREA)
    x, y, opaque = region.x, region.y, region.opaque
    return (
        PlaneBlend.premultiplied(x, y, yuv[:, :, 0], alpha, opaque),
        PlaneBlend.premultiplied(x // 2, y // 2, chroma_half[:, :, 0], alpha_half, opaque),
        PlaneBlend.premultiplied(x // 2, y // 2, chroma_half[:, :, 1], alpha_half, opaque),
    )


def bgr_blend(region: OverlayRegion) -> PlaneBlend:
    alpha = region.rgba[:, :, 3:4].astype(np.float32) / 255
    bgr = region.rgba[:, :, 2::-1].astype(np.float32) * alpha
    return PlaneBlend.premultiplied(region.x, region.y, bgr, np.broadcast_to(alpha, bgr.shape), region.opaque)


def i420_planes(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an (H*3/2, W) I420 buffer (``to_ndarray("yuv420p")``)."""
    if buf.dtype != np.uint8 or buf.ndim != 2 or buf.shape[0] % 3 or buf.shape[1] % 2:
        raise ValueError(f"expected an (H*3/2, W) uint8 I420 buffer with even W and H, got {buf.dtype} {buf.shape}")
    if not buf.flags.c_contiguous:
        raise ValueError("the I420 buffer must be C-contiguous to be composed in place")
    height, width = buf.shape[0] * 2 // 3, buf.shape[1]
    if height % 2:
        raise ValueError(f"I420 frame height must be even, got {height}")
    flat = buf.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    y = flat[:luma].reshape(height, width)
    u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
    v = flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2)
    return y, u, v


def check_bgr(frame: np.ndarray) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame.dtype} {frame.shape}")
