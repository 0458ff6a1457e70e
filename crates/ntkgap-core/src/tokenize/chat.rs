//! Chat templates: the Jinja template of a GGUF (`tokenizer.chat_template`) or of a Hugging Face
//! `tokenizer_config.json`, rendered for a list of messages as transformers'
//! `apply_chat_template(messages, add_generation_prompt=…, tokenize=False)` renders it.
//!
//! Rendering uses `minijinja` (pure Rust) set up as transformers sets up Jinja2
//! (`utils/chat_template_utils.py`): `trim_blocks` and `lstrip_blocks` on, trailing newline of the
//! template dropped, Python string/list/dict methods (`.strip()`, `.startswith()`, `.items()`, …)
//! through `minijinja-contrib`'s pycompat, the globals `raise_exception(msg)` (an error) and
//! `strftime_now(fmt)` (UTC), a `tojson` filter that writes as Python's `json.dumps(…,
//! ensure_ascii=False)` does (`", "` / `": "` separators, optional `indent`), and the variables
//! `messages` (role/content maps), `add_generation_prompt`, `bos_token`, `eos_token`.
//! transformers' `{% generation %}…{% endgeneration %}` markers (which only track assistant spans)
//! are kept as plain blocks. A rendering executes at most [`FUEL`] template instructions, and a
//! panic inside the engine becomes an error (templates come with downloaded models). Known gaps: tools/documents arguments are not passed; loop controls
//! and macros work as in minijinja, whose error messages differ from Jinja2's.

use std::path::Path;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, ErrorKind};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, …
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
}

/// A checked chat template with the BOS/EOS strings it may print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    source: String,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

impl ChatTemplate {
    /// Check `source` compiles and keep it with the `bos_token`/`eos_token` strings.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `chat template`) with the syntax error.
    pub fn new(source: impl Into<String>, bos_token: Option<&str>, eos_token: Option<&str>) -> Result<Self> {
        let source = source.into();
        let env = environment();
        env.template_from_str(&keep_generation_blocks(&source)).map_err(|e| jinja_error(&e))?;
        Ok(Self { source, bos_token: bos_token.map(String::from), eos_token: eos_token.map(String::from) })
    }

    /// The template of a GGUF (`tokenizer.chat_template`; BOS/EOS from the token ids); `None`
    /// when the file has none.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the file when a key is mistyped or the template does not compile.
    pub fn from_gguf(file: &GgufFile) -> Result<Option<Self>> {
        let Some(source) = file.get_str("tokenizer.chat_template")? else {
            return Ok(None);
        };
        let tokens = file.get_array("tokenizer.ggml.tokens")?.and_then(|a| a.as_strs());
        let token = |key: &str| -> Result<Option<&str>> {
            let id = file.get_u32(&format!("tokenizer.ggml.{key}"))?;
            Ok(id.and_then(|id| tokens.and_then(|t| t.get(id as usize))).map(String::as_str))
        };
        let (bos, eos) = (token("bos_token_id")?, token("eos_token_id")?);
        Self::new(source, bos, eos).map(Some).map_err(|e| file.error(e.to_string()))
    }

    /// The template of a Hugging Face checkpoint: `chat_template.jinja` in `dir` when present, else
    /// the `chat_template` of `dir/tokenizer_config.json` (a string, or a list of named templates
    /// of which `default` is taken); BOS/EOS from the same config. `None` when there is none.
    ///
    /// # Errors
    /// [`Error::BadInput`] naming the file when it is unreadable, not JSON, or its template does not
    /// compile.
    pub fn from_hf_dir(dir: &Path) -> Result<Option<Self>> {
        let config_path = dir.join("tokenizer_config.json");
        let config: serde_json::Value = match std::fs::read_to_string(&config_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::bad_input(&config_path, format!("not valid JSON: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
            Err(e) => return Err(Error::io(&config_path, e)),
        };
        let special = |key: &str| {
            let v = &config[key];
            v.as_str().or_else(|| v["content"].as_str()).map(String::from)
        };
        let jinja = dir.join("chat_template.jinja");
        let (source, from) = if jinja.is_file() {
            (std::fs::read_to_string(&jinja).map_err(|e| Error::io(&jinja, e))?, jinja)
        } else {
            let template = match &config["chat_template"] {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(list) => {
                    list.iter().find(|t| t["name"] == "default").and_then(|t| t["template"].as_str()).map(String::from)
                }
                _ => None,
            };
            match template {
                Some(t) => (t, config_path),
                None => return Ok(None),
            }
        };
        Self::new(source, special("bos_token").as_deref(), special("eos_token").as_deref())
            .map(Some)
            .map_err(|e| Error::bad_input(&from, e.to_string()))
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The BOS string the template may print (`bos_token`).
    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    /// The EOS string the template may print (`eos_token`).
    pub fn eos_token(&self) -> Option<&str> {
        self.eos_token.as_deref()
    }

    /// Render `messages`, ending with the assistant prompt when `add_generation_prompt`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `chat template`) when rendering fails, including a
    /// `raise_exception` call of the template.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        render_chat(&self.source, messages, add_generation_prompt, self.bos_token.as_deref(), self.eos_token.as_deref())
    }
}

/// Render chat template `template` for `messages` (see the module docs for the environment).
///
/// # Errors
/// [`Error::InvalidArgument`] (name `chat template`) on a syntax or rendering error.
pub fn render_chat(
    template: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    bos_token: Option<&str>,
    eos_token: Option<&str>,
) -> Result<String> {
    let env = environment();
    let source = keep_generation_blocks(template);
    let compiled = env.template_from_str(&source).map_err(|e| jinja_error(&e))?;
    let context = minijinja::context! {
        messages => Value::from_serialize(messages),
        add_generation_prompt => add_generation_prompt,
        bos_token => bos_token,
        eos_token => eos_token,
    };
    // A template is untrusted input (it comes with a downloaded model): minijinja panics on some
    // operations (`'x' * 10**20`: capacity overflow), which become errors here.
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compiled.render(context)));
    match rendered {
        Ok(result) => result.map_err(|e| jinja_error(&e)),
        Err(_) => Err(Error::invalid("chat template", "rendering failed (the template engine panicked)")),
    }
}

