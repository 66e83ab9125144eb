//! Where the node's persistent state lives, and the one place its handles are opened:
//! the tracker's store thread, the accounts watcher, the catalog, the index and the
//! site each hold their own handle on the same store.

use std::path::PathBuf;

use shoal_store::{Backend, StoreError};

use crate::config::Config;
use crate::Failure;

/// The store a node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file (the default: `<data_dir>/shoal.sqlite`, or `store.path`).
    Sqlite(PathBuf),
}

impl Target {
    /// The store the configuration names.
    pub fn of(config: &Config) -> Target {
        Target::Sqlite(if config.store.path.as_os_str().is_empty() {
            config.data_dir.join("shoal.sqlite")
        } else {
            config.store.path.clone()
        })
    }

    /// How logs name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
        }
    }

    /// Opens a handle for `who` (named in errors). A file that is not a shoal store is a
    /// usage error (the operator must move it; retrying cannot help).
    pub fn open(&self, who: &str) -> Result<Box<dyn Backend>, Failure> {
        let opened = match self {
            Target::Sqlite(p) => shoal_store::SqliteStore::open(p).map(|s| Box::new(s) as _),
        };
        opened.map_err(|e| match e {
            StoreError::NotAStore { .. } => Failure::Usage(format!(
                "store file {e}; move it away to start with a new store"
            )),
            e => Failure::Runtime(format!("{who}: cannot open store {}: {e}", self.describe())),
        })
    }
}
