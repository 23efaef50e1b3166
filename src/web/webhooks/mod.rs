//! Settings → Developer → Webhooks: the endpoint list with an add form, the endpoint page
//! (edit events, enable/disable, send a test event, delete, the last deliveries with Resend),
//! and the signing secret shown once, in the answer to the add form. Plain forms and
//! redirects: everything works without JavaScript. Changes go through `ops::webhooks`.

mod view;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::{FormErrors, Frame, render};
use crate::auth::Member;
use crate::auth::client_ip::ClientIp;
use crate::auth::session::set_flash;
use crate::db;
use crate::domain::now;
use crate::domain::webhook::{Events, WebhookInput};
use crate::error::{AppError, AppResult};
use crate::ops::webhooks::{self as hooks, WebhookCtx};
use crate::state::AppState;
use view::{DeliveryView, EndpointView, event_choices};

const PAGE: &str = "developer/webhooks";

pub fn router() -> Router<AppState> {
    let base = "/w/{slug}/settings/developer/webhooks";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/{{id}}"), get(detail).post(update))
        .route(&format!("{base}/{{id}}/test"), post(test))
        .route(
            &format!("{base}/{{id}}/delete"),
            get(confirm_delete).post(delete),
        )
        .route(
            &format!("{base}/{{id}}/deliveries/{{did}}/resend"),
            post(resend),
        )
}

/// The add and edit form, as sent or as stored.
#[derive(Default)]
struct EndpointForm {
    url: String,
    description: String,
    all_events: bool,
    events: Vec<String>,
    enabled: bool,
}

impl EndpointForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "url" => f.url = v,
                "description" => f.description = v,
                "all_events" => f.all_events = v == "1",
                "events" => f.events.push(v),
                "enabled" => f.enabled = v == "1",
                _ => {}
            }
        }
        f
    }

    fn input(&self) -> WebhookInput {
        WebhookInput {
            url: Some(self.url.clone()),
            description: Some(self.description.clone()),
            events: Some(if self.all_events {
                vec!["*".to_owned()]
            } else {
                self.events.clone()
            }),
            enabled: Some(self.enabled),
        }
    }

    fn selected(&self) -> Events {
        if self.all_events {
            Events::All
        } else {
            Events::Only(self.events.clone())
        }
    }
}

