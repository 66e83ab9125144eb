//! The catalog's full-text index: every entry's name and file paths in a tantivy index
//! on disk, tokenized by [`shoal_search::tokenize`] (the same terms at indexing and at
//! query time), searched with the filters, orders and pages of
//! [`shoal_search::request::SearchRequest`] and the swarms' live counts.
//!
//! - [`Index`]: the directory (created, or wiped and recreated when its schema version
//!   differs), documents, queries. One writer at a time (tantivy's lock file): the
//!   server's [`indexer::Indexer`], or `shoal catalog reindex` while no server runs.
//! - [`indexer`]: the index thread beside the resolver: upserts and removals from the
//!   catalog thread, a commit at most [`indexer::COMMIT_DELAY`] after a change, the
//!   catch-up from the store at start and full rebuilds.
//! - [`pool`]: the search threads (bounded concurrency, a queue, a time limit), so
//!   searches never run on a tracker or HTTP worker thread.
//!
//! Why tantivy rather than SQLite FTS5: see ARCHITECTURE.md ("Search index") and
//! BENCHMARKS.md.
#![deny(missing_docs)]

pub mod indexer;
pub mod pool;
mod search;
mod tokenizer;

use std::path::{Path, PathBuf};

use shoal_search::category::Category;
use shoal_store::CatalogEntry;
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::{
    Index as TantivyIndex, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

pub use search::LiveCounts;

/// The index's schema version: a directory written by another version is wiped and
/// rebuilt from the store. Bump it whenever the schema or the tokenizer changes.
pub const SCHEMA_VERSION: u32 = 1;

/// File paths indexed per torrent at most (the rest are kept in the store, shown on
/// the torrent's page, not searched).
pub const MAX_PATHS: usize = 1000;

/// The tokenizer's name in tantivy's registry.
const TOKENIZER: &str = "shoal";

const VERSION_FILE: &str = "shoal-index-version";

/// What went wrong with the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed (disk, corruption, a lock).
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The directory could not be read or written.
    #[error("search index {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process (a running `shoal serve`) writes this index.
    #[error("search index {0} is in use by another shoal process")]
    Locked(PathBuf),
    /// The store could not be read.
    #[error("{0}")]
    Store(#[from] shoal_store::StoreError),
}

/// The fields of a document.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    /// Hex of the tracker hash and a hybrid's alias (exact match, deletes).
    pub hash: Field,
    /// The tracker hash's three parts as fast fields, so results map to swarms
    /// without reading stored documents.
    pub h: [Field; 3],
    pub name: Field,
    pub paths: Field,
    /// Folded name, for ordering by name.
    pub name_key: Field,
    pub size: Field,
    pub files: Field,
    pub first_seen: Field,
    /// Index of the category in [`Category::ALL`].
    pub category: Field,
    /// Top-level Newznab category.
    pub newznab: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let num = || NumericOptions::default() | FAST | STORED;
    let fields = Fields {
        hash: b.add_text_field("hash", STRING),
        h: [
            b.add_u64_field("h0", FAST),
            b.add_u64_field("h1", FAST),
            b.add_u64_field("h2", FAST),
        ],
        name: b.add_text_field("name", text(true)),
        paths: b.add_text_field("paths", text(false)),
        name_key: b.add_text_field("name_key", TextOptions::default().set_fast("raw")),
        size: b.add_u64_field("size", num() | INDEXED),
        files: b.add_u64_field("files", num()),
        first_seen: b.add_u64_field("first_seen", num()),
        category: b.add_u64_field("category", num() | INDEXED),
        newznab: b.add_u64_field("newznab", num() | INDEXED),
    };
    (b.build(), fields)
}

/// The tracker hash as three `u64`s (8 + 8 + 4 bytes).
pub(crate) fn split_hash(h: &[u8; 20]) -> [u64; 3] {
    let mut parts = [0u64; 3];
    parts[0] = u64::from_be_bytes(h[0..8].try_into().unwrap_or_default());
    parts[1] = u64::from_be_bytes(h[8..16].try_into().unwrap_or_default());
    parts[2] = u64::from(u32::from_be_bytes(h[16..20].try_into().unwrap_or_default()));
    parts
}

