#!/usr/bin/env python3
"""The peer: TBS as a researcher would script it today with pydicom and numpy.

Walks the given directories, reads each DICOM file with pydicom, computes the variogram of the
stored pixel values with numpy (vectorised over the whole image, one array expression per lag
and direction), fits the log-log slope, and writes `path,tbs` to stdout. One worker process
per core, as `multiprocessing` makes easy. Same definition as tbs-batch: lags 1..=16 in both
directions, pooled, least-squares slope of ln V(k) on ln k over lags 1..=4.

    python3 benches/peer/tbs_peer.py [--max-lag N] DIR [DIR ...] > peer.csv
"""
import argparse
import csv
import math
import os
import sys
from multiprocessing import Pool

import numpy as np
import pydicom

FIT_LAGS = range(1, 5)


def tbs(job):
    path, max_lag = job
    image = pydicom.dcmread(path).pixel_array.astype(np.int64)
    variogram = []
    for k in range(1, max_lag + 1):
        across = image[:, k:] - image[:, :-k]
        down = image[k:, :] - image[:-k, :]
        total = int((across * across).sum()) + int((down * down).sum())
        variogram.append(total / (across.size + down.size))
    x = np.log(np.array(FIT_LAGS, dtype=float))
    y = np.log(np.array([variogram[k - 1] for k in FIT_LAGS]))
    slope = np.polyfit(x, y, 1)[0]
    return path, slope


def files(roots):
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            for name in sorted(names):
                if name.endswith(".dcm"):
                    yield os.path.join(folder, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lag", type=int, default=16)
    parser.add_argument("roots", nargs="+")
    args = parser.parse_args()
    out = csv.writer(sys.stdout)
    out.writerow(["path", "tbs"])
    jobs = ((path, args.max_lag) for path in files(args.roots))
    with Pool(os.cpu_count()) as pool:
        for path, slope in pool.imap(tbs, jobs, chunksize=4):
            out.writerow([path, repr(float(slope)) if math.isfinite(slope) else ""])


if __name__ == "__main__":
    main()
