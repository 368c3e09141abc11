//! The preferences function: the public links in every email.
//!
//! `/u/{token}`, unsubscribe and preferences:
//! - `GET` shows the preference center (never changes anything: mail scanners follow links).
//! - `POST` with `List-Unsubscribe=One-Click` (RFC 8058, sent by mail clients) or with the
//!   page's "unsubscribe" button leaves the link's topic (or all marketing if it has none).
//! - `POST` with the page's form saves the topics the person keeps, or leaves everything.
//!
//!
//! `/m/{token}`, view in browser: `GET` shows the message as it was sent (archived by the
//! sender), in a sandbox; 410 once it has expired or the person was erased.
//!
//! Tokens are HMAC-signed (`nudge_shared::unsubscribe`): a forged or altered link gets 400.

mod page;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::Method;
use nudge_shared::adapters::aws::apigw::{body_bytes, form_pairs, html_response, json_response};
use nudge_shared::campaigns::CampaignLibrary;
use nudge_shared::domain::{Preferences, Topic};
use nudge_shared::ports::{DocumentStore, MessageArchive, PreferenceStore, ProfileReader};
use nudge_shared::unsubscribe::{UnsubscribeSecret, UnsubscribeToken, ViewToken};
use nudge_shared::{Clock, PortError};
use serde_json::json;
use tracing::{error, info};

pub struct PreferencesDeps<S, C> {
    pub store: S,
    pub secret: UnsubscribeSecret,
    /// The campaigns in force: their topics are what people can choose from.
    pub campaigns: CampaignLibrary<S>,
    /// The sender's name, shown on the page.
    pub company: String,
    pub clock: C,
}

#[derive(Debug, thiserror::Error)]
pub enum PreferencesError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("this link is not valid: it may have been altered or cut short")]
    InvalidToken,
    #[error("this message is no longer available")]
    Gone,
    #[error(transparent)]
    Store(#[from] PortError),
}

/// What a POST asks for.
#[derive(Debug, PartialEq)]
enum Change {
    /// One click: leave the link's topic (or everything, for a link without one).
    OneClick,
    /// The page's form: keep these topics, leave the others.
    Keep(Vec<Topic>),
    UnsubscribeAll,
}

