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
    #[error("Something went wrong on our side.")]
    Internal(String),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(format!("database: {e}"))
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
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::Internal(_) => "internal_error",
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

#[derive(Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: &'a str,
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
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
        if let Self::TooManyRequests { retry_after, .. } = &self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
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
