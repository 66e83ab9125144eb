//! `shoal user` and `shoal invite`: accounts for private mode and the portal, made and
//! changed in the store (the data dir's, or `store.path`) — also while a server runs on
//! it: it reloads changed accounts within a second.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use serde_json::json;
use shoal_store::{Account, AccountTorrent, Backend, NewAccount, Role, StoreError};

use shoal_portal::password::{valid_name, valid_password};

use crate::Failure;

/// Where the store is.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// TOML config file (for data_dir and store.path).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Directory for shoal's state (overrides the config's data_dir).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account and print its passkey.
    Add {
        /// The account's name (letters, digits, `.`, `_`, `-`; 2 to 32 characters).
        name: String,
        /// What it may do.
        #[arg(long, default_value = "user", value_parser = ["user", "uploader", "moderator", "admin"])]
        role: String,
        /// Read a password from the first line of standard input (for the site's login).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print an account: role, passkey, totals, ratio, torrents seeding and leeching
    /// now (announced within the hour), snatches.
    Show {
        /// The account's name (any case).
        name: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ban an account: the tracker refuses its passkey.
    Ban {
        /// The account's name.
        name: String,
    },
    /// Lift a ban.
    Unban {
        /// The account's name.
        name: String,
    },
    /// Give an account a new passkey (the old one stops working) and print it.
    ResetPasskey {
        /// The account's name.
        name: String,
    },
}

#[derive(clap::Subcommand)]
pub enum InviteCommand {
    /// Create an invite code and print it (it is stored only as a hash).
    Create {
        /// The account the invite comes from.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Days until it expires.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=365))]
        days: u64,
    },
}

fn open(a: &StoreArgs) -> Result<Box<dyn Backend>, Failure> {
    let mut config = crate::load_config(a.config.as_deref())?;
    if let Some(d) = &a.data_dir {
        config.data_dir = d.clone();
    }
    config.validate().map_err(|e| Failure::Usage(e.0))?;
    let target = shoal_node::backend::Target::of(&config);
    if let Some(dir) = match &target {
        shoal_node::backend::Target::Sqlite(path) => path.parent(),
        shoal_node::backend::Target::Postgres { .. } => None,
    } {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::Usage(format!(
                "data_dir {:?}: cannot create: {e}",
                dir.display().to_string()
            ))
        })?;
    }
    target.open("shoal user")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random<const N: usize>() -> Result<[u8; N], Failure> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| Failure::Runtime(format!("no OS randomness: {e}")))?;
    Ok(b)
}

/// An argon2id hash of a password (the site's code: one copy for both).
fn hash_password(password: &str) -> Result<String, Failure> {
    shoal_portal::password::hash_password(password).map_err(|e| Failure::Runtime(e.to_string()))
}

fn missing(name: &str) -> Failure {
    Failure::Runtime(format!("no account named {name:?}"))
}

/// Torrents an account announced within this long and not stopped count as "now".
const NOW_WINDOW: u64 = 3600;

fn show(a: &Account, torrents: &[AccountTorrent], json: bool) {
    let ratio = (a.downloaded > 0).then(|| a.uploaded as f64 / a.downloaded as f64);
    let now = unix_now();
    let live = |t: &&AccountTorrent| t.active && t.last_announce + NOW_WINDOW >= now;
    let seeding = torrents.iter().filter(live).filter(|t| t.seeding).count();
    let leeching = torrents.iter().filter(live).filter(|t| !t.seeding).count();
    let snatched = torrents.iter().filter(|t| t.snatched).count();
    if json {
        let v = json!({
            "id": a.id,
            "name": a.name,
            "role": a.role.key(),
            "passkey": hex::encode(a.passkey),
            "banned": a.banned,
            "uploaded": a.uploaded,
            "downloaded": a.downloaded,
            "ratio": ratio,
            "seeding": seeding,
            "leeching": leeching,
            "snatched": snatched,
            "invite_quota": a.invite_quota,
            "invited_by": a.invited_by,
            "created_at": a.created_at,
        });
        println!("{v}");
    } else {
        println!("name        {}", a.name);
        println!("role        {}", a.role.key());
        println!("passkey     {}", hex::encode(a.passkey));
        println!("banned      {}", if a.banned { "yes" } else { "no" });
        println!("uploaded    {}", a.uploaded);
        println!("downloaded  {}", a.downloaded);
        println!(
            "ratio       {}",
            ratio.map_or("-".to_owned(), |r| format!("{r:.3}"))
        );
        println!("seeding     {seeding}");
        println!("leeching    {leeching}");
        println!("snatched    {snatched}");
    }
}

