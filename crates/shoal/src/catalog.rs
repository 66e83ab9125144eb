//! `shoal catalog reindex`: rebuild the catalog's search index from the store.

use std::path::PathBuf;

use crate::Failure;

#[derive(clap::Subcommand)]
pub enum CatalogCommand {
    /// Rebuild the search index from the store (stop the server first, or ask a
    /// running one with POST /api/admin/catalog/reindex).
    Reindex(ReindexArgs),
}

#[derive(clap::Args)]
pub struct ReindexArgs {
    /// TOML config file (for data_dir and store.path).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for shoal's state (overrides the config's data_dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Indexing threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn run(cmd: CatalogCommand) -> Result<(), Failure> {
    match cmd {
        CatalogCommand::Reindex(a) => reindex(a),
    }
}

fn reindex(a: ReindexArgs) -> Result<(), Failure> {
    let mut config = crate::load_config(a.config.as_deref())?;
    if let Some(d) = a.data_dir {
        config.data_dir = d;
    }
    config.validate().map_err(|e| Failure::Usage(e.0))?;
    let target = shoal_node::backend::Target::of(&config);
    if let shoal_node::backend::Target::Sqlite(store_path) = &target {
        if !store_path.exists() {
            return Err(Failure::Usage(format!(
                "no store at {}: nothing to index (check data_dir or store.path)",
                store_path.display()
            )));
        }
    }
    let store = target.open("shoal catalog reindex")?;
    let dir = config.data_dir.join("catalog-index");
    let index = shoal_index::Index::open(&dir).map_err(|e| Failure::Runtime(e.to_string()))?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let bar = crate::progress_bar(
        0,
        "indexing {bar:40} {pos}/{len} torrents {per_sec} eta {eta}",
    );
    let started = std::time::Instant::now();
    let n = shoal_index::indexer::rebuild(&index, store.as_ref(), threads, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .map_err(|e| match e {
        shoal_index::IndexError::Locked(_) => Failure::Runtime(format!(
            "{e}: a running shoal serve owns it; ask it instead with POST /api/admin/catalog/reindex"
        )),
        e => Failure::Runtime(e.to_string()),
    })?;
    bar.finish_and_clear();
    println!(
        "indexed {n} torrents into {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
