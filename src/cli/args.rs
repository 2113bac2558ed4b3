//! The command line as clap reads it: every subcommand's flags, their help, their defaults.
//! Library types that a flag names are mirrored here ([`ExtremesArg`], [`SyntaxArg`]), so the
//! library knows nothing of clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cohort::shard::Shard;
use crate::phantom::Syntax;
use crate::pipeline::DEFAULT_MAX_PIXELS;
use crate::region::Extremes;

/// Trabecular Bone Score (variogram slope) of DXA DICOM images, in batch.
///
/// Walks the given files and directories, computes each frame's gray-level variogram with exact
/// integer sums, fits the log-log slope near the origin and streams one CSV row per frame.
#[derive(Debug, Parser)]
#[command(name = "tbs-batch", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write phantom DICOM files with known texture (fractional Brownian surfaces).
    Phantom(PhantomArgs),
    /// Write synthetic AP-spine images (L1-L4 of known textures) and their region sidecar.
    Spine(SpineArgs),
    /// Write synthetic AP spines drawn from anatomy (T12 ribs to iliac crests, tilt, curve,
    /// processes, noise) with L1-L4's true outlines as a polygon sidecar.
    Anatomy(AnatomyArgs),
    /// Write a generated cohort delivery: one zip per visit of eight GE iDXA-like exports
    /// (AP spine, femurs, knees, LVA, total body), with the AP spines' regions in rois.csv.
    Delivery(DeliveryArgs),
    /// Time both engines end to end on a generated cohort and print a table.
    Bench(BenchArgs),
    /// Merge shard results into one file in walk order; report missing and duplicated inputs.
    Merge(MergeArgs),
}

/// Flags of `tbs-batch merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files of the shards (each with its manifest beside it, where there is one).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged results here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the merged cohort's HTML report (as `--report` of a run) from the merged file.
    #[arg(long, value_name = "FILE", requires = "output")]
    pub report: Option<PathBuf>,
}

/// Flags of `tbs-batch spine`.
#[derive(Debug, Args)]
pub struct SpineArgs {
    /// Directory to write into (created if missing): spine-SEED.dcm files and rois.csv.
    pub out: PathBuf,
    /// Hurst exponents of L1, L2, L3, L4's texture.
    #[arg(long = "hurst", value_delimiter = ',', num_args = 1, default_values_t = [0.25, 0.4, 0.55, 0.7])]
    pub hurst: Vec<f64>,
    #[arg(long, default_value_t = 480)]
    pub rows: usize,
    #[arg(long, default_value_t = 320)]
    pub cols: usize,
    /// Random seeds, one file per seed.
    #[arg(long = "seed", value_delimiter = ',', default_values_t = [1])]
    pub seeds: Vec<u64>,
}

/// Flags of `tbs-batch anatomy`.
#[derive(Debug, Args)]
pub struct AnatomyArgs {
    /// Directory to write into (created if missing): anatomy-SEED.dcm files, rois.csv (the true
    /// outlines) and truth.csv (crest row, tilt, curve).
    pub out: PathBuf,
    #[arg(long, default_value_t = 780)]
    pub rows: usize,
    #[arg(long, default_value_t = 716)]
    pub cols: usize,
    /// Pixel spacing in mm (0.2–0.35).
    #[arg(long, default_value_t = 0.25)]
    pub spacing: f64,
    /// Bits stored: 8 is a display export (0 background, 252 fill), 12 or 16 a raw one.
    #[arg(long, default_value_t = 8)]
    pub bits: u16,
    /// Random seeds, one file per seed.
    #[arg(long = "seed", value_delimiter = ',', default_values_t = [1])]
    pub seeds: Vec<u64>,
}

