//! Images of a preview, made safe to show: the bytes a stranger chose are never served.
//! An image is accepted only when its first bytes say PNG, JPEG, GIF or WebP (an SVG or
//! an HTML page named `.jpg` is refused), its dimensions — read from its header, before
//! anything is decoded — stay under a pixel count (a small file can claim a huge
//! canvas), and it decodes within a memory bound; it is then re-encoded as PNG, once as a
//! thumbnail and once at most `full` pixels on its longer side. An animated GIF shows
//! its first frame.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};

/// Bounds on what is decoded and what is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most pixels an image may claim.
    pub max_pixels: u64,
    /// Longer side of the thumbnail.
    pub thumb: u32,
    /// Longer side of the full-size copy (larger images are scaled down).
    pub full: u32,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            max_pixels: 40_000_000,
            thumb: 320,
            full: 1600,
        }
    }
}

/// Why an image is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not PNG, JPEG, GIF or WebP by its first bytes.
    NotAnImage,
    /// Its header claims more pixels than allowed.
    TooLarge {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
    },
    /// It does not decode (truncated, corrupt, or over the memory bound).
    Broken(String),
}

/// An image made safe: PNG bytes of a thumbnail and of a bounded full-size copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The original's dimensions.
    pub width: u32,
    /// The original's height.
    pub height: u32,
    /// The thumbnail, PNG.
    pub thumb: Vec<u8>,
    /// The full-size copy, PNG.
    pub full: Vec<u8>,
}

/// Checks, decodes and re-encodes `bytes`.
pub fn render(bytes: &[u8], bounds: &Bounds) -> Result<Rendered, Refused> {
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP)) => f,
        _ => return Err(Refused::NotAnImage),
    };
    // The header alone says how large the canvas is.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| Refused::Broken(e.to_string()))?;
    if u64::from(width) * u64::from(height) > bounds.max_pixels || width == 0 || height == 0 {
        return Err(Refused::TooLarge { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    // Four bytes a pixel, with room for the decoder's own buffers.
    limits.max_alloc = Some(bounds.max_pixels.saturating_mul(8));
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Refused::Broken(e.to_string()))?;
    // Made smaller, never larger.
    let thumb = if width.max(height) > bounds.thumb {
        img.thumbnail(bounds.thumb, bounds.thumb)
    } else {
        img.clone()
    };
    let full = if width.max(height) > bounds.full {
        img.resize(
            bounds.full,
            bounds.full,
            image::imageops::FilterType::Lanczos3,
        )
    } else {
        img
    };
    Ok(Rendered {
        width,
        height,
        thumb: png(&thumb)?,
        full: png(&full)?,
    })
}

fn png(img: &DynamicImage) -> Result<Vec<u8>, Refused> {
    let mut out = Cursor::new(Vec::new());
    // 8 bits a channel: PNG cannot hold every decoder's float formats.
    let img = if img.color().has_alpha() {
        DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.to_rgb8())
    };
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Refused::Broken(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut out, format)
            .unwrap();
        out.into_inner()
    }

    fn dims(png: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory_with_format(png, ImageFormat::Png).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn images_are_re_encoded_within_their_bounds() {
        let b = Bounds::default();
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif] {
            let r = render(&encoded(2000, 1000, format), &b).unwrap();
            assert_eq!((r.width, r.height), (2000, 1000), "{format:?}");
            assert_eq!(dims(&r.thumb), (320, 160), "{format:?}");
            assert_eq!(dims(&r.full), (1600, 800), "{format:?}");
            assert!(r.full.starts_with(b"\x89PNG"));
        }
        // A small image keeps its size in the full copy.
        let r = render(&encoded(100, 50, ImageFormat::Png), &b).unwrap();
        assert_eq!(dims(&r.full), (100, 50));
        assert_eq!(dims(&r.thumb), (100, 50), "never enlarged");
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        // A real 1×1 PNG whose header is rewritten to claim 50,000 × 50,000 pixels (the
        // header's CRC made right, so only the size is wrong).
        let mut bomb = encoded(1, 1, ImageFormat::Png);
        bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            render(&bomb, &Bounds::default()),
            Err(Refused::TooLarge {
                width: 50_000,
                height: 50_000
            })
        );
    }

    #[test]
    fn svg_or_html_named_jpg_and_broken_images_are_refused() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
        assert_eq!(render(svg, &Bounds::default()), Err(Refused::NotAnImage));
        assert_eq!(render(html, &Bounds::default()), Err(Refused::NotAnImage));
        assert_eq!(render(b"", &Bounds::default()), Err(Refused::NotAnImage));
        // A BMP or TIFF is not among the kinds shown.
        assert_eq!(
            render(b"BM\0\0\0\0", &Bounds::default()),
            Err(Refused::NotAnImage)
        );
        let mut cut = encoded(300, 300, ImageFormat::Png);
        cut.truncate(cut.len() / 2);
        assert!(matches!(
            render(&cut, &Bounds::default()),
            Err(Refused::Broken(_))
        ));
    }

    /// CRC-32 (IEEE), as PNG chunks carry it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    proptest::proptest! {
        /// Any bytes are refused or rendered, never a panic.
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = render(&bytes, &Bounds::default());
        }
    }
}
