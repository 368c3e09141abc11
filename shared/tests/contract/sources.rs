use crate::backends::Backend;
use crate::fixtures::start;
use nudge_shared::domain::{Channel, Secret, Source, SourceId};
use nudge_shared::ports::SourceDirectory;

pub async fn a_source_is_found_by_its_key_hash_only(backend: impl Backend) {
    let sources = backend.store();
    let key = Secret::new("wk_contract_key");
    let source = Source {
        id: SourceId::parse("website").unwrap(),
        name: "Website".into(),
        channel: Channel::parse("web").unwrap(),
        created_at: start(),
    };
    assert_eq!(sources.source_for_key(&key.hash()).await.unwrap(), None);
    sources.add_source(&source, &key.hash()).await.unwrap();
    assert_eq!(sources.source_for_key(&key.hash()).await.unwrap(), Some(source.clone()));
    assert_eq!(sources.source_for_key(&Secret::new("wk_contract_kez").hash()).await.unwrap(), None);
    let moved = Source {
        channel: Channel::parse("app").unwrap(),
        ..source
    };
    sources.add_source(&moved, &key.hash()).await.unwrap();
    assert_eq!(
        sources.source_for_key(&key.hash()).await.unwrap(),
        Some(moved),
        "registering a key again replaces its source"
    );
}
