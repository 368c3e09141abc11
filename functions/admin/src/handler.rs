//! The admin function: operators' routes (`/v1/admin/…`, `/v1/catalog/…`), behind API
//! Gateway's IAM authorizer on AWS and a bearer key on `nudge serve`. It creates tracking
//! sources, shows or erases a person, maintains the content catalog, and saves and
//! previews templates (`templates.rs`). Write keys never reach it.

mod campaigns;
mod templates;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::Method;
use nudge_shared::adapters::aws::apigw::{body_bytes, header, json_response, percent_decode};
use nudge_shared::campaigns::{CampaignError, CampaignLibrary};
use nudge_shared::domain::{
    CampaignId, CatalogItem, Channel, Collection, ItemId, PersonId, Secret, SecretHash, SendState, Source, SourceId, TemplateName,
};
use nudge_shared::ports::{
    AccountReader, CampaignStatistics, Catalog, DeferralLog, DocumentStore, Eraser, PersonHistory, PreferenceStore, ProfileReader,
    SendLedger, SourceDirectory, Upserted,
};
use nudge_shared::template::TemplateError;
use nudge_shared::templates::TemplateLibrary;
use nudge_shared::{Clock, InvalidField, PortError};
use serde_json::{json, Value};
use tracing::{error, info};

/// How many of a person's latest events `GET /v1/admin/people/{id}` shows.
pub const EVENTS_SHOWN: usize = 50;

pub struct AdminDeps<S, P, T, C> {
    pub sources: S,
    pub people: P,
    pub templates: TemplateLibrary<T>,
    pub campaigns: CampaignLibrary<T>,
    pub clock: C,
    pub auth: AdminAuth,
    /// For previews: `{{ company }}` and `{{ postal_address }}`.
    pub company: String,
    pub postal_address: String,
}

/// Who may call the admin routes.
#[derive(Debug, Clone)]
pub enum AdminAuth {
    /// Behind API Gateway's IAM authorizer: a request that reached the function was signed
    /// by a principal allowed to invoke the route.
    Iam,
    /// `Authorization: Bearer <admin key>`, compared by hash.
    Key(SecretHash),
}

/// Everything that can go wrong with a request, mapped to HTTP in `error_response` only.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("no person {0}")]
    NoSuchPerson(String),
    #[error("no template {0}")]
    NoSuchTemplate(String),
    #[error("template: {0}")]
    Template(TemplateError),
    #[error("campaign: {0}")]
    Campaign(CampaignError),
    #[error("admin routes need the admin credential")]
    Unauthorized,
    #[error("invalid {0}")]
    Invalid(InvalidField),
    #[error(transparent)]
    Store(#[from] PortError),
}

enum Route {
    CreateSource,
    ShowPerson(PersonId),
    PersonMessages(PersonId),
    ErasePerson(PersonId),
    PutContent(Collection, ItemId),
    ShowContent(Collection, ItemId),
    ListTemplates,
    ListCampaigns,
    SaveCampaign(CampaignId),
    ShowTemplate(TemplateName),
    SaveTemplate(TemplateName),
    Preview,
}

