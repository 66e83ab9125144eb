//! The catalog's pages: the search form and its results (`/catalog`), and the pieces
//! the overview and torrent pages borrow (the search box, category names, dates).

use maud::{html, Markup};
use shoal_search::category::Category;
use shoal_search::query::{QueryError, MAX_QUERY_BYTES, MAX_TERMS};
use shoal_search::request::{
    form_pairs, parse_size, Order, SearchError, SearchRequest, MAX_WINDOW,
};

use crate::{hex, Hit, Page, Results, Source};

/// Pages linked on each side of the current one.
const PAGE_SPREAD: usize = 2;

/// The form's fields as typed, to show them again (a bad value stays as it was).
#[derive(Default)]
struct Typed {
    q: String,
    cat: String,
    min_size: String,
    max_size: String,
    seeded: bool,
    sort: String,
}

impl Typed {
    fn read(query: &str) -> Typed {
        let mut t = Typed::default();
        for (k, v) in form_pairs(query) {
            match k.as_str() {
                "q" => t.q = v,
                "cat" => t.cat = v,
                "min_size" => t.min_size = v,
                "max_size" => t.max_size = v,
                "seeded" => t.seeded = matches!(v.as_str(), "1" | "on" | "true" | "yes"),
                "sort" => t.sort = v,
                _ => {}
            }
        }
        t
    }
}

/// The translation key of a category's name.
pub(crate) fn category_key(c: Category) -> &'static str {
    match c {
        Category::Video => "cat_video",
        Category::Audio => "cat_audio",
        Category::Books => "cat_books",
        Category::Software => "cat_software",
        Category::Images => "cat_images",
        Category::Archives => "cat_archives",
        Category::Other => "cat_other",
    }
}

fn order_key(o: Order) -> &'static str {
    match o {
        Order::Relevance => "order_relevance",
        Order::Seeders => "order_seeders",
        Order::Leechers => "order_leechers",
        Order::Completed => "order_completed",
        Order::Size => "order_size",
        Order::Name => "order_name",
        Order::Newest => "order_newest",
    }
}

/// `name` with the byte ranges in `ranges` wrapped in `<mark>`. Ranges that overlap are
/// merged; ranges out of bounds or off character boundaries are skipped.
pub(crate) fn highlighted(name: &str, ranges: &[(usize, usize)]) -> Markup {
    let mut r: Vec<(usize, usize)> = ranges
        .iter()
        .copied()
        .filter(|&(a, b)| {
            a < b && b <= name.len() && name.is_char_boundary(a) && name.is_char_boundary(b)
        })
        .collect();
    r.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut parts: Vec<(&str, bool)> = Vec::with_capacity(merged.len() * 2 + 1);
    let mut at = 0;
    for (a, b) in merged {
        if a > at {
            parts.push((&name[at..a], false));
        }
        parts.push((&name[a..b], true));
        at = b;
    }
    parts.push((&name[at..], false));
    html! {
        @for (text, mark) in parts {
            @if mark { mark { (text) } } @else { (text) }
        }
    }
}

/// `/catalog?<search>`, or `/catalog` for the plain list.
fn search_url(path: &str, qs: &str) -> String {
    if qs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{qs}")
    }
}

/// A link to page `n` of this search (page 1 has no `page`).
fn page_url(req: &SearchRequest, n: usize) -> String {
    let qs = req.to_query_string();
    match (n, qs.is_empty()) {
        (1, _) => search_url("/catalog", &qs),
        (_, true) => format!("/catalog?page={n}"),
        (_, false) => format!("/catalog?{qs}&page={n}"),
    }
}

/// The page numbers to link: the first, the last, and a few around `current`; `None`
/// marks a gap.
pub(crate) fn page_numbers(current: usize, last: usize) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    let lo = current.saturating_sub(PAGE_SPREAD).max(1);
    let hi = (current + PAGE_SPREAD).min(last);
    if lo > 1 {
        out.push(Some(1));
        if lo > 2 {
            out.push(None);
        }
    }
    out.extend((lo..=hi).map(Some));
    if hi < last {
        if hi + 1 < last {
            out.push(None);
        }
        out.push(Some(last));
    }
    out
}

