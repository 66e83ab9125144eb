//! Publishing: the upload form, the account's uploads, and downloads with the
//! account's passkey in the announce URLs.

use axum::extract::{Multipart, Path};
use shoal_store::{CatalogEntry, InfoHash, NewUpload, Published, Upload, UploadFilter};

use super::*;

/// Longest title and description accepted.
const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 20_000;

/// Uploads listed on "my uploads".
const UPLOADS_SHOWN: u64 = 500;

/// A checked `.torrent`, ready to store: its catalog entry (hashes of the dictionary
/// as stored: made private in private mode) and the name it carries.
struct Checked {
    entry: CatalogEntry,
}

/// Parses and checks an uploaded `.torrent`: a valid v1, v2 or hybrid metainfo within
/// the size cap whose name and every file path are safe to create on disk; in private
/// mode its info dictionary gets `private = 1` (which changes its hashes). The error is
/// a translation key.
fn check_torrent(bytes: &[u8], app: &Inner, now: u64) -> Result<Checked, &'static str> {
    if bytes.is_empty() {
        return Err("portal_upload_no_file");
    }
    if bytes.len() > app.config.max_torrent_bytes {
        return Err("portal_upload_too_large");
    }
    let limits = shoal_metainfo::Limits {
        max_info_bytes: app.config.max_torrent_bytes,
        ..shoal_metainfo::Limits::default()
    };
    let torrent =
        shoal_metainfo::Torrent::parse(bytes, &limits).map_err(|_| "portal_upload_not_torrent")?;
    if torrent.info.safe_name().is_none()
        || torrent
            .info
            .content()
            .any(|f| !f.path.is_empty() && f.safe_path().is_none())
    {
        return Err("portal_upload_bad_paths");
    }
    let info = if app.config.private {
        shoal_metainfo::with_private_flag(&torrent.info_bytes, None)
            .map_err(|_| "portal_upload_not_torrent")?
    } else {
        torrent.info_bytes
    };
    let hashes = shoal_metainfo::Info::hashes(&info).map_err(|_| "portal_upload_not_torrent")?;
    let entry = shoal_catalog::entry_from_info(
        InfoHash(hashes.tracker_hash()),
        &info,
        now,
        0,
        now,
        app.config.max_torrent_bytes as u64,
    )
    .map_err(|_| "portal_upload_not_torrent")?;
    Ok(Checked { entry })
}

/// What the upload form sent.
#[derive(Default)]
struct UploadForm {
    csrf: Option<String>,
    title: String,
    description: String,
    category: String,
    file: Vec<u8>,
    file_name: String,
}

/// Reads the multipart form (the front end and the route bounded the body). `Err`: the
/// status to answer — 413 for a body over the limit, 400 for a broken form.
async fn read_form(mut m: Multipart) -> Result<UploadForm, StatusCode> {
    let mut f = UploadForm::default();
    let status = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        }
    };
    while let Some(field) = m.next_field().await.map_err(status)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "torrent" {
            f.file_name = field.file_name().unwrap_or("").to_owned();
        }
        let bytes = field.bytes().await.map_err(status)?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => f.csrf = Some(text()),
            "title" => f.title = text(),
            "description" => f.description = text(),
            "category" => f.category = text(),
            "torrent" => f.file = bytes.to_vec(),
            _ => {}
        }
    }
    Ok(f)
}

fn category_key(c: shoal_search::category::Category) -> &'static str {
    match c {
        shoal_search::category::Category::Video => "cat_video",
        shoal_search::category::Category::Audio => "cat_audio",
        shoal_search::category::Category::Books => "cat_books",
        shoal_search::category::Category::Software => "cat_software",
        shoal_search::category::Category::Images => "cat_images",
        shoal_search::category::Category::Archives => "cat_archives",
        shoal_search::category::Category::Other => "cat_other",
    }
}

