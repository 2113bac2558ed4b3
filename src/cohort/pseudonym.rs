//! `--pseudonymize KEY_FILE`: patient identifiers that can leave the site.
//!
//! Patient ID becomes HMAC-SHA-256(key, Patient ID) in hex. The same key gives the same pseudonym
//! for the same patient in every run and shard, so a cohort's scans still link by patient; without
//! the key, which stays at the site, the hash cannot be reversed by trying likely IDs, as a plain
//! hash could. Results never carry patient names, pseudonymized or not.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::hex;
use crate::error::{Result, RunError};

/// Fewest key bytes accepted: 128 bits, so the key cannot be guessed either.
const MIN_KEY_BYTES: usize = 16;

/// A loaded key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(key hidden)")
    }
}

impl Pseudonymizer {
    /// Reads the key: the file's bytes, exactly (a trailing newline is part of the key).
    pub fn load(path: &Path) -> Result<Self> {
        let key = std::fs::read(path).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_key(&key).map_err(|e| RunError::Config(format!("{}: {e}", path.display())))
    }

    fn from_key(key: &[u8]) -> std::result::Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "a --pseudonymize key needs at least {MIN_KEY_BYTES} bytes; this one has {} \
                 (e.g. head -c 32 /dev/urandom > key)",
                key.len()
            ));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(Pseudonymizer { mac })
    }

    /// A value that tells keys apart without revealing them, for the manifest: runs whose keys
    /// differ give pseudonyms that do not link, so they must not share a results file. The
    /// label holds a NUL, which no Patient ID can, so it is no patient's pseudonym.
    pub fn key_check(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"tbs-batch\0key check");
        hex(&mac.finalize().into_bytes()[..8])
    }

    /// The pseudonym of a Patient ID; an empty ID stays empty, since every file without one
    /// would otherwise look like the same patient.
    pub fn pseudonym(&self, patient_id: &str) -> String {
        if patient_id.is_empty() {
            return String::new();
        }
        let mut mac = self.mac.clone();
        mac.update(patient_id.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_hmac_sha256() {
        // RFC 4231, test case 1: key 0x0b × 20, data "Hi There".
        let p = Pseudonymizer::from_key(&[0x0b; 20]).unwrap();
        assert_eq!(
            p.pseudonym("Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let other = Pseudonymizer::from_key(&[0x0c; 20]).unwrap();
        assert_ne!(p.pseudonym("12345"), other.pseudonym("12345"));
        assert_eq!(p.pseudonym("12345"), p.pseudonym("12345"));
        assert_eq!(p.pseudonym(""), "");
    }

    #[test]
    fn short_keys_are_refused() {
        let e = Pseudonymizer::from_key(b"secret").unwrap_err();
        assert!(e.contains("at least 16 bytes"), "{e}");
    }
}
