"""Recompute tbs-batch's variogram sums with an independent decoder and an independent sum.

Usage: python3 tests/independent/variogram.py VARIOGRAM_CSV [--results RESULTS_CSV]
           [--roi SIDECAR] [--extremes auto|exclude|keep]

For every (path, frame, roi) in the CSV written by `tbs-batch --variogram`, the file is decoded
with pydicom (its own parsers and codec plugins, nothing shared with tbs-batch), the stored
values are recovered as DICOM defines them (Bits Stored wide, ending at High Bit, sign extended
when Pixel Representation is 1), and the pair counts and sums of squared differences are
recomputed with numpy in 64-bit integers over the pairs whose two pixels are inside the region.
Every number must match exactly.

Regions are rebuilt from the sidecar here, by other means than tbs-batch's: a rectangle is a
slice, a polygon a crossing-number test of every pixel centre against every edge, a mask a PNG
read with Pillow. `--extremes` leaves out the pixels at the frame's minimum and maximum value
(`auto`: when Bits Stored <= 8), as tbs-batch does. The pooled `L1-L4` sums must equal the sum
of the independent sums of the vertebrae the results CSV says were pooled.

Prints one line per mismatch, then `N passed, M failed`; exits 1 on any failure or when
nothing was checked.
"""

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import PurePath

import numpy as np
import pydicom


def stored_values(ds):
    """The frames' stored integers as int64, shape (frames, rows, cols)."""
    # pydicom would mask native data itself, but by shifting by Bits Allocated - Bits Stored,
    # which assumes High Bit = Bits Stored - 1 and wipes the field when it sits lower. Take the
    # containers as decoded and derive the stored values from the attributes here instead.
    ds.pixel_array_options(correct_unused_bits=False)
    arr = ds.pixel_array.astype(np.int64)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    arr = arr.reshape(frames, ds.Rows, ds.Columns)
    bits_stored = int(ds.BitsStored)
    high_bit = int(getattr(ds, "HighBit", bits_stored - 1))
    shift = high_bit + 1 - bits_stored
    raw = arr & ((1 << int(ds.BitsAllocated)) - 1)
    value = (raw >> shift) & ((1 << bits_stored) - 1)
    if int(ds.PixelRepresentation) == 1:
        value = np.where(value >= (1 << (bits_stored - 1)), value - (1 << bits_stored), value)
    return value


def sums(image, inside, direction, lag):
    """(pairs, sum of squared differences) for one lag and direction, both pixels inside."""
    rows, cols = image.shape
    if direction == "h":
        if lag >= cols:
            return 0, 0
        d = image[:, lag:] - image[:, :-lag]
        both = inside[:, lag:] & inside[:, :-lag]
    else:
        if lag >= rows:
            return 0, 0
        d = image[lag:, :] - image[:-lag, :]
        both = inside[lag:, :] & inside[:-lag, :]
    return int(both.sum()), int((d * d * both).sum())


def polygon_mask(vertices, rows, cols):
    """Pixels whose centre is inside the polygon, by the crossing number of a ray to +x."""
    cy, cx = np.mgrid[0:rows, 0:cols] + 0.5
    inside = np.zeros((rows, cols), dtype=bool)
    for (x0, y0), (x1, y1) in zip(vertices, vertices[1:] + vertices[:1]):
        if y0 == y1:
            continue
        spans = (y0 <= cy) != (y1 <= cy)
        x_at = x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
        inside ^= spans & (cx < x_at)
    return inside


def region_mask(line, sidecar_dir, rows, cols):
    if line.get("polygon"):
        vertices = [tuple(float(n) for n in v.split()) for v in line["polygon"].split(";") if v.strip()]
        return polygon_mask(vertices, rows, cols)
    if line.get("mask"):
        from PIL import Image
        img = np.asarray(Image.open(os.path.join(sidecar_dir, line["mask"])))
        if img.ndim == 3:
            img = img[..., 0]
        return img != 0
    x, y, w, h = (int(line[k]) for k in ("x", "y", "width", "height"))
    inside = np.zeros((rows, cols), dtype=bool)
    inside[y:y + h, x:x + w] = True
    return inside


def sidecar_lines(path):
    if not path:
        return []
    with open(path, newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def line_for(lines, file, uid, frame, roi):
    for line in lines:
        if line.get("roi") != roi or int(line.get("frame") or 1) != frame:
            continue
        p = line.get("path", "")
        if p:
            want = PurePath(p)
            parts = PurePath(file).parts
            if p == file or (not want.is_absolute() and parts[len(parts) - len(want.parts):] == want.parts):
                return line
        elif line.get("sop_instance_uid") and line["sop_instance_uid"] == uid:
            return line
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variogram")
    parser.add_argument("--results")
    parser.add_argument("--roi")
    parser.add_argument("--extremes", default="auto", choices=["auto", "exclude", "keep"])
    args = parser.parse_args()
    lines = sidecar_lines(args.roi)
    sidecar_dir = os.path.dirname(os.path.abspath(args.roi)) if args.roi else ""
    pooled_from = {}
    if args.results:
        with open(args.results, newline="") as f:
            for row in csv.DictReader(f):
                if row["roi"] == "L1-L4" and row["status"] == "ok":
                    pooled_from[(row["path"], int(row["frame"]))] = row["vertebrae"].split(";")
    groups = defaultdict(list)
    with open(args.variogram, newline="") as f:
        for row in csv.DictReader(f):
            groups[(row["path"], int(row["frame"]), row["roi"])].append(row)
    passed = failed = 0
    cache = {}
    for (file, frame, roi), rows in groups.items():
        try:
            if file not in cache:
                ds = pydicom.dcmread(file)
                cache = {file: (stored_values(ds), int(ds.BitsStored), str(getattr(ds, "SOPInstanceUID", "")))}
            frames, bits, uid = cache[file]
            image = frames[frame - 1]
        except Exception as e:  # any decoder failure is a failed check, with its reason
            print(f"{file} frame {frame}: cannot decode independently: {' '.join(str(e).split())}")
            failed += 1
            continue
        extremes = np.ones(image.shape, dtype=bool)
        if args.extremes == "exclude" or (args.extremes == "auto" and bits <= 8):
            extremes = (image != image.min()) & (image != image.max())
        if roi == "image":
            parts = [np.ones(image.shape, dtype=bool)]
        elif roi == "L1-L4" and (file, frame) in pooled_from:
            parts = [region_mask(line_for(lines, file, uid, frame, v), sidecar_dir, *image.shape)
                     for v in pooled_from[(file, frame)]]
        else:
            line = line_for(lines, file, uid, frame, roi)
            if line is None:
                print(f"{file} frame {frame}: no sidecar line for roi {roi!r}")
                failed += 1
                continue
            parts = [region_mask(line, sidecar_dir, *image.shape)]
        bad = []
        for r in rows:
            want = [sums(image, m & extremes, r["direction"], int(r["lag"])) for m in parts]
            want = (sum(w[0] for w in want), sum(w[1] for w in want))
            got = (int(r["pairs"]), int(r["sum_sq"]))
            if want != got:
                bad.append(f"{roi} {r['direction']} lag {r['lag']}: tbs-batch {got}, independent {want}")
        for line in bad:
            print(f"{file} frame {frame}: {line}")
        failed += bool(bad)
        passed += not bad
    print(f"{passed} passed, {failed} failed")
    return 0 if passed and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