#[allow(clippy::too_many_arguments)]
fn upload_page(
    app: &Inner,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<&'static str>,
    duplicate: Option<InfoHash>,
    form: &UploadForm,
    csrf: &str,
    waits: bool,
) -> Response {
    render(app, ctx, status, "portal_upload_title", &[], |f| {
        html! {
            @if let Some(e) = error {
                p class="error" role="alert" {
                    (f.t(e))
                    @if let Some(h) = duplicate {
                        " " a href={ "/download/" (h.to_hex()) } { (f.t("portal_upload_existing")) }
                    }
                }
            }
            @if waits {
                p class="note" { (f.t("portal_upload_waits")) }
            }
            form class="form" method="post" action="/upload" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(csrf);
                label { (f.t("portal_upload_file"))
                    input type="file" name="torrent" accept=".torrent,application/x-bittorrent" required;
                }
                label { (f.t("portal_upload_title_field"))
                    input type="text" name="title" value=(form.title) maxlength=(MAX_TITLE);
                }
                label { (f.t("category"))
                    select name="category" {
                        option value="" { (f.t("portal_upload_category_auto")) }
                        @for c in shoal_search::category::Category::ALL {
                            option value=(c.key()) selected[form.category == c.key()] { (f.t(category_key(c))) }
                        }
                    }
                }
                label { (f.t("portal_upload_description"))
                    textarea name="description" rows="8" maxlength=(MAX_DESCRIPTION) { (form.description) }
                }
                p class="note" { (f.t("portal_upload_note")) }
                button type="submit" { (f.t("portal_upload_button")) }
            }
        }
    })
}

pub(super) async fn upload_form(State(app): State<App>, ctx: Ctx) -> Response {
    let session = match super::admin::staff(&app, &ctx, Role::User).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let waits = session.account.role < app.config.publish_role;
    let csrf = Token(session.csrf).to_hex();
    upload_page(
        &app,
        &ctx,
        StatusCode::OK,
        None,
        None,
        &UploadForm::default(),
        &csrf,
        waits,
    )
}

pub(super) async fn upload(State(app): State<App>, ctx: Ctx, form: Option<Multipart>) -> Response {
    let session = match super::admin::staff(&app, &ctx, Role::User).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let read = match form {
        Some(m) => read_form(m).await,
        None => Err(StatusCode::BAD_REQUEST),
    };
    let mut form = match read {
        Ok(f) => f,
        Err(status) => {
            let key = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "portal_upload_too_large"
            } else {
                "portal_upload_bad_form"
            };
            return message(&app, &ctx, status, "portal_upload_title", key);
        }
    };
    if !csrf_matches(&Token(session.csrf), form.csrf.as_deref()) {
        return forbidden(&app, &ctx);
    }
    let file = std::mem::take(&mut form.file);
    let account = session.account;
    let waits = account.role < app.config.publish_role;
    let csrf = Token(session.csrf).to_hex();
    let refuse =
        |status, key, dup| upload_page(&app, &ctx, status, Some(key), dup, &form, &csrf, waits);
    let title = form.title.trim();
    if title.chars().count() > MAX_TITLE || form.description.chars().count() > MAX_DESCRIPTION {
        return refuse(StatusCode::BAD_REQUEST, "portal_upload_too_long", None);
    }
    // Control characters (NUL among them, which PostgreSQL text cannot hold) have no
    // place in a title, nor in a description beyond line breaks and tabs.
    let control = |c: char, allowed: &str| c.is_control() && !allowed.contains(c);
    if title.chars().any(|c| control(c, ""))
        || form.description.chars().any(|c| control(c, "\n\r\t"))
    {
        return refuse(StatusCode::BAD_REQUEST, "portal_upload_bad_text", None);
    }
    let category = if form.category.is_empty() {
        None
    } else {
        match shoal_search::category::Category::from_key(&form.category) {
            Some(c) => Some(c),
            None => return refuse(StatusCode::BAD_REQUEST, "portal_upload_bad_category", None),
        }
    };
    let now = unix_now();
    let entry = match check_torrent(&file, &app, now) {
        Ok(c) => c.entry,
        Err(key) => {
            let status = if key == "portal_upload_too_large" {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return refuse(status, key, None);
        }
    };
    let title = if title.is_empty() {
        entry.name.clone()
    } else {
        title.to_owned()
    };
    let category = category.unwrap_or_else(|| {
        shoal_search::category::Category::of_files(
            entry.files.iter().map(|(p, s)| (p.as_str(), *s)),
        )
    });
    let store = app.store.clone();
    let (stored, description, user_id) = (entry.clone(), form.description.clone(), account.id);
    let (t, approved, list) = (title.clone(), !waits, app.config.list_uploads);
    let done = blocking(move || {
        store.add_upload(&NewUpload {
            entry: &stored,
            user_id,
            title: &t,
            description: &description,
            category: category.key(),
            at: now,
            approved,
            list,
        })
    })
    .await;
    match done {
        Some(Ok(Published::Added)) => {
            tracing::info!(
                info_hash = %entry.info_hash.to_hex(),
                user = %account.name,
                approved,
                "portal: torrent uploaded"
            );
            if approved {
                app.tracker.published(&CatalogEntry {
                    name: title,
                    ..entry.clone()
                });
            }
            let to = format!("/account/uploads?added={}", entry.info_hash.to_hex());
            redirect_to(&to)
        }
        Some(Ok(Published::Duplicate(h))) => {
            refuse(StatusCode::CONFLICT, "portal_upload_duplicate", Some(h))
        }
        _ => store_failed(&app, &ctx),
    }
}

