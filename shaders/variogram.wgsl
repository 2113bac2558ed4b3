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
// A masked tile (a region that is not a whole rectangle) counts a pair only when both pixels'
// bits in `inside` are set; each region has its own mask bits, row by row over its columns. The
// test is arithmetic (a square times 0 or 1), and a tile is masked or not as a whole, so the
// branch on it is uniform across the workgroup.

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

// The stored value of pixel `i` of the band starting at word `base`, 2^shift values a word.
// The same arithmetic serves both widths, so a batch mixing them needs no branch.
fn pixel(base: u32, i: u32, shift: u32) -> u32 {
    let word = pixels[base + (i >> shift)];
    let bits = 32u >> shift;
    let lane = i & ((1u << shift) - 1u);
    return (word >> (lane * bits)) & ((1u << bits) - 1u);
}

// 1 when mask bit `bit` is set, else 0.
fn is_inside(bit: u32) -> u32 {
    return (inside[bit >> 5u] >> (bit & 31u)) & 1u;
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
    var partner = k;
    var partner_bit = k;
    var col_end = select(0u, tile.cols - k, tile.cols > k);
    var row_end = tile.first_row + tile.row_count;
    if vertical {
        partner = k * tile.stride;
        partner_bit = k * tile.cols;
        col_end = tile.cols;
        row_end = min(row_end, select(0u, tile.rows_end - k, tile.rows_end > k));
    }

    var lo = 0u;
    var hi = 0u;
    var n = 0u;
    for (var r = tile.first_row; r < row_end; r++) {
        let row = r * tile.stride + tile.left;
        let bits = tile.mask_base + (r - tile.first_row) * tile.cols;
        for (var c = lid; c < col_end; c += WORKGROUP) {
            let a = pixel(tile.word_offset, row + c, tile.pixel_shift);
            let b = pixel(tile.word_offset, row + c + partner, tile.pixel_shift);
            var both = 1u;
            if tile.masked != 0u {
                both = is_inside(bits + c) & is_inside(bits + c + partner_bit);
            }
            let d = max(a, b) - min(a, b);
            let sq = d * d * both;
            lo += sq;
            hi += u32(lo < sq);
            n += both;
        }
    }

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
