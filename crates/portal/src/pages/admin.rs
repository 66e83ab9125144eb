//! The admin page (moderators and admins) and invites made on the site.
//!
//! Moderators approve or reject uploads, switch freeleech on torrents and ban or unban
//! users (not other moderators or admins); admins also change roles, invite quotas,
//! ratio overrides and the site's settings, and create invites without a quota.

use axum::extract::Path;
use shoal_store::{Account, AccountChange, InfoHash, UploadFilter};

use super::publish::{redirect_to, uploads_table};
use super::*;

/// Users listed per page of the admin page.
const USERS_SHOWN: u64 = 100;
/// Pending uploads, freeleech torrents and invites listed.
const ROWS_SHOWN: u64 = 200;
/// Recent uploads listed with a freeleech switch.
const RECENT_SHOWN: u64 = 50;

/// The logged-in account's session when it has at least `role` (`Role::User`: any
/// account): `Err` is the answer otherwise (a redirect to the login, or 403).
pub(super) async fn staff(app: &App, ctx: &Ctx, role: Role) -> Result<Session, Response> {
    match current(app, ctx).await? {
        None => Err(redirect("/login", &[])),
        Some((_, s)) if s.account.role >= role => Ok(s),
        Some(_) => Err(message(
            app,
            ctx,
            StatusCode::FORBIDDEN,
            "portal_forbidden_title",
            "portal_staff_only",
        )),
    }
}

