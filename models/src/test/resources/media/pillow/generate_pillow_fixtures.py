#!/usr/bin/python3
"""One-off generator of the Pillow BICUBIC fixtures used by ImagePreprocessorTest.

Run with Debian's Pillow (apt-get install -y python3-pil python3-numpy; /usr/bin/python3):
    /usr/bin/python3 generate_pillow_fixtures.py
It writes <name>.png (the 384x384 RGB output of Image.resize((384, 384), Image.BICUBIC)) for each case and
fixtures.txt (name, pattern, input width and height, SHA-256 of the output's raw RGB bytes, Pillow version).
The inputs are not stored: both this script and the Java test compute them from the integer formulas below.
"""
import hashlib
import numpy as np
from PIL import Image
import PIL

CASES = [
    # name, pattern, width, height
    ("up_noise_50x37", "noise", 50, 37),
    ("down_scene_1000x600", "scene", 1000, 600),
    ("mixed_scene_640x200", "scene", 640, 200),
    ("vertical_only_scene_384x1000", "scene", 384, 1000),
    ("tiny_noise_3x2", "noise", 3, 2),
    ("down_gradient_1920x1080", "gradient", 1920, 1080),
]


def noise(x, y, c):
    return ((x * x * 31 + y * 17 + x * y * 7 + c * 101) * 2654435761 >> 13) & 0xFF


def gradient(x, y, c, w, h):
    if c == 0:
        return x * 255 // (w - 1)
    if c == 1:
        return y * 255 // (h - 1)
    return (x + y) * 255 // (w + h - 2)


def scene(x, y, c, w, h):
    v = gradient(x, y, c, w, h) + (noise(x, y, c) & 31) - 16
    v = min(255, max(0, v))
    if x < w // 3 and ((x // 16 + y // 16) % 2 == 0):
        v = 255 if c != 1 else 0
    return v


def make(pattern, w, h):
    x = np.arange(w, dtype=np.int64)[None, :, None]
    y = np.arange(h, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    n = ((x * x * 31 + y * 17 + x * y * 7 + c * 101) * 2654435761 >> 13) & 0xFF
    gx = np.broadcast_to(x * 255 // (w - 1), (h, w, 1))
    gy = np.broadcast_to(y * 255 // (h - 1), (h, w, 1))
    gxy = (x + y) * 255 // (w + h - 2)
    g = np.concatenate([gx, gy, np.broadcast_to(gxy, (h, w, 1))], axis=2)
    if pattern == "noise":
        a = n
    elif pattern == "gradient":
        a = g
    else:
        a = np.clip(g + (n & 31) - 16, 0, 255)
        check = ((x < w // 3) & (((x // 16) + (y // 16)) % 2 == 0))  # [h, w, 1]
        check = np.broadcast_to(check, (h, w, 3))
        sat = np.broadcast_to(np.where(c == 1, 0, 255), (h, w, 3))
        a = np.where(check, sat, a)
    a = np.broadcast_to(a, (h, w, 3)).astype(np.uint8)
    # spot-check the vectorised formula against the scalar one
    for (px, py, pc) in [(0, 0, 0), (w - 1, h - 1, 2), (w // 2, h // 3, 1)]:
        ref = {"noise": noise(px, py, pc), "gradient": gradient(px, py, pc, w, h),
               "scene": scene(px, py, pc, w, h)}[pattern]
        assert a[py, px, pc] == ref, (pattern, px, py, pc, a[py, px, pc], ref)
    return a


def main():
    lines = ["# name pattern width height sha256(raw 384x384x3 RGB output)  pillow=" + PIL.__version__]
    for name, pattern, w, h in CASES:
        img = Image.fromarray(make(pattern, w, h), "RGB")
        out = img.resize((384, 384), Image.BICUBIC)
        raw = np.asarray(out, dtype=np.uint8).tobytes()
        out.save(name + ".png", optimize=True)
        lines.append(f"{name} {pattern} {w} {h} {hashlib.sha256(raw).hexdigest()}")
    open("fixtures.txt", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
