//! Stage caching in the output folder.
//!
//! Every stage owns one directory `OUT/<stage>/`. A stage's **key** is the SHA-256 of its name,
//! the crate version, its own settings (JSON) and the keys of the stages it reads, so a change
//! anywhere upstream changes every key downstream. A stage runs into `OUT/.<stage>.partial/`;
//! only when its body succeeds is `stage.json` (name + key) written there and the directory
//! renamed into place (replacing an older one). A failed or interrupted stage therefore leaves no
//! half-written directory at `OUT/<stage>/`, and the partial directory is removed.
//!
//! A stage is reused when `OUT/<stage>/stage.json` holds the same key and `--fresh` was not
//! given. Known gap: the key covers settings and the crate version, not the source code, so
//! after changing ntkgap's code without a version bump rerun with `--fresh`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::meta::sha256_bytes;
use crate::files::write_json_atomic;

/// The file that marks a completed stage directory.
pub const MARKER: &str = "stage.json";

/// A stage's cache key (hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageKey(pub String);

impl StageKey {
    /// The key of stage `name` with `settings`, reading the stages keyed `upstream`.
    ///
    /// # Errors
    /// [`Error::Serialize`] when the settings cannot be serialized (a bug).
    pub fn of(name: &str, settings: &impl Serialize, upstream: &[&StageKey]) -> Result<Self> {
        let doc = serde_json::json!({
            "stage": name,
            "version": env!("CARGO_PKG_VERSION"),
            "settings": serde_json::to_value(settings).map_err(|source| Error::Serialize { what: format!("{name} settings"), source })?,
            "upstream": upstream.iter().map(|k| k.0.clone()).collect::<Vec<_>>(),
        });
        Ok(StageKey(sha256_bytes(doc.to_string().as_bytes())))
    }
}

/// What `stage.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    stage: String,
    key: StageKey,
}

/// Whether a stage ran or was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Computed in this run.
    Ran,
    /// Reused from the output folder (same key).
    Cached,
}

/// The stages of one output folder.
#[derive(Debug, Clone)]
pub struct StageCache {
    root: PathBuf,
    fresh: bool,
}

/// Removes a partial directory unless committed.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(p);
        }
    }
}

impl StageCache {
    /// Stages under `root` (which must exist); `fresh` ignores every existing stage.
    pub fn new(root: &Path, fresh: bool) -> Self {
        Self { root: root.to_path_buf(), fresh }
    }

    /// The directory of stage `name`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// True when `OUT/<name>/stage.json` records `key` (and `--fresh` is off).
    pub fn is_current(&self, name: &str, key: &StageKey) -> bool {
        if self.fresh {
            return false;
        }
        let text = match fs::read_to_string(self.dir(name).join(MARKER)) {
            Ok(t) => t,
            Err(_) => return false,
        };
        serde_json::from_str::<Marker>(&text).is_ok_and(|m| m.stage == name && &m.key == key)
    }

    /// Run stage `name` unless it is current: `body` fills a fresh partial directory, which is
    /// marked and renamed to `OUT/<name>/` on success.
    ///
    /// # Errors
    /// Whatever `body` returns (the partial directory is removed); [`Error::Write`] naming the
    /// directory when it cannot be created, replaced or renamed.
    pub fn run(&self, name: &str, key: &StageKey, body: impl FnOnce(&Path) -> Result<()>) -> Result<StageStatus> {
        if self.is_current(name, key) {
            return Ok(StageStatus::Cached);
        }
        let partial = self.root.join(format!(".{name}.partial"));
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(|e| Error::write(&partial, e))?;
        }
        fs::create_dir(&partial).map_err(|e| Error::write(&partial, e))?;
        let mut guard = Partial(Some(partial.clone()));
        body(&partial)?;
        write_json_atomic(partial.join(MARKER), &Marker { stage: name.to_string(), key: key.clone() })?;
        let target = self.dir(name);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| Error::write(&target, e))?;
        }
        fs::rename(&partial, &target).map_err(|e| Error::write(&target, e))?;
        guard.0 = None;
        Ok(StageStatus::Ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_settings_and_upstream() {
        let a = StageKey::of("data", &1, &[]).unwrap();
        assert_eq!(a, StageKey::of("data", &1, &[]).unwrap());
        assert_ne!(a, StageKey::of("data", &2, &[]).unwrap());
        assert_ne!(a, StageKey::of("train", &1, &[]).unwrap());
        let b = StageKey::of("train", &1, &[&a]).unwrap();
        assert_ne!(b, StageKey::of("train", &1, &[&StageKey::of("data", &2, &[]).unwrap()]).unwrap());
    }

    #[test]
    fn a_stage_runs_once_then_is_reused_and_failures_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StageCache::new(dir.path(), false);
        let key = StageKey::of("s", &1, &[]).unwrap();
        let write = |p: &Path| fs::write(p.join("x"), b"1").map_err(|e| Error::write(p, e));
        assert_eq!(cache.run("s", &key, write).unwrap(), StageStatus::Ran);
        assert_eq!(cache.run("s", &key, |_| panic!("must not rerun")).unwrap(), StageStatus::Cached);
        let other = StageKey::of("s", &2, &[]).unwrap();
        let fail = cache.run("s", &other, |p| {
            fs::write(p.join("half"), b"x").unwrap();
            Err(Error::invalid("body", "failed"))
        });
        assert!(fail.is_err());
        assert!(!dir.path().join(".s.partial").exists(), "partial directory left behind");
        assert_eq!(fs::read(dir.path().join("s/x")).unwrap(), b"1", "the completed stage must survive a failed rerun");
        assert!(cache.is_current("s", &key));
        assert!(!StageCache::new(dir.path(), true).is_current("s", &key), "a fresh run ignores the cache");
    }
}
