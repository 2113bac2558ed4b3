//! The spine's midline: the brightest band of body width running down the image, found as the
//! best path through every row (dynamic programming, so ribs, crests and noise cannot pull it
//! off course for long), then smoothed to a cubic in the row.

use super::work::Work;

/// The midline: column as a cubic in the row, over the rows that hold the spine.
#[derive(Debug, Clone)]
pub(super) struct Midline {
    /// x = c0 + c1·t + c2·t² + c3·t³, t = (y − mid) / half, in work pixels.
    coefficients: [f64; 4],
    mid: f64,
    half: f64,
    /// The first and last work rows that hold data.
    pub first_row: usize,
    pub last_row: usize,
    /// The path's mean ridge contrast: how much brighter the band is than beside it.
    pub contrast: f64,
}

/// Half the band's width, mm: narrower than any lumbar body, so the band lies inside one.
const HALF_BAND_MM: f64 = 14.0;

/// A row's share of blocks with data below which it is fill, not image.
const MIN_COVERAGE: f64 = 0.2;

impl Midline {
    /// The midline of `work`, or `None` where no rows hold data.
    pub fn find(work: &Work) -> Option<Midline> {
        let image = |&r: &usize| work.row_coverage(r) >= MIN_COVERAGE;
        let first_row = (0..work.rows).find(image)?;
        let last_row = (first_row..work.rows).rfind(image)?;
        let half = work.px(HALF_BAND_MM).round().max(1.0) as usize;
        let ridge = Ridge::of(work, first_row..=last_row, half);
        // The path keeps the band and the bands beside it inside the image.
        let path = best_path(&ridge)?;
        let contrast = path
            .iter()
            .zip(ridge.rows())
            .map(|(&i, row)| row[i])
            .sum::<f64>()
            / path.len() as f64;
        let points: Vec<(f64, f64)> = path
            .iter()
            .enumerate()
            .map(|(i, &c)| ((first_row + i) as f64 + 0.5, (c + 3 * half) as f64 + 0.5))
            .collect();
        let (mid, span) = (
            (first_row + last_row + 1) as f64 / 2.0,
            ((last_row + 1 - first_row) as f64 / 2.0).max(1.0),
        );
        Some(Midline {
            coefficients: cubic_fit(&points, mid, span),
            mid,
            half: span,
            first_row,
            last_row,
            contrast,
        })
    }

    /// The same line in the coordinates of an image `k` times finer.
    pub fn finer(&self, k: usize) -> Midline {
        let f = k as f64;
        Midline {
            coefficients: self.coefficients.map(|c| c * f),
            mid: self.mid * f,
            half: self.half * f,
            first_row: self.first_row * k,
            last_row: self.last_row * k + k - 1,
            contrast: self.contrast,
        }
    }

    /// The midline's column at continuous row y.
    pub fn x(&self, y: f64) -> f64 {
        let t = (y - self.mid) / self.half;
        let [a, b, c, d] = self.coefficients;
        a + t * (b + t * (c + t * d))
    }

    /// dx/dy at row y.
    pub fn slope(&self, y: f64) -> f64 {
        let t = (y - self.mid) / self.half;
        let [_, b, c, d] = self.coefficients;
        (b + t * (2.0 * c + t * 3.0 * d)) / self.half
    }

    /// The line across the spine where the midline crosses row y, made once for all the
    /// samples taken along it.
    pub fn across(&self, y: f64) -> Across {
        let s = self.slope(y);
        let n = (1.0 + s * s).sqrt();
        Across {
            origin: (self.x(y), y),
            unit: (1.0 / n, -s / n),
        }
    }
}

/// A line across the spine: from the midline, square to it, towards increasing x.
pub(super) struct Across {
    origin: (f64, f64),
    unit: (f64, f64),
}

impl Across {
    /// The point `t` work pixels along the line from the midline.
    pub fn point(&self, t: f64) -> (f64, f64) {
        (
            self.origin.0 + t * self.unit.0,
            self.origin.1 + t * self.unit.1,
        )
    }
}

/// The ridge contrast of a run of rows, row by row: on each row, of each column at least
/// `3 · half` from either edge (the searched columns), the mean of the band `half` either
/// side less the mean of the bands beside it, each `2 · half` wide. Blocks without data
/// count as dark.
struct Ridge {
    /// Searched columns per row.
    width: usize,
    values: Vec<f64>,
}

/// Rows whose running sums are taken side by side: each is a serial chain of additions, and
/// four chains keep the adder busy where one would wait on each sum.
const CHAINS: usize = 4;

