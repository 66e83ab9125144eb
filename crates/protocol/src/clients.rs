//! Which BitTorrent client a peer id belongs to, from its conventional prefix.
//!
//! Most clients use the Azureus style `-XXvvvv-` (two letters, four version characters);
//! some older ones the Shadow style (one letter, then version characters); a few their
//! own forms (aria2 `A2-`, Mainline `M4-…`). [`identify`] returns a small code (0 for
//! unknown) so a tracker can count peers per client in one byte per peer; [`name`] turns
//! the code back into a name.

use crate::common::PeerId;

/// Azureus-style two-letter codes and client names (from BEP 20 and client sources).
const AZUREUS: &[(&[u8; 2], &str)] = &[
    (b"7T", "aTorrent"),
    (b"AB", "AnyEvent::BitTorrent"),
    (b"AG", "Ares"),
    (b"A~", "Ares"),
    (b"AR", "Arctic"),
    (b"AT", "Artemis"),
    (b"AV", "Avicora"),
    (b"AX", "BitPump"),
    (b"AZ", "Vuze"),
    (b"BB", "BitBuddy"),
    (b"BC", "BitComet"),
    (b"BE", "Baretorrent"),
    (b"BF", "Bitflu"),
    (b"BG", "BTG"),
    (b"BI", "BiglyBT"),
    (b"BL", "BitBlinder"),
    (b"BN", "Baidu Netdisk"),
    (b"BP", "BitTorrent Pro"),
    (b"BR", "BitRocket"),
    (b"BS", "BTSlave"),
    (b"BT", "BitTorrent"),
    (b"BW", "BitWombat"),
    (b"BX", "BittorrentX"),
    (b"CD", "Enhanced CTorrent"),
    (b"CT", "CTorrent"),
    (b"DE", "Deluge"),
    (b"DP", "Propagate Data Client"),
    (b"EB", "EBit"),
    (b"ES", "Electric Sheep"),
    (b"FC", "FileCroc"),
    (b"FD", "Free Download Manager"),
    (b"FT", "FoxTorrent"),
    (b"FW", "FrostWire"),
    (b"FX", "Freebox BitTorrent"),
    (b"GS", "GSTorrent"),
    (b"HK", "Hekate"),
    (b"HL", "Halite"),
    (b"HM", "hMule"),
    (b"HN", "Hydranode"),
    (b"IL", "iLivid"),
    (b"JS", "Justseed.it"),
    (b"JT", "JavaTorrent"),
    (b"KG", "KGet"),
    (b"KT", "KTorrent"),
    (b"LC", "LeechCraft"),
    (b"LH", "LH-ABC"),
    (b"LP", "Lphant"),
    (b"LR", "LibreTorrent"),
    (b"LT", "libtorrent"),
    (b"lt", "rTorrent"),
    (b"LW", "LimeWire"),
    (b"MG", "MediaGet"),
    (b"MK", "Meerkat"),
    (b"MO", "MonoTorrent"),
    (b"MP", "MooPolice"),
    (b"MR", "Miro"),
    (b"MT", "MoonlightTorrent"),
    (b"NB", "Net::BitTorrent"),
    (b"NX", "Net Transport"),
    (b"OS", "OneSwarm"),
    (b"OT", "OmegaTorrent"),
    (b"PB", "Protocol::BitTorrent"),
    (b"PD", "Pando"),
    (b"PI", "PicoTorrent"),
    (b"PT", "PHPTracker"),
    (b"qB", "qBittorrent"),
    (b"QD", "QQDownload"),
    (b"QT", "Qt 4 Torrent example"),
    (b"RT", "Retriever"),
    (b"RZ", "RezTorrent"),
    (b"SB", "Swiftbit"),
    (b"SD", "Thunder"),
    (b"SH", "shoal"),
    (b"SM", "SoMud"),
    (b"SP", "BitSpirit"),
    (b"SS", "SwarmScope"),
    (b"ST", "SymTorrent"),
    (b"st", "SharkTorrent"),
    (b"SZ", "Shareaza"),
    (b"S~", "Shareaza beta"),
    (b"TB", "Torch"),
    (b"TE", "Terasaur Seed Bank"),
    (b"TL", "Tribler"),
    (b"TN", "TorrentDotNET"),
    (b"TR", "Transmission"),
    (b"TS", "Torrentstorm"),
    (b"TT", "TuoTu"),
    (b"UL", "uLeecher!"),
    (b"UM", "µTorrent for Mac"),
    (b"UT", "µTorrent"),
    (b"UW", "µTorrent Web"),
    (b"VG", "Vagaa"),
    (b"WD", "WebTorrent Desktop"),
    (b"WT", "BitLet"),
    (b"WW", "WebTorrent"),
    (b"WY", "FireTorrent"),
    (b"XF", "Xfplay"),
    (b"XL", "Xunlei"),
    (b"XS", "XSwifter"),
    (b"XT", "XanTorrent"),
    (b"XX", "Xtorrent"),
    (b"ZT", "ZipTorrent"),
];

