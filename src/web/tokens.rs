//! Settings → Developer → API tokens: list, create with a one-time reveal, detail, and every
//! lifecycle action.

mod acting;
mod actions;
mod form;
mod list;
mod rate;
mod reveal;
mod roll;
pub mod view;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    let base = "/w/{slug}/settings/developer/api-tokens";
    Router::new()
        .route(base, get(list::page).post(form::create))
        .route(&format!("{base}/new"), get(form::new_page))
        .route(&format!("{base}/revealed"), get(actions::reveal_page))
        .route(&format!("{base}/{{id}}"), get(actions::detail))
        .route(
            &format!("{base}/{{id}}/edit"),
            get(form::edit_page).post(form::update),
        )
        .route(
            &format!("{base}/{{id}}/revoke"),
            get(actions::confirm).post(actions::revoke),
        )
        .route(
            &format!("{base}/{{id}}/reactivate"),
            post(actions::reactivate),
        )
        .route(
            &format!("{base}/{{id}}/regenerate"),
            get(actions::confirm).post(actions::regenerate),
        )
        .route(
            &format!("{base}/{{id}}/roll"),
            get(roll::form).post(roll::roll),
        )
        .route(
            &format!("{base}/{{id}}/end-overlap"),
            get(actions::confirm).post(roll::end_overlap),
        )
        .route(
            &format!("{base}/{{id}}/delete"),
            get(actions::confirm).post(actions::delete),
        )
}
