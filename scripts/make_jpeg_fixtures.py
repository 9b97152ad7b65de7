#!/usr/bin/env python3
"""Makes the JPEG decoder fixtures in tests/fixtures/jpeg/ and their reference decodes.

Every fixture NAME.jpg gets NAME.png beside it: PIL's `Image.open(p).convert("RGB")` (which is
libjpeg-turbo with its default settings), the decode our decoder must match byte for byte.
Fixtures our decoder hands to the fallback decoder get no reference (see FALLBACK).

Sources: crops of `python3-skimage--rocket.jpg` (public domain, SpaceX) from the training
photos, and that photo itself (photo_rocket.jpg, whose reference is stored as the SHA-256 of
its RGB bytes to keep the folder small).

Needs Pillow (the project venv: ~/.cache/pdpaint/venv/bin/python) and, for the samplings and
scan layouts PIL cannot write, cjpeg from libjpeg-turbo (`apt-get install libjpeg-turbo-progs`).

    ~/.cache/pdpaint/venv/bin/python scripts/make_jpeg_fixtures.py [--photo PATH]

With --refs DIR PHOTO..., writes instead PIL's decode of each PHOTO as DIR/NAME.rgb (raw RGB)
with a copy DIR/NAME.jpg, for the ignored test that checks real photos
(`PDPAINT_JPEG_REFS=DIR cargo test --release --test jpeg -- --ignored --nocapture`).
"""

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, features

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "jpeg"
DEFAULT_PHOTO = Path.home() / ".local/share/pdpaint/photos2/train/python3-skimage--rocket.jpg"

# Fixtures our decoder refuses on purpose (the loader falls back to the image crate).
FALLBACK = {"cmyk", "incomplete_progressive", "arithmetic"}


def reference(path):
    return Image.open(path).convert("RGB")


def pil(img, name, **kw):
    p = OUT / f"{name}.jpg"
    img.save(p, "JPEG", **kw)
    return p


def cjpeg(img, name, *args, scans=None):
    p = OUT / f"{name}.jpg"
    with tempfile.TemporaryDirectory() as d:
        ppm = Path(d) / "in.ppm"
        img.save(ppm)
        cmd = ["cjpeg", *args]
        if scans is not None:
            script = Path(d) / "scans.txt"
            script.write_text(scans)
            cmd += ["-scans", str(script)]
        cmd += ["-outfile", str(p), str(ppm)]
        subprocess.run(cmd, check=True)
    return p


