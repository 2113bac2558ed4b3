//! Stage 4: the variogram's exact pair sums, on one of the engines.
//!
//! Everything before and after this stage is shared; an engine only turns a frame and a region
//! into [`Variogram`] sums. Sums are exact `u64` integers, so two engines either agree bit for bit
//! or one of them is wrong.

pub mod cpu;
pub mod gpu;

use crate::decode::Frame;
use crate::error::{one_line, FileError, FileResult, Result, RunError};
use crate::region::{smallest_and_largest, Patch};

/// The two pair directions of the variogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Same row, column + k.
    Horizontal,
    /// Same column, row + k.
    Vertical,
}

impl Direction {
    /// The variogram file's `direction` column.
    pub fn label(self) -> &'static str {
        match self {
            Direction::Horizontal => "h",
            Direction::Vertical => "v",
        }
    }
}

/// The sums for one lag in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LagSum {
    /// Number of pixel pairs.
    pub pairs: u64,
    /// Σ (a − b)² over those pairs.
    pub sum_sq: u64,
}

impl std::ops::AddAssign for LagSum {
    fn add_assign(&mut self, rhs: Self) {
        self.pairs += rhs.pairs;
        self.sum_sq += rhs.sum_sq;
    }
}

/// Pair sums for lags 1..=max_lag in both directions; index `k - 1` holds lag `k`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variogram {
    pub horizontal: Vec<LagSum>,
    pub vertical: Vec<LagSum>,
}

impl Variogram {
    /// All-zero sums for lags 1..=max_lag.
    pub fn zeros(max_lag: usize) -> Self {
        Variogram {
            horizontal: vec![LagSum::default(); max_lag],
            vertical: vec![LagSum::default(); max_lag],
        }
    }

    /// The largest lag held.
    pub fn max_lag(&self) -> usize {
        self.horizontal.len()
    }

    /// The sums of one direction.
    pub fn direction(&self, d: Direction) -> &[LagSum] {
        match d {
            Direction::Horizontal => &self.horizontal,
            Direction::Vertical => &self.vertical,
        }
    }

    /// Both directions pooled at lag `k` (1-based).
    pub fn pooled(&self, k: usize) -> LagSum {
        let mut total = self.horizontal[k - 1];
        total += self.vertical[k - 1];
        total
    }

    /// Adds another variogram's sums into this one (same max lag).
    pub fn add(&mut self, other: &Variogram) {
        for (a, b) in self.horizontal.iter_mut().zip(&other.horizontal) {
            *a += *b;
        }
        for (a, b) in self.vertical.iter_mut().zip(&other.vertical) {
            *a += *b;
        }
    }
}

/// A pair-summing kernel.
pub trait Engine: Send + Sync {
    /// The results' `engine` column.
    fn name(&self) -> &'static str;

    /// The engine and what it runs on, for the run's summary line.
    fn describe(&self) -> String {
        self.name().to_string()
    }

    /// Files in flight at once for `jobs` CPU threads.
    fn workers(&self, jobs: usize) -> usize {
        jobs
    }

    /// Exact pair sums of each of a frame's regions for lags 1..=max_lag: the pairs whose two
    /// pixels are both inside, one [`Variogram`] per patch in order. All of a frame's regions
    /// come in one call so that an engine can move the frame once for all of them.
    fn variograms(
        &self,
        frame: &Frame,
        patches: &[Patch],
        max_lag: usize,
    ) -> FileResult<Vec<Variogram>>;

    /// The sums of one region of a frame.
    fn variogram(&self, frame: &Frame, patch: &Patch, max_lag: usize) -> FileResult<Variogram> {
        self.variograms(frame, std::slice::from_ref(patch), max_lag)?
            .pop()
            .ok_or_else(|| FileError::Panic(format!("the {} engine returned no sums", self.name())))
    }
}

/// A frame's values in the narrowest width that holds them all.
pub(crate) enum Narrowed {
    /// Every value fits a byte: both engines then move and sum half the bytes.
    Bytes { bytes: Vec<u8>, largest: u8 },
    /// Some value does not; the largest difference two values can have (the largest less the
    /// smallest), which bounds the squares the CPU's lanes must hold.
    Halves { spread: u16 },
}

/// The pixels as bytes when every value fits one. Both passes are branch-free so they
/// vectorise; an early-exit test would not, and would cost a third of an 8-bit frame's time.
pub(crate) fn narrow(pixels: &[u16]) -> Narrowed {
    let (smallest, largest) = smallest_and_largest(pixels);
    match largest <= u16::from(u8::MAX) {
        true => Narrowed::Bytes {
            bytes: pixels.iter().map(|&p| p as u8).collect(),
            largest: largest as u8,
        },
        false => Narrowed::Halves {
            spread: largest - smallest,
        },
    }
}

/// The engine the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// A hardware GPU when wgpu finds one, else the CPU.
    Auto,
    /// The CPU; wgpu is never initialised.
    Cpu,
    /// The shader on any adapter, a software one included; no adapter is an error.
    Gpu,
}

/// Opens the engine `choice` asks for.
///
/// `Auto` never fails: without a hardware adapter, or when one cannot be opened, it uses the CPU
/// and its description says why.
pub fn open(choice: Choice) -> Result<Box<dyn Engine>> {
    match choice {
        Choice::Cpu => Ok(Box::new(cpu::CpuEngine::on(cpu::Tier::from_env()?))),
        Choice::Gpu => match gpu::GpuEngine::open(gpu::Want::Any)? {
            Some(engine) => Ok(Box::new(engine)),
            None => Err(RunError::Gpu(
                "--gpu: wgpu found no adapter (no Vulkan, Metal or DX12 driver; \
                 mesa-vulkan-drivers gives a software one); use --cpu"
                    .into(),
            )),
        },
        Choice::Auto => {
            let cpu = cpu::CpuEngine::on(cpu::Tier::from_env()?);
            Ok(match gpu::GpuEngine::open(gpu::Want::Hardware) {
                Ok(Some(engine)) => Box::new(engine),
                Ok(None) => Box::new(cpu.because("no hardware GPU adapter")),
                Err(e) => Box::new(cpu.because(&one_line(&e.to_string()))),
            })
        }
    }
}
