// Exact variogram pair sums, many images per dispatch.
//
// The host packs the bands of many frames into `pixels`, each frame once however many regions
// it has: two 16-bit stored values per word, or four bytes when all of a frame's values fit one
// (half the upload), the first value in the lowest bits. It cuts each region's rows in a band
// into tiles of whole rows. A tile reads its region's columns of the band's rows.
// Workgroup (x, y) sums the pairs of tile x at one lag in one direction: y < max_lag is
// horizontal lag y + 1, the rest vertical lag y - max_lag + 1. A pair belongs to the tile holding
// its first (left or upper) pixel, so every pair is counted by exactly one workgroup.
//
// WGSL has no 64-bit integers. A squared 16-bit difference fits a u32 (65535² < 2³²) but two of
// them may not, so every running sum is a (lo, hi) pair of u32 with the carry propagated by hand.
// Each workgroup writes its partial sum and pair count; the host adds partials in u64.
//
// A 16-bit tile is summed a pair at a time, a byte tile four pairs at a time: the four bytes
// of each pixel and of its partner, one word each, give the four squares from three packed dot
// products (`dot4U8Packed`: the DP4A instruction where the device has one; naga writes it out
// in plain integer operations where it has not).
//
// A masked tile (a region that is not a whole rectangle) counts a pair only when both pixels'
// bits in `inside` are set; each region has its own mask bits, row by row over its columns. The
// test is arithmetic (a square times 0 or 1, a byte ANDed with 0 or 0xff), and a tile is masked
// or not, and 16-bit or bytes, as a whole, so the branches on them are uniform across the
// workgroup.

const WORKGROUP: u32 = 256u;

struct Params {
    max_lag: u32,
    tile_count: u32,
}