pub fn run_user(cmd: UserCommand, store: StoreArgs) -> Result<(), Failure> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            if !valid_name(&name) {
                return Err(Failure::Usage(format!(
                    "name {name:?}: 2 to 32 letters, digits, '.', '_' or '-'"
                )));
            }
            let role = Role::from_key(&role)
                .ok_or_else(|| Failure::Usage(format!("--role {role:?}: not a role")))?;
            let hash = if password_stdin {
                if std::io::stdin().is_terminal() {
                    eprintln!("password (one line):");
                }
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| Failure::Runtime(format!("cannot read the password: {e}")))?;
                let password = line.trim_end_matches(['\r', '\n']);
                if !valid_password(password) {
                    return Err(Failure::Usage(
                        "the password needs 8 to 1024 characters".into(),
                    ));
                }
                Some(hash_password(password)?)
            } else {
                None
            };
            let store = open(&store)?;
            let account = store
                .add_account(&NewAccount {
                    name: &name,
                    role,
                    passkey: random()?,
                    password_hash: hash.as_deref(),
                    invited_by: None,
                    created_at: unix_now(),
                })
                .map_err(|e| match e {
                    StoreError::Conflict(m) => Failure::Usage(m),
                    e => Failure::Runtime(e.to_string()),
                })?;
            println!("{}", hex::encode(account.passkey));
            Ok(())
        }
        UserCommand::Show { name, json } => {
            let s = open(&store)?;
            let a = s
                .account(&name)
                .map_err(|e| Failure::Runtime(e.to_string()))?
                .ok_or_else(|| missing(&name))?;
            let torrents = s
                .account_torrents(a.id)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            show(&a, &torrents, json);
            Ok(())
        }
        UserCommand::Ban { name } => set_banned(&store, &name, true),
        UserCommand::Unban { name } => set_banned(&store, &name, false),
        UserCommand::ResetPasskey { name } => {
            let key = random::<16>()?;
            if !open(&store)?
                .set_passkey(&name, key)
                .map_err(|e| Failure::Runtime(e.to_string()))?
            {
                return Err(missing(&name));
            }
            println!("{}", hex::encode(key));
            Ok(())
        }
    }
}

fn set_banned(store: &StoreArgs, name: &str, banned: bool) -> Result<(), Failure> {
    if !open(store)?
        .set_banned(name, banned)
        .map_err(|e| Failure::Runtime(e.to_string()))?
    {
        return Err(missing(name));
    }
    Ok(())
}

pub fn run_invite(cmd: InviteCommand, store: StoreArgs) -> Result<(), Failure> {
    match cmd {
        InviteCommand::Create { by, days } => {
            let s = open(&store)?;
            let by = match by {
                None => None,
                Some(name) => Some(
                    s.account(&name)
                        .map_err(|e| Failure::Runtime(e.to_string()))?
                        .ok_or_else(|| missing(&name))?
                        .id,
                ),
            };
            let code = hex::encode(random::<16>()?);
            let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(code.as_bytes()).into();
            let now = unix_now();
            s.add_invite(hash, by, now, now + days * 86_400)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("{code}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_hashes_passwords_as_the_site_checks_them() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(shoal_portal::password::verify_password("correct horse", &h));
        assert!(!shoal_portal::password::verify_password("wrong horse", &h));
    }
}