pub async fn handle<S, C>(deps: &PreferencesDeps<S, C>, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse
where
    S: ProfileReader + PreferenceStore + MessageArchive + DocumentStore,
    C: Clock,
{
    let method = request.request_context.http.method.clone();
    let path = request.raw_path.as_deref().unwrap_or("/");
    if let Some(token) = path.strip_prefix("/m/") {
        return match view(deps, token, &method).await {
            Ok(html) => sandboxed(html),
            Err(error) => error_response(&error, true, &deps.company),
        };
    }
    let result = match token_of(&request, &deps.secret) {
        Ok(token) if method == Method::GET => show(deps, &token).await,
        Ok(token) if method == Method::POST => change(deps, &token, &request).await,
        Ok(_) => Err(not_found(&request)),
        Err(error) => Err(error),
    };
    match result {
        Ok(page) => html_response(200, page),
        Err(error) => error_response(&error, method == Method::GET, &deps.company),
    }
}

fn not_found(request: &ApiGatewayV2httpRequest) -> PreferencesError {
    PreferencesError::NotFound {
        method: request.request_context.http.method.to_string(),
        path: request.raw_path.clone().unwrap_or_default(),
    }
}

fn token_of(request: &ApiGatewayV2httpRequest, secret: &UnsubscribeSecret) -> Result<UnsubscribeToken, PreferencesError> {
    let path = request.raw_path.as_deref().unwrap_or("/");
    let token = path
        .strip_prefix("/u/")
        .filter(|t| !t.is_empty() && !t.contains('/'))
        .ok_or_else(|| not_found(request))?;
    UnsubscribeToken::verify(token, secret).map_err(|_| PreferencesError::InvalidToken)
}

/// The archived message for a view link.
async fn view<S: MessageArchive, C: Clock>(deps: &PreferencesDeps<S, C>, token: &str, method: &Method) -> Result<String, PreferencesError> {
    if method != Method::GET {
        return Err(PreferencesError::NotFound {
            method: method.to_string(),
            path: "/m/{token}".into(),
        });
    }
    let token = ViewToken::verify(token, &deps.secret).map_err(|_| PreferencesError::InvalidToken)?;
    deps.store
        .archived(&token.person, &token.dedup_key, deps.clock.now())
        .await?
        .ok_or(PreferencesError::Gone)
}

/// The message's own HTML, shown as sent but in a sandbox: no scripts, forms or same-origin access.
fn sandboxed(html: String) -> ApiGatewayV2httpResponse {
    let mut response = html_response(200, html);
    response.headers.insert(
        "content-security-policy",
        aws_lambda_events::http::HeaderValue::from_static("sandbox"),
    );
    response
}

async fn show<S: ProfileReader + PreferenceStore + DocumentStore, C: Clock>(
    deps: &PreferencesDeps<S, C>,
    token: &UnsubscribeToken,
) -> Result<String, PreferencesError> {
    if deps.store.person(&token.person).await?.is_none() {
        return Ok(page::not_on_list(&deps.company));
    }
    let preferences = deps.store.preferences(&token.person).await?;
    let topics = deps.campaigns.current(deps.clock.now()).await?.topics();
    Ok(page::center(&deps.company, token, &topics, &preferences, None))
}

async fn change<S: ProfileReader + PreferenceStore + DocumentStore, C: Clock>(
    deps: &PreferencesDeps<S, C>,
    token: &UnsubscribeToken,
    request: &ApiGatewayV2httpRequest,
) -> Result<String, PreferencesError> {
    let body = body_bytes(request).unwrap_or_default();
    let change = parse_change(&form_pairs(&body));
    if deps.store.person(&token.person).await?.is_none() {
        // Erased or never known: nothing is mailed to them, and nothing is written under their id.
        return Ok(page::not_on_list(&deps.company));
    }
    let now = deps.clock.now();
    let topics = deps.campaigns.current(now).await?.topics();
    let mut preferences = deps.store.preferences(&token.person).await?;
    let notice = match &change {
        Change::OneClick => {
            preferences.unsubscribe(token.topic.as_ref(), now);
            match &token.topic {
                Some(topic) => format!("You will no longer get {} email.", page::topic_label(topic)),
                None => "You will no longer get marketing email from us.".to_string(),
            }
        }
        Change::UnsubscribeAll => {
            preferences.unsubscribe(None, now);
            "You will no longer get marketing email from us.".to_string()
        }
        Change::Keep(kept) => {
            let mut updated = Preferences::default();
            for topic in topics.iter().filter(|t| !kept.contains(t)) {
                let since = preferences.unsubscribed_topics.get(topic).copied().unwrap_or(now);
                updated.unsubscribed_topics.insert(topic.clone(), since);
            }
            preferences = updated;
            "Your email preferences are saved.".to_string()
        }
    };
    deps.store.save_preferences(&token.person, &preferences).await?;
    info!(person = %token.person, change = ?change, "preferences changed");
    Ok(page::center(&deps.company, token, &topics, &preferences, Some(&notice)))
}

fn parse_change(pairs: &[(String, String)]) -> Change {
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    match value("action") {
        Some("save") => Change::Keep(
            pairs
                .iter()
                .filter(|(k, _)| k == "topic")
                .filter_map(|(_, v)| Topic::parse(v).ok())
                .collect(),
        ),
        Some("unsubscribe_all") => Change::UnsubscribeAll,
        // `List-Unsubscribe=One-Click`, the page's unsubscribe button, or an empty POST.
        _ => Change::OneClick,
    }
}

/// The one place errors become HTTP: a page for browsers (GET), JSON for mail clients.
fn error_response(error: &PreferencesError, browser: bool, company: &str) -> ApiGatewayV2httpResponse {
    let (status, code) = match error {
        PreferencesError::NotFound { .. } => (404, "not_found"),
        PreferencesError::InvalidToken => (400, "invalid_token"),
        PreferencesError::Gone => (410, "gone"),
        PreferencesError::Store(port) if port.is_retryable() => (503, "unavailable"),
        PreferencesError::Store(_) => (500, "internal"),
    };
    if status >= 500 {
        error!(%error, "request failed");
    }
    if browser {
        return html_response(status, page::error(company, &error.to_string()));
    }
    json_response(
        status,
        json!({ "error": { "code": code, "message": error.to_string(), "field": (code == "invalid_token").then_some("token") } }),
    )
}
