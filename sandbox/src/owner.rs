//! The owner mark of a provider instance: the name under which a provider
//! marks the objects it creates and vouches for them in `list` (contract
//! 0.2.0, `configure`'s `owner`).
//!
//! It is derived from the tenant's and the instance's names only, so it is
//! the same after a restart and after the state store is lost, which is
//! what it is for. It is a digest rather than the names themselves so that
//! it fits the narrowest place a provider may write it (a Kubernetes label
//! value: 63 characters of `[a-z0-9._-]`), and so that no pair of names
//! can be arranged to give another pair's mark.

use sha2::{Digest, Sha256};

/// The prefix of every owner mark, so that an operator reading a label
/// knows where it comes from.
const PREFIX: &str = "cairn-";

/// Hex digits of the digest kept: 96 bits, far beyond any collision
/// between the tenants of one host, in 30 characters with the prefix.
const DIGEST_HEX_DIGITS: usize = 24;

/// The owner mark of `tenant`'s provider instance `instance`:
/// `cairn-` and 24 lower-case hex digits.
pub fn owner_mark(tenant: &str, instance: &str) -> String {
    let digest = Sha256::digest(format!("{tenant}\0{instance}"));
    format!("{PREFIX}{}", &hex::encode(digest)[..DIGEST_HEX_DIGITS])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_fits_a_kubernetes_label_value_and_is_stable() {
        let mark = owner_mark("team-a", "dns");
        assert_eq!(mark.len(), 30);
        assert!(mark.starts_with("cairn-"));
        assert!(
            mark.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '-')
        );
        assert_eq!(mark, owner_mark("team-a", "dns"));
    }

    #[test]
    fn names_cannot_be_shifted_into_another_pairs_mark() {
        assert_ne!(owner_mark("a", "b-c"), owner_mark("a-b", "c"));
        assert_ne!(owner_mark("team-a", "dns"), owner_mark("team-b", "dns"));
        assert_ne!(owner_mark("team-a", "dns"), owner_mark("team-a", "apps"));
    }
}
