//! A shoal node as a library: configuration, the wiring of front ends, engine and
//! store, the periodic work, and the node's lifecycle. The `shoal` binary is its
//! command line; integration tests can start a node in-process:
//!
//! ```no_run
//! let mut config = shoal_node::config::Config::default();
//! config.data_dir = std::env::temp_dir().join("shoal-example");
//! config.udp.listen = vec!["127.0.0.1:0".parse().unwrap()];
//! config.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
//! let node = shoal_node::Node::start(config).map_err(|e| e.to_string()).unwrap();
//! println!("udp on {:?}", node.addresses().udp);
//! node.shutdown();
//! ```
#![deny(missing_docs)]

mod access;
mod accounts;
pub mod backend;
mod batch;
mod changes;
mod cluster;
pub mod config;
mod node;
mod persist;
pub mod schedule;

pub use node::{init_logging, Addresses, Node};

/// How starting or running a node failed: bad input (the binary exits 2) or a runtime
/// failure (exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A bad flag, config key or value.
    Usage(String),
    /// Something failed while running.
    Runtime(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => f.write_str(m),
        }
    }
}
