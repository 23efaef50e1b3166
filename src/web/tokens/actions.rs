//! The detail page and the lifecycle actions: revoke, reactivate, regenerate, delete (rolling
//! is in `roll`). Each destructive action is confirmed in a `<dialog>`, or on a plain page
//! without JavaScript.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::acting::{ctx, form_status, load};
use super::list::{ListParams, render_page};
use super::view::{TokenView, When};
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member};
use crate::db::{self, tokens::Token};
use crate::domain::now;
use crate::domain::overlap::Overlap;
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;
use crate::web::format::{clock, date, exact, thousands};
use crate::web::{Frame, render};

#[derive(Template)]
#[template(path = "tokens/_reveal.html")]
struct Reveal<'a> {
    name: &'a str,
    secret: &'a str,
    regenerated: bool,
    /// After a roll with an overlap: until when the previous secret works (exact UTC).
    previous_until: Option<String>,
    close_url: String,
    api_base: String,
}

#[derive(Template)]
#[template(path = "tokens/already_shown.html")]
struct AlreadyShown {
    frame: Frame,
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub label: String,
    pub count: String,
}

pub struct Chart {
    pub bars: Vec<Bar>,
    pub max: String,
    pub first: String,
    pub last: String,
    pub total: i64,
}

pub struct RecentView {
    pub at_unix: i64,
    pub at: When,
    pub time: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub ip: String,
    /// The hint of the secret the request used.
    pub hint: String,
}

#[derive(Template)]
#[template(path = "tokens/detail.html")]
struct DetailPage {
    frame: Frame,
    base: String,
    t: TokenView,
    revoked: bool,
    /// Each budget of the token and of its workspace, with what is left now.
    budgets: Vec<super::rate::BudgetView>,
    chart: Chart,
    recent: Vec<RecentView>,
    /// During an overlap: the newest recent request made with the previous secret.
    previous_last_used: Option<When>,
    roll_form: String,
    reveal: String,
}

const CHART_DAYS: i64 = 30;
const CHART_HEIGHT: i64 = 100;
const BAR_STEP: i64 = 20;

async fn chart(state: &AppState, token_id: &str, now: i64) -> AppResult<Chart> {
    let days = state
        .gate
        .usage
        .daily(&state.db, token_id, now, CHART_DAYS)
        .await?;
    let max = days.iter().map(|d| d.1).max().unwrap_or(0);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, (t, n))| {
            let height = if max == 0 {
                0
            } else {
                (n * CHART_HEIGHT / max).max(i64::from(*n > 0))
            };
            Bar {
                x: i as i64 * BAR_STEP,
                y: CHART_HEIGHT - height,
                height,
                label: date(*t),
                count: thousands(*n),
            }
        })
        .collect();
    Ok(Chart {
        bars,
        max: thousands(max),
        first: date(days.first().map_or(now, |&(t, _)| t)),
        last: date(now),
        total: days.iter().map(|d| d.1).sum(),
    })
}

async fn detail_page(
    state: &AppState,
    m: &Member,
    token: &Token,
    reveal: String,
) -> AppResult<Response> {
    let now = now();
    let recent: Vec<RecentView> = state
        .gate
        .usage
        .recent(&state.db, &token.id, 20)
        .await?
        .into_iter()
        .map(|r| RecentView {
            at_unix: r.at,
            at: When::new(r.at, now),
            time: clock(r.at),
            method: r.method,
            path: r.path,
            status: r.status,
            ip: r.ip,
            hint: r.hint,
        })
        .collect();
    let base = m.url("developer/api-tokens");
    let t = TokenView::new(token, now, &state.config.limits(&token.rate));
    let frame = m.frame(state, "tokens").await?;
    let roll_form = render(&super::roll::RollForm::dialog(&frame, &base, &t))?;
    let previous_last_used = t.overlap.as_ref().and_then(|o| {
        let used = recent.iter().find(|r| r.hint == o.hint)?;
        Some(When::new(used.at_unix, now))
    });
    let page = DetailPage {
        base,
        t,
        revoked: token.revoked_at.is_some(),
        budgets: super::rate::budgets(&state.gate.peek(token)),
        chart: chart(state, &token.id, now).await?,
        recent,
        previous_last_used,
        roll_form,
        reveal,
        frame,
    };
    let mut res = Html(render(&page)?).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, crate::web::headers::NO_STORE);
    Ok(res)
}

pub async fn detail(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let token = load(&state, &m, &id).await?;
    detail_page(&state, &m, &token, String::new()).await
}

