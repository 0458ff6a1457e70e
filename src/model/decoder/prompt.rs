//! Prompts for a decoder: a [`Tokenizer`] that renders premise/hypothesis records through a
//! template and never truncates.
//!
//! * `{"text"}` records are encoded verbatim, the way the tokenizer's own post-processor does
//!   (a Llama tokenizer adds BOS, a GPT-2 one adds nothing).
//! * `{"premise", "hypothesis"}` records become [`DEFAULT_TEMPLATE`] with both filled in (one
//!   pass over the template: braces inside the texts are kept as they are), then are encoded
//!   as one text.
//! * A prompt longer than the maximum length is an error, never cut: the question sits at the
//!   end, so an encoder's premise-only truncation does not carry over (a known gap).
//!
//! Burn-free; it could live in `ntkgap_core::tokenize`.

use crate::error::{Error, Result};
use crate::tokenize::{Encoding, SpecialTokenIds, Tokenizer};

/// The default prompt of a premise/hypothesis record.
pub const DEFAULT_TEMPLATE: &str = "Premise: {premise}\nHypothesis: {hypothesis}\nIs the hypothesis true? Answer:";

/// The default label words `[no, yes]`: z_yes − z_no is the margin.
pub const DEFAULT_LABEL_WORDS: [&str; 2] = [" No", " Yes"];

/// A prompt template with `{premise}` and `{hypothesis}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    text: String,
}

impl Default for PromptTemplate {
    fn default() -> Self {
        Self { text: DEFAULT_TEMPLATE.to_string() }
    }
}

impl PromptTemplate {
    /// A template; it must contain `{premise}` and `{hypothesis}`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`template`) when a placeholder is missing.
    pub fn new(text: &str) -> Result<Self> {
        for placeholder in ["{premise}", "{hypothesis}"] {
            if !text.contains(placeholder) {
                return Err(Error::setting("template", format!("{text:?} has no {placeholder} placeholder")));
            }
        }
        Ok(Self { text: text.to_string() })
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The prompt of one record.
    pub fn render(&self, premise: &str, hypothesis: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + premise.len() + hypothesis.len());
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            if let Some(after) = tail.strip_prefix("{premise}") {
                out.push_str(premise);
                rest = after;
            } else if let Some(after) = tail.strip_prefix("{hypothesis}") {
                out.push_str(hypothesis);
                rest = after;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// A tokenizer for decoder prompts (see the module docs).
pub struct PromptTokenizer {
    inner: Box<dyn Tokenizer>,
    template: PromptTemplate,
    max_length: usize,
    pad: u32,
}

impl PromptTokenizer {
    /// Wrap `inner` (whose own truncation should be off or longer than `max_length`); `pad` is
    /// used when `inner` defines no padding token (padding is masked, so any id works).
    pub fn new(inner: Box<dyn Tokenizer>, template: PromptTemplate, max_length: usize, pad: u32) -> Self {
        Self { inner, template, max_length, pad }
    }

    /// The template in use.
    pub fn template(&self) -> &PromptTemplate {
        &self.template
    }

    /// The single token id of `word` (encoded without special tokens).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`label_words`) naming the word and its tokens when it is not
    /// exactly one token.
    pub fn single_token(&self, word: &str) -> Result<u32> {
        let with_specials = self.inner.encode(word)?;
        let bare = self.inner.encode("")?;
        // Strip what the post-processor adds around any text (BOS, CLS/SEP).
        let added: usize = bare.ids.len();
        let ids: Vec<u32> = if added == 0 {
            with_specials.ids
        } else {
            let prefix = bare.ids.iter().zip(&with_specials.ids).take_while(|(a, b)| a == b).count();
            let suffix = bare.ids.len() - prefix;
            with_specials.ids[prefix..with_specials.ids.len().saturating_sub(suffix)].to_vec()
        };
        match ids.as_slice() {
            [id] => Ok(*id),
            _ => Err(Error::setting(
                "label_words",
                format!(
                    "{word:?} is {} tokens {:?}; each label word must be exactly one token",
                    ids.len(),
                    self.inner.tokens(&ids)
                ),
            )),
        }
    }
}

impl Tokenizer for PromptTokenizer {
    fn source(&self) -> String {
        self.inner.source()
    }

    fn encode(&self, text: &str) -> Result<Encoding> {
        let encoding = self.inner.encode(text)?;
        if encoding.len() > self.max_length || encoding.truncated {
            return Err(Error::invalid(
                "input",
                format!(
                    "the prompt is {} tokens, above the maximum length {} (decoder prompts are never truncated: the question is at the end)",
                    encoding.len(),
                    self.max_length
                ),
            ));
        }
        Ok(encoding)
    }

    fn encode_pair(&self, premise: &str, hypothesis: &str) -> Result<Encoding> {
        self.encode(&self.template.render(premise, hypothesis))
    }

    fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner.decode(ids, skip_special)
    }

    fn tokens(&self, ids: &[u32]) -> Vec<String> {
        self.inner.tokens(ids)
    }

    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    fn special_ids(&self) -> SpecialTokenIds {
        let mut ids = self.inner.special_ids();
        ids.pad = ids.pad.or(Some(self.pad));
        ids
    }

    fn max_length(&self) -> usize {
        self.max_length
    }

    fn set_max_length(&mut self, max_length: usize) -> Result<()> {
        if max_length == 0 {
            return Err(Error::setting("max_length", "must be at least 1"));
        }
        self.max_length = max_length;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_placeholders_once() {
        let t = PromptTemplate::default();
        let p = t.render("A {hypothesis} B.", "C.");
        assert_eq!(p, "Premise: A {hypothesis} B.\nHypothesis: C.\nIs the hypothesis true? Answer:");
        assert_eq!(PromptTemplate::new("{x} {premise}|{hypothesis}").unwrap().render("p", "h"), "{x} p|h");
        assert!(PromptTemplate::new("no placeholders").unwrap_err().to_string().contains("{premise}"));
    }
}
