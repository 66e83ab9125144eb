//! BEP 52 merkle trees: SHA-256 over 16 KiB blocks, leaves past the end of a file are
//! zero, and every layer is a power of two wide.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 hash.
pub(crate) type Hash = [u8; 32];

/// SHA-256 of `left || right`.
pub(crate) fn parent(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of a subtree of `leaves` zero leaves (a power of two): what pads a layer.
pub(crate) fn pad_hash(leaves: u64) -> Hash {
    let mut h = [0u8; 32];
    let mut n = 1;
    while n < leaves {
        h = parent(&h, &h);
        n *= 2;
    }
    h
}

/// The root over `nodes`, padded with `pad` to the next power of two (at least
/// `min_width` wide, a power of two); `pad` is the root of a zero subtree as tall as a
/// node of this layer. The root of no nodes is `pad` widened to `min_width`.
pub(crate) fn root(nodes: &[Hash], pad: Hash, min_width: usize) -> Hash {
    let width = nodes.len().next_power_of_two().max(min_width).max(1);
    let mut layer: Vec<Hash> = nodes.to_vec();
    layer.resize(width, pad);
    while layer.len() > 1 {
        layer = layer
            .chunks_exact(2)
            .map(|p| parent(&p[0], &p[1]))
            .collect();
    }
    layer[0]
}

/// The hash of a piece layer's parent: the file's root from its piece hashes, each the
/// root of `blocks_per_piece` leaves.
pub(crate) fn root_from_pieces(pieces: &[Hash], blocks_per_piece: u64) -> Hash {
    root(pieces, pad_hash(blocks_per_piece), 1)
}
