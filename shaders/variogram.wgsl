// Exact variogram pair sums, many images per dispatch.
//
// The host packs the bands of many images into `pixels` (two 16-bit stored values per word, the
// lower half first) and cuts each band into tiles of whole rows. Workgroup (x, y) sums the pairs
// of tile x at one lag in one direction: y < max_lag is horizontal lag y + 1, the rest vertical
// lag y - max_lag + 1. A pair belongs to the tile holding its first (left or upper) pixel, so every
// pair is counted by exactly one workgroup.
//
// WGSL has no 64-bit integers. A squared 16-bit difference fits a u32 (65535² < 2³²) but two of
// them may not, so every running sum is a (lo, hi) pair of u32 with the carry propagated by hand.
// Each workgroup writes its partial sum and pair count; the host adds partials in u64.
//
// A masked tile (a region that is not a whole rectangle) counts a pair only when both pixels'
// bits in `inside` are set; the bits sit at the pixels' indices in the batch. The test is
// arithmetic (a square times 0 or 1), and a tile is masked or not as a whole, so the branch on
// it is uniform across the workgroup.

const WORKGROUP: u32 = 256u;

struct Params {
    max_lag: u32,
    tile_count: u32,
}

// One tile: rows [first_row, first_row + row_count) of a band of `band_rows` rows, `cols` wide,
// whose pixels start at word `word_offset`. Vertical partners may lie anywhere in the band.
struct Tile {
    word_offset: u32,
    cols: u32,
    band_rows: u32,
    first_row: u32,
    row_count: u32,
    masked: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> tiles: array<Tile>;
// (sum lo, sum hi, pair count, unused) per workgroup, at y * tile_count + x.
@group(0) @binding(3) var<storage, read_write> partials: array<vec4<u32>>;
// One bit per pixel of the batch, bit i of word j for pixel 32 j + i; 1 is inside.
@group(0) @binding(4) var<storage, read> inside: array<u32>;

var<workgroup> sum_lo: array<u32, WORKGROUP>;
var<workgroup> sum_hi: array<u32, WORKGROUP>;
var<workgroup> count: array<u32, WORKGROUP>;

// The stored value of pixel `i` of the band starting at word `base`.
fn pixel(base: u32, i: u32) -> u32 {
    let word = pixels[base + (i >> 1u)];
    return (word >> ((i & 1u) * 16u)) & 0xffffu;
}

// 1 when pixel `i` of the band starting at word `base` is inside its region, else 0.
fn is_inside(base: u32, i: u32) -> u32 {
    let bit = base * 2u + i;
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

    // Loop bounds that keep both pixels of every pair inside the band, so the loop body needs no
    // test: horizontally the first pixel stops k columns short of the edge, vertically k rows.
    var partner = k;
    var col_end = select(0u, tile.cols - k, tile.cols > k);
    var row_end = tile.first_row + tile.row_count;
    if vertical {
        partner = k * tile.cols;
        col_end = tile.cols;
        row_end = min(row_end, select(0u, tile.band_rows - k, tile.band_rows > k));
    }

    var lo = 0u;
    var hi = 0u;
    var n = 0u;
    for (var r = tile.first_row; r < row_end; r++) {
        let row = r * tile.cols;
        for (var c = lid; c < col_end; c += WORKGROUP) {
            let a = pixel(tile.word_offset, row + c);
            let b = pixel(tile.word_offset, row + c + partner);
            var both = 1u;
            if tile.masked != 0u {
                both = is_inside(tile.word_offset, row + c) & is_inside(tile.word_offset, row + c + partner);
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
