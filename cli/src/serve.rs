//! `nudge serve`: the tracking API on a local port, with the whole pipeline (evaluator,
//! sender, scheduler) running in process on the embedded adapters and the wall clock.

use crate::http::router;
use crate::runner::{LocalMailer, LocalPipeline, NoRedelivery, Sending, SharedClock};
use anyhow::Context;
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer, SmtpMailer};
use nudge_shared::domain::{Channel, EmailAddress, Secret, Source, SourceId};
use nudge_shared::mime::SenderIdentity;
use nudge_shared::ports::SourceDirectory;
use nudge_shared::unsubscribe::{UnsubscribeLinks, UnsubscribeSecret};
use nudge_shared::{Clock, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info};

pub struct ServeOptions {
    pub host: String,
    pub port: u16,
    pub data: PathBuf,
    /// `host:port` of an SMTP relay; mail goes to `<data>/outbox` when absent.
    pub smtp: Option<String>,
    pub identity: SenderIdentity,
    pub poll_interval: Duration,
    /// The development source's write key; generated (and printed) when absent.
    pub write_key: Option<String>,
    /// The channel stamped on the development source's events.
    pub channel: String,
    /// The admin routes' bearer key; generated (and printed) when absent.
    pub admin_key: Option<String>,
    /// How long raw events are kept.
    pub event_retention: chrono::Duration,
    /// The base URL unsubscribe links point at; `http://HOST:PORT` when absent.
    pub public_url: Option<String>,
    /// The sender's postal address, for marketing footers.
    pub postal_address: String,
    /// Signs unsubscribe links; kept in `<data>/unsubscribe.secret` when absent.
    pub unsubscribe_secret: Option<String>,
    /// A mailbox for `List-Unsubscribe: <mailto:…>`.
    pub unsubscribe_mailto: Option<EmailAddress>,
    /// The frequency cap and quiet hours for marketing mail.
    pub guardrails: nudge_shared::guardrails::Guardrails,
}

pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    // Arguments first: a mistake in one creates nothing on disk.
    let relay = options.smtp.as_deref().map(smtp_mailer).transpose()?;
    let channel = Channel::parse(&options.channel).map_err(|e| anyhow::anyhow!("--channel {:?}: {}", options.channel, e.reason))?;
    std::fs::create_dir_all(&options.data).with_context(|| format!("cannot create the data directory {}", options.data.display()))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let database = options.data.join("nudge.db");
    let store = EmbeddedStore::open(&database, clock.clone()).with_context(|| format!("cannot open {}", database.display()))?;
    let mailer = match relay {
        Some(smtp) => LocalMailer::Smtp(smtp),
        None => LocalMailer::Outbox(OutboxMailer::new(options.data.join("outbox")).context("cannot create the outbox directory")?),
    };
    let (write_key, write_key_generated) = secret_or_generated(options.write_key, "wk_");
    let (admin_key, admin_key_generated) = secret_or_generated(options.admin_key, "ak_");
    let source = Source {
        id: SourceId::parse("local").expect("valid id"),
        name: "Local development".into(),
        channel,
        created_at: clock.now(),
    };
    store
        .add_source(&source, &write_key.hash())
        .await
        .context("cannot register the development write key")?;
    let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", options.host, options.port))?;
    let address = listener.local_addr()?;
    let unsubscribe = UnsubscribeLinks {
        base_url: options.public_url.clone().unwrap_or_else(|| format!("http://{address}")),
        secret: unsubscribe_secret(options.unsubscribe_secret.as_deref(), &options.data)?,
        mailto: options.unsubscribe_mailto.clone(),
    };
    let sending = Sending {
        identity: options.identity,
        postal_address: options.postal_address,
        unsubscribe,
        guardrails: options.guardrails,
    };
    let pipeline = Arc::new(LocalPipeline::new(store, clock, mailer, sending, admin_key.hash()));
    let worker = tokio::spawn(run_pipeline(Arc::clone(&pipeline), options.poll_interval, options.event_retention));
    // Scripts (and the tests) read this line to find the port.
    say(&format!(
        "nudge serve: listening on http://{address} (data in {})",
        options.data.display()
    ));
    if write_key_generated {
        say(&format!(
            "write key (HTTP Basic username; set NUDGE_WRITE_KEY to choose one): {}",
            write_key.expose()
        ));
    }
    if admin_key_generated {
        say(&format!(
            "admin key (Authorization: Bearer; set NUDGE_ADMIN_KEY to choose one): {}",
            admin_key.expose()
        ));
    }
    if options.smtp.is_none() {
        say(&format!("sent mail: http://{address}/outbox"));
    }
    axum::serve(listener, router(pipeline, options.data.join("outbox")))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    worker.abort();
    info!("stopped");
    Ok(())
}

/// A line on stdout; a reader that went away (a closed pipe) does not stop the server.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The given secret, or the one kept in `<data>/unsubscribe.secret` (made on first use), so
/// links in mail already sent keep working after a restart.
fn unsubscribe_secret(given: Option<&str>, data: &std::path::Path) -> anyhow::Result<UnsubscribeSecret> {
    if let Some(given) = given.filter(|s| !s.trim().is_empty()) {
        return UnsubscribeSecret::parse(given).map_err(|reason| anyhow::anyhow!("NUDGE_UNSUBSCRIBE_SECRET: {reason}"));
    }
    let path = data.join("unsubscribe.secret");
    if !path.exists() {
        std::fs::write(&path, UnsubscribeSecret::generate()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    UnsubscribeSecret::parse(&text).map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))
}

fn secret_or_generated(given: Option<String>, prefix: &str) -> (Secret, bool) {
    match given.filter(|key| !key.trim().is_empty()) {
        Some(key) => (Secret::new(key.trim()), false),
        None => (Secret::generate(prefix), true),
    }
}

fn smtp_mailer(relay: &str) -> anyhow::Result<SmtpMailer> {
    let (host, port) = relay
        .rsplit_once(':')
        .with_context(|| format!("--smtp {relay:?}: expected HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--smtp {relay:?}: {port:?} is not a port number"))?;
    Ok(SmtpMailer::plain(host, port, None))
}

async fn run_pipeline(pipeline: Arc<LocalPipeline>, interval: Duration, event_retention: chrono::Duration) {
    let mut last_sweep: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        // Raw events past their retention go once a minute (DynamoDB's TTL does this on AWS).
        let now = pipeline.clock.now();
        if last_sweep.is_none_or(|at| now - at >= chrono::Duration::minutes(1)) {
            last_sweep = Some(now);
            match pipeline.store.expire_events(now - event_retention) {
                Ok(0) => {}
                Ok(expired) => info!(expired, "raw events past retention removed"),
                Err(error) => error!(%error, "retention sweep failed"),
            }
            if let Err(error) = pipeline.store.expire_archive(now) {
                error!(%error, "archive sweep failed");
            }
        }
        match pipeline.run_until_idle(&mut NoRedelivery).await {
            Ok(report) if report.jobs_handled + report.changes_evaluated + report.timers_fired > 0 => {
                info!(
                    changes = report.changes_evaluated,
                    jobs = report.jobs_handled,
                    timers = report.timers_fired,
                    "pipeline round"
                )
            }
            Ok(_) => {}
            // Storage trouble is retried on the next round; nothing is acknowledged that failed.
            Err(error) => error!(%error, "pipeline round failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
