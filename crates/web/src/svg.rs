//! Small SVG charts rendered on the server, so they work without JavaScript. Colours
//! come from CSS (`currentColor` and classes), so they follow the light/dark theme.

use std::fmt::Write;

use crate::i18n::Lang;

/// Escapes text for an SVG/HTML text node or attribute.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// `00:00`-style UTC clock time, or `MM-DD` when `days`.
pub fn time_label(unix: u64, days: bool) -> String {
    let s = unix % 86_400;
    if days {
        let (_, month, day) = crate::i18n::civil_date(unix);
        format!("{month:02}-{day:02}")
    } else {
        format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
    }
}

/// A line chart of `(unix seconds, value)` points with a title and a description for
/// screen readers. `days` labels the time axis with dates instead of clock times.
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    points: &[(u64, u64)],
    lang: Lang,
    days: bool,
) -> String {
    let mut s = String::with_capacity(2048);
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
    let (t0, t1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) => (a.0, b.0.max(a.0 + 1)),
        _ => (0, 1),
    };
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let x = |t: u64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * (W - LEFT - RIGHT);
    let y = |v: u64| TOP + (1.0 - v as f64 / max as f64) * (H - TOP - BOTTOM);
    // Grid and value labels: 0, half, max (each once).
    let mut marks = vec![0, max / 2, max];
    marks.dedup();
    for v in marks {
        let yy = y(v);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}"/><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            esc(&lang.int(v))
        );
    }
    if !points.is_empty() {
        let _ = write!(
            s,
            r#"<text class="label" x="{LEFT}" y="{:.1}">{}</text><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            H - 6.0,
            time_label(t0, days),
            W - RIGHT,
            H - 6.0,
            if days {
                time_label(t1, true)
            } else {
                format!("{} UTC", time_label(t1, false))
            }
        );
        s.push_str(r#"<polyline class="line" fill="none" points=""#);
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{:.1},{:.1}", x(p.0), y(p.1));
        }
        s.push_str(r#""/>"#);
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart of `(label, share 0..=1)` rows.
pub fn bar_chart(id: &str, title: &str, rows: &[(String, f64)], lang: Lang) -> String {
    let row_h = 26.0;
    let label_w = 180.0;
    let h = rows.len() as f64 * row_h + 8.0;
    let mut s = String::with_capacity(256 + rows.len() * 256);
    let _ = write!(
        s,
        r#"<svg class="chart bars" viewBox="0 0 {W} {h}" role="img" aria-labelledby="{id}-t" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title>"#,
        esc(title)
    );
    let bar_max = W - label_w - 90.0;
    for (i, (label, share)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (share.clamp(0.0, 1.0) * bar_max).max(1.0);
        let _ = write!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar" x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="3"/><text class="label" x="{:.1}" y="{:.1}">{}</text>"#,
            label_w - 8.0,
            y + 17.0,
            esc(label),
            y + 4.0,
            row_h - 8.0,
            label_w + w + 6.0,
            y + 17.0,
            esc(&lang.percent(*share))
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn time_labels() {
        assert_eq!(time_label(0, false), "00:00");
        assert_eq!(time_label(86_400 + 3600 * 13 + 60 * 5, false), "13:05");
        // 2026-11-21
        assert_eq!(time_label(1_763_683_200, true), "11-21");
        assert_eq!(time_label(0, true), "01-01");
    }

    #[test]
    fn charts_hold_their_data_and_escape_labels() {
        let pts = [(1000, 10), (1060, 20), (1120, 5)];
        let svg = line_chart("p", "Peers <all>", "from 5 to 20", &pts, Lang::Ru, false);
        assert!(svg.contains("Peers &lt;all&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        // Three points in the line, the max labelled in Russian grouping.
        let line = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(line.split(' ').count(), 3);
        let empty = line_chart("e", "t", "d", &[], Lang::En, true);
        assert!(!empty.contains("<polyline"));
        let bars = bar_chart(
            "c",
            "Clients",
            &[("qBittorrent".into(), 0.5), ("<b>".into(), 0.25)],
            Lang::En,
        );
        assert!(bars.contains("&lt;b&gt;") && bars.contains("50.0%"));
        assert_eq!(bars.matches("<rect").count(), 2);
    }
}
