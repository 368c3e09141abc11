//! `nudge templates check|apply|list` and `nudge preview`: templates as files in a project
//! directory (`templates/welcome.mjml`, front matter + body), checked with file:line:column
//! errors, saved as versions in the local store or the deployed stack's table.

use anyhow::Context;
use nudge_shared::adapters::embedded::EmbeddedStore;
use nudge_shared::domain::{EventName, MessageId, PersonId, TemplateName, TriggerSnapshot};
use nudge_shared::ports::{AccountReader, ProfileReader, TemplateStore};
use nudge_shared::template::{BodyFormat, Template, TemplateDocument, TemplateError};
use nudge_shared::templates::{preview as render_preview, LibraryError, PreviewSender, TemplateLibrary};
use nudge_shared::{Clock, SystemClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A template file, read and named.
struct TemplateFile {
    path: PathBuf,
    document: TemplateDocument,
}

/// Every template file in `dir`, sorted by name; unreadable or misnamed files are errors.
fn read_dir(dir: &Path) -> anyhow::Result<Vec<TemplateFile>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the template directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            if let Some(file) = read_file(&path)? {
                files.push(file);
            }
        }
    }
    anyhow::ensure!(
        !files.is_empty(),
        "{}: no templates (*.mjml, *.html, *.liquid) found",
        dir.display()
    );
    files.sort_by(|a, b| a.document.name.cmp(&b.document.name));
    Ok(files)
}

/// The file as a template document, or `None` if it is not a template by its extension.
fn read_file(path: &Path) -> anyhow::Result<Option<TemplateFile>> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let Some((stem, format)) = BodyFormat::from_file_name(file_name) else {
        return Ok(None);
    };
    let name = TemplateName::parse(stem).map_err(|e| anyhow::anyhow!("{}: the file name {stem:?} {}", path.display(), e.reason))?;
    let source = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(TemplateFile {
        path: path.to_path_buf(),
        document: TemplateDocument { name, format, source },
    }))
}

/// `path:line:column: what`, as compilers print it.
fn located(path: &Path, error: &TemplateError) -> String {
    match error {
        TemplateError::Syntax { line, column, detail, .. } => format!("{}:{line}:{column}: {detail}", path.display()),
        TemplateError::Render { part, detail } => format!("{}: {part}: {detail}", path.display()),
    }
}

/// Compiles every file; all errors are reported, not just the first.
fn check_files(files: &[TemplateFile]) -> anyhow::Result<()> {
    let errors: Vec<String> = files
        .iter()
        .filter_map(|f| Template::compile(&f.document, 0).err().map(|e| located(&f.path, &e)))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    anyhow::bail!("{} template(s) have errors:\n{}", errors.len(), errors.join("\n"))
}

pub fn check(dir: &Path) -> anyhow::Result<()> {
    let files = read_dir(dir)?;
    check_files(&files)?;
    for file in &files {
        println!("ok  {} ({})", file.document.name, file.path.display());
    }
    Ok(())
}

async fn apply_to<S: TemplateStore>(files: &[TemplateFile], library: &TemplateLibrary<S>) -> anyhow::Result<()> {
    check_files(files)?;
    let now = SystemClock.now();
    for file in files {
        let saved = library.apply(&file.document, now).await.map_err(|e| match e {
            LibraryError::Invalid(error) => anyhow::anyhow!(located(&file.path, &error)),
            other => anyhow::anyhow!("{}: {other}", file.path.display()),
        })?;
        let what = if saved.changed { "saved as" } else { "unchanged at" };
        println!("{:<24} {what} version {}", file.document.name.as_str(), saved.version);
    }
    Ok(())
}

/// The local store in `data` (as `nudge serve` keeps it), made if absent.
pub fn open_local(data: &Path) -> anyhow::Result<EmbeddedStore> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let database = data.join("nudge.db");
    EmbeddedStore::open(&database, Arc::new(SystemClock)).with_context(|| format!("cannot open {}", database.display()))
}

pub async fn apply_local(dir: &Path, data: &Path) -> anyhow::Result<()> {
    let files = read_dir(dir)?;
    apply_to(&files, &TemplateLibrary::new(open_local(data)?)).await
}