impl Ridge {
    fn of(work: &Work, rows: std::ops::RangeInclusive<usize>, half: usize) -> Ridge {
        let searched = 3 * half..work.cols.saturating_sub(3 * half);
        let width = searched.len();
        let rows: Vec<usize> = rows.collect();
        let mut values = Vec::with_capacity(rows.len() * width);
        // The running sums of CHAINS rows, column by column: prefix[c][i] is row i's sum of
        // its first c blocks.
        let mut prefix = vec![[0.0f64; CHAINS]; work.cols + 1];
        let (band, sides) = (1.0 / (2 * half + 1) as f64, 1.0 / (4 * half) as f64);
        for group in rows.chunks(CHAINS) {
            let lines: [&[f32]; CHAINS] =
                std::array::from_fn(|i| work.row(group[i.min(group.len() - 1)]));
            let mut total = [0.0f64; CHAINS];
            for (c, sums) in prefix[1..].iter_mut().enumerate() {
                for (t, line) in total.iter_mut().zip(&lines) {
                    let v = line[c];
                    *t += if v.is_nan() { 0.0 } else { f64::from(v) };
                }
                *sums = total;
            }
            // Row `lane` of the group at column c, from its running sums.
            let contrast = |lane: usize, c: usize| {
                let sum = |at: usize| prefix[at][lane];
                let (outer_left, left) = (sum(c - 3 * half), sum(c - half));
                let (right, outer_right) = (sum(c + half + 1), sum(c + 3 * half + 1));
                (right - left) * band - (left - outer_left + outer_right - right) * sides
            };
            for lane in 0..group.len() {
                values.extend(searched.clone().map(|c| contrast(lane, c)));
            }
        }
        Ridge { width, values }
    }

    fn rows(&self) -> std::slice::ChunksExact<'_, f64> {
        self.values.chunks_exact(self.width.max(1))
    }
}

/// The path down the rows, a column index into each row of `ridge`, with the most ridge
/// contrast, moving at most one column per row (45°) at a small cost per step. Ties go to
/// the step leftward, then straight on.
fn best_path(ridge: &Ridge) -> Option<Vec<usize>> {
    const STEP_COST: f64 = 0.01;
    let width = ridge.width;
    let mut rows = ridge.rows();
    let first = rows.next().filter(|_| width > 0)?;
    // The scores so far between two columns that cannot be reached, so that every column has
    // a left and a right neighbour and the loop needs no branches.
    let mut score = vec![f64::NEG_INFINITY; width + 2];
    score[1..=width].copy_from_slice(first);
    let mut next = score.clone();
    // Each row's step into each column: 0 from the left, 1 straight down, 2 from the right.
    let mut from = vec![1u8; width * rows.len()];
    for (row, back) in rows.zip(from.chunks_exact_mut(width)) {
        let neighbours = score.iter().zip(&score[1..]).zip(&score[2..]);
        let cells = next[1..=width].iter_mut().zip(back.iter_mut()).zip(row);
        for (((slot, step), &gain), ((&left, &stay), &right)) in cells.zip(neighbours) {
            let (left, right) = (left - STEP_COST, right - STEP_COST);
            let leftward = left >= stay;
            let best = if leftward { left } else { stay };
            let rightward = right > best;
            *slot = if rightward { right } else { best } + gain;
            *step = if rightward { 2 } else { u8::from(!leftward) };
        }
        std::mem::swap(&mut score, &mut next);
    }
    let score = &score[1..=width];
    let mut at = score
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?
        .0;
    let mut path = vec![at];
    for back in from.chunks_exact(width).rev() {
        at = (at + usize::from(back[at])) - 1;
        path.push(at);
    }
    path.reverse();
    Some(path)
}

/// Least-squares cubic x(t) through (y, x) points, t = (y − mid) / half; a constant where
/// the points cannot fix a cubic.
fn cubic_fit(points: &[(f64, f64)], mid: f64, half: f64) -> [f64; 4] {
    let scaled: Vec<(f64, f64)> = points.iter().map(|&(y, x)| ((y - mid) / half, x)).collect();
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64;
    match polynomial(&scaled, 3).as_deref() {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => [mean, 0.0, 0.0, 0.0],
    }
}

/// The least-squares polynomial of `degree` through (t, x) points, lowest power first: the
/// normal equations solved by Gaussian elimination with partial pivoting. `None` when the
/// points do not determine it.
pub(super) fn polynomial(points: &[(f64, f64)], degree: usize) -> Option<Vec<f64>> {
    let size = degree + 1;
    let mut m = vec![vec![0.0f64; size + 1]; size];
    for &(t, x) in points {
        let powers: Vec<f64> = (0..size).map(|k| t.powi(k as i32)).collect();
        for i in 0..size {
            for j in 0..size {
                m[i][j] += powers[i] * powers[j];
            }
            m[i][size] += powers[i] * x;
        }
    }
    for col in 0..size {
        let pivot = (col..size).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Some((0..size).map(|i| m[i][size] / m[i][i]).collect())
}
