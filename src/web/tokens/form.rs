//! The create/edit form: every field of a token, inline errors that keep the input, and a
//! one-use nonce so a double submit creates one token, not two.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::rate::{RateForm, TierOption, tier_options, windows};
use crate::auth::session::set_flash;
use crate::auth::{ClientIp, Member};
use crate::db::{self, channels::Channel, tokens::Token};
use crate::domain::draft::{self, DraftBase, DraftInput, ExpiryInput};
use crate::domain::ids::random_base62;
use crate::domain::permissions::PermissionInfo;
use crate::domain::token::TokenDraft;
use crate::domain::{now, token::FieldErrors};
use crate::error::{AppError, AppResult};
use crate::ops;
use crate::state::AppState;
use crate::web::format::exact;
use crate::web::{FormErrors, Frame, render};

const NONCES_KEY: &str = "create_nonces";

/// The form's fields as typed, kept for re-rendering after an error.
#[derive(Debug, Default)]
pub struct TokenForm {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub channel_mode: String,
    pub channels: Vec<String>,
    pub ip_allowlist: String,
    pub expiry: String,
    pub expiry_date: String,
    pub rate: RateForm,
    pub nonce: String,
}

impl TokenForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "description" => f.description = v,
                "permissions" => f.permissions.push(v),
                "channel_mode" => f.channel_mode = v,
                "channels" => f.channels.push(v),
                "ip_allowlist" => f.ip_allowlist = v,
                "expiry" => f.expiry = v,
                "expiry_date" => f.expiry_date = v,
                "nonce" => f.nonce = v,
                k => {
                    f.rate.take(k, &v);
                }
            }
        }
        f
    }

    fn for_new() -> Self {
        Self {
            channel_mode: "all".into(),
            expiry: "30".into(),
            ..Self::default()
        }
    }

    fn from_token(t: &Token) -> Self {
        Self {
            name: t.name.clone(),
            description: t.description.clone(),
            permissions: t.permissions.iter().map(str::to_owned).collect(),
            channel_mode: if t.channels.is_some() { "some" } else { "all" }.into(),
            channels: t.channel_ids().unwrap_or_default(),
            ip_allowlist: t.ip_allowlist.entries().collect::<Vec<_>>().join("\n"),
            expiry: "keep".into(),
            expiry_date: String::new(),
            rate: RateForm::of(&t.rate),
            nonce: String::new(),
        }
    }

    /// Validates every field with the one token validator; `current_expiry` backs the edit
    /// form's "keep" choice. Messages are keyed by this form's field names.
    fn validate(
        &self,
        state: &AppState,
        current_expiry: Option<Option<i64>>,
    ) -> Result<TokenDraft, FieldErrors> {
        let input = DraftInput {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            permissions: Some(self.permissions.clone()),
            channels: Some((self.channel_mode == "some").then(|| self.channels.clone())),
            ip_allowlist: Some(self.ip_allowlist.lines().map(str::to_owned).collect()),
            expiry: match (self.expiry.as_str(), current_expiry) {
                ("keep", Some(_)) => ExpiryInput::Keep,
                (choice, _) => ExpiryInput::Choice {
                    choice: choice.to_owned(),
                    date: self.expiry_date.clone(),
                },
            },
            rate: Some(self.rate.input()),
        };
        let base = DraftBase {
            expires_at: current_expiry.flatten(),
            ..DraftBase::default()
        };
        let (catalog, tiers) = (&state.config.permission_catalog, state.config.tiers());
        draft::validate(input, base, catalog, &tiers, now()).map_err(|errors| {
            errors
                .into_iter()
                .map(|(field, messages)| {
                    let field = match field.as_str() {
                        "expires_at" => "expiry".to_owned(),
                        "rate_limit_tier" => "tier".to_owned(),
                        "rate_limit" => "limits".to_owned(),
                        _ => field,
                    };
                    (field, messages)
                })
                .collect()
        })
    }

    pub fn has_permission(&self, code: &str) -> bool {
        self.permissions.iter().any(|p| p == code)
    }

    pub fn has_channel(&self, id: &str) -> bool {
        self.channels.iter().any(|c| c == id)
    }
}

