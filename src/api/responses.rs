//! The error responses the API's operations share, declared once for the OpenAPI document:
//! each type lists a group of problem-details responses with an example built from the same
//! texts the server answers with (`BearerError::detail`, `AppError`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};

use crate::error::BearerError;

type Responses = BTreeMap<String, RefOr<Response>>;

/// One problem-details response: its description and an example of the body.
fn problem(status: u16, description: &str, code: &str, detail: &str) -> (String, RefOr<Response>) {
    problem_with(status, description, code, detail, None)
}

fn problem_with(
    status: u16,
    description: &str,
    code: &str,
    detail: &str,
    errors: Option<Value>,
) -> (String, RefOr<Response>) {
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut example = json!({
        "type": format!("/docs/api#error-{code}"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    });
    if let Some(errors) = errors {
        example["errors"] = errors;
    }
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .example(Some(example))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build();
    (status.to_string(), RefOr::T(response))
}

/// 401, 403 and 429: what the bearer checks answer on every operation.
pub struct Refusals;

impl IntoResponses for Refusals {
    fn responses() -> Responses {
        Responses::from([
            problem(
                401,
                "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired`",
                "token_revoked",
                BearerError::TokenRevoked.detail(),
            ),
            problem(
                403,
                "`ip_not_allowed`, `insufficient_permission` or `channel_not_allowed`",
                "insufficient_permission",
                BearerError::InsufficientPermission.detail(),
            ),
            problem(
                429,
                "`rate_limited`; see `Retry-After`",
                "rate_limited",
                BearerError::RateLimited { retry_after: 1 }.detail(),
            ),
        ])
    }
}

/// 404 for ids that do not exist or belong to another workspace.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> Responses {
        Responses::from([problem(
            404,
            "`not_found` (also for another workspace's ids)",
            "not_found",
            "There is nothing at this address.",
        )])
    }
}

/// 400, 413 and 415: a JSON body that cannot be read.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> Responses {
        Responses::from([
            problem(
                400,
                "`invalid_json`: the body is not valid JSON",
                "invalid_json",
                "The body is not valid JSON",
            ),
            problem(
                413,
                "`payload_too_large`: the body is over 64 KiB",
                "payload_too_large",
                "The request body is larger than 64 KiB.",
            ),
            problem(
                415,
                "`unsupported_media_type`: send `Content-Type: application/json`",
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ),
        ])
    }
}

/// 422 with an `errors` map per field.
pub struct Invalid;

impl IntoResponses for Invalid {
    fn responses() -> Responses {
        Responses::from([problem_with(
            422,
            "`validation_failed`, with an `errors` map per field",
            "validation_failed",
            "Some fields are invalid.",
            Some(json!({"name": ["Name is required"]})),
        )])
    }
}

/// 401 and 403 only: nginx's `auth_request` turns any other status into 500, so the
/// endpoint for it answers a rate limit or a bad original request with 403 and a code.
pub struct ProxyRefusals;

impl IntoResponses for ProxyRefusals {
    fn responses() -> Responses {
        Responses::from([
            problem(
                401,
                "Missing or bad token: `missing_token`, `invalid_token`, `token_revoked`, `token_expired` (also in `X-Keyward-Code`)",
                "missing_token",
                BearerError::MissingToken.detail(),
            ),
            problem(
                403,
                "`ip_not_allowed`, `insufficient_permission`, `channel_not_allowed`, `no_matching_rule`, `rate_limited` (with `Retry-After`), `invalid_path`, `invalid_original_request` (also in `X-Keyward-Code`)",
                "rate_limited",
                BearerError::RateLimited { retry_after: 1 }.detail(),
            ),
        ])
    }
}

/// 409 when the token is not in a state the action applies to.
pub struct Conflict;

impl IntoResponses for Conflict {
    fn responses() -> Responses {
        Responses::from([problem(
            409,
            "`conflict`: no previous secret is working (the overlap already ended)",
            "conflict",
            "This token has no previous secret that still works.",
        )])
    }
}
