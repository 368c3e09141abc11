//! `nudge serve`: the tracking API on a local port, with the whole pipeline (evaluator,
//! sender, scheduler) running in process on the embedded adapters and the wall clock.

use crate::http::router;
use crate::runner::{LocalMailer, LocalPipeline, NoRedelivery, SharedClock};
use anyhow::Context;
use nudge_shared::adapters::embedded::{EmbeddedStore, OutboxMailer, SmtpMailer};
use nudge_shared::domain::builtin_campaigns;
use nudge_shared::mime::SenderIdentity;
use nudge_shared::SystemClock;
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
}

pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.data).with_context(|| format!("cannot create the data directory {}", options.data.display()))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let database = options.data.join("nudge.db");
    let store = EmbeddedStore::open(&database, clock.clone()).with_context(|| format!("cannot open {}", database.display()))?;
    let mailer = match &options.smtp {
        Some(relay) => LocalMailer::Smtp(smtp_mailer(relay)?),
        None => LocalMailer::Outbox(OutboxMailer::new(options.data.join("outbox")).context("cannot create the outbox directory")?),
    };
    let pipeline = Arc::new(LocalPipeline::new(store, clock, builtin_campaigns(), mailer, options.identity));

    let worker = tokio::spawn(run_pipeline(Arc::clone(&pipeline), options.poll_interval));
    let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", options.host, options.port))?;
    let address = listener.local_addr()?;
    // Scripts (and the tests) read this line to find the port.
    println!("nudge serve: listening on http://{address} (data in {})", options.data.display());
    axum::serve(listener, router(pipeline))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    worker.abort();
    info!("stopped");
    Ok(())
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

async fn run_pipeline(pipeline: Arc<LocalPipeline>, interval: Duration) {
    loop {
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