fn ctx<'a>(state: &'a AppState, m: &'a Member, ip: Option<std::net::IpAddr>) -> WebhookCtx<'a> {
    WebhookCtx {
        state,
        workspace_id: &m.workspace.id,
        actor: m.actor(),
        ip,
    }
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
struct ListPage {
    frame: Frame,
    base: String,
    endpoints: Vec<EndpointView>,
    form_url: String,
    form_description: String,
    all_events: bool,
    choices: Vec<(&'static str, &'static str, bool)>,
    errors: FormErrors,
    /// The endpoint just created and its secret, shown this once.
    created: Option<(String, String)>,
}

async fn list_page(
    state: &AppState,
    m: &Member,
    form: &EndpointForm,
    errors: FormErrors,
    created: Option<(String, String)>,
) -> AppResult<String> {
    let now = now();
    let latest = db::deliveries::latest_of_each(&state.db, &m.workspace.id).await?;
    let endpoints = db::webhooks::list(&state.db, &m.workspace.id)
        .await?
        .iter()
        .map(|e| {
            let last = latest.iter().find(|d| d.webhook_id == e.id);
            EndpointView::new(e, last, now)
        })
        .collect();
    render(&ListPage {
        frame: m.frame(state, "webhooks").await?,
        base: m.url(PAGE),
        endpoints,
        form_url: form.url.clone(),
        form_description: form.description.clone(),
        all_events: form.all_events,
        choices: event_choices(&form.selected()),
        errors,
        created,
    })
}

async fn list(State(state): State<AppState>, m: Member) -> AppResult<Response> {
    let blank = EndpointForm {
        all_events: true,
        ..EndpointForm::default()
    };
    Ok(Html(list_page(&state, &m, &blank, FormErrors::default(), None).await?).into_response())
}

/// Adds an endpoint and answers with the list showing its secret once (the page is
/// `no-store`; a reload asks to send the form again rather than showing the secret).
async fn create(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let mut form = EndpointForm::from_pairs(pairs);
    form.enabled = true;
    match hooks::create(&ctx(&state, &m, Some(ip)), form.input()).await {
        Ok((e, secret)) => {
            let blank = EndpointForm {
                all_events: true,
                ..EndpointForm::default()
            };
            let html = list_page(
                &state,
                &m,
                &blank,
                FormErrors::default(),
                Some((e.id, secret)),
            );
            Ok(Html(html.await?).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let html = list_page(&state, &m, &form, FormErrors(errors), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "webhooks/detail.html")]
struct DetailPage {
    frame: Frame,
    base: String,
    e: EndpointView,
    form_url: String,
    form_description: String,
    all_events: bool,
    enabled: bool,
    choices: Vec<(&'static str, &'static str, bool)>,
    errors: FormErrors,
    deliveries: Vec<DeliveryView>,
}

async fn detail_page(
    state: &AppState,
    m: &Member,
    id: &str,
    form: Option<&EndpointForm>,
    errors: FormErrors,
) -> AppResult<String> {
    let e = hooks::get(&ctx(state, m, None), id).await?;
    let stored = EndpointForm {
        url: e.url.clone(),
        description: e.description.clone(),
        all_events: e.events == "*",
        events: Events::from_stored(&e.events).names(),
        enabled: e.enabled != 0,
    };
    let f = form.unwrap_or(&stored);
    let now = now();
    let rows = db::deliveries::list(&state.db, &m.workspace.id, &e.id, 100).await?;
    render(&DetailPage {
        frame: m.frame(state, "webhooks").await?,
        base: m.url(PAGE),
        e: EndpointView::new(&e, rows.first(), now),
        form_url: f.url.clone(),
        form_description: f.description.clone(),
        all_events: f.all_events,
        enabled: f.enabled,
        choices: event_choices(&f.selected()),
        errors,
        deliveries: rows.iter().map(|d| DeliveryView::new(d, now)).collect(),
    })
}

async fn detail(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(Html(detail_page(&state, &m, &id, None, FormErrors::default()).await?).into_response())
}

async fn update(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = EndpointForm::from_pairs(pairs);
    match hooks::update(&ctx(&state, &m, Some(ip)), &id, form.input()).await {
        Ok(_) => back(&m, &id, "Endpoint saved.").await,
        Err(AppError::Validation(errors)) => {
            let html = detail_page(&state, &m, &id, Some(&form), FormErrors(errors)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn back(m: &Member, id: &str, message: &str) -> AppResult<Response> {
    set_flash(&m.session, "success", message.to_owned()).await?;
    Ok(Redirect::to(&format!("{}/{id}", m.url(PAGE))).into_response())
}

async fn test(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    hooks::send_test(&ctx(&state, &m, None), &id).await?;
    back(&m, &id, "Test event queued; it appears under Deliveries.").await
}

async fn resend(
    State(state): State<AppState>,
    m: Member,
    Path((_, id, did)): Path<(String, String, String)>,
) -> AppResult<Response> {
    hooks::resend(&ctx(&state, &m, None), &id, &did).await?;
    back(&m, &id, "Delivery queued again.").await
}

#[derive(Template)]
#[template(path = "webhooks/delete.html")]
struct DeletePage {
    frame: Frame,
    base: String,
    e: EndpointView,
}

async fn confirm_delete(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let e = hooks::get(&ctx(&state, &m, None), &id).await?;
    let page = DeletePage {
        frame: m.frame(&state, "webhooks").await?,
        base: m.url(PAGE),
        e: EndpointView::new(&e, None, now()),
    };
    Ok(Html(render(&page)?).into_response())
}

async fn delete(
    State(state): State<AppState>,
    m: Member,
    ClientIp(ip): ClientIp,
    Path((_, id)): Path<(String, String)>,
) -> AppResult<Response> {
    hooks::delete(&ctx(&state, &m, Some(ip)), &id).await?;
    set_flash(&m.session, "success", "Endpoint deleted.".to_owned()).await?;
    Ok(Redirect::to(&m.url(PAGE)).into_response())
}
