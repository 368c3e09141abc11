//! `nudge campaigns validate|apply|list`: campaigns as YAML files in a project directory
//! (`campaigns/onboarding-nudge.yaml`), checked with file:line:column errors (including
//! templates they name that do not exist), saved as versions in the local store or the
//! deployed stack's table.

use crate::templates::open_local;
use anyhow::Context;
use nudge_shared::campaigns::{parse_campaign, CampaignDocument, CampaignLibrary};
use nudge_shared::domain::{Campaign, CampaignId, TemplateName};
use nudge_shared::ports::{DocumentStore, TemplateStore};
use nudge_shared::templates::builtin_templates;
use nudge_shared::{Clock, SystemClock};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct CampaignFile {
    path: PathBuf,
    document: CampaignDocument,
}

fn read_dir(dir: &Path) -> anyhow::Result<Vec<CampaignFile>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the campaign directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".yaml").or_else(|| n.strip_suffix(".yml")))
        else {
            continue;
        };
        let id = CampaignId::parse(stem).map_err(|e| anyhow::anyhow!("{}: the file name {stem:?} {}", path.display(), e.reason))?;
        let source = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(CampaignFile {
            path,
            document: CampaignDocument { id, source },
        });
    }
    anyhow::ensure!(!files.is_empty(), "{}: no campaigns (*.yaml) found", dir.display());
    files.sort_by(|a, b| a.document.id.cmp(&b.document.id));
    Ok(files)
}

/// The line of the first `template: NAME` in `source`, for pointing at a missing template.
fn line_of_template(source: &str, name: &TemplateName) -> usize {
    source
        .lines()
        .position(|l| l.contains("template") && l.contains(name.as_str()))
        .map_or(1, |i| i + 1)
}

/// Every file read and checked against the templates that exist; all errors, not just the first.
fn check_files(files: &[CampaignFile], templates: &BTreeSet<TemplateName>) -> anyhow::Result<Vec<Campaign>> {
    let mut errors = Vec::new();
    let mut campaigns = Vec::new();
    for file in files {
        let campaign = match parse_campaign(&file.document.source) {
            Ok(campaign) => campaign,
            Err(e) => {
                errors.push(format!("{}:{}:{}: {}", file.path.display(), e.line, e.column, e.detail));
                continue;
            }
        };
        if campaign.id != file.document.id {
            errors.push(format!(
                "{}:1:1: id: the file says {:?}, its name says {:?}",
                file.path.display(),
                campaign.id.as_str(),
                file.document.id.as_str()
            ));
        }
        for (step, _, send) in campaign.sends() {
            if !templates.contains(&send.template) {
                errors.push(format!(
                    "{}:{}:1: steps[{step}].send.template: no template named {:?} (apply it first, or pass --templates DIR)",
                    file.path.display(),
                    line_of_template(&file.document.source, &send.template),
                    send.template.as_str()
                ));
            }
        }
        campaigns.push(campaign);
    }
    if errors.is_empty() {
        return Ok(campaigns);
    }
    anyhow::bail!("{} mistake(s):\n{}", errors.len(), errors.join("\n"))
}

/// Template names that exist: the built-ins, the store's, and those in `dir`.
async fn known_templates<S: DocumentStore>(store: Option<&S>, dir: Option<&Path>) -> anyhow::Result<BTreeSet<TemplateName>> {
    let mut names: BTreeSet<TemplateName> = builtin_templates().into_iter().map(|t| t.name).collect();
    if let Some(store) = store {
        names.extend(store.templates().await?.into_iter().map(|t| t.document.name));
    }
    if let Some(dir) = dir {
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some((stem, _)) = nudge_shared::template::BodyFormat::from_file_name(file_name) {
                if let Ok(name) = TemplateName::parse(stem) {
                    names.insert(name);
                }
            }
        }
    }
    Ok(names)
}

pub async fn validate(dir: &Path, templates: Option<&Path>, data: &Path) -> anyhow::Result<()> {
    let files = read_dir(dir)?;
    let store = data.join("nudge.db").exists().then(|| open_local(data)).transpose()?;
    let known = known_templates(store.as_ref(), templates).await?;
    for campaign in check_files(&files, &known)? {
        println!(
            "ok  {} ({} steps, {} sends)",
            campaign.id,
            campaign.steps.len(),
            campaign.sends().count()
        );
    }
    Ok(())
}

async fn apply_to<S: DocumentStore + Clone>(files: &[CampaignFile], store: S, templates: Option<&Path>) -> anyhow::Result<()> {
    let known = known_templates(Some(&store), templates).await?;
    check_files(files, &known)?;
    let library = CampaignLibrary::new(store);
    for file in files {
        let saved = library
            .apply(&file.document, SystemClock.now())
            .await
            .with_context(|| file.path.display().to_string())?;
        let what = if saved.changed { "saved as" } else { "unchanged at" };
        println!("{:<28} {what} version {}", file.document.id.as_str(), saved.version);
    }
    Ok(())
}

pub async fn apply_local(dir: &Path, templates: Option<&Path>, data: &Path) -> anyhow::Result<()> {
    let files = read_dir(dir)?;
    apply_to(&files, open_local(data)?, templates).await
}

#[cfg(feature = "aws")]
pub async fn apply_to_table(dir: &Path, templates: Option<&Path>, table: &str) -> anyhow::Result<()> {
    use nudge_shared::adapters::aws::{load_sdk_config, DynamoStore};
    let files = read_dir(dir)?;
    apply_to(
        &files,
        DynamoStore::from_config(&load_sdk_config().await, table.to_string()),
        templates,
    )
    .await
}

#[cfg(not(feature = "aws"))]
pub async fn apply_to_table(_dir: &Path, _templates: Option<&Path>, _table: &str) -> anyhow::Result<()> {
    anyhow::bail!("--table needs a build with AWS support: cargo run --release --features aws --bin nudge -- campaigns apply …")
}

pub async fn list(data: &Path) -> anyhow::Result<()> {
    let library = CampaignLibrary::new(open_local(data)?);
    let stored = library.stored().await?;
    for campaign in library.current(SystemClock.now()).await?.iter() {
        let version = stored
            .iter()
            .find(|d| d.name == campaign.id.as_str())
            .map_or("built-in".to_string(), |d| {
                format!("v{}, saved {}", d.version, d.saved_at.format("%Y-%m-%d %H:%M UTC"))
            });
        println!("{:<28} {:<50} {version}", campaign.id.as_str(), campaign.name);
    }
    Ok(())
}

pub async fn stats(data: &Path) -> anyhow::Result<()> {
    use nudge_shared::ports::CampaignStatistics;
    let store = open_local(data)?;
    let library = CampaignLibrary::new(store.clone());
    println!(
        "{:<28} {:>8} {:>6} {:>9} {:>8} {:>7}  skipped by reason",
        "campaign", "entered", "sent", "converted", "skipped", "failed"
    );
    for campaign in library.current(SystemClock.now()).await?.iter() {
        let stats = store.campaign_stats(&campaign.id).await?;
        let skipped: u64 = stats.skipped.values().sum();
        let reasons: Vec<String> = stats.skipped.iter().map(|(reason, n)| format!("{reason} {n}")).collect();
        println!(
            "{:<28} {:>8} {:>6} {:>9} {:>8} {:>7}  {}",
            campaign.id.as_str(),
            stats.entered,
            stats.sent,
            stats.converted(),
            skipped,
            stats.failed,
            reasons.join(", ")
        );
    }
    Ok(())
}