pub async fn handle<S, P, T, C>(deps: &AdminDeps<S, P, T, C>, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse
where
    S: SourceDirectory,
    P: ProfileReader + PersonHistory + SendLedger + Eraser + AccountReader + Catalog + PreferenceStore + CampaignStatistics + DeferralLog,
    T: DocumentStore,
    C: Clock,
{
    let result = match authorize(&deps.auth, &request).and_then(|()| route_for(&request)) {
        Ok(Route::CreateSource) => create_source(deps, &request).await.map(|body| (201, body)),
        Ok(Route::ShowPerson(id)) => show_person(&deps.people, &id).await.map(|body| (200, body)),
        Ok(Route::PersonMessages(id)) => person_messages(&deps.people, &id).await.map(|body| (200, body)),
        Ok(Route::ErasePerson(id)) => erase_person(&deps.people, &id).await.map(|body| (200, body)),
        Ok(Route::PutContent(collection, id)) => put_content(deps, collection, id, &request).await,
        Ok(Route::ShowContent(collection, id)) => show_content(&deps.people, &collection, &id).await.map(|body| (200, body)),
        Ok(Route::ListTemplates) => templates::list(deps).await.map(|body| (200, body)),
        Ok(Route::ListCampaigns) => campaigns::list(deps).await.map(|body| (200, body)),
        Ok(Route::SaveCampaign(id)) => campaigns::save(deps, id, &request).await,
        Ok(Route::ShowTemplate(name)) => templates::show(deps, &name).await.map(|body| (200, body)),
        Ok(Route::SaveTemplate(name)) => templates::save(deps, name, &request).await,
        Ok(Route::Preview) => templates::render_preview(deps, &request).await.map(|body| (200, body)),
        Err(error) => Err(error),
    };
    match result {
        Ok((status, body)) => json_response(status, body),
        Err(error) => error_response(&error),
    }
}

fn route_for(request: &ApiGatewayV2httpRequest) -> Result<Route, AdminError> {
    let method = &request.request_context.http.method;
    let path = request.raw_path.as_deref().unwrap_or("/").trim_end_matches('/');
    let not_found = || AdminError::NotFound {
        method: method.to_string(),
        path: path.to_string(),
    };
    match (path, method) {
        ("/v1/admin/sources", &Method::POST) => return Ok(Route::CreateSource),
        ("/v1/admin/templates", &Method::GET) => return Ok(Route::ListTemplates),
        ("/v1/admin/campaigns", &Method::GET) => return Ok(Route::ListCampaigns),
        ("/v1/admin/preview", &Method::POST) => return Ok(Route::Preview),
        _ => {}
    }
    if let Some(id) = path.strip_prefix("/v1/admin/campaigns/") {
        let id = CampaignId::parse(&percent_decode(id)).map_err(|e| AdminError::Invalid(e.within("id")))?;
        return match *method {
            Method::PUT => Ok(Route::SaveCampaign(id)),
            _ => Err(not_found()),
        };
    }
    if let Some(name) = path.strip_prefix("/v1/admin/templates/") {
        let name = TemplateName::parse(&percent_decode(name)).map_err(|e| AdminError::Invalid(e.within("name")))?;
        return match *method {
            Method::GET => Ok(Route::ShowTemplate(name)),
            Method::PUT => Ok(Route::SaveTemplate(name)),
            _ => Err(not_found()),
        };
    }
    if let Some(rest) = path.strip_prefix("/v1/catalog/") {
        let (collection, id) = rest
            .split_once('/')
            .filter(|(c, i)| !c.is_empty() && !i.is_empty() && !i.contains('/'))
            .ok_or_else(not_found)?;
        let collection = Collection::parse(&percent_decode(collection)).map_err(|e| AdminError::Invalid(e.within("collection")))?;
        let id = ItemId::parse(&percent_decode(id)).map_err(|e| AdminError::Invalid(e.within("itemId")))?;
        return match *method {
            Method::PUT => Ok(Route::PutContent(collection, id)),
            Method::GET => Ok(Route::ShowContent(collection, id)),
            _ => Err(not_found()),
        };
    }
    let rest = path.strip_prefix("/v1/admin/people/").ok_or_else(not_found)?;
    let (id, messages) = match rest.strip_suffix("/messages") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return Err(not_found());
    }
    let id = PersonId::parse(&percent_decode(id)).map_err(|e| AdminError::Invalid(e.within("userId")))?;
    if messages {
        return match *method {
            Method::GET => Ok(Route::PersonMessages(id)),
            _ => Err(not_found()),
        };
    }
    match *method {
        Method::GET => Ok(Route::ShowPerson(id)),
        Method::DELETE => Ok(Route::ErasePerson(id)),
        _ => Err(not_found()),
    }
}

