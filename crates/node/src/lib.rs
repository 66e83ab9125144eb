//! A shoal node as a library: configuration, the wiring of front ends, engine and
//! store, the periodic work, and the node's lifecycle. The `shoal` binary is its
//! command line; integration tests can start a node in-process.
#![deny(missing_docs)]

pub mod config;
