//! Prompts for a decoder: a [`Tokenizer`] that renders premise/hypothesis records through a
//! template (and, with `--chat`, the model's chat template) and never truncates.
//!
//! * `{"text"}` records are encoded verbatim, the way the tokenizer's own post-processor does
//!   (a Llama tokenizer adds BOS, a GPT-2 or SmolLM2 one adds nothing), chat or not: a text
//!   record is the escape hatch for any prompt built elsewhere (few-shot prompts, pre-rendered
//!   chats).
//! * `{"premise", "hypothesis"}` records become the [`PromptTemplate`] with both filled in (one
//!   pass over the template: braces inside the texts are kept as they are), by default
//!   [`DEFAULT_TEMPLATE`]. Without chat the prompt is encoded as one text (post-processor
//!   included). With chat it is the single user message of the model's chat template, rendered
//!   with the generation prompt (`apply_chat_template(…, add_generation_prompt=True)`), and the
//!   rendering is encoded without added special tokens, as transformers encodes a rendered
//!   chat (the template writes its own BOS when it wants one).
//! * In-context demonstrations ([`crate::corpus::ShotSet`], `--shots K`) become one prefix,
//!   [`PromptTokenizer::set_shots`]: each demonstration rendered through the same template and
//!   followed by its answer word, then a blank line, in front of every premise/hypothesis prompt
//!   (inside the user message with chat). Every record of a run, both members of a near-miss
//!   pair included, sees the same prefix; the prompt's length counts it.
//! * Label words are resolved without special tokens; each must be exactly one token. After a
//!   plain prompt ending `Answer:` the answer token carries its leading space
//!   ([`DEFAULT_LABEL_WORDS`], `" No"`/`" Yes"`); after a chat's generation prompt (which ends a
//!   line, `<|im_start|>assistant\n`) it does not ([`CHAT_LABEL_WORDS`], `"No"`/`"Yes"`).
//! * A prompt longer than the maximum length is returned whole, never cut: the question sits at
//!   the end, so an encoder's premise-only truncation cannot carry over, and cutting the premise
//!   changes which hypotheses it entails. Corpus tokenization counts such prompts and refuses
//!   the file ([`crate::tokenize::stream`]); a batch refuses them too ([`super::DecoderBatch`]).
//!
//! Burn-free; it could live in `ntkgap_core::tokenize`.

use std::path::Path;

use crate::corpus::ShotSet;
use crate::error::{Error, Result};
use crate::tokenize::chat::{ChatMessage, ChatTemplate};
use crate::tokenize::{Encoding, HfTokenizer, SpecialTokenIds, Tokenizer};

/// The default prompt of a premise/hypothesis record.
pub const DEFAULT_TEMPLATE: &str = "Premise: {premise}\nHypothesis: {hypothesis}\nIs the hypothesis true? Answer:";

/// The default label words `[no, yes]` of plain prompts: z_yes − z_no is the margin.
pub const DEFAULT_LABEL_WORDS: [&str; 2] = [" No", " Yes"];

/// The default label words `[no, yes]` of chat prompts: the assistant's answer starts a line.
pub const CHAT_LABEL_WORDS: [&str; 2] = ["No", "Yes"];

/// The default label words for plain (`chat = false`) or chat prompts.
pub fn default_label_words(chat: bool) -> [String; 2] {
    if chat { CHAT_LABEL_WORDS } else { DEFAULT_LABEL_WORDS }.map(String::from)
}

