use crate::backends::Backend;
use crate::fixtures::start;
use chrono::Duration;
use nudge_shared::domain::{DedupKey, PersonId, Preferences, TemplateName, Topic};
use nudge_shared::ports::{Eraser, EventLog, MessageArchive, PreferenceStore, SavedTemplate, TemplateStore};
use nudge_shared::template::{BodyFormat, TemplateDocument};

fn document(name: &str, subject: &str) -> TemplateDocument {
    TemplateDocument {
        name: TemplateName::parse(name).unwrap(),
        format: BodyFormat::Html,
        source: format!("---\nsubject: {subject}\n---\n<p>Hi</p>\n"),
    }
}

pub async fn saving_a_changed_template_makes_a_new_version_and_keeps_the_newest(backend: impl Backend) {
    let store = backend.store();
    let welcome = TemplateName::parse("welcome").unwrap();
    assert_eq!(store.current_template(&welcome).await.unwrap(), None);
    let saved = store.save_template(&document("welcome", "Hello"), start()).await.unwrap();
    assert_eq!(saved, SavedTemplate { version: 1, changed: true });
    let again = store
        .save_template(&document("welcome", "Hello"), start() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        again,
        SavedTemplate {
            version: 1,
            changed: false
        },
        "the same text is not a new version"
    );
    let edited = store
        .save_template(&document("welcome", "Hello again"), start() + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(edited, SavedTemplate { version: 2, changed: true });
    store.save_template(&document("digest", "Your week"), start()).await.unwrap();

    let current = store.current_template(&welcome).await.unwrap().unwrap();
    assert_eq!((current.version, current.document), (2, document("welcome", "Hello again")));
    assert_eq!(current.saved_at, start() + Duration::minutes(2));
    let all: Vec<(String, u32)> = store
        .templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.document.name.to_string(), t.version))
        .collect();
    assert_eq!(all, vec![("digest".to_string(), 1), ("welcome".to_string(), 2)]);
}

pub async fn preferences_are_kept_per_person_and_erased_with_them(backend: impl Backend) {
    let store = backend.store();
    let ada = PersonId::parse("ada").unwrap();
    assert_eq!(store.preferences(&ada).await.unwrap(), Preferences::default());
    store
        .record(&crate::fixtures::identify(
            "ada",
            "m-pref",
            serde_json::json!({"email": "ada@example.com"}),
        ))
        .await
        .unwrap();
    let mut preferences = Preferences::default();
    preferences.unsubscribe(Some(&Topic::parse("product_tips").unwrap()), start());
    store.save_preferences(&ada, &preferences).await.unwrap();
    assert_eq!(store.preferences(&ada).await.unwrap(), preferences);
    assert_eq!(
        store.preferences(&PersonId::parse("grace").unwrap()).await.unwrap(),
        Preferences::default()
    );
    store.erase(&ada).await.unwrap();
    assert_eq!(
        store.preferences(&ada).await.unwrap(),
        Preferences::default(),
        "erasure removes preferences"
    );
}

pub async fn archived_messages_are_kept_until_they_expire_and_erased_with_the_person(backend: impl Backend) {
    let store = backend.store();
    let ada = PersonId::parse("ada").unwrap();
    store
        .record(&crate::fixtures::identify(
            "ada",
            "m-archive",
            serde_json::json!({"email": "ada@example.com"}),
        ))
        .await
        .unwrap();
    let key = DedupKey::parse("0123456789abcdef0123456789abcdef").unwrap();
    let html = format!("<html><body>{}</body></html>", "Grüße, Ada. ".repeat(500));
    let expires = start() + Duration::days(90);
    assert_eq!(store.archived(&ada, &key, start()).await.unwrap(), None);
    store.archive(&ada, &key, &html, expires).await.unwrap();
    assert_eq!(store.archived(&ada, &key, start()).await.unwrap().as_deref(), Some(html.as_str()));
    store.archive(&ada, &key, "<p>again</p>", expires).await.unwrap();
    assert_eq!(
        store.archived(&ada, &key, start()).await.unwrap().as_deref(),
        Some("<p>again</p>"),
        "the same send archived again replaces it"
    );
    assert_eq!(
        store.archived(&PersonId::parse("grace").unwrap(), &key, start()).await.unwrap(),
        None,
        "only under its own person"
    );
    assert_eq!(
        store.archived(&ada, &key, expires + Duration::seconds(1)).await.unwrap(),
        None,
        "expired"
    );
    store.erase(&ada).await.unwrap();
    assert_eq!(store.archived(&ada, &key, start()).await.unwrap(), None, "erased with the person");
}