async fn create_source<S: SourceDirectory, P, T, C: Clock>(
    deps: &AdminDeps<S, P, T, C>,
    request: &ApiGatewayV2httpRequest,
) -> Result<Value, AdminError> {
    let body: Value = serde_json::from_slice(&body_bytes(request).map_err(AdminError::Invalid)?)
        .map_err(|e| AdminError::Invalid(InvalidField::new("body", format!("is not valid JSON ({e})"))))?;
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| AdminError::Invalid(InvalidField::new(name, "is required (a string)")))
    };
    let name = text("name")?.trim().to_string();
    let id = match body.get("id") {
        None | Some(Value::Null) => slug(&name),
        Some(_) => text("id")?.to_string(),
    };
    let source = Source {
        id: SourceId::parse(&id).map_err(|e| AdminError::Invalid(e.within("id")))?,
        channel: Channel::parse(text("channel")?).map_err(|e| AdminError::Invalid(e.within("channel")))?,
        name,
        created_at: deps.clock.now(),
    };
    let key = Secret::generate("wk_");
    deps.sources.add_source(&source, &key.hash()).await?;
    info!(source = %source.id, channel = %source.channel, "source created");
    // The only time the key is shown: Nudge keeps its hash.
    Ok(json!({ "source": source, "writeKey": key.expose() }))
}

fn slug(name: &str) -> String {
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-")
}

async fn show_person<P: ProfileReader + PersonHistory + SendLedger + AccountReader + PreferenceStore>(
    people: &P,
    id: &PersonId,
) -> Result<Value, AdminError> {
    let person = people.person(id).await?.ok_or_else(|| AdminError::NoSuchPerson(id.to_string()))?;
    let events = people.events_of(id, EVENTS_SHOWN).await?;
    let messages = people.sends_to(id).await?;
    let mut accounts = Vec::new();
    for group in &person.accounts {
        accounts.extend(people.account(group).await?);
    }
    let preferences = people.preferences(id).await?;
    Ok(json!({ "person": person, "accounts": accounts, "events": events, "messages": messages, "preferences": preferences }))
}

/// What was sent to the person, what was skipped and why, newest first.
async fn person_messages<P: ProfileReader + SendLedger + DeferralLog>(people: &P, id: &PersonId) -> Result<Value, AdminError> {
    if people.person(id).await?.is_none() {
        return Err(AdminError::NoSuchPerson(id.to_string()));
    }
    let mut messages = people.sends_to(id).await?;
    messages.sort_by_key(|record| std::cmp::Reverse(record.state.at()));
    let explained: Vec<Value> = messages
        .iter()
        .map(|record| {
            let why = match &record.state {
                SendState::Skipped { reason, .. } => Some(reason.to_string()),
                SendState::Failed { detail, .. } => Some(detail.clone()),
                _ => None,
            };
            json!({ "campaign": record.campaign_id, "state": record.state.label(), "at": record.state.at(), "why": why, "record": record })
        })
        .collect();
    let deferred = people.deferrals_of(id).await?;
    Ok(json!({ "person": id, "messages": explained, "deferred": deferred }))
}

async fn erase_person<P: Eraser>(people: &P, id: &PersonId) -> Result<Value, AdminError> {
    let erased = people.erase(id).await?;
    if !erased.profile {
        return Err(AdminError::NoSuchPerson(id.to_string()));
    }
    info!(person = %id, events = erased.events, sends = erased.sends, timers = erased.timers, "person erased");
    Ok(json!({ "erased": erased }))
}