/// A prompt template with a `{hypothesis}` and (usually) a `{premise}` placeholder.
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
    /// A template; it must contain `{hypothesis}`. `{premise}` may be left out: the prompt then
    /// asks about the hypothesis alone, the hypothesis-only baseline of NLI (how much a model
    /// answers from the hypothesis' wording without the facts; Poliak et al. 2018).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`template`) when `{hypothesis}` is missing.
    pub fn new(text: &str) -> Result<Self> {
        if !text.contains("{hypothesis}") {
            return Err(Error::setting("template", format!("{} has no {{hypothesis}} placeholder", abbreviate(text))));
        }
        Ok(Self { text: text.to_string() })
    }

    /// The template in `path` (UTF-8); one trailing line break of the file is dropped, so a
    /// template ending `Answer:` stays so when the file ends with a newline.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable; [`Error::BadInput`] naming the file when it is not UTF-8 or
    /// has no `{hypothesis}`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| Error::bad_input(path, "the template is not UTF-8 text"))?;
        let text = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
        if !text.contains("{hypothesis}") {
            return Err(Error::bad_input(path, "the prompt template has no {hypothesis} placeholder"));
        }
        Self::new(text)
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the template shows the premise.
    pub fn has_premise(&self) -> bool {
        self.text.contains("{premise}")
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

fn abbreviate(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

/// A tokenizer for decoder prompts (see the module docs).
pub struct PromptTokenizer {
    inner: HfTokenizer,
    template: PromptTemplate,
    chat: Option<ChatTemplate>,
    max_length: usize,
    pad: u32,
    prefix: String,
}

impl PromptTokenizer {
    /// Wrap `inner` (whose own truncation should be off or longer than `max_length`); `chat`,
    /// when given, wraps every premise/hypothesis prompt as a user message; `pad` is used when
    /// `inner` defines no padding token (padding is masked, so any id works).
    pub fn new(
        inner: HfTokenizer,
        template: PromptTemplate,
        chat: Option<ChatTemplate>,
        max_length: usize,
        pad: u32,
    ) -> Self {
        Self { inner, template, chat, max_length, pad, prefix: String::new() }
    }

    /// Put `shots` in front of every premise/hypothesis prompt, each demonstration answered
    /// with `label_words` `[no, yes]` written after one space (the words' own leading spaces
    /// dropped, so chat's "No"/"Yes" read `Answer: No` inside the message too).
    pub fn set_shots(&mut self, shots: &ShotSet, label_words: &[String; 2]) {
        let answers = label_words.clone().map(|w| format!(" {}", w.trim()));
        self.prefix = shots.prefix(|p, h| self.template.render(p, h), [&answers[0], &answers[1]]);
    }

    /// The text in front of every premise/hypothesis prompt (empty without shots).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Tokens of [`PromptTokenizer::prefix`] alone (without special tokens).
    ///
    /// # Errors
    /// Tokenizer failures.
    pub fn prefix_tokens(&self) -> Result<usize> {
        Ok(self.inner.encode_without_special(&self.prefix)?.ids.len())
    }

    /// The template in use.
    pub fn template(&self) -> &PromptTemplate {
        &self.template
    }

    /// The chat template premise/hypothesis prompts go through, if any.
    pub fn chat(&self) -> Option<&ChatTemplate> {
        self.chat.as_ref()
    }

    /// The text a premise/hypothesis record becomes (template, then the chat rendering).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`chat template`) when the chat template fails to render.
    pub fn prompt(&self, premise: &str, hypothesis: &str) -> Result<String> {
        let text = format!("{}{}", self.prefix, self.template.render(premise, hypothesis));
        match &self.chat {
            None => Ok(text),
            Some(chat) => chat.render(&[ChatMessage::new("user", text)], true),
        }
    }

    /// The single token id of `word` (encoded without special tokens).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`label_words`) naming the word and its tokens when it is not
    /// exactly one token.
    pub fn single_token(&self, word: &str) -> Result<u32> {
        let ids = self.inner.encode_without_special(word)?.ids;
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
        self.inner.encode(text)
    }

    fn encode_pair(&self, premise: &str, hypothesis: &str) -> Result<Encoding> {
        let prompt = self.prompt(premise, hypothesis)?;
        match &self.chat {
            None => self.inner.encode(&prompt),
            Some(_) => self.inner.encode_without_special(&prompt),
        }
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
        assert!(PromptTemplate::new("no placeholders").unwrap_err().to_string().contains("{hypothesis}"));
        let baseline = PromptTemplate::new("Is it true that {hypothesis}? Answer:").unwrap();
        assert!(!baseline.has_premise() && t.has_premise());
    }

    #[test]
    fn template_files_lose_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        std::fs::write(&path, "P: {premise}\nH: {hypothesis}\nAnswer:\r\n").unwrap();
        assert_eq!(PromptTemplate::from_file(&path).unwrap().as_str(), "P: {premise}\nH: {hypothesis}\nAnswer:");
        std::fs::write(&path, "P: {premise}\n").unwrap();
        let e = PromptTemplate::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("t.txt") && e.contains("{hypothesis}") && !e.contains('\n'), "{e}");
    }
}
