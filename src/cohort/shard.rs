//! `--shard I/N`: one deterministic slice of a cohort, for job arrays.
//!
//! Input `p` of the walk (0-based) belongs to shard `p mod N`. Dealing inputs round-robin rather
//! than in contiguous blocks spreads a directory of large files over every shard, so shards take
//! about equally long; `merge` puts the rows back in walk order from the positions the shards'
//! manifests record.

use std::fmt;
use std::str::FromStr;

use crate::error::{Result, RunError};

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole cohort as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the input at walk position `position` is this shard's.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// `--shard` if given, else the Slurm job array's task, else the whole cohort. Slurm numbers
    /// tasks from the array's first index (`--array=1-8` starts at 1), so the shard is
    /// SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT.
    pub fn choose(flag: Option<Shard>, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        if let Some(shard) = flag {
            return Ok(shard);
        }
        let (Some(id), Some(count)) = (env("SLURM_ARRAY_TASK_ID"), env("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(Shard::ALL);
        };
        let min = env("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let slurm = |e: String| RunError::Config(format!("from Slurm's job array variables: {e}"));
        let number = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|e| slurm(format!("{v:?}: {e}")))
        };
        let index = number(&id)?
            .checked_sub(number(&min)?)
            .ok_or_else(|| slurm(format!("task {id} is below the array's first index {min}")))?;
        format!("{index}/{count}")
            .parse()
            .map_err(|e: RunError| slurm(e.to_string()))
    }
}

impl FromStr for Shard {
    type Err = RunError;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            RunError::Config(format!(
                "shard {s:?} must be I/N with 0 <= I < N (0-based), e.g. 0/8"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_deal_every_position_to_exactly_one() {
        for count in 1..6 {
            for position in 0..50 {
                let owners = (0..count)
                    .filter(|&index| Shard { index, count }.owns(position))
                    .count();
                assert_eq!(owners, 1);
            }
        }
    }

    #[test]
    fn the_flag_wins_then_slurm_then_everything() {
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("8".to_string()),
            _ => None,
        };
        let flag = Shard { index: 1, count: 2 };
        assert_eq!(Shard::choose(Some(flag), slurm).unwrap(), flag);
        assert_eq!(Shard::choose(None, slurm).unwrap().to_string(), "3/8");
        assert_eq!(Shard::choose(None, |_| None).unwrap(), Shard::ALL);
        let from_one = |k: &str| match k {
            "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
            other => slurm(other),
        };
        assert_eq!(Shard::choose(None, from_one).unwrap().to_string(), "2/8");
    }

    #[test]
    fn malformed_shards_are_refused() {
        for s in ["3", "8/8", "a/2", "1/0", "-1/2"] {
            assert!(s.parse::<Shard>().is_err(), "{s}");
        }
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
    }
}
