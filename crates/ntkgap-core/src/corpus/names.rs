//! Variable names and list joining, exactly as in Corr2Cause (Jin et al., arXiv 2306.05836,
//! `code/data_verbalize.py`).
//!
//! Node `i` (0-based) of an `n`-variable system is called `chr(90 − i)`: Z, Y, X, … (the
//! original's `chr(91 − i)` with 1-based `i`). The alphabet runs out after 26 variables, so
//! systems with **more than 26 variables** name node `i` `X{i+1}` (X1, X2, …, Xn) instead — a
//! deviation the original never needed (it stops at n = 6); the paper's Extended Corr2Cause
//! (n ≤ 24) stays within the letters.

/// Largest system that still uses single letters (Z … A).
pub const MAX_LETTER_VARIABLES: usize = 26;

/// The surface name of node `i` (0-based) in a system of `n` variables.
///
/// For `n ≤ 26`: `Z`, `Y`, `X`, …; for `n > 26`: `X1`, `X2`, … . An index `i ≥ n` still gets a
/// name (the caller is responsible for staying in range).
pub fn variable_name(i: usize, n: usize) -> String {
    if n <= MAX_LETTER_VARIABLES && i < MAX_LETTER_VARIABLES {
        // i < 26, so 90 − i is an uppercase ASCII letter.
        char::from(b'Z' - i as u8).to_string()
    } else {
        format!("X{}", i + 1)
    }
}

/// The inverse of [`variable_name`]: the 0-based index of `name` in an `n`-variable system,
/// or `None` when `name` is not one of its variables.
pub fn variable_index(name: &str, n: usize) -> Option<usize> {
    if n <= MAX_LETTER_VARIABLES {
        let bytes = name.as_bytes();
        if bytes.len() != 1 || !bytes[0].is_ascii_uppercase() {
            return None;
        }
        let i = usize::from(b'Z' - bytes[0]);
        (i < n).then_some(i)
    } else {
        let digits = name.strip_prefix('X')?;
        // Canonical decimal only: no sign, no leading zero.
        if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let k: usize = digits.parse().ok()?;
        (1..=n).contains(&k).then(|| k - 1)
    }
}

/// Join items as the original does: `A`, `A and B`, `A, B and C`.
pub(crate) fn join_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [only] => only.as_ref().to_string(),
        [init @ .., last] => {
            let head: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", head.join(", "), last.as_ref())
        }
    }
}

/// Split a list written by [`join_list`] back into its items (`"A, B and C"` → `[A, B, C]`).
/// Items must not themselves contain `", "` or `" and "` (variable names never do).
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    match text.rsplit_once(" and ") {
        None => vec![text],
        Some((head, last)) => {
            let mut items: Vec<&str> = head.split(", ").collect();
            items.push(last);
            items
        }
    }
}

/// The names of all nodes in a bitset, in increasing index order.
pub fn names_of_set(set: u64, n: usize) -> Vec<String> {
    (0..n.min(64)).filter(|&i| set >> i & 1 == 1).map(|i| variable_name(i, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_run_backwards_from_z() {
        let names: Vec<String> = (0..4).map(|i| variable_name(i, 4)).collect();
        assert_eq!(names, ["Z", "Y", "X", "W"]);
        assert_eq!(variable_name(25, 26), "A");
        assert_eq!(variable_name(0, 27), "X1");
        assert_eq!(variable_name(26, 27), "X27");
    }

    #[test]
    fn index_inverts_name_for_every_size() {
        for n in [1, 2, 6, 24, 26, 27, 64] {
            for i in 0..n {
                assert_eq!(variable_index(&variable_name(i, n), n), Some(i), "n={n} i={i}");
            }
        }
        assert_eq!(variable_index("W", 3), None, "W is node 3, outside a 3-node system");
        assert_eq!(variable_index("a", 5), None);
        assert_eq!(variable_index("ZZ", 5), None);
        assert_eq!(variable_index("X0", 30), None);
        assert_eq!(variable_index("X01", 30), None);
        assert_eq!(variable_index("X31", 30), None);
        assert_eq!(variable_index("X+1", 30), None);
        assert_eq!(variable_index("Z", 30), None);
    }

    #[test]
    fn lists_join_like_the_original() {
        assert_eq!(join_list(&["Z"]), "Z");
        assert_eq!(join_list(&["Z", "Y"]), "Z and Y");
        assert_eq!(join_list(&["Z", "Y", "X", "W"]), "Z, Y, X and W");
        assert_eq!(split_list("Z, Y, X and W"), ["Z", "Y", "X", "W"]);
        assert_eq!(split_list("Z and Y"), ["Z", "Y"]);
        assert_eq!(split_list("Z"), ["Z"]);
        assert_eq!(names_of_set(0b101, 3), ["Z", "X"]);
    }
}
