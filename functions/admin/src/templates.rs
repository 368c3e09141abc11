//! Template routes: list, show, save (a new version when the text changed) and preview
//! against a real person. A template that does not compile is refused with its line and
//! column; one that cannot render for the person says which value is missing.

use crate::{AdminDeps, AdminError};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use nudge_shared::adapters::aws::apigw::body_bytes;
use nudge_shared::domain::{EventName, MessageId, PersonId, TemplateName, TriggerSnapshot};
use nudge_shared::ports::{AccountReader, ProfileReader, TemplateStore};
use nudge_shared::template::{BodyFormat, Template, TemplateDocument};
use nudge_shared::templates::{preview, LibraryError, PreviewError, PreviewSender};
use nudge_shared::{Clock, InvalidField};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tracing::info;

fn parse_body<T: serde::de::DeserializeOwned>(request: &ApiGatewayV2httpRequest) -> Result<T, AdminError> {
    serde_json::from_slice(&body_bytes(request).map_err(AdminError::Invalid)?)
        .map_err(|e| AdminError::Invalid(InvalidField::new("body", format!("is not what this route takes ({e})"))))
}

pub async fn list<S, P, T: TemplateStore, C>(deps: &AdminDeps<S, P, T, C>) -> Result<Value, AdminError> {
    let templates: Vec<Value> = deps
        .templates
        .list()
        .await?
        .into_iter()
        .map(|t| json!({ "name": t.document.name, "version": t.version, "format": t.document.format, "saved_at": t.saved_at }))
        .collect();
    Ok(json!({ "templates": templates }))
}

pub async fn show<S, P, T: TemplateStore, C>(deps: &AdminDeps<S, P, T, C>, name: &TemplateName) -> Result<Value, AdminError> {
    let stored = deps
        .templates
        .document(name)
        .await?
        .ok_or_else(|| AdminError::NoSuchTemplate(name.to_string()))?;
    Ok(json!({ "template": stored }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    format: BodyFormat,
    /// The whole file: front matter and body.
    source: String,
}

pub async fn save<S, P, T: TemplateStore, C: Clock>(
    deps: &AdminDeps<S, P, T, C>,
    name: TemplateName,
    request: &ApiGatewayV2httpRequest,
) -> Result<(i64, Value), AdminError> {
    let body: SaveBody = parse_body(request)?;
    let document = TemplateDocument {
        name,
        format: body.format,
        source: body.source,
    };
    let saved = deps.templates.apply(&document, deps.clock.now()).await?;
    info!(template = %document.name, version = saved.version, changed = saved.changed, "template saved");
    let status = if saved.changed { 201 } else { 200 };
    Ok((
        status,
        json!({ "name": document.name, "version": saved.version, "changed": saved.changed }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    /// A stored template by name…
    #[serde(default)]
    template: Option<TemplateName>,
    /// …or a draft: the file's text and its format.
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    format: Option<BodyFormat>,
    person_id: PersonId,
    /// The trigger to render with: `{ "name": "cart_abandoned", "properties": {…} }`.
    #[serde(default)]
    event: Option<PreviewEvent>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PreviewEvent {
    #[serde(default)]
    name: Option<EventName>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn render_preview<S, P, T, C>(deps: &AdminDeps<S, P, T, C>, request: &ApiGatewayV2httpRequest) -> Result<Value, AdminError>
where
    P: ProfileReader + AccountReader,
    T: TemplateStore,
    C: Clock,
{
    let body: PreviewBody = parse_body(request)?;
    let template = match (&body.template, body.source) {
        (Some(name), None) => deps.templates.resolve(name).await?,
        (None, Some(source)) => {
            let document = TemplateDocument {
                name: TemplateName::parse("draft").expect("valid name"),
                format: body.format.unwrap_or(BodyFormat::Mjml),
                source,
            };
            std::sync::Arc::new(Template::compile(&document, 0).map_err(AdminError::Template)?)
        }
        _ => {
            return Err(AdminError::Invalid(InvalidField::new(
                "template",
                "give either `template` (a name) or `source`",
            )))
        }
    };
    let event = body.event.unwrap_or_default();
    let now = deps.clock.now();
    let trigger = TriggerSnapshot {
        message_id: MessageId::parse("preview").expect("valid id"),
        name: event.name,
        properties: event.properties,
        timestamp: event.timestamp.unwrap_or(now),
    };
    let sender = PreviewSender {
        company: &deps.company,
        postal_address: &deps.postal_address,
    };
    let rendered = preview(&deps.people, &template, &body.person_id, &trigger, &sender, now)
        .await
        .map_err(|e| match e {
            PreviewError::NoSuchPerson(id) => AdminError::NoSuchPerson(id.to_string()),
            PreviewError::Render(error) => AdminError::Template(error),
            PreviewError::Port(port) => AdminError::Store(port),
        })?;
    Ok(json!({ "template": { "name": template.name, "version": template.version }, "message": rendered }))
}

impl From<LibraryError> for AdminError {
    fn from(error: LibraryError) -> Self {
        match error {
            LibraryError::Port(port) => AdminError::Store(port),
            LibraryError::Invalid(template) => AdminError::Template(template),
            LibraryError::NotFound(name) => AdminError::NoSuchTemplate(name.to_string()),
        }
    }
}