impl Page<'_> {
    pub(crate) fn date(&self, unix: u64) -> String {
        crate::i18n::date(&self.web.catalog, self.lang, unix)
    }

    /// The search box alone (the overview's), sending to `/catalog`.
    pub(crate) fn search_box(&self, q: &str) -> Markup {
        html! {
            form class="search" method="get" action="/catalog" role="search" {
                div class="search-row" {
                    label class="vh" for="q" { (self.t("search_label")) }
                    input type="search" id="q" name="q" value=(q) placeholder=(self.t("search_placeholder"));
                    button type="submit" { (self.t("search_button")) }
                }
            }
        }
    }

    /// The full form, filled with what was typed; `bad` is the field an error is about.
    fn search_form(&self, typed: &Typed, bad: Option<&str>) -> Markup {
        let invalid = |name: &str| (bad == Some(name)).then_some("true");
        let described = |name: &str| (bad == Some(name)).then_some("search-error");
        html! {
            form class="search" method="get" action="/catalog" role="search" {
                div class="search-row" {
                    label class="vh" for="q" { (self.t("search_label")) }
                    input type="search" id="q" name="q" value=(typed.q) placeholder=(self.t("search_placeholder"))
                        aria-invalid=[invalid("q")] aria-describedby=[described("q")];
                    button type="submit" { (self.t("search_button")) }
                }
                fieldset class="filters" {
                    legend class="vh" { (self.t("filters_label")) }
                    div {
                        label for="f-cat" { (self.t("category")) }
                        select id="f-cat" name="cat" aria-invalid=[invalid("cat")] aria-describedby=[described("cat")] {
                            option value="" { (self.t("any_category")) }
                            @for c in Category::ALL {
                                option value=(c.key()) selected[typed.cat == c.key()] { (self.t(category_key(c))) }
                            }
                        }
                    }
                    div {
                        label for="f-min" { (self.t("min_size")) }
                        input type="text" id="f-min" name="min_size" value=(typed.min_size) size="9"
                            placeholder=(self.t("size_placeholder")) autocomplete="off"
                            aria-invalid=[invalid("min_size")] aria-describedby=[described("min_size")];
                    }
                    div {
                        label for="f-max" { (self.t("max_size")) }
                        input type="text" id="f-max" name="max_size" value=(typed.max_size) size="9"
                            placeholder=(self.t("size_placeholder")) autocomplete="off"
                            aria-invalid=[invalid("max_size")] aria-describedby=[described("max_size")];
                    }
                    div {
                        label for="f-sort" { (self.t("sort_by")) }
                        select id="f-sort" name="sort" aria-invalid=[invalid("sort")] aria-describedby=[described("sort")] {
                            @for o in Order::ALL {
                                option value=(o.key()) selected[typed.sort == o.key()] { (self.t(order_key(o))) }
                            }
                        }
                    }
                    div class="check" {
                        input type="checkbox" id="f-seeded" name="seeded" value="1" checked[typed.seeded]
                            aria-invalid=[invalid("seeded")] aria-describedby=[described("seeded")];
                        label for="f-seeded" { (self.t("seeded_only")) }
                    }
                }
            }
        }
    }

    /// What went wrong, in this language: the field it is about (a form field's name)
    /// and the message naming it.
    fn search_error(&self, e: &SearchError) -> (Option<&'static str>, String) {
        let field = |key: &'static str, label: &'static str, msg: String| {
            (Some(key), format!("{}: {msg}", self.t(label)))
        };
        match e {
            SearchError::BadParam { key, value, .. } => {
                let with = |k: &'static str| self.t(k).replace("{value}", value);
                match *key {
                    "cat" => field("cat", "category", with("err_cat")),
                    // A valid max_size is refused only for lying below min_size.
                    "max_size" if parse_size(value).is_some() => {
                        field("max_size", "max_size", self.t("err_size_range").to_owned())
                    }
                    "min_size" => field("min_size", "min_size", with("err_size")),
                    "max_size" => field("max_size", "max_size", with("err_size")),
                    "seeded" => field("seeded", "seeded_only", with("err_seeded")),
                    "sort" => field("sort", "sort_by", with("err_sort")),
                    "page" => field("page", "page_param", with("err_page")),
                    "per_page" => field("per_page", "per_page_param", with("err_per_page")),
                    other => (None, format!("{other}: {}", with("err_param"))),
                }
            }
            SearchError::Query(q) => {
                let msg = match q {
                    QueryError::TooLong => self
                        .t("err_query_long")
                        .replace("{n}", &self.n(MAX_QUERY_BYTES as u64)),
                    QueryError::TooManyTerms => self
                        .t("err_query_terms")
                        .replace("{n}", &self.n(MAX_TERMS as u64)),
                    QueryError::OnlyExclusions => self.t("err_query_exclusions").to_owned(),
                };
                field("q", "search_label", msg)
            }
            SearchError::TooDeep => field(
                "page",
                "page_param",
                self.t("err_too_deep")
                    .replace("{n}", &self.n(MAX_WINDOW as u64)),
            ),
            SearchError::Busy => (None, self.t("err_busy").to_owned()),
            SearchError::Timeout => (None, self.t("err_timeout").to_owned()),
            SearchError::Unavailable(_) => (None, self.t("err_unavailable").to_owned()),
        }
    }

    /// `/catalog`: the form, then the results, or the form with what is wrong (400), or
    /// why there is no search now (503).
    pub(crate) fn catalog(&self, src: &dyn Source) -> (u16, Markup) {
        let typed = Typed::read(self.query);
        let title = self.t("catalog_title");
        let result = SearchRequest::from_query_string(self.query)
            .and_then(|req| src.search(&req).map(|res| (req, res)));
        let (req, res) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let (bad, msg) = self.search_error(&e);
                let status = e.status();
                let main = html! {
                    @if !matches!(e, SearchError::Unavailable(_)) {
                        (self.search_form(&typed, bad))
                    }
                    p class="error" id="search-error" role="alert" { (msg) }
                };
                return (status, self.layout_with(title, "/catalog", None, main));
            }
        };
        let qs = req.to_query_string();
        let feed = search_url("/catalog/rss", &qs);
        let main = html! {
            (self.search_form(&typed, None))
            (self.results(&req, &res, &feed))
        };
        (200, self.layout_with(title, "/catalog", Some(&feed), main))
    }

    fn results(&self, req: &SearchRequest, res: &Results, feed: &str) -> Markup {
        let page = req.offset / req.limit.max(1) + 1;
        let shown = (res.total as usize).min(MAX_WINDOW);
        let last = shown.div_ceil(req.limit.max(1)).max(page);
        let total = if res.exact {
            self.web.catalog.plural(self.lang, "results", res.total)
        } else {
            self.t("results_more").replace("{n}", &self.n(res.total))
        };
        let filtered = !req.q.trim().is_empty()
            || req.category.is_some()
            || req.min_size.is_some()
            || req.max_size.is_some()
            || req.seeded;
        let sorter = |o: Order, label: &'static str| {
            let mut r = req.clone();
            r.order = o;
            r.offset = 0;
            let current = req.order == o;
            let dir = if o == Order::Name {
                "ascending"
            } else {
                "descending"
            };
            html! {
                th scope="col" class=[(o != Order::Name).then_some("num")] aria-sort=[current.then_some(dir)] {
                    a href=(page_url(&r, 1)) { (self.t(label)) }
                }
            }
        };
        html! {
            div class="result-bar" {
                p class="total" role="status" { (total) }
                a class="feed" href=(feed) type="application/rss+xml" { (self.t("rss_link")) }
            }
            @if res.hits.is_empty() {
                p { (self.t(if filtered { "no_results" } else { "catalog_empty" })) }
            } @else {
                div class="table-wrap" {
                    table class="results" {
                        thead {
                            tr {
                                (sorter(Order::Name, "name"))
                                th scope="col" class="opt" { (self.t("category")) }
                                (sorter(Order::Size, "size"))
                                th scope="col" class="num opt" { (self.t("files")) }
                                (sorter(Order::Seeders, "seeders"))
                                (sorter(Order::Leechers, "leechers"))
                                (sorter(Order::Completed, "completed"))
                                (sorter(Order::Newest, "first_seen"))
                            }
                        }
                        tbody {
                            @for h in &res.hits {
                                (self.hit_row(h))
                            }
                        }
                    }
                }
                (self.pager("pages_label", page, last, |n| page_url(req, n)))
            }
        }
    }

    /// Links to the pages around `page` of `last` (none when there is one page);
    /// `label` names the navigation.
    pub(crate) fn pager(
        &self,
        label: &'static str,
        page: usize,
        last: usize,
        link: impl Fn(usize) -> String,
    ) -> Markup {
        let number = |n: usize| self.n(n as u64);
        let aria = |n: usize| self.t("page_n").replace("{n}", &number(n));
        html! {
            @if last > 1 {
                nav class="pages" aria-label=(self.t(label)) {
                    ul {
                        @if page > 1 {
                            li { a href=(link(page - 1)) rel="prev" { "← " (self.t("previous_page")) } }
                        }
                        @for n in page_numbers(page, last) {
                            @match n {
                                Some(n) if n == page => li { a href=(link(n)) aria-current="page" aria-label=(aria(n)) { (number(n)) } },
                                Some(n) => li { a href=(link(n)) aria-label=(aria(n)) { (number(n)) } },
                                None => li class="gap" aria-hidden="true" { "…" },
                            }
                        }
                        @if page < last {
                            li { a href=(link(page + 1)) rel="next" { (self.t("next_page")) " →" } }
                        }
                    }
                }
            }
        }
    }

    fn hit_row(&self, h: &Hit) -> Markup {
        html! {
            tr {
                td class="name" {
                    a href={ "/torrent/" (hex(&h.info_hash)) } { (highlighted(&h.name, &h.highlight)) }
                }
                td class="opt" data-label=(self.t("category")) { (self.t(category_key(h.category))) }
                td class="num" data-label=(self.t("size")) { (self.bytes(h.size)) }
                td class="num opt" data-label=(self.t("files")) { (self.n(h.files)) }
                td class="num" data-label=(self.t("seeders")) { (self.n(h.seeders.into())) }
                td class="num" data-label=(self.t("leechers")) { (self.n(h.leechers.into())) }
                td class="num" data-label=(self.t("completed")) { (self.n(h.completed)) }
                td class="num date" data-label=(self.t("first_seen")) { (self.date(h.first_seen)) }
            }
        }
    }

    /// The overview's list of the newest catalog entries.
    pub(crate) fn recent(&self, hits: &[Hit]) -> Markup {
        html! {
            section aria-labelledby="h-recent" {
                h2 id="h-recent" { (self.t("recently_added")) }
                @if hits.is_empty() {
                    p { (self.t("catalog_empty")) }
                } @else {
                    div class="table-wrap" {
                        table class="results" {
                            thead {
                                tr {
                                    th scope="col" { (self.t("name")) }
                                    th scope="col" class="opt" { (self.t("category")) }
                                    th scope="col" class="num" { (self.t("size")) }
                                    th scope="col" class="num" { (self.t("seeders")) }
                                    th scope="col" class="num" { (self.t("first_seen")) }
                                }
                            }
                            tbody {
                                @for h in hits {
                                    tr {
                                        td class="name" { a href={ "/torrent/" (hex(&h.info_hash)) } { (h.name) } }
                                        td class="opt" data-label=(self.t("category")) { (self.t(category_key(h.category))) }
                                        td class="num" data-label=(self.t("size")) { (self.bytes(h.size)) }
                                        td class="num" data-label=(self.t("seeders")) { (self.n(h.seeders.into())) }
                                        td class="num date" data-label=(self.t("first_seen")) { (self.date(h.first_seen)) }
                                    }
                                }
                            }
                        }
                    }
                    p { a href="/catalog" { (self.t("all_catalog")) " →" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_merge_and_skip_bad_ranges() {
        let m = |name: &str, r: &[(usize, usize)]| highlighted(name, r).into_string();
        assert_eq!(
            m("big buck bunny", &[(0, 3), (9, 14)]),
            "<mark>big</mark> buck <mark>bunny</mark>"
        );
        assert_eq!(m("abcdef", &[(2, 4), (0, 3)]), "<mark>abcd</mark>ef");
        // Out of bounds, empty, and inside a multi-byte character: skipped.
        assert_eq!(m("фильм", &[(1, 3), (4, 2), (0, 99)]), "фильм");
        assert_eq!(m("фильм", &[(0, 4)]), "<mark>фи</mark>льм");
        assert_eq!(m("<b>", &[(1, 2)]), "&lt;<mark>b</mark>&gt;");
    }

    #[test]
    fn page_numbers_around_the_current() {
        assert_eq!(page_numbers(1, 1), [Some(1)]);
        assert_eq!(page_numbers(1, 4), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(
            page_numbers(10, 40),
            [
                Some(1),
                None,
                Some(8),
                Some(9),
                Some(10),
                Some(11),
                Some(12),
                None,
                Some(40)
            ]
        );
        assert_eq!(
            page_numbers(4, 6),
            [Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)]
        );
    }
}
