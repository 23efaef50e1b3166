//! The OpenAPI 3.1 document (generated from the handlers' annotations) at `/api/openapi.json`
//! and the `/docs/api` playground, whose assets the binary serves itself (works offline).

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::model::{ChannelObject, RateLimit, TokenObject, WithSecret};
use super::schemas::{TokenCreate, TokenUpdate, VerifyRequest};
use super::webhooks::model::{
    DeliveryObject, TestQueued, WebhookBody, WebhookObject, WebhookWithSecret,
};
use super::{channels, me, tokens, verify, webhooks};
use crate::domain::permissions::Catalog;
use crate::domain::rate::Limit;
use crate::error::{BearerError, Problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward API",
        description = "Bearer-token API of keyward. Send `Authorization: Bearer <token>`. Errors are RFC 9457 problem details with a stable `code`; every response to an authenticated request carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (the budget nearest refusal), and the IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-11) with one item per budget, named `token-second|minute|hour|day` and `workspace-…`: `RateLimit-Policy: \"token-minute\";q=60;w=60` (q = limit, w = window in seconds), `RateLimit: \"token-minute\";r=59;t=1` (r = left now, t = seconds until full). A 429 adds `Retry-After` (seconds until every refusing budget allows one more). A token's limits are its tier's (`standard`, `admin`, or one the deployment configures) or its own, at most one per window (second, minute, hour, day); every budget of the token and of its workspace must allow a request, and a refused request spends none.",
    ),
    paths(
        me::me,
        tokens::read::list,
        tokens::write::create,
        tokens::read::one,
        tokens::write::update,
        tokens::lifecycle::remove,
        tokens::lifecycle::regenerate,
        tokens::lifecycle::roll,
        tokens::lifecycle::end_overlap,
        tokens::lifecycle::revoke,
        tokens::lifecycle::reactivate,
        tokens::usage::usage,
        channels::list,
        channels::one,
        verify::verify,
        webhooks::list,
        webhooks::create,
        webhooks::one,
        webhooks::update,
        webhooks::remove,
        webhooks::test,
        webhooks::deliveries,
        crate::forward_auth::forward_auth,
        crate::forward_auth::auth_request,
    ),
    components(schemas(TokenObject, TokenCreate, TokenUpdate, WithSecret, ChannelObject, tokens::lifecycle::RollBody, RateLimit, Limit, Problem, VerifyRequest, verify::Verdict, WebhookObject, WebhookWithSecret, DeliveryObject, WebhookBody, TestQueued)),
    modifiers(&BearerScheme),
    tags(
        (name = "me", description = "The calling token"),
        (name = "tokens", description = "Create and manage tokens"),
        (name = "channels", description = "Channels the token reaches"),
        (name = "verify", description = "Verify tokens for your own services"),
        (name = "forward-auth", description = "Checks for reverse proxies (nginx, Caddy, Traefik) in front of your own API"),
        (name = "webhooks", description = "Webhook endpoints and their deliveries (admin)"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("kw_<40 base62><6 base62 checksum>")
            .description(Some(
                "A keyward API token (paste it with or without `Bearer `).",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document generated from the annotations, built once.
fn base_document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        serde_json::to_value(doc).unwrap_or_default()
    })
}

/// The document as this deployment serves it: its own permission catalog and rate-limit
/// tiers in the token bodies.
pub fn openapi_json(catalog: &Catalog, tiers: &[&str]) -> String {
    let mut doc = base_document().clone();
    let codes: Vec<&str> = catalog.all().iter().map(|p| p.code.as_str()).collect();
    super::schemas::set_permission_catalog(&mut doc, &codes);
    super::schemas::set_tiers(&mut doc, tiers);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/docs/api", get(playground))
}

async fn openapi(State(state): State<AppState>) -> Response {
    let tiers = state.config.tiers();
    let mut res = openapi_json(&state.config.permission_catalog, &tiers.names()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// One row of the error-code table (the anchors problem `type` URIs point at).
pub struct CodeRow {
    pub code: &'static str,
    pub status: u16,
    pub meaning: &'static str,
}

#[derive(Template)]
#[template(path = "docs.html")]
struct Playground {
    codes: Vec<CodeRow>,
}

/// Every stable error code, in check order.
pub fn error_codes() -> Vec<CodeRow> {
    let bearer = [
        BearerError::MissingToken,
        BearerError::InvalidToken,
        BearerError::TokenRevoked,
        BearerError::TokenExpired,
        BearerError::IpNotAllowed,
        BearerError::InsufficientPermission,
        BearerError::ChannelNotAllowed,
        BearerError::RateLimited { retry_after: 0 },
    ];
    let mut rows: Vec<CodeRow> = bearer
        .iter()
        .map(|b| CodeRow {
            code: b.code(),
            status: b.status().as_u16(),
            meaning: b.detail(),
        })
        .collect();
    rows.extend([
        CodeRow {
            code: "no_matching_rule",
            status: 403,
            meaning: "Forward auth: no rule of the rules file matches the proxied request.",
        },
        CodeRow {
            code: "invalid_path",
            status: 403,
            meaning: "Forward auth: the proxied path could be read two ways (an encoded slash, a backslash, double encoding, ..;) and is refused.",
        },
        CodeRow {
            code: "invalid_original_request",
            status: 403,
            meaning: "Forward auth: the proxy sent no original method and URI (X-Forwarded-Method/-Uri or X-Original-Method/-URI).",
        },
        CodeRow {
            code: "invalid_json",
            status: 400,
            meaning: "The body is not valid JSON.",
        },
        CodeRow {
            code: "not_found",
            status: 404,
            meaning: "No such route or resource (another workspace's ids included).",
        },
        CodeRow {
            code: "method_not_allowed",
            status: 405,
            meaning: "The route does not accept this method; see Allow.",
        },
        CodeRow {
            code: "payload_too_large",
            status: 413,
            meaning: "The body is larger than 64 KiB.",
        },
        CodeRow {
            code: "unsupported_media_type",
            status: 415,
            meaning: "Send JSON with Content-Type: application/json.",
        },
        CodeRow {
            code: "validation_failed",
            status: 422,
            meaning: "Some fields are invalid; `errors` lists messages per field.",
        },
    ]);
    rows
}

async fn playground() -> Result<Html<String>, crate::error::AppError> {
    let page = Playground {
        codes: error_codes(),
    };
    page.render()
        .map(Html)
        .map_err(|e| crate::error::AppError::Internal(format!("template: {e}")))
}
