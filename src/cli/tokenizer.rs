//! `ntkgap tokenizer`: write the built-in tokenizer as a standard `tokenizer.json`, or show how a
//! tokenizer encodes one premise/hypothesis pair.

use std::path::PathBuf;

use clap::Args;

use crate::error::Error;
use crate::tokenize::{builtin, load_with_max_length};

/// Save the built-in tokenizer or inspect an encoding.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  ntkgap tokenizer --save tokenizer.json\n  \
ntkgap tokenizer --tokenizer DIR --premise 'Suppose there is ...' --hypothesis 'Z directly causes Y.'")]
pub struct TokenizerArgs {
    /// Write the built-in tokenizer here (a file, or a directory that receives tokenizer.json).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Tokenizer to inspect: `builtin`, a tokenizer.json, or a directory holding one.
    #[arg(long, default_value = "builtin")]
    pub tokenizer: String,
    /// Maximum encoded length (default: the tokenizer's own).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Premise (or single text) to encode.
    #[arg(long)]
    pub premise: Option<String>,
    /// Hypothesis to encode with the premise.
    #[arg(long, requires = "premise")]
    pub hypothesis: Option<String>,
}

/// Run `ntkgap tokenizer`.
///
/// # Errors
/// A library error (exit 2) for a bad tokenizer, bad flags or an unwritable destination.
pub fn run(args: TokenizerArgs) -> anyhow::Result<()> {
    if args.save.is_none() && args.premise.is_none() {
        return Err(Error::invalid("arguments", "give --save PATH or --premise TEXT [--hypothesis TEXT]").into());
    }
    if let Some(path) = &args.save {
        builtin::save(path)?;
        println!("built-in tokenizer ({} tokens) -> {}", builtin::vocabulary().len(), path.display());
    }
    if let Some(premise) = &args.premise {
        let tok = load_with_max_length(&args.tokenizer, args.max_length)?;
        let enc = match &args.hypothesis {
            Some(h) => tok.encode_pair(premise, h)?,
            None => tok.encode(premise)?,
        };
        println!(
            "{} tokens{} (max length {})",
            enc.len(),
            if enc.truncated { ", truncated" } else { "" },
            tok.max_length()
        );
        println!("tokens: {}", tok.tokens(&enc.ids).join(" "));
        println!("ids: {:?}", enc.ids);
        println!("type ids: {:?}", enc.token_type_ids);
    }
    Ok(())
}
