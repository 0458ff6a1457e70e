//! Library settings → command-line flags. The library names a setting by its field name in
//! backticks (`` `max_length` ``, see [`crate::Error`]); everything the CLI prints from the library
//! (errors, notices) goes through [`flagify`], which spells such names as this CLI's flags
//! (`--max-length`). Field names that differ from their flag are listed in [`RENAMED`].

/// Fields whose flag is not the field name with `_` → `-`.
const RENAMED: [(&str, &str); 6] = [
    ("template", "prompt"),
    ("decision_threshold", "threshold"),
    ("batch_size", "batch"),
    ("learning_rate", "lr"),
    ("warmup_fraction", "warmup"),
    ("dpo_beta", "beta"),
];

/// The flag (`--max-length`) of a library field (`max_length`).
pub fn flag(field: &str) -> String {
    let name = RENAMED.iter().find(|(f, _)| *f == field).map_or(field, |(_, flag)| flag);
    format!("--{}", name.replace('_', "-"))
}

/// `text` with every backticked field name (`` `max_length` ``: lowercase letters, digits and
/// `_`, starting with a letter) written as its flag; other text, backticked or not, unchanged.
pub fn flagify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close) if is_field(&after[..close]) => {
                out.push_str(&flag(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('`');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_field(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_flags_and_other_backticks_stay() {
        assert_eq!(flagify("invalid `max_length`: 3"), "invalid --max-length: 3");
        assert_eq!(flagify("pass `force`, `max_mecs`/`per_size`"), "pass --force, --max-mecs/--per-size");
        assert_eq!(flagify("invalid `decision_threshold`: 2"), "invalid --threshold: 2");
        assert_eq!(flagify("a `Tokenizer` and `x y` and ` lone"), "a `Tokenizer` and `x y` and ` lone");
        assert_eq!(flagify("no backticks"), "no backticks");
    }
}