/// `303 See Other` to a built location.
pub(super) fn redirect_to(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The announce URLs with this passkey: `…/announce/<passkey>` for every tracker URL.
pub(super) fn passkey_urls(app: &Inner, host: Option<&str>, passkey: &[u8; 16]) -> Vec<String> {
    let key = hex::encode(passkey);
    app.tracker
        .announce_urls(host)
        .into_iter()
        .map(|u| format!("{}/{key}", u.trim_end_matches('/')))
        .collect()
}

/// A magnet link for `entry` with these trackers (both hashes of a hybrid).
pub(super) fn magnet(entry: &CatalogEntry, trackers: &[String]) -> Option<String> {
    let m = shoal_metainfo::Magnet {
        info_hashes: shoal_metainfo::Info::hashes(&entry.info).ok()?,
        name: Some(entry.name.clone()),
        trackers: trackers.to_vec(),
        size: Some(entry.total_size),
    };
    Some(m.to_string())
}

pub(super) async fn my_uploads(State(app): State<App>, ctx: Ctx) -> Response {
    let session = match super::admin::staff(&app, &ctx, Role::User).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = session.account;
    let store = app.store.clone();
    let id = a.id;
    let loaded = blocking(move || {
        store.uploads(
            &UploadFilter {
                user_id: Some(id),
                ..UploadFilter::default()
            },
            UPLOADS_SHOWN,
            0,
        )
    })
    .await;
    let Some(Ok(uploads)) = loaded else {
        return store_failed(&app, &ctx);
    };
    let added = ctx.param("added");
    render(
        &app,
        &ctx,
        StatusCode::OK,
        "portal_uploads_title",
        &[],
        |f| {
            html! {
                @if let Some(h) = &added {
                    @let pending = uploads.iter().any(|u| u.info_hash.to_hex() == *h && !u.approved);
                    p class="notice" role="status" {
                        (f.t(if pending { "portal_upload_pending" } else { "portal_upload_done" }))
                    }
                }
                p { a href="/upload" { (f.t("portal_upload_title")) } }
                (uploads_table(f, &uploads, None))
            }
        },
    )
}

/// A table of uploads with their state and download links; with `actions`, the
/// uploader and a column of what staff may do to each (otherwise they are the
/// account's own).
pub(super) fn uploads_table(
    f: &Frame<'_>,
    uploads: &[Upload],
    actions: Option<&dyn Fn(&Upload) -> Markup>,
) -> Markup {
    let mine = actions.is_none();
    html! {
        @if uploads.is_empty() {
            p class="note" { (f.t("portal_no_torrents")) }
        } @else {
            div class="table-wrap" {
                table {
                    thead { tr {
                        th scope="col" { (f.t("portal_torrent")) }
                        @if !mine { th scope="col" { (f.t("portal_uploader")) } }
                        th scope="col" class="num" { (f.t("size")) }
                        th scope="col" { (f.t("portal_state")) }
                        th scope="col" { (f.t("portal_download")) }
                        @if !mine { th scope="col" { (f.t("portal_admin_actions")) } }
                    } }
                    tbody {
                        @for u in uploads {
                            @let hex = u.info_hash.to_hex();
                            tr {
                                td class="name" {
                                    @if u.approved {
                                        a href={ "/download/" (hex) } { (u.title) }
                                    } @else {
                                        (u.title)
                                    }
                                }
                                @if !mine { td { (u.uploader) } }
                                td class="num" { (f.bytes(u.total_size)) }
                                td {
                                    (f.t(if u.approved { "portal_state_published" } else { "portal_state_pending" }))
                                    @if u.freeleech { " · " (f.t("portal_freeleech")) }
                                }
                                td {
                                    @if u.approved {
                                        a href={ "/download/" (hex) ".torrent" } { ".torrent" }
                                    }
                                }
                                @if let Some(act) = actions {
                                    td { (act(u)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /download/<hex>.torrent`: the torrent with the logged-in account's passkey in
/// every announce URL (`/download/<hex>` without the suffix: a page with the magnet).
pub(super) async fn download(
    State(app): State<App>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> Response {
    let session = match super::admin::staff(&app, &ctx, Role::User).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (hex, as_file) = match file.strip_suffix(".torrent") {
        Some(h) => (h, true),
        None => (file.as_str(), false),
    };
    let Ok(h) = InfoHash::from_hex(hex) else {
        return not_found(State(app), ctx).await;
    };
    let store = app.store.clone();
    let found = blocking(move || -> Result<_, StoreError> {
        let entry = store.catalog_entry(&h)?;
        let upload = if as_file { None } else { store.upload(&h)? };
        Ok((entry, upload))
    })
    .await;
    let (entry, upload) = match found {
        Some(Ok((Some(e), u))) => (e, u),
        Some(Ok((None, _))) => return not_found(State(app), ctx).await,
        _ => return store_failed(&app, &ctx),
    };
    let urls = passkey_urls(
        &app,
        plain_host(ctx.host.as_deref()),
        &session.account.passkey,
    );
    if !as_file {
        let link = magnet(&entry, &urls);
        return render(
            &app,
            &ctx,
            StatusCode::OK,
            "portal_download_title",
            &[],
            |f| {
                html! {
                    h2 { a href={ "/torrent/" (entry.info_hash.to_hex()) } { (entry.name) } }
                    dl class="stats" {
                        div class="stat" { dt { (f.t("size")) } dd { (f.bytes(entry.total_size)) } }
                        div class="stat" { dt { (f.t("files")) } dd { (f.int(entry.file_count)) } }
                        @if let Some(u) = &upload {
                            div class="stat" { dt { (f.t("portal_uploader")) } dd { (u.uploader) } }
                            @if u.freeleech {
                                div class="stat" { dt { (f.t("portal_freeleech")) } dd { "✓" } }
                            }
                        }
                    }
                    p { a href={ "/download/" (entry.info_hash.to_hex()) ".torrent" } { (f.t("portal_download_torrent")) } }
                    @if let Some(link) = &link {
                        p { a href=(link) { (f.t("portal_download_magnet")) } }
                    }
                    p class="note" { (f.t("portal_passkey_note")) }
                    @if let Some(u) = upload.as_ref().filter(|u| !u.description.is_empty()) {
                        section aria-labelledby="h-description" {
                            h2 id="h-description" { (f.t("portal_upload_description")) }
                            pre class="description" { (u.description) }
                        }
                    }
                }
            },
        );
    }
    let limits = shoal_metainfo::Limits::default();
    let Ok(mut t) = shoal_metainfo::Torrent::from_info_bytes(entry.info.clone(), &limits) else {
        return store_failed(&app, &ctx);
    };
    t.announce = urls.first().cloned();
    if urls.len() > 1 {
        t.announce_list = urls.iter().map(|u| vec![u.clone()]).collect();
    }
    let mut r = (StatusCode::OK, t.write()).into_response();
    let hd = r.headers_mut();
    hd.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-bittorrent"),
    );
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let name: String = entry
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.torrent\"")) {
        hd.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
