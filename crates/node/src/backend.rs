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
    /// A PostgreSQL database (`store.url`), which several nodes may share, and the name
    /// this node keeps its own rows under (`cluster.node_id`).
    Postgres {
        /// The database.
        url: String,
        /// This node.
        node: String,
    },
}

impl Target {
    /// The store the configuration names.
    pub fn of(config: &Config) -> Target {
        if !config.store.url.is_empty() {
            return Target::Postgres {
                url: config.store.url.clone(),
                node: config.cluster.effective_node_id(),
            };
        }
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
            // The URL without its password.
            Target::Postgres { url, node } => format!("{} as node {node}", redact_password(url)),
        }
    }

    /// Opens a handle for `who` (named in errors). A file that is not a shoal store is a
    /// usage error (the operator must move it; retrying cannot help).
    pub fn open(&self, who: &str) -> Result<Box<dyn Backend>, Failure> {
        let opened = match self {
            Target::Sqlite(p) => shoal_store::SqliteStore::open(p).map(|s| Box::new(s) as _),
            Target::Postgres { url, node } => {
                shoal_store::PgStore::connect(url, node).map(|s| Box::new(s) as _)
            }
        };
        opened.map_err(|e| match e {
            StoreError::NotAStore { .. } => Failure::Usage(format!(
                "store file {e}; move it away to start with a new store"
            )),
            e => Failure::Runtime(format!("{who}: cannot open store {}: {e}", self.describe())),
        })
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`: logs and errors
/// never carry the password.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_password("postgres://shoal:s3cr@t@db.example:5432/shoal"),
            "postgres://shoal:***@db.example:5432/shoal"
        );
        assert_eq!(
            redact_password("postgres://db/shoal"),
            "postgres://db/shoal"
        );
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
