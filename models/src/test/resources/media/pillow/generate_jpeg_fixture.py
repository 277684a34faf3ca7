#!/usr/bin/python3
"""One-off generator of the JPEG fixture used by ImagePreprocessorTest (Debian's Pillow, /usr/bin/python3).

Writes photo_97x61.jpg (a 'scene' pattern from generate_pillow_fixtures.py, quality 90, Pillow's default 4:2:0),
photo_97x61.decoded.png (what Image.open(...).convert('RGB') gives) and photo_97x61.resized.png (that, resized to
384x384 with BICUBIC): the reference's image path end to end.
"""
from PIL import Image
import numpy as np
from generate_pillow_fixtures import make

Image.fromarray(make("scene", 97, 61), "RGB").save("photo_97x61.jpg", quality=90)
img = Image.open("photo_97x61.jpg").convert("RGB")
img.save("photo_97x61.decoded.png")
img.resize((384, 384), Image.BICUBIC).save("photo_97x61.resized.png", optimize=True)
print(np.asarray(img).shape)