/// Other prefixes, checked in order after the Azureus style.
const OTHER: &[(&[u8], &str)] = &[
    (b"A2-", "aria2"),
    (b"TIX", "Tixati"),
    (b"-FG", "FlashGet"),
    (b"-ML", "MLDonkey"),
    (b"-BOW", "Bits on Wheels"),
    (b"Azureus", "Vuze (old)"),
    (b"exbc", "BitComet (old)"),
    (b"OP", "Opera"),
    (b"XBT", "XBT Client"),
];

/// Shadow-style single letters: a letter, then version characters and dashes.
const SHADOW: &[(u8, &str)] = &[
    (b'A', "ABC"),
    (b'M', "BitTorrent (Mainline)"),
    (b'O', "Osprey Permaseed"),
    (b'Q', "BTQueue"),
    (b'R', "Tribler (old)"),
    (b'S', "Shadow"),
    (b'T', "BitTornado"),
    (b'U', "UPnP NAT BitTorrent"),
];

/// How many codes there are (including 0, unknown).
pub const CODES: usize = 1 + AZUREUS.len() + OTHER.len() + SHADOW.len();
const _: () = assert!(CODES <= 256, "client codes must fit a byte");

/// A one-byte client code for `id` (0 when the client is not recognised).
pub fn identify(id: &PeerId) -> u8 {
    let b = &id.0;
    if b[0] == b'-' && b[7] == b'-' {
        if let Some(i) = AZUREUS.iter().position(|(c, _)| c[..] == b[1..3]) {
            return (1 + i) as u8;
        }
    }
    if let Some(i) = OTHER.iter().position(|(p, _)| b.starts_with(p)) {
        return (1 + AZUREUS.len() + i) as u8;
    }
    // Shadow style: letter, then at least three version characters or dashes.
    if b[1..4]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
    {
        if let Some(i) = SHADOW.iter().position(|(l, _)| *l == b[0]) {
            if b[1].is_ascii_digit() {
                return (1 + AZUREUS.len() + OTHER.len() + i) as u8;
            }
        }
    }
    0
}

/// The client name for a code from [`identify`].
pub fn name(code: u8) -> &'static str {
    let i = usize::from(code);
    match i {
        0 => "unknown",
        i if i <= AZUREUS.len() => AZUREUS[i - 1].1,
        i if i <= AZUREUS.len() + OTHER.len() => OTHER[i - 1 - AZUREUS.len()].1,
        i if i < CODES => SHADOW[i - 1 - AZUREUS.len() - OTHER.len()].1,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PeerId {
        let mut b = [b'x'; 20];
        b[..s.len()].copy_from_slice(s.as_bytes());
        PeerId(b)
    }

    #[test]
    fn identifies_common_clients() {
        for (prefix, want) in [
            ("-qB4650-", "qBittorrent"),
            ("-TR3000-", "Transmission"),
            ("-LT2080-", "libtorrent"),
            ("-lt0D80-", "rTorrent"),
            ("-UT3550-", "µTorrent"),
            ("-DE211s-", "Deluge"),
            ("-WW0105-", "WebTorrent"),
            ("-BI3000-", "BiglyBT"),
            ("A2-1-36-0-", "aria2"),
            ("M4-4-0--", "BitTorrent (Mainline)"),
            ("T03I-----", "BitTornado"),
            ("-SH0100-", "shoal"),
        ] {
            assert_eq!(name(identify(&id(prefix))), want, "{prefix}");
        }
        assert_eq!(identify(&id("-ZZ0000-")), 0);
        assert_eq!(identify(&PeerId([0; 20])), 0);
        assert_eq!(identify(&PeerId([0xff; 20])), 0);
    }

    #[test]
    fn table_is_large_and_codes_fit_a_byte() {
        const { assert!(AZUREUS.len() + OTHER.len() + SHADOW.len() >= 60) };
        const { assert!(CODES <= 256) };
        for code in 0..CODES as u8 {
            assert!(!name(code).is_empty());
        }
        let mut seen = std::collections::HashSet::new();
        for (c, _) in AZUREUS {
            assert!(
                seen.insert(*c),
                "duplicate code {:?}",
                std::str::from_utf8(*c)
            );
        }
    }
}