/// Template instructions one rendering may execute (minijinja fuel): a real chat of a thousand
/// messages needs well under a million; a template that loops forever stops with an error.
pub const FUEL: u64 = 10_000_000;

fn jinja_error(e: &minijinja::Error) -> Error {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(&format!(": {s}"));
        source = s.source();
    }
    Error::invalid("chat template", reason.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |message: String| -> std::result::Result<Value, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("the template raised: {message}")))
    });
    env.add_function("strftime_now", |format: String| strftime_utc(&format, now_unix()));
    env.add_filter("tojson", tojson);
    env
}

/// Replace `{% generation %}` / `{% endgeneration %}` (transformers' assistant-span markers) by an
/// always-true `if` block with the same whitespace control, so that the output is unchanged.
fn keep_generation_blocks(source: &str) -> std::borrow::Cow<'_, str> {
    if !source.contains("generation") {
        return source.into();
    }
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        // Search for the closing `%}` after the opening `{%` (in `{%}` they overlap).
        let body = &rest[start + 2..];
        let Some(end) = body.find("%}") else { break };
        let tag = &body[..end];
        let word = tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let (open, close) =
            (&tag[..tag.len() - tag.trim_start_matches(['-', '+']).len()], tag.trim_end().ends_with('-'));
        let replacement = match word {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        out.push_str(&rest[..start]);
        match replacement {
            Some(r) => out.push_str(&format!("{{%{open} {r} {}%}}", if close { "-" } else { "" })),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &body[end + 2..];
    }
    out.push_str(rest);
    out.into()
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)` (maps keep their order).
fn tojson(value: Value, kwargs: Kwargs) -> std::result::Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    python_json(&value, indent, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

fn python_json(
    v: &Value,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> std::result::Result<(), minijinja::Error> {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    let is_map = v.kind() == ValueKind::Map;
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => out.push_str(&python_float(f64::try_from(v.clone())?)),
        ValueKind::String => out.push_str(&serde_json::Value::String(v.as_str().unwrap_or("").to_string()).to_string()),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let items: Vec<Value> = v.try_iter()?.collect();
            out.push(if is_map { '{' } else { '[' });
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { item_sep } else { "" });
                newline(out, depth + 1);
                if is_map {
                    let key = item.as_str().map_or_else(|| item.to_string(), String::from);
                    out.push_str(&serde_json::Value::String(key).to_string());
                    out.push_str(": ");
                    python_json(&v.get_item(item)?, indent, depth + 1, out)?;
                } else {
                    python_json(item, indent, depth + 1, out)?;
                }
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(if is_map { '}' } else { ']' });
        }
        other => {
            return Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson cannot write a {other}")));
        }
    }
    Ok(())
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values, exponent form
/// (`1e+16`, `1.5e-07`) outside [1e-4, 1e16).
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A small `strftime` (UTC) for the formats chat templates use: %Y %y %m %d %e %H %M %S %b %B %a
/// %A %j %%; other conversions are copied as they are.
pub(crate) fn strftime_utc(format: &str, unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_march + 2) / 153;
    let day = doy_march - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][(month - 1) as usize];
    let yday = before + day + i64::from(leap && month > 2);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('e') => out.push_str(&format!("{day:2}")),
            Some('H') => out.push_str(&format!("{:02}", secs / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs % 60)),
            Some('b') => out.push_str(&MONTHS[(month - 1) as usize][..3]),
            Some('B') => out.push_str(MONTHS[(month - 1) as usize]),
            Some('a') => out.push_str(&DAYS[weekday][..3]),
            Some('A') => out.push_str(DAYS[weekday]),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_known_dates() {
        assert_eq!(strftime_utc("%d %b %Y", 0), "01 Jan 1970");
        assert_eq!(strftime_utc("%A %Y-%m-%d %H:%M:%S %j", 951_827_696), "Tuesday 2000-02-29 12:34:56 060");
        assert_eq!(strftime_utc("%B %e, %y %% %Q", 1_767_225_599), "December 31, 25 % %Q");
    }

    #[test]
    fn generation_markers_become_plain_blocks() {
        let src = "a{%- generation -%} b {% endgeneration %}c{% if x %}{% endif %}";
        assert_eq!(keep_generation_blocks(src), "a{%- if true -%} b {% endif %}c{% if x %}{% endif %}");
        // `{%}` (opening and closing overlap) no longer slices backwards (found by the `gguf` fuzz target).
        assert_eq!(keep_generation_blocks("generation {%}{%-%}{% generation"), "generation {%}{%-%}{% generation");
    }

    #[test]
    fn tojson_writes_like_python() {
        let render = |src: &str| render_chat(src, &[ChatMessage::new("user", "é\n\"x\"")], false, None, None).unwrap();
        assert_eq!(render("{{ messages | tojson }}"), r#"[{"role": "user", "content": "é\n\"x\""}]"#);
        assert_eq!(
            render("{{ {'b': 1, 'a': [2.0, 1e-7, none, true]} | tojson(indent=1) }}"),
            "{\n \"b\": 1,\n \"a\": [\n  2.0,\n  1e-07,\n  null,\n  true\n ]\n}"
        );
        assert_eq!(render("{{ [] | tojson }}{{ {} | tojson }}"), "[]{}");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(0.1), "0.1");
    }
}
