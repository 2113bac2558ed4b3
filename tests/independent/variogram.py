"""Recompute tbs-batch's variogram sums with an independent decoder and an independent sum.

Usage: python3 tests/independent/variogram.py VARIOGRAM_CSV

For every (path, frame, roi=image) in the CSV written by `tbs-batch --variogram`, the file is
decoded with pydicom (its own parsers and codec plugins, nothing shared with tbs-batch), the
stored values are recovered as DICOM defines them (Bits Stored wide, ending at High Bit, sign
extended when Pixel Representation is 1), and the pair counts and sums of squared differences
are recomputed with numpy in 64-bit integers. Every number must match exactly.

Prints one line per mismatch, then `N passed, M failed`; exits 1 on any failure or when
nothing was checked.
"""

import csv
import sys
from collections import defaultdict

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


def sums(image, direction, lag):
    """(pairs, sum of squared differences) for one lag and direction."""
    rows, cols = image.shape
    if direction == "h":
        if lag >= cols:
            return 0, 0
        d = image[:, lag:] - image[:, :-lag]
    else:
        if lag >= rows:
            return 0, 0
        d = image[lag:, :] - image[:-lag, :]
    return int(d.size), int((d * d).sum())


def main(path):
    groups = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            groups[(row["path"], int(row["frame"]), row["roi"])].append(row)
    passed = failed = 0
    cache = {}
    for (file, frame, roi), rows in groups.items():
        if roi != "image":
            print(f"{file} frame {frame}: roi {roi!r} is not checked here")
            failed += 1
            continue
        try:
            if file not in cache:
                cache = {file: stored_values(pydicom.dcmread(file))}
            image = cache[file][frame - 1]
        except Exception as e:  # any decoder failure is a failed check, with its reason
            print(f"{file} frame {frame}: cannot decode independently: {' '.join(str(e).split())}")
            failed += 1
            continue
        bad = []
        for r in rows:
            want = sums(image, r["direction"], int(r["lag"]))
            got = (int(r["pairs"]), int(r["sum_sq"]))
            if want != got:
                bad.append(f"{r['direction']} lag {r['lag']}: tbs-batch {got}, independent {want}")
        for line in bad:
            print(f"{file} frame {frame}: {line}")
        failed += bool(bad)
        passed += not bad
    print(f"{passed} passed, {failed} failed")
    return 0 if passed and not failed else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