/// The logged-in account posting a form: at least `role`, with the session's CSRF
/// token in the form. `Err` is the answer otherwise (login, 403).
pub(super) async fn form_session(
    app: &App,
    ctx: &Ctx,
    role: Role,
    csrf: Option<&str>,
) -> Result<Session, Response> {
    let session = staff(app, ctx, role).await?;
    if !csrf_matches(&Token(session.csrf), csrf) {
        return Err(forbidden(app, ctx));
    }
    Ok(session)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ActionForm {
    csrf: Option<String>,
    action: String,
    role: String,
    quota: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SettingsForm {
    csrf: Option<String>,
    registration: String,
    freeleech: Option<String>,
    double_upload: Option<String>,
}

/// The site's settings as the admin page shows them: registration, global freeleech,
/// double upload (`None`: the configuration decides).
struct Settings {
    registration: Registration,
    freeleech: Option<bool>,
    double_upload: Option<bool>,
}

fn settings_from(app: &Inner, values: &[(String, String)]) -> Settings {
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    Settings {
        registration: get("registration")
            .and_then(Registration::from_key)
            .unwrap_or(app.config.registration),
        freeleech: get("freeleech").and_then(|v| v.parse().ok()),
        double_upload: get("double_upload").and_then(|v| v.parse().ok()),
    }
}

pub(super) async fn admin_page(State(app): State<App>, ctx: Ctx) -> Response {
    let session = match staff(&app, &ctx, Role::Moderator).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let me = session.account;
    let query = ctx.param("q").unwrap_or_default();
    let page = ctx
        .param("page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        .min(10_000);
    let rule = app.config.hit_and_run;
    let store = app.store.clone();
    let q = query.trim().to_owned();
    let loaded = blocking(move || -> Result<_, StoreError> {
        let pending = store.uploads(
            &UploadFilter {
                approved: Some(false),
                ..UploadFilter::default()
            },
            ROWS_SHOWN,
            0,
        )?;
        let recent = store.uploads(
            &UploadFilter {
                approved: Some(true),
                ..UploadFilter::default()
            },
            RECENT_SHOWN,
            0,
        )?;
        let users = store.accounts(&q, USERS_SHOWN + 1, page * USERS_SHOWN)?;
        let hit_and_runs = match rule {
            Some(r) => store.hit_and_runs(r, unix_now())?,
            None => Vec::new(),
        };
        let invites = store.invites(None, ROWS_SHOWN)?;
        let (_, settings) = store.site_settings()?;
        Ok((pending, recent, users, invites, settings, hit_and_runs))
    })
    .await;
    let Some(Ok((pending, recent, mut users, invites, settings, hit_and_runs))) = loaded else {
        return store_failed(&app, &ctx);
    };
    let more = users.len() as u64 > USERS_SHOWN;
    users.truncate(USERS_SHOWN as usize);
    let preview_on = app.tracker.preview_on();
    let denied = if preview_on {
        let tracker = app.tracker.clone();
        blocking(move || tracker.preview_denied())
            .await
            .and_then(Result::ok)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let settings = settings_from(&app, &settings);
    let csrf = Token(session.csrf).to_hex();
    let admin = me.role >= Role::Admin;
    let notice = ctx.param("done");
    render(&app, &ctx, StatusCode::OK, "portal_admin_title", &[], |f| {
        let upload_button = |hex: &str, action: &'static str, label: &'static str| {
            html! {
                form class="inline-form" method="post" action={ "/admin/upload/" (hex) } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="action" value=(action);
                    button type="submit" { (f.t(label)) }
                }
            }
        };
        html! {
            @if let Some(done) = &notice {
                p class="notice" role="status" { (f.t("portal_admin_done")) " (" (done) ")" }
            }
            section aria-labelledby="h-pending" {
                h2 id="h-pending" { (f.t("portal_admin_pending")) " (" (f.int(pending.len() as u64)) ")" }
                @if pending.is_empty() {
                    p class="note" { (f.t("portal_no_torrents")) }
                } @else {
                    div class="table-wrap" { table {
                        thead { tr {
                            th scope="col" { (f.t("portal_torrent")) }
                            th scope="col" { (f.t("portal_uploader")) }
                            th scope="col" class="num" { (f.t("size")) }
                            th scope="col" class="num" { (f.t("files")) }
                            th scope="col" { (f.t("portal_admin_actions")) }
                        } }
                        tbody {
                            @for u in &pending {
                                @let hex = u.info_hash.to_hex();
                                tr {
                                    td class="name" {
                                        (u.title)
                                        @if !u.description.is_empty() {
                                            details { summary { (f.t("portal_upload_description")) } pre class="description" { (u.description) } }
                                        }
                                    }
                                    td { (u.uploader) }
                                    td class="num" { (f.bytes(u.total_size)) }
                                    td class="num" { (f.int(u.file_count)) }
                                    td {
                                        (upload_button(&hex, "approve", "portal_admin_approve"))
                                        (upload_button(&hex, "reject", "portal_admin_reject"))
                                    }
                                }
                            }
                        }
                    } }
                }
            }
            section aria-labelledby="h-freeleech" {
                h2 id="h-freeleech" { (f.t("portal_admin_uploads")) }
                (uploads_table(f, &recent, Some(&|u: &shoal_store::Upload| {
                    let hex = u.info_hash.to_hex();
                    if u.freeleech {
                        upload_button(&hex, "freeleech_off", "portal_admin_freeleech_off")
                    } else {
                        upload_button(&hex, "freeleech_on", "portal_admin_freeleech_on")
                    }
                })))
            }
            section aria-labelledby="h-users" {
                h2 id="h-users" { (f.t("portal_admin_users")) }
                form class="search" method="get" action="/admin" role="search" {
                    label class="vh" for="user-q" { (f.t("portal_admin_find_user")) }
                    div class="search-row" {
                        input id="user-q" type="search" name="q" value=(query) maxlength="32" placeholder=(f.t("portal_admin_find_user"));
                        button type="submit" { (f.t("search_button")) }
                    }
                }
                div class="table-wrap" { table {
                    thead { tr {
                        th scope="col" { (f.t("portal_name")) }
                        th scope="col" { (f.t("portal_role")) }
                        th scope="col" class="num" { (f.t("portal_uploaded")) }
                        th scope="col" class="num" { (f.t("portal_downloaded")) }
                        th scope="col" class="num" { (f.t("portal_invites")) }
                        @if rule.is_some() { th scope="col" class="num" { (f.t("portal_hit_and_runs")) } }
                        th scope="col" { (f.t("portal_admin_actions")) }
                    } }
                    tbody {
                        @for u in &users {
                            @let hnr = rule.map(|_| hit_and_runs.iter().find(|(id, _)| *id == u.id).map_or(0, |(_, n)| *n));
                            (user_row(f, u, &me, &csrf, hnr))
                        }
                    }
                } }
                @if more || page > 0 {
                    nav class="pager" {
                        @if page > 0 {
                            a href={ "/admin?q=" (shoal_search::request::form_encode(&query)) "&page=" (page - 1) } { "←" }
                        }
                        " "
                        @if more {
                            a href={ "/admin?q=" (shoal_search::request::form_encode(&query)) "&page=" (page + 1) } { "→" }
                        }
                    }
                }
            }
            section aria-labelledby="h-invites" {
                h2 id="h-invites" { (f.t("portal_invites")) }
                form class="inline-form" method="post" action="/account/invite" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (f.t("portal_invite_create")) }
                }
                (invites_table(f, &invites))
            }
            @if preview_on {
                (preview_section(f, &csrf, &denied))
            }
            @if admin {
                section aria-labelledby="h-settings" {
                    h2 id="h-settings" { (f.t("portal_admin_settings")) }
                    form class="form" method="post" action="/admin/settings" {
                        input type="hidden" name="csrf" value=(csrf);
                        label { (f.t("portal_admin_registration"))
                            select name="registration" {
                                @for r in [Registration::Off, Registration::Invite, Registration::Open] {
                                    option value=(r.key()) selected[settings.registration == r] { (f.t(registration_key(r))) }
                                }
                            }
                        }
                        label class="check" {
                            input type="checkbox" name="freeleech" value="on" checked[settings.freeleech == Some(true)];
                            (f.t("portal_admin_global_freeleech"))
                        }
                        label class="check" {
                            input type="checkbox" name="double_upload" value="on" checked[settings.double_upload == Some(true)];
                            (f.t("portal_admin_double_upload"))
                        }
                        button type="submit" { (f.t("portal_admin_save")) }
                    }
                }
            }
        }
    })
}

/// The catalog preview's moderation: hide a torrent's preview or one of its files, put a
/// file's SHA-256 on the deny list, take one off.
fn preview_section(f: &Frame<'_>, csrf: &str, denied: &[([u8; 32], u64)]) -> Markup {
    html! {
        section aria-labelledby="h-preview-moderation" {
            h2 id="h-preview-moderation" { (f.t("portal_admin_preview")) }
            form class="form" method="post" action="/admin/preview" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="hide";
                label { (f.t("info_hash")) input type="text" name="info_hash" required pattern="[0-9a-fA-F]{40}" autocomplete="off"; }
                label { (f.t("portal_admin_preview_path")) input type="text" name="path" autocomplete="off"; }
                button type="submit" { (f.t("portal_admin_preview_hide")) }
            }
            form class="form" method="post" action="/admin/preview" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="deny";
                label { "SHA-256" input type="text" name="sha256" required pattern="[0-9a-fA-F]{64}" autocomplete="off"; }
                button type="submit" { (f.t("portal_admin_preview_deny")) }
            }
            @if denied.is_empty() {
                p class="note" { (f.t("portal_admin_preview_none_denied")) }
            } @else {
                table {
                    thead { tr { th { "SHA-256" } th { (f.t("portal_admin_preview_denied_at")) } th {} } }
                    tbody {
                        @for (sha, at) in denied {
                            @let hex = shoal_metainfo::to_hex(sha);
                            tr {
                                td { code class="hash" { (hex) } }
                                td { (f.date(*at)) }
                                td {
                                    form class="inline-form" method="post" action="/admin/preview" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="action" value="allow";
                                        input type="hidden" name="sha256" value=(hex);
                                        button type="submit" { (f.t("portal_admin_preview_allow")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct PreviewForm {
    csrf: Option<String>,
    action: String,
    info_hash: String,
    path: String,
    sha256: String,
}

/// `POST /admin/preview`: hide a torrent's preview (or one file: `path`), deny a file by
/// its SHA-256, or allow one again. Moderators and admins.
pub(super) async fn preview_action(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<PreviewForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match form_session(&app, &ctx, Role::Moderator, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !app.tracker.preview_on() {
        return plain(404, "the preview is off\n");
    }
    let sha = || {
        shoal_metainfo::from_hex::<32>(form.sha256.trim())
            .filter(|_| form.sha256.trim().len() == 64)
    };
    let tracker = app.tracker.clone();
    let done = match form.action.as_str() {
        "hide" => {
            let Ok(h) = InfoHash::from_hex(form.info_hash.trim()) else {
                return plain(400, "info_hash: 40 hex digits\n");
            };
            let path = Some(form.path.trim().to_owned()).filter(|p| !p.is_empty());
            blocking(move || tracker.hide_preview(&h, path.as_deref()).map(|_| ())).await
        }
        action @ ("deny" | "allow") => {
            let Some(sha) = sha() else {
                return plain(400, "sha256: 64 hex digits\n");
            };
            let deny = action == "deny";
            blocking(move || tracker.deny_preview(&sha, deny).map(|_| ())).await
        }
        _ => return plain(400, "action: hide, deny or allow\n"),
    };
    match done {
        Some(Ok(())) => {
            tracing::info!(by = %session.account.name, action = %form.action, info_hash = %form.info_hash.trim(), path = %form.path.trim(), sha256 = %form.sha256.trim(), "portal: preview moderated");
            redirect_to("/admin?done=preview")
        }
        _ => store_failed(&app, &ctx),
    }
}

fn registration_key(r: Registration) -> &'static str {
    match r {
        Registration::Off => "portal_registration_off",
        Registration::Invite => "portal_registration_invite",
        Registration::Open => "portal_registration_open",
    }
}

/// One account's row with the actions `me` may take on it.
/// `hit_and_runs`: the account's count, when the rule is on.
fn user_row(
    f: &Frame<'_>,
    u: &Account,
    me: &Account,
    csrf: &str,
    hit_and_runs: Option<u32>,
) -> Markup {
    let admin = me.role >= Role::Admin;
    // Moderators act on users and uploaders only; nobody bans or demotes themselves.
    let may_ban = u.id != me.id && (admin || u.role < Role::Moderator);
    let button = |action: &'static str, label: &'static str| {
        html! {
            form class="inline-form" method="post" action={ "/admin/user/" (u.id) } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value=(action);
                button type="submit" { (f.t(label)) }
            }
        }
    };
    html! {
        tr {
            td class="name" {
                (u.name)
                @if u.banned { " · " strong { (f.t("portal_banned_mark")) } }
                @if u.ratio_exempt { " · " (f.t("portal_ratio_exempt")) }
            }
            td { (f.t(role_key(u.role))) }
            td class="num" { (f.bytes(u.uploaded)) }
            td class="num" { (f.bytes(u.downloaded)) }
            td class="num" { (f.int(u64::from(u.invite_quota))) }
            @if let Some(n) = hit_and_runs { td class="num" { (f.int(u64::from(n))) } }
            td {
                @if may_ban {
                    @if u.banned {
                        (button("unban", "portal_admin_unban"))
                    } @else {
                        (button("ban", "portal_admin_ban"))
                    }
                }
                @if admin {
                    @if u.ratio_exempt {
                        (button("exempt_off", "portal_admin_exempt_off"))
                    } @else {
                        (button("exempt_on", "portal_admin_exempt_on"))
                    }
                    @if u.id != me.id {
                        form class="inline-form" method="post" action={ "/admin/user/" (u.id) } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="action" value="role";
                            select name="role" aria-label=(f.t("portal_role")) {
                                @for r in Role::ALL {
                                    option value=(r.key()) selected[u.role == r] { (f.t(role_key(r))) }
                                }
                            }
                            button type="submit" { (f.t("portal_admin_set_role")) }
                        }
                    }
                    form class="inline-form" method="post" action={ "/admin/user/" (u.id) } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="action" value="quota";
                        input type="number" name="quota" min="0" max="1000" value=(u.invite_quota) aria-label=(f.t("portal_invites"));
                        button type="submit" { (f.t("portal_admin_set_quota")) }
                    }
                }
            }
        }
    }
}

/// Invites with who made and who used them.
pub(super) fn invites_table(f: &Frame<'_>, invites: &[shoal_store::InviteRow]) -> Markup {
    html! {
        @if invites.is_empty() {
            p class="note" { (f.t("portal_no_invites")) }
        } @else {
            div class="table-wrap" { table {
                thead { tr {
                    th scope="col" { (f.t("portal_invite_by")) }
                    th scope="col" { (f.t("portal_invite_created")) }
                    th scope="col" { (f.t("portal_invite_expires")) }
                    th scope="col" { (f.t("portal_invite_used_by")) }
                } }
                tbody {
                    @for i in invites {
                        tr {
                            td { (i.created_by.as_deref().unwrap_or("—")) }
                            td { (f.date(i.created_at)) }
                            td { (f.date(i.expires_at)) }
                            td { (i.used_by.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            } }
        }
    }
}

pub(super) async fn upload_action(
    State(app): State<App>,
    ctx: Ctx,
    Path(hex): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match form_session(&app, &ctx, Role::Moderator, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(h) = InfoHash::from_hex(&hex) else {
        return not_found(State(app), ctx).await;
    };
    let store = app.store.clone();
    let max = app.config.max_torrent_bytes as u64;
    let list = app.config.list_uploads;
    let action = form.action.clone();
    let done = blocking(
        move || -> Result<Option<Option<shoal_store::CatalogEntry>>, StoreError> {
            Ok(match action.as_str() {
                "approve" => {
                    let Some(info) = store.pending_info(&h)? else {
                        return Ok(None);
                    };
                    let now = unix_now();
                    let entry = shoal_catalog::entry_from_info(h, &info, now, 0, now, max)
                        .map_err(StoreError::Conflict)?;
                    store.approve_upload(&entry, list)?.then(|| {
                        // Published under its title, as the store did.
                        store
                            .upload(&h)
                            .ok()
                            .flatten()
                            .map(|u| shoal_store::CatalogEntry {
                                name: u.title,
                                ..entry
                            })
                    })
                }
                "reject" => store.reject_upload(&h)?.then_some(None),
                "freeleech_on" => store.set_upload_freeleech(&h, true)?.then_some(None),
                "freeleech_off" => store.set_upload_freeleech(&h, false)?.then_some(None),
                _ => None,
            })
        },
    )
    .await;
    match done {
        Some(Ok(Some(published))) => {
            if let Some(entry) = published {
                app.tracker.published(&entry);
            }
            tracing::info!(by = %session.account.name, info_hash = %hex, action = %form.action, "portal: upload changed");
            redirect_to(&format!("/admin?done={}", form.action))
        }
        Some(Ok(None)) => not_found(State(app), ctx).await,
        _ => store_failed(&app, &ctx),
    }
}

pub(super) async fn user_action(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<u64>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match form_session(&app, &ctx, Role::Moderator, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let me = session.account;
    let store = app.store.clone();
    let Some(Ok(target)) = blocking(move || store.account_by_id(id)).await else {
        return store_failed(&app, &ctx);
    };
    let Some(target) = target else {
        return not_found(State(app), ctx).await;
    };
    let admin = me.role >= Role::Admin;
    let refused = || {
        message(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            "portal_forbidden_title",
            "portal_staff_only",
        )
    };
    enum Do {
        Ban(bool),
        Change(AccountChange),
    }
    let what = match form.action.as_str() {
        "ban" | "unban" if target.id != me.id && (admin || target.role < Role::Moderator) => {
            Do::Ban(form.action == "ban")
        }
        "role" if admin && target.id != me.id => match Role::from_key(&form.role) {
            Some(r) => Do::Change(AccountChange::Role(r)),
            None => return plain(400, "unknown role\n"),
        },
        "quota" if admin => match form.quota.trim().parse::<u32>() {
            Ok(n) if n <= 1000 => Do::Change(AccountChange::InviteQuota(n)),
            _ => return plain(400, "quota: a number from 0 to 1000\n"),
        },
        "exempt_on" if admin => Do::Change(AccountChange::RatioExempt(true)),
        "exempt_off" if admin => Do::Change(AccountChange::RatioExempt(false)),
        _ => return refused(),
    };
    let store = app.store.clone();
    let name = target.name.clone();
    let done = blocking(move || match what {
        Do::Ban(b) => {
            let r = store.set_banned(&name, b)?;
            if b {
                // A banned account's sessions end now.
                store.delete_sessions_of(id, None)?;
            }
            Ok(r)
        }
        Do::Change(c) => store.change_account(id, c),
    })
    .await;
    match done {
        Some(Ok(_)) => {
            tracing::info!(by = %me.name, user = %target.name, action = %form.action, "portal: account changed");
            redirect_to(&format!("/admin?done={}", form.action))
        }
        _ => store_failed(&app, &ctx),
    }
}

pub(super) async fn settings(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match form_session(&app, &ctx, Role::Admin, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(registration) = Registration::from_key(&form.registration) else {
        return plain(400, "registration: off, invite or open\n");
    };
    let flag = |v: &Option<String>| if v.is_some() { "true" } else { "false" };
    let (free, double) = (flag(&form.freeleech), flag(&form.double_upload));
    let store = app.store.clone();
    let done = blocking(move || {
        store.set_site_settings(&[
            ("registration", registration.key()),
            ("freeleech", free),
            ("double_upload", double),
        ])
    })
    .await;
    match done {
        Some(Ok(())) => {
            tracing::info!(by = %session.account.name, registration = registration.key(), freeleech = free, double_upload = double, "portal: site settings changed");
            redirect_to("/admin?done=settings")
        }
        _ => store_failed(&app, &ctx),
    }
}

/// `POST /account/invite`: a new invite code, shown once. Admins are not bound by a
/// quota; others spend one of theirs.
pub(super) async fn create_invite(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match form_session(&app, &ctx, Role::User, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(code) = Token::generate() else {
        return store_failed(&app, &ctx);
    };
    // 16 bytes of the token: 32 hex digits, as `shoal invite create` prints.
    let code = hex::encode(&code.0[..16]);
    let hash = invite_hash(&code);
    let now = unix_now();
    let expires = now.saturating_add(app.config.invite_lifetime);
    let (store, a) = (app.store.clone(), session.account.clone());
    let made = blocking(move || {
        if a.role >= Role::Admin {
            store
                .add_invite(hash, Some(a.id), now, expires)
                .map(|()| true)
        } else {
            store.add_invite_from_quota(hash, a.id, now, expires)
        }
    })
    .await;
    match made {
        Some(Ok(true)) => {
            let link = plain_host(ctx.host.as_deref()).map(|h| {
                let scheme = if ctx.client.https { "https" } else { "http" };
                format!("{scheme}://{h}/register?invite={code}")
            });
            render(
                &app,
                &ctx,
                StatusCode::OK,
                "portal_invite_title",
                &[],
                |f| {
                    html! {
                        p class="notice" role="status" { (f.t("portal_invite_made")) }
                        dl class="hashes" {
                            dt { (f.t("portal_invite_code")) }
                            dd { code class="hash" id="invite-code" { (code) } }
                            @if let Some(l) = &link {
                                dt { (f.t("portal_invite_link")) }
                                dd { code class="hash" { (l) } }
                            }
                        }
                        p { a href="/account" { (f.t("portal_account_title")) } }
                    }
                },
            )
        }
        Some(Ok(false)) => message(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            "portal_invite_title",
            "portal_no_invites_left",
        ),
        _ => store_failed(&app, &ctx),
    }
}
