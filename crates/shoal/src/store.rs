//! `shoal store migrate-from-sqlite FILE`: a single node's SQLite store copied into the
//! PostgreSQL database that several nodes will share.

use std::path::PathBuf;

use crate::Failure;

#[derive(clap::Subcommand)]
pub enum StoreCommand {
    /// Copy a SQLite store (shoal.sqlite) into an empty PostgreSQL database: the one in
    /// store.url, or --url. Everything or nothing is copied (one transaction).
    MigrateFromSqlite(MigrateArgs),
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The SQLite store to copy (default: the data dir's, store.path or
    /// <data_dir>/shoal.sqlite). A server may keep running on it; what it writes after
    /// the copy began is not copied.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// TOML config file (for store.url, store.path and data_dir).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for shoal's state (overrides the config's data_dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The PostgreSQL database (postgres://user:password@host:port/database); overrides
    /// store.url.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

pub fn run(cmd: StoreCommand) -> Result<(), Failure> {
    match cmd {
        StoreCommand::MigrateFromSqlite(a) => migrate(a),
    }
}

fn migrate(a: MigrateArgs) -> Result<(), Failure> {
    let mut config = crate::load_config(a.config.as_deref())?;
    if let Some(d) = a.data_dir {
        config.data_dir = d;
    }
    config.validate().map_err(|e| Failure::Usage(e.0))?;
    let url = a
        .url
        .unwrap_or_else(|| std::mem::take(&mut config.store.url));
    // The store this node would open without a URL.
    config.store.url.clear();
    let file = match (a.file, shoal_node::backend::Target::of(&config)) {
        (Some(f), _) => f,
        (None, shoal_node::backend::Target::Sqlite(f)) => f,
        (None, shoal_node::backend::Target::Postgres { .. }) => {
            unreachable!("the URL was cleared")
        }
    };
    if url.is_empty() {
        return Err(Failure::Usage(
            "store.url is empty: name the PostgreSQL database with --url or store.url".into(),
        ));
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Failure::Usage(format!(
            "--url = {:?}: not a postgres:// URL",
            shoal_node::backend::redact_password(&url)
        )));
    }
    if !file.is_file() {
        return Err(Failure::Usage(format!(
            "{}: no such file (the SQLite store is <data_dir>/shoal.sqlite)",
            file.display()
        )));
    }
    let shown = shoal_node::backend::redact_password(&url);
    let target = shoal_store::PgStore::connect(&url, shoal_store::LOCAL_NODE)
        .map_err(|e| Failure::Runtime(format!("{shown}: {e}")))?;
    let bar = crate::progress_bar(0, "copying {bar:40} {pos}/{len} rows {per_sec} eta {eta}");
    let started = std::time::Instant::now();
    let migrated = shoal_store::migrate_from_sqlite(&file, &target, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .map_err(|e| match e {
        shoal_store::StoreError::NotAStore { .. } => Failure::Usage(e.to_string()),
        e => Failure::Runtime(e.to_string()),
    })?;
    bar.finish_and_clear();
    for (table, rows) in migrated.tables.iter().filter(|(_, n)| *n > 0) {
        println!("{table}: {rows} rows");
    }
    println!(
        "copied {} rows from {} into {shown} in {:.1} s",
        migrated.rows(),
        file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