/// Shows a secret held for this session exactly once: over the list after a create, over
/// the detail page after a regenerate. A reload finds nothing and says so.
pub async fn reveal_page(
    State(state): State<AppState>,
    m: Member,
    headers: HeaderMap,
) -> AppResult<Response> {
    let (pending, clear) = super::reveal::take(&state, &m, &headers).await?;
    let token = match &pending {
        Some((id, _, _)) => db::tokens::get(&state.db, &m.workspace.id, id).await?,
        None => None,
    };
    let (Some((_, secret, regenerated)), Some(token)) = (pending, token) else {
        let page = AlreadyShown {
            frame: m.frame(&state, "tokens").await?,
        };
        let mut res = (StatusCode::GONE, Html(render(&page)?)).into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, crate::web::headers::NO_STORE);
        res.headers_mut().append(header::SET_COOKIE, clear);
        return Ok(res);
    };
    let base = m.url("developer/api-tokens");
    let reveal = render(&Reveal {
        name: &token.name,
        secret: secret.expose(),
        regenerated,
        previous_until: token.overlap(now()).map(|p| exact(p.expires_at)),
        close_url: if regenerated {
            format!("{base}/{}", token.id)
        } else {
            format!("{base}#token-{}", token.id)
        },
        api_base: state.config.base_url(),
    })?;
    let mut res = if regenerated {
        detail_page(&state, &m, &token, reveal).await?
    } else {
        render_page(&state, &m, &ListParams::default(), reveal).await?
    };
    res.headers_mut().append(header::SET_COOKIE, clear);
    Ok(res)
}

#[derive(Template)]
#[template(path = "tokens/confirm.html")]
struct ConfirmPage {
    frame: Frame,
    base: String,
    t: TokenView,
    action: &'static str,
    error: Option<String>,
}

fn action_of(uri: &axum::http::Uri) -> AppResult<&'static str> {
    let last = uri.path().rsplit('/').next().unwrap_or_default();
    ["revoke", "regenerate", "end-overlap", "delete"]
        .into_iter()
        .find(|a| *a == last)
        .ok_or(AppError::NotFound)
}

async fn confirm_page(
    state: &AppState,
    m: &Member,
    token: &Token,
    action: &'static str,
    error: Option<String>,
) -> AppResult<Response> {
    let status = form_status(&error);
    let page = ConfirmPage {
        base: m.url("developer/api-tokens"),
        t: TokenView::new(token, now(), &state.config.limits(&token.rate)),
        action,
        error,
        frame: m.frame(state, "tokens").await?,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

/// GET `…/{id}/revoke|regenerate|end-overlap|delete`: the no-JavaScript confirmation page.
pub async fn confirm(
    State(state): State<AppState>,
    m: Member,
    uri: axum::http::Uri,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let action = action_of(&uri)?;
    let token = load(&state, &m, &id).await?;
    confirm_page(&state, &m, &token, action, None).await
}

pub async fn revoke(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    set_revoked(&state, &m, ip, &id, true).await
}

pub async fn reactivate(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    set_revoked(&state, &m, ip, &id, false).await
}

/// Revokes or reactivates, then returns to the detail page with a toast.
async fn set_revoked(
    state: &AppState,
    m: &Member,
    ip: std::net::IpAddr,
    id: &str,
    revoked: bool,
) -> AppResult<Response> {
    let actor = m.actor();
    let t = ops::set_revoked(&ctx(state, m, &actor, ip), id, revoked).await?;
    let message = if revoked {
        format!("Token “{}” revoked. Requests using it now fail.", t.name)
    } else {
        format!("Token “{}” reactivated.", t.name)
    };
    set_flash(&m.session, "success", message).await?;
    Ok(Redirect::to(&m.url(&format!("developer/api-tokens/{}", t.id))).into_response())
}

pub async fn regenerate(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    super::roll::roll_and_reveal(&state, &m, ip, &id, Overlap::NONE).await
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm_name: String,
}

pub async fn delete(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<DeleteForm>,
) -> AppResult<Response> {
    let token = load(&state, &m, &id).await?;
    if f.confirm_name.trim() != token.name {
        let error = format!(
            "Type the token’s name, {}, exactly to delete it.",
            token.name
        );
        return confirm_page(&state, &m, &token, "delete", Some(error)).await;
    }
    let actor = m.actor();
    ops::delete(&ctx(&state, &m, &actor, ip), &token.id).await?;
    set_flash(
        &m.session,
        "success",
        format!("Token “{}” deleted.", token.name),
    )
    .await?;
    Ok(Redirect::to(&m.url("developer/api-tokens")).into_response())
}