// One tile: columns [left, left + cols) of band rows [first_row, first_row + row_count), in a
// band `stride` pixels wide whose pixels start at word `word_offset`, 2^pixel_shift of them a
// word. Vertical partners lie above band row `rows_end`. The mask bit of (first_row, left) is
// `mask_base`.
struct Tile {
    word_offset: u32,
    stride: u32,
    left: u32,
    cols: u32,
    first_row: u32,
    row_count: u32,
    rows_end: u32,
    mask_base: u32,
    masked: u32,
    pixel_shift: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> tiles: array<Tile>;
// (sum lo, sum hi, pair count, unused) per workgroup, at y * tile_count + x.
@group(0) @binding(3) var<storage, read_write> partials: array<vec4<u32>>;
// The regions' mask bits: bit i of word j is bit 32 j + i; 1 is inside.
@group(0) @binding(4) var<storage, read> inside: array<u32>;

var<workgroup> sum_lo: array<u32, WORKGROUP>;
var<workgroup> sum_hi: array<u32, WORKGROUP>;
var<workgroup> count: array<u32, WORKGROUP>;

// The stored value of 16-bit pixel `i` of the band starting at word `base`.
fn pixel(base: u32, i: u32) -> u32 {
    let word = pixels[base + (i >> 1u)];
    return (word >> ((i & 1u) * 16u)) & 0xffffu;
}

// The four bytes of a byte band from pixel `i`, the first in the lowest bits: the word that
// holds pixel `i` and the next, shifted together. Where the next lies past the band, the bytes
// it gives belong to lanes past the tile's columns, which the caller masks off; past the
// buffer, wgpu's bounds checks keep the read inside it.
fn four(base: u32, i: u32) -> u32 {
    let word = base + (i >> 2u);
    let shift = (i & 3u) * 8u;
    // A shift by 32 would be one by 0, so a word-aligned `i` takes nothing from the next word.
    let next = select(pixels[word + 1u] << (32u - shift), 0u, shift == 0u);
    return (pixels[word] >> shift) | next;
}

// 1 when mask bit `bit` is set, else 0.
fn is_inside(bit: u32) -> u32 {
    return (inside[bit >> 5u] >> (bit & 31u)) & 1u;
}

// Mask bits `bit` to `bit + 3`, the first in bit 0, as `four` reads bytes.
fn four_inside(bit: u32) -> u32 {
    let word = bit >> 5u;
    let shift = bit & 31u;
    let next = select(inside[word + 1u] << (32u - shift), 0u, shift == 0u);
    return ((inside[word] >> shift) | next) & 0xfu;
}

// A running sum of squares as (lo, hi) words, with the carry propagated by hand, and the pairs.
struct Sums {
    lo: u32,
    hi: u32,
    n: u32,
}

fn add(s: Sums, sq: u32, pairs: u32) -> Sums {
    let lo = s.lo + sq;
    return Sums(lo, s.hi + u32(lo < sq), s.n + pairs);
}

// Where one lag's pairs lie in a tile: the partner's offset in pixels and in mask bits, and the
// first pixel's columns and band rows.
struct Lag {
    partner: u32,
    partner_bit: u32,
    col_end: u32,
    row_end: u32,
}

// A 16-bit tile: a pair a pixel, each invocation taking every 256th column.
fn sum_halves(tile: Tile, lag: Lag, lid: u32) -> Sums {
    var s = Sums(0u, 0u, 0u);
    for (var r = tile.first_row; r < lag.row_end; r++) {
        let row = r * tile.stride + tile.left;
        let bits = tile.mask_base + (r - tile.first_row) * tile.cols;
        for (var c = lid; c < lag.col_end; c += WORKGROUP) {
            let a = pixel(tile.word_offset, row + c);
            let b = pixel(tile.word_offset, row + c + lag.partner);
            var both = 1u;
            if tile.masked != 0u {
                both = is_inside(bits + c) & is_inside(bits + c + lag.partner_bit);
            }
            let d = max(a, b) - min(a, b);
            s = add(s, d * d * both, both);
        }
    }
    return s;
}

// A byte tile: four pairs at a time, each invocation taking every 1024th column and the three
// after it. With the bytes outside the mask (or past the columns) zeroed in both words,
// Σ (a − b)² over the four is a·a + b·b − 2 a·b, three packed dot products (DP4A where the
// device has it), each at most 4 · 255², so the sum is exact in a u32.
fn sum_bytes(tile: Tile, lag: Lag, lid: u32) -> Sums {
    var s = Sums(0u, 0u, 0u);
    for (var r = tile.first_row; r < lag.row_end; r++) {
        let row = r * tile.stride + tile.left;
        let bits = tile.mask_base + (r - tile.first_row) * tile.cols;
        for (var c = 4u * lid; c < lag.col_end; c += 4u * WORKGROUP) {
            let lanes = min(4u, lag.col_end - c);
            var keep = 0xffffffffu >> (32u - 8u * lanes);
            var pairs = lanes;
            if tile.masked != 0u {
                let both = four_inside(bits + c) & four_inside(bits + c + lag.partner_bit);
                let marked = both & ((1u << lanes) - 1u);
                // Bit i of `marked` to 0xff in byte i: four copies 7 bits apart put bit i at
                // bit 8 i, with no carries between them.
                keep = ((marked * 0x204081u) & 0x01010101u) * 0xffu;
                pairs = countOneBits(marked);
            }
            let a = four(tile.word_offset, row + c) & keep;
            let b = four(tile.word_offset, row + c + lag.partner) & keep;
            let sq = dot4U8Packed(a, a) + dot4U8Packed(b, b) - 2u * dot4U8Packed(a, b);
            s = add(s, sq, pairs);
        }
    }
    return s;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tile = tiles[group.x];
    let vertical = group.y >= params.max_lag;
    let k = select(group.y + 1u, group.y - params.max_lag + 1u, vertical);

    // Loop bounds that keep both pixels of every pair inside the region's box, so the loop body
    // needs no test: horizontally the first pixel stops k columns short of its right edge,
    // vertically k rows short of its last row.
    var lag = Lag(k, k, select(0u, tile.cols - k, tile.cols > k), tile.first_row + tile.row_count);
    if vertical {
        lag.partner = k * tile.stride;
        lag.partner_bit = k * tile.cols;
        lag.col_end = tile.cols;
        lag.row_end = min(lag.row_end, select(0u, tile.rows_end - k, tile.rows_end > k));
    }

    // A tile's width is the same across its workgroup, so this branch is uniform.
    var s: Sums;
    if tile.pixel_shift == 2u {
        s = sum_bytes(tile, lag, lid);
    } else {
        s = sum_halves(tile, lag, lid);
    }
    let lo = s.lo;
    let hi = s.hi;
    let n = s.n;

    sum_lo[lid] = lo;
    sum_hi[lid] = hi;
    count[lid] = n;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride >>= 1u) {
        if lid < stride {
            let a = sum_lo[lid];
            let total = a + sum_lo[lid + stride];
            sum_hi[lid] += sum_hi[lid + stride] + u32(total < a);
            sum_lo[lid] = total;
            count[lid] += count[lid + stride];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        partials[group.y * params.tile_count + group.x] = vec4<u32>(sum_lo[0], sum_hi[0], count[0], 0u);
    }
}