pub(crate) fn join_hash(p: [u64; 3]) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..8].copy_from_slice(&p[0].to_be_bytes());
    h[8..16].copy_from_slice(&p[1].to_be_bytes());
    h[16..20].copy_from_slice(&(p[2] as u32).to_be_bytes());
    h
}

/// Where the index stands against the store: the last `(resolved_at, info_hash)` it
/// committed, kept in the commit's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    /// Unix seconds the last indexed entry was resolved at.
    pub resolved_at: u64,
}

/// The index on disk, with a reader for searches.
pub struct Index {
    index: TantivyIndex,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
    fresh: bool,
}

impl Index {
    /// Opens the index in `dir`, creating it (and `dir`) when missing; a directory
    /// holding another schema version, or one tantivy cannot open, is emptied and
    /// created anew ([`Index::fresh`] then says a rebuild from the store is due).
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let io = |source| IndexError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let version_path = dir.join(VERSION_FILE);
        let version = std::fs::read_to_string(&version_path)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok());
        let (schema, fields) = schema();
        let mut fresh = version != Some(SCHEMA_VERSION);
        let index = if fresh {
            Index::wipe(dir)?;
            let index = TantivyIndex::create_in_dir(dir, schema.clone())?;
            std::fs::write(&version_path, format!("{SCHEMA_VERSION}\n")).map_err(io)?;
            index
        } else {
            match TantivyIndex::open_in_dir(dir) {
                Ok(i) if i.schema() == schema => i,
                other => {
                    if let Err(e) = other {
                        tracing::warn!(error = %e, dir = %dir.display(), "search index unreadable: rebuilding");
                    }
                    fresh = true;
                    Index::wipe(dir)?;
                    let index = TantivyIndex::create_in_dir(dir, schema.clone())?;
                    std::fs::write(&version_path, format!("{SCHEMA_VERSION}\n")).map_err(io)?;
                    index
                }
            }
        };
        index
            .tokenizers()
            .register(TOKENIZER, tokenizer::ShoalTokenizer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Index {
            index,
            reader,
            fields,
            dir: dir.to_owned(),
            fresh,
        })
    }

    /// Removes every file of `dir` (an index of another version), keeping `dir`.
    fn wipe(dir: &Path) -> Result<(), IndexError> {
        let io = |source| IndexError::Io {
            path: dir.to_owned(),
            source,
        };
        for e in std::fs::read_dir(dir).map_err(io)? {
            let p = e.map_err(io)?.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io)?;
            } else {
                std::fs::remove_file(&p).map_err(io)?;
            }
        }
        Ok(())
    }

    /// Whether the index was created empty by [`Index::open`] (missing, another
    /// version, unreadable): everything must be indexed from the store.
    pub fn fresh(&self) -> bool {
        self.fresh
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Documents searchable now.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether no document is searchable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mark of the last commit (none before the first).
    pub fn mark(&self) -> Option<Mark> {
        let metas = self.index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    /// Takes the writer lock: `threads` indexing threads sharing `heap_bytes` of
    /// buffers. Fails with [`IndexError::Locked`] when another process holds it.
    pub fn writer(&self, threads: usize, heap_bytes: usize) -> Result<Writer, IndexError> {
        let threads = threads.max(1);
        // tantivy wants at least 15 MB of buffer per thread.
        let heap = heap_bytes.max(threads * 16_000_000);
        match self.index.writer_with_num_threads(threads, heap) {
            Ok(w) => Ok(Writer {
                writer: w,
                fields: self.fields,
                reader: self.reader.clone(),
                mark: self.mark().unwrap_or_default(),
                dirty: false,
                cleared: false,
            }),
            Err(tantivy::TantivyError::LockFailure(..)) => {
                Err(IndexError::Locked(self.dir.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The index's one writer.
pub struct Writer {
    writer: IndexWriter,
    fields: Fields,
    reader: IndexReader,
    mark: Mark,
    dirty: bool,
    /// Set by [`Writer::clear`] until the next commit: nothing is indexed that a new
    /// document could replace, so no delete is queued per document (tantivy keeps every
    /// queued delete until the commit: about 1 KiB per entry over a whole rebuild).
    cleared: bool,
}

impl Writer {
    /// Adds an entry, replacing any document of the same torrent (under either of a
    /// hybrid's hashes). Searchable after the next [`Writer::commit`].
    pub fn upsert(&mut self, e: &CatalogEntry) -> Result<(), IndexError> {
        let f = &self.fields;
        let key = shoal_protocol::common::to_hex(&e.info_hash.0);
        if !self.cleared {
            self.writer.delete_term(Term::from_field_text(f.hash, &key));
        }
        let mut doc = TantivyDocument::new();
        doc.add_text(f.hash, &key);
        if let Some(alias) = e.alias {
            let alias = shoal_protocol::common::to_hex(&alias.0);
            if !self.cleared {
                self.writer
                    .delete_term(Term::from_field_text(f.hash, &alias));
            }
            doc.add_text(f.hash, &alias);
        }
        // Results name a hybrid by its v1 hash (what most clients and sites show),
        // whichever swarm it was resolved from.
        let shown = match (e.alias, e.info_hash_v2) {
            (Some(alias), Some(v2)) if v2[..20] == e.info_hash.0 => alias,
            _ => e.info_hash,
        };
        for (field, part) in f.h.iter().zip(split_hash(&shown.0)) {
            doc.add_u64(*field, part);
        }
        doc.add_text(f.name, &e.name);
        for (path, _) in e.files.iter().take(MAX_PATHS) {
            doc.add_text(f.paths, path);
        }
        let mut name_key = shoal_search::fold_only(&e.name);
        let mut cut = name_key.len().min(64);
        while !name_key.is_char_boundary(cut) {
            cut -= 1;
        }
        name_key.truncate(cut);
        doc.add_text(f.name_key, &name_key);
        doc.add_u64(f.size, e.total_size);
        doc.add_u64(f.files, e.file_count);
        doc.add_u64(f.first_seen, e.first_seen);
        let category = Category::of_files(e.files.iter().map(|(p, n)| (p.as_str(), *n)));
        doc.add_u64(f.category, category_index(category));
        doc.add_u64(
            f.newznab,
            u64::from(shoal_search::newznab::of(category, &e.name)),
        );
        self.writer.add_document(doc)?;
        self.mark.resolved_at = self.mark.resolved_at.max(e.resolved_at);
        self.dirty = true;
        Ok(())
    }

    /// Removes a torrent's document (by its tracker hash or a hybrid's alias).
    pub fn remove(&mut self, info_hash: &[u8; 20]) {
        let key = shoal_protocol::common::to_hex(info_hash);
        self.writer
            .delete_term(Term::from_field_text(self.fields.hash, &key));
        self.dirty = true;
    }

    /// Removes every document (a rebuild's first step; readers see the old ones until
    /// the commit). Until that commit each entry must be upserted once: no delete is
    /// queued per document.
    pub fn clear(&mut self) -> Result<(), IndexError> {
        // A delete of everything indexed so far, in order with what follows (tantivy's
        // `delete_all_documents` rewinds its operation stamps, and deletes made after
        // it then miss the documents added in between).
        self.writer
            .delete_query(Box::new(tantivy::query::AllQuery))?;
        self.mark = Mark::default();
        self.dirty = true;
        self.cleared = true;
        Ok(())
    }

    /// Whether there are changes not yet committed.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// The mark the next commit records.
    pub fn mark(&self) -> Mark {
        self.mark
    }

    /// Commits the changes (with the mark) and makes them searchable.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&self.mark).unwrap_or_default());
        prepared.commit()?;
        self.reader.reload()?;
        self.dirty = false;
        self.cleared = false;
        Ok(())
    }

    /// Waits for background merges and releases the lock.
    pub fn finish(self) -> Result<(), IndexError> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

pub(crate) fn category_index(c: Category) -> u64 {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(6) as u64
}

#[cfg(test)]
mod tests;