/// Flags of `tbs-batch delivery`.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Directory to write into (created if missing): one zip per visit, and rois.csv.
    pub out: PathBuf,
    /// Participant visits, one archive each.
    #[arg(long, default_value_t = 3)]
    pub visits: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Flags of the main job.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// DICOM files or directories (walked recursively, in sorted order).
    pub paths: Vec<PathBuf>,
    /// Compute on the CPU; never initialises a GPU. [default: a hardware GPU if there is one,
    /// else the CPU]
    #[arg(long, conflicts_with = "gpu")]
    pub cpu: bool,
    /// Compute on the GPU, a software adapter such as lavapipe included; fails when wgpu finds
    /// no adapter at all.
    #[arg(long)]
    pub gpu: bool,
    /// Write the results CSV here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the raw variogram sums, one row per path, frame, roi, direction and lag.
    #[arg(long, value_name = "FILE")]
    pub variogram: Option<PathBuf>,
    /// Largest lag computed.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_lag: usize,
    /// First lag of the fit.
    #[arg(long, default_value_t = 1, value_name = "A")]
    pub fit_from: usize,
    /// Last lag of the fit.
    #[arg(long, default_value_t = 4, value_name = "B")]
    pub fit_to: usize,
    /// Worker threads [default: the number of CPUs].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The fit range in millimetres, converted to whole lags for each image from its pixel
    /// spacing (instead of --fit-from/--fit-to).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["fit_from", "fit_to"])]
    pub fit_mm: Option<Vec<f64>>,
    /// Pixel spacing in mm for every image, supplying or overriding the header's.
    #[arg(long, value_name = "MM")]
    pub spacing: Option<f64>,
    /// Write every region scored, as a sidecar that --roi reads back to the same rows: the
    /// lines to correct and rerun.
    #[arg(long, value_name = "FILE")]
    pub save_roi: Option<PathBuf>,
    /// The scan types scored, comma-separated (ap-spine, lateral-spine, hip, forearm, knee,
    /// total-body, other, unknown), or `all`; images of other types are skipped and counted.
    #[arg(long, value_name = "LIST", default_value = "ap-spine,unknown")]
    pub scans: String,
    /// Regions to score: a sidecar FILE (rectangles, polygons, masks, one CSV line each; see
    /// the README), or `auto` to locate L1-L4 on AP spines; both (`--roi FILE --roi auto`)
    /// take the sidecar's lines where it has them and locate the rest.
    #[arg(long, value_name = "FILE|auto")]
    pub roi: Vec<String>,
    /// Leave pixels at the frame's minimum and maximum stored value out of every region:
    /// `auto` does for 8-bit (display-processed) images, whose extremes are background and
    /// saturated fill, and not for deeper ones.
    #[arg(long, value_enum, default_value_t = ExtremesArg::Auto)]
    pub extremes: ExtremesArg,
    /// Carry on the -o file (and --variogram file) of a run that was killed: inputs already in
    /// it are skipped, a partly written last input is redone, the rest appended.
    #[arg(long, requires = "output")]
    pub resume: bool,
    /// Process only slice I of N (0-based) of the walked inputs, e.g. 3/8 [default: from
    /// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT when set, else everything].
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Largest image accepted, in stored pixels (rows × columns × frames); larger images, and
    /// files too large to hold one, are error rows, read no further.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Replace Patient ID with HMAC-SHA-256 under the key in this file (keep it at the site).
    #[arg(long, value_name = "KEY_FILE")]
    pub pseudonymize: Option<PathBuf>,
    /// Draw a QC sheet (PNG) of every frame into this folder: the image with its regions
    /// outlined, beside the log-log variogram with the fitted line, TBS and R².
    #[arg(long, value_name = "DIR")]
    pub qc: Option<PathBuf>,
    /// Write a self-contained HTML report of the cohort: the TBS and R² distributions, TBS by
    /// scanner, the failures with their reasons, and the run's parameters and timing.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// An input still being processed after this long becomes an error row saying so, and the
    /// run goes on: seconds (`90`) or a duration (`2m`); 0 for no limit. [default: 120]
    #[arg(long, value_name = "SECS")]
    pub file_timeout: Option<String>,
}

/// Flags of `tbs-batch phantom`.
#[derive(Debug, Args)]
pub struct PhantomArgs {
    /// Directory to write into (created if missing).
    pub out: PathBuf,
    /// Hurst exponents, one file per value (the expected score is near 2H).
    #[arg(long = "hurst", value_delimiter = ',', default_values_t = [0.25, 0.5, 0.75])]
    pub hurst: Vec<f64>,
    /// Transfer syntaxes, one file per value.
    #[arg(long = "syntax", value_enum, value_delimiter = ',', default_values_t = [SyntaxArg::ExplicitLe])]
    pub syntax: Vec<SyntaxArg>,
    #[arg(long, default_value_t = 256)]
    pub rows: usize,
    #[arg(long, default_value_t = 256)]
    pub cols: usize,
    /// Bits stored (2..=16).
    #[arg(long, default_value_t = 12)]
    pub bits: u16,
    /// Signed pixels (Pixel Representation 1).
    #[arg(long)]
    pub signed: bool,
    /// Shape the image like a display-processed 8-bit CR export (implies --bits 8).
    #[arg(long)]
    pub display: bool,
    /// Frames per file.
    #[arg(long, default_value_t = 1)]
    pub frames: usize,
    /// Random seed; the same seed gives the same pixels.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Flags of `tbs-batch bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Files in the generated cohort.
    #[arg(long, default_value_t = 500)]
    pub files: usize,
    #[arg(long, default_value_t = 716)]
    pub rows: usize,
    #[arg(long, default_value_t = 780)]
    pub cols: usize,
    /// Bits stored; 8 makes display-processed files like the GE iDXA CR export.
    #[arg(long, default_value_t = 8)]
    pub bits: u16,
    /// Largest lag computed.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_lag: usize,
    /// CPU threads [default: the number of CPUs].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// How the figures are printed: a table, or a record per engine for CI to keep.
    #[arg(long, value_enum, default_value_t = BenchFormat::Table)]
    pub format: BenchFormat,
}

/// `bench --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Table,
    Json,
    Csv,
}

/// `--extremes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtremesArg {
    /// Leave out the frame's minimum and maximum stored values when bits stored ≤ 8.
    Auto,
    /// Always leave them out.
    Exclude,
    /// Never.
    Keep,
}

impl From<ExtremesArg> for Extremes {
    fn from(arg: ExtremesArg) -> Extremes {
        match arg {
            ExtremesArg::Auto => Extremes::Auto,
            ExtremesArg::Exclude => Extremes::Exclude,
            ExtremesArg::Keep => Extremes::Keep,
        }
    }
}

/// `phantom --syntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyntaxArg {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
    Deflated,
    Rle,
    JpegLs,
    JpegBaseline,
}

impl From<SyntaxArg> for Syntax {
    fn from(arg: SyntaxArg) -> Syntax {
        match arg {
            SyntaxArg::ImplicitLe => Syntax::ImplicitLe,
            SyntaxArg::ExplicitLe => Syntax::ExplicitLe,
            SyntaxArg::ExplicitBe => Syntax::ExplicitBe,
            SyntaxArg::Deflated => Syntax::Deflated,
            SyntaxArg::Rle => Syntax::Rle,
            SyntaxArg::JpegLs => Syntax::JpegLs,
            SyntaxArg::JpegBaseline => Syntax::JpegBaseline,
        }
    }
}
