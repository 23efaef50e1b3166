//! One error type. It renders RFC 9457 problem details; the `error_pages` layer turns an error
//! of a dashboard route into a friendly HTML page instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::token::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("There is nothing at this address.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("Some fields are invalid.")]
    Validation(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("The form expired or did not come from this site. Reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// Every password-hashing slot stayed taken (`auth::password::QUEUE_WAIT`).
    #[error("The server is busy. Try again in a few seconds.")]
    Busy { retry_after: u64 },
    #[error("Something went wrong on our side.")]
    Internal(String),
    /// A refused bearer request (SPEC §6), with its stable code.
    #[error("{}", .0.detail())]
    Bearer(BearerError),
    /// The grant rule refused (SPEC §6): 403 `insufficient_permission`, naming the rule.
    #[error("{}", .0.detail())]
    Grant(crate::domain::grant::Rule),
    /// A request body that could not be read (400, 413, 415) or mapped (422).
    #[error("{detail}")]
    Body {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
}

/// The problem codes a bearer check can answer with (SPEC §6).
pub const BEARER_CODES: [&str; 8] = [
    "missing_token",
    "invalid_token",
    "token_revoked",
    "token_expired",
    "ip_not_allowed",
    "insufficient_permission",
    "channel_not_allowed",
    "rate_limited",
];

/// Why a bearer request is refused, in the order the checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerError {
    MissingToken,
    InvalidToken,
    TokenRevoked,
    TokenExpired,
    IpNotAllowed,
    InsufficientPermission,
    ChannelNotAllowed,
    RateLimited { retry_after: u64 },
}

impl BearerError {
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::TokenRevoked => "token_revoked",
            Self::TokenExpired => "token_expired",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::InsufficientPermission => "insufficient_permission",
            Self::ChannelNotAllowed => "channel_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken | Self::TokenRevoked | Self::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::IpNotAllowed | Self::InsufficientPermission | Self::ChannelNotAllowed => {
                StatusCode::FORBIDDEN
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Self::MissingToken => "Send a token as `Authorization: Bearer <token>`.",
            Self::InvalidToken => "The token is malformed, has a bad checksum, or is not known.",
            Self::TokenRevoked => "The token has been revoked.",
            Self::TokenExpired => "The token has expired.",
            Self::IpNotAllowed => "The token may not be used from this IP address.",
            Self::InsufficientPermission => "The token lacks the permission this request needs.",
            Self::ChannelNotAllowed => "The token may not act on this channel.",
            Self::RateLimited { .. } => {
                "Too many requests for this token or workspace. Retry after the time in Retry-After."
            }
        }
    }

    /// RFC 6750 `WWW-Authenticate` value, when the status calls for one.
    pub fn www_authenticate(self) -> Option<String> {
        match self.status() {
            StatusCode::UNAUTHORIZED if self == Self::MissingToken => {
                Some(r#"Bearer realm="keyward""#.to_owned())
            }
            StatusCode::UNAUTHORIZED => Some(format!(
                r#"Bearer realm="keyward", error="invalid_token", error_description="{}""#,
                self.code()
            )),
            StatusCode::FORBIDDEN => Some(format!(
                r#"Bearer realm="keyward", error="insufficient_scope", error_description="{}""#,
                self.code()
            )),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<crate::domain::grant::Rule> for AppError {
    fn from(rule: crate::domain::grant::Rule) -> Self {
        Self::Grant(rule)
    }
}

impl From<BearerError> for AppError {
    fn from(e: BearerError) -> Self {
        Self::Bearer(e)
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Csrf | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Bearer(b) => b.status(),
            Self::Grant(_) => StatusCode::FORBIDDEN,
            Self::Body { status, .. } => *status,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Conflict(_) => "conflict",
            Self::Csrf => "csrf_failed",
            Self::Forbidden(_) => "forbidden",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Busy { .. } => "busy",
            Self::Internal(_) => "internal_error",
            Self::Bearer(b) => b.code(),
            Self::Grant(_) => BearerError::InsufficientPermission.code(),
            Self::Body { code, .. } => code,
        }
    }

    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        crate::domain::token::add_error(&mut errors, field, message);
        Self::Validation(errors)
    }
}

/// What the error-page layer needs to render an error, attached to the response.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

/// RFC 9457 problem details.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: &'a str,
    pub code: &'a str,
    /// Messages per field, on 422 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(inline)]
    pub errors: Option<&'a FieldErrors>,
}

/// Builds a problem+json response.
pub fn problem(
    status: StatusCode,
    code: &str,
    detail: &str,
    errors: Option<&FieldErrors>,
) -> Response {
    let body = Problem {
        kind: format!("/docs/api#error-{code}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        code,
        errors,
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = (status, json).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let detail = self.to_string();
        let errors = match &self {
            Self::Validation(e) => Some(e),
            _ => None,
        };
        let mut res = problem(status, self.code(), &detail, errors);
        if let Self::TooManyRequests { retry_after, .. }
        | Self::Busy { retry_after }
        | Self::Bearer(BearerError::RateLimited { retry_after }) = &self
        {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let Some(v) = match &self {
            Self::Bearer(b) => b.www_authenticate(),
            Self::Grant(_) => BearerError::InsufficientPermission.www_authenticate(),
            _ => None,
        }
        .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res.extensions_mut().insert(ErrorInfo {
            status,
            code: self.code(),
            detail,
        });
        res
    }
}

pub type AppResult<T> = Result<T, AppError>;