/// Applies to the deployed stack's DynamoDB table (credentials and region from the usual
/// AWS environment), as the admin API would.
#[cfg(feature = "aws")]
pub async fn apply_to_table(dir: &Path, table: &str) -> anyhow::Result<()> {
    use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore};
    let files = read_dir(dir)?;
    let store = DynamoStore::from_config(&load_sdk_config().await, table.to_string());
    apply_to(&files, &TemplateLibrary::new(store)).await
}

#[cfg(not(feature = "aws"))]
pub async fn apply_to_table(_dir: &Path, _table: &str) -> anyhow::Result<()> {
    anyhow::bail!("--table needs a build with AWS support: cargo run --release --features aws --bin nudge -- templates apply …")
}

pub async fn list(data: &Path) -> anyhow::Result<()> {
    let library = TemplateLibrary::new(open_local(data)?);
    for stored in library.list().await? {
        let version = match stored.version {
            0 => "built-in".to_string(),
            v => format!("v{v}, saved {}", stored.saved_at.format("%Y-%m-%d %H:%M UTC")),
        };
        println!("{:<24} {:?}  {version}", stored.document.name.as_str(), stored.document.format);
    }
    Ok(())
}

pub struct PreviewOptions {
    pub template: String,
    pub person: String,
    pub event: Option<String>,
    pub data: PathBuf,
    pub html: Option<PathBuf>,
    pub company: String,
    pub postal_address: String,
}

pub async fn preview(options: PreviewOptions) -> anyhow::Result<()> {
    let store = open_local(&options.data)?;
    let library = TemplateLibrary::new(store.clone());
    let path = Path::new(&options.template);
    let template = if path.is_file() {
        let file = read_file(path)?.with_context(|| format!("{}: not a template file (*.mjml, *.html, *.liquid)", path.display()))?;
        Arc::new(Template::compile(&file.document, 0).map_err(|e| anyhow::anyhow!(located(path, &e)))?)
    } else {
        let name = TemplateName::parse(&options.template)
            .map_err(|e| anyhow::anyhow!("{:?} is neither a file nor a template name: {}", options.template, e.reason))?;
        library.resolve(&name).await?
    };
    let person = PersonId::parse(&options.person).map_err(|e| anyhow::anyhow!("--person: {}", e.reason))?;
    let trigger = trigger_from(options.event.as_deref())?;
    show_preview(&store, &template, &person, &trigger, &options).await
}

async fn show_preview<P: ProfileReader + AccountReader>(
    profiles: &P,
    template: &Template,
    person: &PersonId,
    trigger: &TriggerSnapshot,
    options: &PreviewOptions,
) -> anyhow::Result<()> {
    let sender = PreviewSender {
        company: &options.company,
        postal_address: &options.postal_address,
    };
    let message = render_preview(profiles, template, person, trigger, &sender, SystemClock.now())
        .await
        .with_context(|| format!("cannot render {} for {person}", template.name))?;
    println!("Template:  {} (version {})", template.name, template.version);
    if let Some(from) = &message.from_name {
        println!("From name: {from}");
    }
    if let Some(reply_to) = &message.reply_to {
        println!("Reply-To:  {reply_to}");
    }
    println!("Subject:   {}", message.subject);
    if let Some(preheader) = &message.preheader {
        println!("Preheader: {preheader}");
    }
    println!("\n--- text ---\n{}", message.text);
    match &options.html {
        Some(path) => {
            std::fs::write(path, &message.html).with_context(|| format!("cannot write {}", path.display()))?;
            println!("--- html ---\nwritten to {} ({} bytes)", path.display(), message.html.len());
        }
        None => println!("--- html ---\n{}", message.html),
    }
    Ok(())
}

/// `--event '{"name": "...", "properties": {...}}'`, or an empty trigger at the current time.
fn trigger_from(event: Option<&str>) -> anyhow::Result<TriggerSnapshot> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct EventArg {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        properties: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        timestamp: Option<chrono::DateTime<chrono::Utc>>,
    }
    let arg: EventArg = match event {
        Some(text) => serde_json::from_str(text).with_context(|| "--event: expected {\"name\": …, \"properties\": {…}}")?,
        None => EventArg::default(),
    };
    Ok(TriggerSnapshot {
        message_id: MessageId::parse("preview").expect("valid id"),
        name: arg
            .name
            .map(|n| EventName::parse(&n))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--event name: {}", e.reason))?,
        properties: arg.properties,
        timestamp: arg.timestamp.unwrap_or_else(|| SystemClock.now()),
    })
}
