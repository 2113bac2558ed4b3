//! Which vector instructions the CPU kernels run with: AVX-512BW with or without VNNI, AVX2, or
//! plain code.
//!
//! The loops are compiled once per tier and the tier is chosen at run time, so one binary runs
//! on any x86-64 machine at the best speed its CPU allows (no `target-cpu=native`). `TBS_CPU_TIER`
//! lowers it — to compare tiers on one machine, or to rule a tier out — but never raises it past
//! what the CPU has. A [`Tier`] value exists only for a tier this CPU runs, which is what makes
//! calling its kernels sound.

use std::fmt;

use crate::error::{Result, RunError};

/// The environment variable that lowers the tier.
pub const TIER_VARIABLE: &str = "TBS_CPU_TIER";

/// A tier this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tier(Level);

/// The tiers, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    Portable,
    Avx2,
    Avx512Bw,
    /// AVX-512BW and AVX-512 VNNI, whose multiply-add accumulates in one instruction.
    Avx512Vnni,
}

const LEVELS: [Level; 4] = [
    Level::Portable,
    Level::Avx2,
    Level::Avx512Bw,
    Level::Avx512Vnni,
];

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512Bw => "avx512bw",
            Level::Avx512Vnni => "avx512vnni",
        }
    }

    fn on_this_cpu(self) -> bool {
        match self {
            Level::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            // The AVX-512 tiers also run the AVX2 kernels (the 16-bit one, the work image's).
            Level::Avx512Bw => {
                Level::Avx2.on_this_cpu() && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => {
                Level::Avx512Bw.on_this_cpu() && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

impl Tier {
    /// Every tier this CPU runs, lowest first: the tests compare each with the reference.
    pub fn available() -> Vec<Tier> {
        LEVELS
            .into_iter()
            .filter(|l| l.on_this_cpu())
            .map(Tier)
            .collect()
    }

    /// The best tier this CPU runs.
    pub fn best() -> Tier {
        Tier::available().pop().unwrap_or(Tier(Level::Portable))
    }

    /// The best tier, or the lower one `TBS_CPU_TIER` names.
    pub fn from_env() -> Result<Tier> {
        Tier::lowered(std::env::var(TIER_VARIABLE).ok().as_deref())
    }

    /// The best tier, or the one `wanted` names, which must be one this CPU runs.
    fn lowered(wanted: Option<&str>) -> Result<Tier> {
        let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
            return Ok(Tier::best());
        };
        let names: Vec<&str> = LEVELS.iter().map(|l| l.name()).collect();
        let level = LEVELS
            .into_iter()
            .find(|l| l.name() == wanted)
            .ok_or_else(|| {
                RunError::Config(format!(
                    "{TIER_VARIABLE}={wanted}: not a CPU tier (one of {})",
                    names.join(", ")
                ))
            })?;
        if !level.on_this_cpu() {
            return Err(RunError::Config(format!(
                "{TIER_VARIABLE}={wanted}: this CPU's best tier is {}",
                Tier::best()
            )));
        }
        Ok(Tier(level))
    }

    pub(super) fn level(self) -> Level {
        self.0
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_lowers_the_tier_and_never_raises_it() {
        let best = Tier::best();
        assert_eq!(Tier::lowered(None).unwrap(), best);
        assert_eq!(Tier::lowered(Some(" ")).unwrap(), best);
        assert_eq!(
            Tier::lowered(Some("portable")).unwrap(),
            Tier(Level::Portable)
        );
        assert!(Tier::available().contains(&Tier::lowered(Some(&best.to_string())).unwrap()));
        let e = Tier::lowered(Some("sse9")).unwrap_err().to_string();
        assert!(e.contains("TBS_CPU_TIER=sse9: not a CPU tier"), "{e}");
        if !Level::Avx512Vnni.on_this_cpu() {
            let e = Tier::lowered(Some("avx512vnni")).unwrap_err().to_string();
            assert!(e.contains("this CPU's best tier is"), "{e}");
        }
    }
}
