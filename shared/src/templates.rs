//! The template library: stored templates (newest version), falling back to the built-in
//! ones, each compiled once per version and shared by every message that uses it.

use crate::domain::{CampaignId, PersonId, TemplateName, TriggerSnapshot};
use crate::error::PortError;
use crate::ports::{AccountReader, ProfileReader, SavedTemplate, TemplateStore};
use crate::template::{BodyFormat, Links, RenderContext, RenderedMessage, StoredTemplate, Template, TemplateDocument, TemplateError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The templates every deployment starts with; `nudge templates apply` overrides them by name.
pub fn builtin_templates() -> Vec<TemplateDocument> {
    [
        ("welcome", include_str!("../templates/welcome.mjml")),
        ("getting-started", include_str!("../templates/getting-started.mjml")),
    ]
    .into_iter()
    .map(|(name, source)| TemplateDocument {
        name: TemplateName::parse(name).expect("built-in template names are valid"),
        format: BodyFormat::Mjml,
        source: source.to_string(),
    })
    .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("template `{0}` does not exist")]
    NotFound(TemplateName),
    #[error(transparent)]
    Invalid(#[from] TemplateError),
    #[error(transparent)]
    Port(#[from] PortError),
}

pub struct TemplateLibrary<S> {
    store: S,
    builtins: Vec<TemplateDocument>,
    compiled: Mutex<HashMap<(TemplateName, u32), Arc<Template>>>,
}

impl<S: TemplateStore> TemplateLibrary<S> {
    pub fn new(store: S) -> Self {
        Self {
            store,
            builtins: builtin_templates(),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The newest stored version of `name`, or the built-in one (version 0).
    pub async fn document(&self, name: &TemplateName) -> Result<Option<StoredTemplate>, PortError> {
        if let Some(stored) = self.store.current_template(name).await? {
            return Ok(Some(stored));
        }
        Ok(self.builtins.iter().find(|d| &d.name == name).map(|document| StoredTemplate {
            version: 0,
            document: document.clone(),
            saved_at: DateTime::<Utc>::UNIX_EPOCH,
        }))
    }

    /// The compiled newest version of `name`.
    pub async fn resolve(&self, name: &TemplateName) -> Result<Arc<Template>, LibraryError> {
        let stored = self.document(name).await?.ok_or_else(|| LibraryError::NotFound(name.clone()))?;
        let key = (name.clone(), stored.version);
        if let Some(template) = self.compiled.lock().expect("template cache lock").get(&key) {
            return Ok(Arc::clone(template));
        }
        let template = Arc::new(Template::compile(&stored.document, stored.version)?);
        self.compiled
            .lock()
            .expect("template cache lock")
            .insert(key, Arc::clone(&template));
        Ok(template)
    }

    /// Checks `document` and, if it compiles, saves it as a new version (unless unchanged).
    pub async fn apply(&self, document: &TemplateDocument, at: DateTime<Utc>) -> Result<SavedTemplate, LibraryError> {
        Template::compile(document, 0)?;
        Ok(self.store.save_template(document, at).await?)
    }

    /// Every template in force: the stored ones and the built-ins not overridden.
    pub async fn list(&self) -> Result<Vec<StoredTemplate>, PortError> {
        let mut all = self.store.templates().await?;
        for builtin in &self.builtins {
            if !all.iter().any(|t| t.document.name == builtin.name) {
                all.push(StoredTemplate {
                    version: 0,
                    document: builtin.clone(),
                    saved_at: DateTime::<Utc>::UNIX_EPOCH,
                });
            }
        }
        all.sort_by(|a, b| a.document.name.cmp(&b.document.name));
        Ok(all)
    }
}

/// Renders `template` for a real person with a made-up trigger, as the sender would (links
/// are placeholders: a preview must not hand out a working unsubscribe link).
pub async fn preview<P: ProfileReader + AccountReader>(
    profiles: &P,
    template: &Template,
    person: &PersonId,
    trigger: &TriggerSnapshot,
    sender: &PreviewSender<'_>,
    now: DateTime<Utc>,
) -> Result<RenderedMessage, PreviewError> {
    let person = profiles
        .person(person)
        .await?
        .ok_or_else(|| PreviewError::NoSuchPerson(person.clone()))?;
    let account = crate::ports::account_of(profiles, &person).await?;
    let links = Links {
        unsubscribe_url: Some(PREVIEW_LINK.into()),
        preferences_url: Some(PREVIEW_LINK.into()),
        view_in_browser_url: Some(PREVIEW_VIEW_LINK.into()),
    };
    let campaign = CampaignId::parse("preview").expect("valid id");
    let context = RenderContext {
        person: &person,
        trigger,
        campaign_id: &campaign,
        campaign_name: "Preview",
        account: account.as_ref(),
        content: None,
        company: sender.company,
        postal_address: sender.postal_address,
        links: &links,
        now,
    };
    Ok(template.render(&context)?)
}

/// Where a preview's unsubscribe and preference links point.
pub const PREVIEW_LINK: &str = "https://preview.nudge.invalid/u/preview";
/// Where a preview's view-in-browser link points.
pub const PREVIEW_VIEW_LINK: &str = "https://preview.nudge.invalid/m/preview";

/// Who a preview is from.
pub struct PreviewSender<'a> {
    pub company: &'a str,
    pub postal_address: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no person {0}")]
    NoSuchPerson(PersonId),
    #[error(transparent)]
    Render(#[from] TemplateError),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[cfg(test)]
mod tests {
    #[test]
    fn built_in_templates_compile() {
        for document in super::builtin_templates() {
            crate::template::Template::compile(&document, 0).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