def make(photo):
    if shutil.which("cjpeg") is None:
        sys.exit("cjpeg not found: apt-get install libjpeg-turbo-progs")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        if old.suffix in (".jpg", ".png", ".sha256"):
            old.unlink()
    src = Image.open(photo).convert("RGB")
    # The foot of the rocket with the orange lights on the blue dusk: strong colour edges
    # for the chroma upsampling.
    crop = src.crop((290, 340, 386, 420))  # 96×80
    odd_small = src.crop((340, 375, 377, 398))  # 37×23
    odd = src.crop((262, 335, 363, 402))  # 101×67
    tiny = src.crop((358, 392, 361, 397))  # 3×5: chroma 2 samples wide
    made = [
        pil(crop, "q95_444", quality=95, subsampling="4:4:4"),
        pil(crop, "q50_422", quality=50, subsampling="4:2:2"),
        pil(crop, "q75_420", quality=75, subsampling="4:2:0"),
        pil(odd_small, "odd_37x23_420", quality=85, subsampling="4:2:0"),
        pil(odd, "odd_101x67_422", quality=85, subsampling="4:2:2"),
        pil(odd, "odd_101x67_444_progressive", quality=92, subsampling="4:4:4", progressive=True),
        pil(crop.convert("L"), "grey", quality=85),
        pil(odd_small.convert("L"), "grey_37x23_progressive", quality=80, progressive=True),
        pil(crop, "progressive_420", quality=80, subsampling="4:2:0", progressive=True),
        pil(crop, "optimized_420", quality=80, subsampling="4:2:0", optimize=True),
        pil(odd, "restart_blocks_420", quality=80, subsampling="4:2:0", restart_marker_blocks=3),
        pil(odd, "restart_rows_progressive_422", quality=80, subsampling="4:2:2",
            progressive=True, restart_marker_rows=1),
        pil(crop, "adobe_rgb", quality=90, subsampling="4:4:4", keep_rgb=True),
        # Quantisation values over 255: 16-bit DQT tables and an extended sequential frame.
        pil(crop, "sof1_16bit_quant", subsampling="4:2:0",
            qtables=[[300 + 4 * i for i in range(64)], [8] * 64]),
        pil(tiny, "tiny_3x5_420", quality=90, subsampling="4:2:0"),
        pil(src.crop((360, 395, 361, 396)), "tiny_1x1_422", quality=90, subsampling="4:2:2"),
        cjpeg(crop, "cjpeg_440", "-quality", "85", "-sample", "1x2,1x1,1x1"),
        cjpeg(odd, "cjpeg_411", "-quality", "85", "-sample", "4x1,1x1,1x1"),
        cjpeg(odd, "cjpeg_2x2_1x2", "-quality", "85", "-sample", "2x2,1x2,1x2"),
        cjpeg(odd, "cjpeg_2x2_2x1", "-quality", "85", "-sample", "2x2,2x1,2x1"),
        cjpeg(odd_small, "cjpeg_3x1", "-quality", "85", "-sample", "3x1,1x1,1x1"),
        # Sequential, one component per scan, restarts every 5 blocks.
        cjpeg(odd, "cjpeg_noninterleaved_restart", "-quality", "85", "-restart", "5B",
              scans="0;\n1;\n2;\n"),
        # Progressive with spectral selection only (no successive approximation).
        cjpeg(odd, "cjpeg_progressive_spectral", "-quality", "85",
              scans="0,1,2: 0-0, 0, 0;\n0: 1-9, 0, 0;\n0: 10-63, 0, 0;\n1: 1-63, 0, 0;\n"
                    "2: 1-63, 0, 0;\n"),
        # Fallback cases: AC never refined to the last bit (libjpeg smooths these), arithmetic
        # coding, CMYK.
        cjpeg(crop, "incomplete_progressive", "-quality", "85",
              scans="0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 1;\n"),
        cjpeg(crop, "arithmetic", "-quality", "85", "-arithmetic"),
        pil(crop.convert("CMYK"), "cmyk", quality=90),
    ]
    # EXIF orientation 6 (rotate 90° clockwise to view): the reference is what viewers show.
    exif = Image.Exif()
    exif[0x0112] = 6
    made.append(pil(crop, "exif_rotate90", quality=90, exif=exif.tobytes()))

    for p in made:
        name = p.stem
        if name in FALLBACK:
            continue
        ref = reference(p)
        if name == "exif_rotate90":
            from PIL import ImageOps
            ref = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        ref.save(OUT / f"{name}.png", optimize=True)

    shutil.copyfile(photo, OUT / "photo_rocket.jpg")
    rgb = reference(OUT / "photo_rocket.jpg").tobytes()
    (OUT / "photo_rocket.sha256").write_text(hashlib.sha256(rgb).hexdigest() + "\n")

    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"{len(made) + 1} fixtures, {total / 1024:.0f} KiB in {OUT}")
    print("libjpeg-turbo in PIL:", features.version("libjpeg_turbo"))


def refs(out, photos):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        photo = Path(photo)
        shutil.copyfile(photo, out / photo.name)
        im = reference(photo)
        (out / (photo.stem + ".rgb")).write_bytes(im.tobytes())
        print(f"{photo.name}: {im.size[0]}×{im.size[1]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photo", default=str(DEFAULT_PHOTO), help="the photo to crop from")
    ap.add_argument("--refs", metavar="DIR", help="write reference decodes of PHOTOS to DIR")
    ap.add_argument("photos", nargs="*")
    a = ap.parse_args()
    if a.refs:
        refs(a.refs, a.photos)
    else:
        make(a.photo)


if __name__ == "__main__":
    main()