/// Upserts a catalog item from the JSON object in the body: 201 when it is new (which puts a
/// `content_added` change on the feed), 200 when it replaced one.
async fn put_content<S, P: Catalog, T, C: Clock>(
    deps: &AdminDeps<S, P, T, C>,
    collection: Collection,
    id: ItemId,
    request: &ApiGatewayV2httpRequest,
) -> Result<(i64, Value), AdminError> {
    let invalid = |field: &str, reason: &str| AdminError::Invalid(InvalidField::new(field, reason));
    let fields = match serde_json::from_slice::<Value>(&body_bytes(request).map_err(AdminError::Invalid)?) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return Err(invalid("body", "must be a JSON object of the item's fields")),
        Err(e) => return Err(invalid("body", &format!("is not valid JSON ({e})"))),
    };
    for text in ["title", "url"] {
        if fields.get(text).is_some_and(|v| !v.is_string()) {
            return Err(invalid(text, "must be a string"));
        }
    }
    if fields
        .get("tags")
        .is_some_and(|tags| !tags.as_array().is_some_and(|list| list.iter().all(Value::is_string)))
    {
        return Err(invalid("tags", "must be an array of strings"));
    }
    if let Some(published) = fields.get("published_at") {
        let valid = published
            .as_str()
            .is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok());
        if !valid {
            return Err(invalid("published_at", "must be an ISO-8601 date-time"));
        }
    }
    let item = CatalogItem {
        collection,
        id,
        fields,
        updated_at: deps.clock.now(),
    };
    let upserted = deps.people.upsert(&item).await?;
    info!(collection = %item.collection, item = %item.id, added = (upserted == Upserted::Added), "catalog item stored");
    let status = if upserted == Upserted::Added { 201 } else { 200 };
    Ok((status, json!({ "item": item, "added": upserted == Upserted::Added })))
}

async fn show_content<P: Catalog>(catalog: &P, collection: &Collection, id: &ItemId) -> Result<Value, AdminError> {
    let item = catalog.item(collection, id).await?.ok_or_else(|| AdminError::NotFound {
        method: "GET".into(),
        path: format!("/v1/catalog/{collection}/{id}"),
    })?;
    Ok(json!({ "item": item }))
}

fn authorize(auth: &AdminAuth, request: &ApiGatewayV2httpRequest) -> Result<(), AdminError> {
    let allowed = match auth {
        AdminAuth::Iam => request.request_context.authorizer.as_ref().is_some_and(|a| a.iam.is_some()),
        AdminAuth::Key(expected) => header(request, "authorization")
            .and_then(|value| value.strip_prefix("Bearer ").map(|key| Secret::new(key.trim()).hash()))
            .is_some_and(|presented| presented.matches(expected)),
    };
    allowed.then_some(()).ok_or(AdminError::Unauthorized)
}

/// The one place errors become HTTP: status, and a JSON body naming the field at fault.
pub fn error_response(error: &AdminError) -> ApiGatewayV2httpResponse {
    let (status, code) = match error {
        AdminError::NotFound { .. } => (404, "not_found"),
        AdminError::NoSuchPerson(_) | AdminError::NoSuchTemplate(_) => (404, "not_found"),
        AdminError::Template(TemplateError::Syntax { .. }) => (400, "invalid_template"),
        AdminError::Template(TemplateError::Render { .. }) => (422, "render_failed"),
        AdminError::Campaign(_) => (400, "invalid_campaign"),
        AdminError::Unauthorized => (401, "unauthorized"),
        AdminError::Invalid(_) => (400, "invalid_request"),
        AdminError::Store(port) if port.is_retryable() => (503, "unavailable"),
        AdminError::Store(_) => (500, "internal"),
    };
    if status >= 500 {
        error!(%error, "request failed");
    }
    let mut body = json!({ "error": { "code": code, "message": error.to_string() } });
    match error {
        AdminError::Invalid(field) => body["error"]["field"] = json!(field.field),
        AdminError::Template(TemplateError::Syntax { line, column, .. }) => {
            body["error"]["field"] = json!("source");
            body["error"]["line"] = json!(line);
            body["error"]["column"] = json!(column);
        }
        AdminError::Template(TemplateError::Render { part, .. }) => body["error"]["field"] = json!(part),
        AdminError::Campaign(error) => {
            body["error"]["field"] = json!("source");
            body["error"]["line"] = json!(error.line);
            body["error"]["column"] = json!(error.column);
        }
        _ => {}
    }
    json_response(status, body)
}