#[derive(Template)]
#[template(path = "tokens/form.html")]
struct FormPage {
    frame: Frame,
    base: String,
    action: String,
    editing: Option<(String, String)>,
    current_expiry: Option<String>,
    form: TokenForm,
    errors: FormErrors,
    api_permissions: Vec<PermissionInfo>,
    management_permissions: Vec<PermissionInfo>,
    channels: Vec<Channel>,
    client_ip: String,
    tiers: Vec<TierOption>,
    windows: [&'static str; 4],
}

#[allow(clippy::too_many_arguments)]
/// The form again with its input and the messages (422).
async fn refill(
    state: &AppState,
    m: &Member,
    ip: std::net::IpAddr,
    form: TokenForm,
    errors: FieldErrors,
    editing: Option<&Token>,
) -> AppResult<Response> {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    form_page(state, m, ip, form, FormErrors(errors), editing, status).await
}

async fn form_page(
    state: &AppState,
    m: &Member,
    ip: std::net::IpAddr,
    form: TokenForm,
    errors: FormErrors,
    editing: Option<&Token>,
    status: StatusCode,
) -> AppResult<Response> {
    let base = m.url("developer/api-tokens");
    let all = state.config.permission_catalog.all();
    let page = FormPage {
        action: editing.map_or_else(|| base.clone(), |t| format!("{base}/{}/edit", t.id)),
        editing: editing.map(|t| (t.id.clone(), t.name.clone())),
        current_expiry: editing.and_then(|t| t.expires_at).map(exact),
        base,
        form,
        errors,
        api_permissions: all.iter().filter(|p| !p.built_in).cloned().collect(),
        management_permissions: all.iter().filter(|p| p.built_in).cloned().collect(),
        channels: db::channels::list(&state.db, &m.workspace.id).await?,
        client_ip: ip.to_string(),
        tiers: tier_options(&state.config),
        windows: windows(),
        frame: m.frame(state, "tokens").await?,
    };
    Ok((status, Html(render(&page)?)).into_response())
}

async fn issue_nonce(m: &Member) -> AppResult<String> {
    let nonce = random_base62(24);
    let mut nonces: Vec<String> = m
        .session
        .get(NONCES_KEY)
        .await
        .map_err(session_err)?
        .unwrap_or_default();
    nonces.push(nonce.clone());
    let keep = nonces.len().saturating_sub(20);
    nonces.drain(..keep);
    m.session
        .insert(NONCES_KEY, nonces)
        .await
        .map_err(session_err)?;
    Ok(nonce)
}

/// Uses up a nonce; `false` when it was already used (a double submit) or never issued.
async fn spend_nonce(m: &Member, nonce: &str) -> AppResult<bool> {
    let mut nonces: Vec<String> = m
        .session
        .get(NONCES_KEY)
        .await
        .map_err(session_err)?
        .unwrap_or_default();
    let Some(pos) = nonces.iter().position(|n| n == nonce) else {
        return Ok(false);
    };
    nonces.remove(pos);
    m.session
        .insert(NONCES_KEY, nonces)
        .await
        .map_err(session_err)?;
    Ok(true)
}

fn session_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session: {e}"))
}

pub async fn new_page(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let form = TokenForm {
        nonce: issue_nonce(&m).await?,
        ..TokenForm::for_new()
    };
    form_page(
        &state,
        &m,
        ip,
        form,
        FormErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = TokenForm::from_pairs(pairs);
    let draft = match form.validate(&state, None) {
        Ok(d) => d,
        Err(errors) => {
            return refill(&state, &m, ip, form, errors, None).await;
        }
    };
    if !spend_nonce(&m, &form.nonce).await? {
        set_flash(
            &m.session,
            "info",
            "That form was already submitted; no second token was created.",
        )
        .await?;
        return Ok(Redirect::to(&m.url("developer/api-tokens")).into_response());
    }
    let actor = m.actor();
    let ctx = ops::Ctx::new(&state, &m.workspace.id, &actor, Some(ip), ops::Acting::Full);
    let (token, secret) = match ops::create(&ctx, &draft, &state.config.token_prefix).await {
        Ok(created) => created,
        Err(AppError::Validation(errors)) => {
            return refill(&state, &m, ip, form, errors, None).await;
        }
        Err(e) => return Err(e),
    };
    let pad = super::reveal::hold(&state, &m, &token.id, &secret, false).await?;
    let to = Redirect::to(&m.url("developer/api-tokens/revealed"));
    Ok(([(header::SET_COOKIE, pad)], to).into_response())
}

pub async fn edit_page(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let token = db::tokens::get(&state.db, &m.workspace.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    form_page(
        &state,
        &m,
        ip,
        TokenForm::from_token(&token),
        FormErrors::default(),
        Some(&token),
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let token = db::tokens::get(&state.db, &m.workspace.id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = TokenForm::from_pairs(pairs);
    let draft = match form.validate(&state, Some(token.expires_at)) {
        Ok(d) => d,
        Err(errors) => {
            return refill(&state, &m, ip, form, errors, Some(&token)).await;
        }
    };
    let actor = m.actor();
    let ctx = ops::Ctx::new(&state, &m.workspace.id, &actor, Some(ip), ops::Acting::Full);
    match ops::update(&ctx, &token.id, |_| Ok(draft)).await {
        Ok(t) => {
            set_flash(&m.session, "success", format!("Token “{}” saved.", t.name)).await?;
            Ok(Redirect::to(&m.url(&format!("developer/api-tokens/{}", t.id))).into_response())
        }
        Err(AppError::Validation(errors)) => {
            refill(&state, &m, ip, form, errors, Some(&token)).await
        }
        Err(e) => Err(e),
    }
}
