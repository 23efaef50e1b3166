//! Rolling a token's secret from the dashboard (SPEC §12): the "Roll secret…" form (a dialog on
//! the detail page, a plain page without JavaScript), the roll itself (the new secret goes to
//! the one-time reveal), and "End now" for a running overlap.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::acting::{ctx, form_status, load};
use super::view::TokenView;
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member};
use crate::db::tokens::Token;
use crate::domain::now;
use crate::domain::overlap::{CHOICES, Overlap};
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;
use crate::web::{Frame, render};

/// The roll form inside a page of its own (the no-JavaScript path).
#[derive(Template)]
#[template(path = "tokens/roll.html")]
struct RollPage {
    frame: Frame,
    base: String,
    t: TokenView,
    choices: [(u32, &'static str); 5],
    error: Option<String>,
    dialog: bool,
}

/// The roll form as the detail page's dialog embeds it.
#[derive(Template)]
#[template(path = "tokens/_roll_form.html")]
pub struct RollForm<'a> {
    pub frame: &'a Frame,
    pub base: &'a str,
    pub t: &'a TokenView,
    pub choices: [(u32, &'static str); 5],
    pub error: Option<String>,
    pub dialog: bool,
}

impl<'a> RollForm<'a> {
    pub fn dialog(frame: &'a Frame, base: &'a str, t: &'a TokenView) -> Self {
        Self {
            frame,
            base,
            t,
            choices: CHOICES,
            error: None,
            dialog: true,
        }
    }
}

async fn roll_page(
    state: &AppState,
    m: &Member,
    token: &Token,
    error: Option<String>,
) -> AppResult<Response> {
    let status = form_status(&error);
    let page = RollPage {
        base: m.url("developer/api-tokens"),
        t: TokenView::new(token, now(), &state.config.limits(&token.rate)),
        choices: CHOICES,
        error,
        dialog: false,
        frame: m.frame(state, "tokens").await?,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

/// GET `…/{id}/roll`: the form on a page of its own.
pub async fn form(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let token = load(&state, &m, &id).await?;
    roll_page(&state, &m, &token, None).await
}

#[derive(Deserialize)]
pub struct RollInput {
    #[serde(default)]
    overlap: String,
}

/// One of the form's choices, or why not.
fn chosen(input: &RollInput) -> Result<Overlap, String> {
    input
        .overlap
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|secs| CHOICES.iter().any(|(c, _)| c == secs))
        .and_then(|secs| Overlap::from_secs(i64::from(secs)).ok())
        .ok_or_else(|| "Choose how long the current secret keeps working.".to_owned())
}

/// POST `…/{id}/roll`: a new secret, shown once on the detail page.
pub async fn roll(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
    Form(input): Form<RollInput>,
) -> AppResult<Response> {
    let overlap = match chosen(&input) {
        Ok(o) => o,
        Err(error) => {
            let token = load(&state, &m, &id).await?;
            return roll_page(&state, &m, &token, Some(error)).await;
        }
    };
    roll_and_reveal(&state, &m, ip, &id, overlap).await
}

/// Rolls (regenerate: with no overlap) and sends the browser to the one-time reveal.
pub(super) async fn roll_and_reveal(
    state: &AppState,
    m: &Member,
    ip: std::net::IpAddr,
    id: &str,
    overlap: Overlap,
) -> AppResult<Response> {
    let actor = m.actor();
    let ctx = ctx(state, m, &actor, ip);
    let (t, secret) = ops::roll(&ctx, id, &state.config.token_prefix, overlap).await?;
    let pad = super::reveal::hold(state, m, &t.id, &secret, true).await?;
    let to = Redirect::to(&m.url("developer/api-tokens/revealed"));
    Ok(([(header::SET_COOKIE, pad)], to).into_response())
}

/// POST `…/{id}/end-overlap`: the previous secret stops working now.
pub async fn end_overlap(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let actor = m.actor();
    let message = match ops::end_overlap(&ctx(&state, &m, &actor, ip), &id).await {
        Ok(t) => format!("The previous secret of “{}” stopped working.", t.name),
        Err(AppError::Conflict(_)) => "The previous secret had already stopped working.".into(),
        Err(e) => return Err(e),
    };
    set_flash(&m.session, "success", message).await?;
    let back = m.url(&format!("developer/api-tokens/{id}"));
    Ok(Redirect::to(&back).into_response())
}
