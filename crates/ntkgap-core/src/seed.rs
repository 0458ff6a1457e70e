//! Seed derivation. Every seeded random stream of ntkgap comes from a user's seed through this
//! module, so that independent streams (per graph size, per item and trial, per epoch, per
//! tensor) never collide and a change of one does not shift the others.
//!
//! * [`derive`] — the stream at a path of integers (`derive(seed, &[n, trial])`): SplitMix64
//!   steps, well mixed even for consecutive seeds and paths.
//! * [`nth`] — the i-th of a run of consecutive streams under a seed that [`derive`] already
//!   made (one per calibration system): `base + i`.
//! * [`derive_named`] — the stream of a named object (a weight tensor initialised from a seed):
//!   the seed XOR the 64-bit FNV-1a hash of the name.
//!
//! Library code never draws from a thread-local or time-seeded RNG.

/// The seed of the stream at `parts` under `base` (SplitMix64 steps over the path).
pub fn derive(base: u64, parts: &[u64]) -> u64 {
    let mut s = splitmix(base);
    for &p in parts {
        s = splitmix(s ^ splitmix(p.wrapping_add(0x9E37_79B9_7F4A_7C15)));
    }
    s
}

/// The seed of the `i`-th of consecutive streams under `base` (`base + i`, wrapping). Use it
/// only under a `base` that [`derive`] made, where consecutive values are already well mixed.
pub fn nth(base: u64, i: u64) -> u64 {
    base.wrapping_add(i)
}

/// The seed of the stream of the object called `name` under `base`: `base` XOR FNV-1a(`name`).
pub fn derive_named(base: u64, name: &str) -> u64 {
    base ^ name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_give_distinct_streams_and_the_same_path_the_same_stream() {
        let mut seen = std::collections::BTreeSet::new();
        for base in 0..20u64 {
            for a in 0..20u64 {
                assert!(seen.insert(derive(base, &[a])), "collision at {base}/{a}");
                assert_eq!(derive(base, &[a]), derive(base, &[a]));
            }
        }
        assert_ne!(derive(1, &[2, 3]), derive(1, &[3, 2]), "order matters");
        assert_ne!(derive(1, &[]), derive(1, &[0]));
    }

    #[test]
    fn named_streams_differ_by_name() {
        assert_ne!(derive_named(0, "a.weight"), derive_named(0, "b.weight"));
        assert_eq!(derive_named(7, "x") ^ 7, derive_named(0, "x"));
    }
}
