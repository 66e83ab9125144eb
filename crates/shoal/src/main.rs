//! The `shoal` binary: `serve`, `config`, the tracker client commands, the .torrent
//! tools and `metadata`.

mod catalog;
mod metadata;
mod store;
mod tools;
mod torrent;
mod user;

use shoal_node::config;
pub use shoal_node::Failure;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// shoal: a BitTorrent tracker platform.
#[derive(Parser)]
#[command(name = "shoal", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tracker.
    Serve(ServeArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Announce to a tracker and print its answer as JSON.
    Announce(tools::AnnounceArgs),
    /// Scrape a tracker and print its answer as JSON.
    Scrape(tools::ScrapeArgs),
    /// .torrent files and magnet links: show, create, magnet.
    #[command(subcommand)]
    Torrent(torrent::TorrentCommand),
    /// Torrent metadata from peers (BEP 9).
    #[command(subcommand)]
    Metadata(metadata::MetadataCommand),
    /// The catalog's search index: reindex.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Accounts (private mode, the portal): add, show, ban, unban, reset-passkey.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
        #[command(flatten)]
        store: user::StoreArgs,
    },
    /// The store: migrate-from-sqlite (into PostgreSQL, for several nodes).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Invites: create.
    Invite {
        #[command(subcommand)]
        command: user::InviteCommand,
        #[command(flatten)]
        store: user::StoreArgs,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// UDP listen address (repeatable). Any of --udp, --http, --https replaces every
    /// configured tracker listener: exactly the ones named by flags open.
    #[arg(long = "udp", value_name = "ADDR")]
    udp: Vec<SocketAddr>,
    /// HTTP listen address (repeatable); see --udp.
    #[arg(long = "http", value_name = "ADDR")]
    http: Vec<SocketAddr>,
    /// HTTPS listen address (repeatable); see --udp. Needs http.tls_cert and
    /// http.tls_key.
    #[arg(long = "https", value_name = "ADDR")]
    https: Vec<SocketAddr>,
    /// Directory for shoal's state.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Threads serving network traffic (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the full default configuration as commented TOML.
    Default,
    /// Print the effective configuration (defaults, file, environment) as TOML, with
    /// the admin token and the connection-id secret redacted.
    Show {
        /// TOML config file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// A progress bar of `len` steps drawn with `template` on a terminal, and nothing when
/// standard error is not one (logs and pipes stay quiet).
fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // The command-line tools end quietly when their reader goes away
        // (`shoal torrent show FILE | head`), as Unix tools do, instead of panicking on
        // the write; the server keeps Rust's default (a closed peer is an error to
        // handle, never a reason to die).
        // SAFETY: no other thread exists yet, and SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match cli.command {
        Command::Serve(args) => load_config(args.config.as_deref()).and_then(|mut c| {
            // Any listener flag names every tracker listener: the file's and the
            // defaults' are replaced, so `--http ADDR` alone opens no UDP port.
            if !(args.udp.is_empty() && args.http.is_empty() && args.https.is_empty()) {
                c.udp.listen = args.udp;
                c.http.listen = args.http;
                c.http.tls_listen = args.https;
            }
            if let Some(d) = args.data_dir {
                c.data_dir = d;
            }
            if let Some(w) = args.workers {
                c.workers = w;
            }
            c.validate().map_err(|e| Failure::Usage(e.0))?;
            serve(c)
        }),
        Command::Config(ConfigCommand::Default) => {
            print!("{}", config::default_toml());
            Ok(())
        }
        Command::Config(ConfigCommand::Show { config }) => {
            load_config(config.as_deref()).and_then(|c| {
                c.validate().map_err(|e| Failure::Usage(e.0))?;
                let text = c
                    .to_redacted_toml()
                    .map_err(|e| Failure::Runtime(e.to_string()))?;
                print!("{text}");
                Ok(())
            })
        }
        Command::Announce(args) => tools::announce(args),
        Command::Scrape(args) => tools::scrape(args),
        Command::Torrent(cmd) => torrent::run(cmd),
        Command::Metadata(cmd) => metadata::run(cmd),
        Command::Catalog(cmd) => catalog::run(cmd),
        Command::User { command, store } => user::run_user(command, store),
        Command::Invite { command, store } => user::run_invite(command, store),
        Command::Store(cmd) => store::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("shoal: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("shoal: {msg}");
            ExitCode::from(1)
        }
    }
}

fn load_config(file: Option<&std::path::Path>) -> Result<config::Config, Failure> {
    config::load(file).map_err(|e| Failure::Usage(e.0))
}

/// `shoal serve`: starts a node and runs it until SIGINT or SIGTERM; SIGHUP reloads.
fn serve(config: config::Config) -> Result<(), Failure> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    shoal_node::init_logging(&config);
    // Registered before binding so an early SIGTERM is not lost.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::Runtime(format!("cannot install signal handlers: {e}")))?;
    let node = shoal_node::Node::start(config)?;
    for signal in signals.forever() {
        if signal == SIGHUP {
            node.reload();
        } else {
            tracing::info!(signal, "shutting down");
            break;
        }
    }
    node.shutdown();
    Ok(())
}
