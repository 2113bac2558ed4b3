#!/usr/bin/env bash
# Regenerates datasets/sample/ byte for byte (every phantom is seeded).
# Usage: bash datasets/make-sample.sh   (from the repository root)
set -euo pipefail
bin=(cargo run --release --quiet --)
out=datasets/sample
rm -rf "$out"
mkdir -p "$out/site-a" "$out/site-b" "$out/broken"

# An export shaped like a GE Lunar iDXA AP-spine CR file: 8-bit, implicit VR LE, 780 x 716,
# display-processed (zero background, 252 saturated fill), no pixel spacing.
"${bin[@]}" phantom "$out/site-a" --display --rows 716 --cols 780 --hurst 0.55 --syntax implicit-le --seed 101

# Raw 12-bit research exports of known texture in four transfer syntaxes.
"${bin[@]}" phantom "$out/site-b" --hurst 0.3 --syntax explicit-le --seed 201
"${bin[@]}" phantom "$out/site-b" --hurst 0.45 --syntax rle --seed 202
"${bin[@]}" phantom "$out/site-b" --hurst 0.6 --syntax jpeg-ls --seed 203
"${bin[@]}" phantom "$out/site-b" --hurst 0.75 --syntax deflated --seed 204

# A signed 16-bit, two-frame file in (retired) explicit VR big endian.
"${bin[@]}" phantom "$out/site-b" --hurst 0.5 --bits 16 --signed --frames 2 --syntax explicit-be --seed 205

# Inputs that must not stop a batch: a truncated file (an error row) and a text file (skipped).
"${bin[@]}" phantom "$out/broken" --hurst 0.5 --syntax explicit-le --seed 301
head -c 60000 "$out/broken/fbm-h0.50-12bit-explicit-le.dcm" > "$out/broken/truncated.dcm"
rm "$out/broken/fbm-h0.50-12bit-explicit-le.dcm"
printf 'scan notes: not a DICOM file\n' > "$out/broken/notes.txt"

# Synthetic AP-spine images, L1-L4 of known texture (H 0.25, 0.4, 0.55, 0.7), with their
# region sidecar: the README's --roi example.
rm -rf datasets/spine
"${bin[@]}" spine datasets/spine --seed 1,2

# A cohort delivery shaped like UK Biobank's DXA field: three visit archives of eight GE iDXA
# exports each, told apart by Protocol Name, and rois.csv with the AP spines' true L1-L4
# outlines, naming their archive members.
rm -rf datasets/delivery
"${bin[@]}" delivery datasets/delivery --visits 3 --seed 1
