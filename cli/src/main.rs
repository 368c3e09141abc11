//! `nudge`: the local runner (`serve`) and the demo (`demo`) on the embedded default.

mod campaigns;
mod demo;
mod http;
mod outbox;
mod runner;
mod serve;
mod templates;
mod why;

use clap::{Parser, Subcommand};
use nudge_shared::domain::EmailAddress;
use nudge_shared::mime::SenderIdentity;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nudge",
    version,
    about = "Behavioral email: what your customers do in, the right email out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the tracking API locally, with the whole pipeline in process (SQLite, outbox).
    Serve {
        #[arg(long, default_value_t = 8080, env = "NUDGE_PORT")]
        port: u16,
        #[arg(long, default_value = "127.0.0.1", env = "NUDGE_HOST")]
        host: String,
        /// Directory for the database (nudge.db) and the outbox of sent mail.
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
        /// Deliver through this SMTP relay (HOST:PORT) instead of writing the outbox.
        #[arg(long, env = "NUDGE_SMTP")]
        smtp: Option<String>,
        #[arg(long, default_value = "hello@nudge.localhost", env = "SENDER_ADDRESS")]
        sender_address: String,
        #[arg(long, default_value = "Nudge", env = "SENDER_NAME")]
        sender_name: String,
        /// How often the pipeline looks for new work, in milliseconds.
        #[arg(long, default_value_t = 250)]
        poll_ms: u64,
        /// The write key of the local source (HTTP Basic username); generated when unset.
        #[arg(long, env = "NUDGE_WRITE_KEY", hide_env_values = true)]
        write_key: Option<String>,
        /// The channel stamped on the local source's events (web, app, chat, call_center, ...).
        #[arg(long, default_value = "web", env = "NUDGE_CHANNEL")]
        channel: String,
        /// The key for admin routes (Authorization: Bearer); generated when unset.
        #[arg(long, env = "NUDGE_ADMIN_KEY", hide_env_values = true)]
        admin_key: Option<String>,
        /// How many days raw events are kept (profiles keep what was computed from them).
        #[arg(long, default_value_t = 400, env = "NUDGE_EVENT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
        event_retention_days: u32,
        /// The base URL unsubscribe links point at (default: this server's address).
        #[arg(long, env = "NUDGE_PUBLIC_URL")]
        public_url: Option<String>,
        /// The postal address marketing footers show ({{ postal_address }}), as CAN-SPAM asks.
        #[arg(long, default_value = "", env = "POSTAL_ADDRESS")]
        postal_address: String,
        /// The secret unsubscribe links are signed with (32+ characters); kept in DATA/unsubscribe.secret when unset.
        #[arg(long, env = "NUDGE_UNSUBSCRIBE_SECRET", hide_env_values = true)]
        unsubscribe_secret: Option<String>,
        /// A mailbox for the mailto form of List-Unsubscribe.
        #[arg(long, env = "UNSUBSCRIBE_MAILTO")]
        unsubscribe_mailto: Option<String>,
        /// At most this many marketing emails per person per 24 hours, over all campaigns (0: no cap).
        #[arg(long, default_value_t = 2, env = "MARKETING_CAP_PER_DAY")]
        cap_per_day: u32,
        /// At most this many per 7 days (0: no cap).
        #[arg(long, default_value_t = 5, env = "MARKETING_CAP_PER_WEEK")]
        cap_per_week: u32,
        /// No marketing mail in these hours of the person's day, e.g. 21:00-08:00 (sent when they end).
        #[arg(long, env = "QUIET_HOURS")]
        quiet_hours: Option<String>,
    },
    /// Check, apply and list campaigns (campaigns/*.yaml: trigger, audience, steps, goal).
    Campaigns {
        #[command(subcommand)]
        command: CampaignsCommand,
    },
    /// What a person was sent, what was not sent to them, and why.
    Why {
        /// The person (their userId).
        person: String,
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
    },
    /// Check, apply and list email templates (templates/*.mjml, *.html with front matter).
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Render a template for a real person, as it would be sent: subject, preheader, text and HTML.
    Preview {
        /// A template file (checked, not saved) or the name of a stored template.
        template: String,
        /// The person to render for (their userId).
        #[arg(long)]
        person: String,
        /// The triggering event as JSON: {"name": "cart_abandoned", "properties": {...}}.
        #[arg(long)]
        event: Option<String>,
        /// The local data directory (as for `nudge serve`).
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
        /// Also write the HTML to this file, to open in a browser.
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long, default_value = "Nudge", env = "SENDER_NAME")]
        sender_name: String,
        #[arg(long, default_value = "", env = "POSTAL_ADDRESS")]
        postal_address: String,
    },
    /// Simulate customers on a virtual clock through the real pipeline; write an outbox and a summary.
    Demo {
        /// Where the outbox, the database and the summary go.
        #[arg(long, default_value = "nudge-out")]
        out: PathBuf,
        /// How many simulated people sign up.
        #[arg(long, default_value_t = 200)]
        people: usize,
        /// How many simulated days the demo covers.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Seed for the simulation: the same seed gives the same run.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Percent of stream batches and queue messages delivered a second time, as
        /// DynamoDB Streams and SQS may do.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        redeliver_percent: u8,
    },
}

#[derive(Subcommand)]
enum CampaignsCommand {
    /// Check every campaign in DIR, with file:line:column errors; templates they name must exist.
    Validate {
        dir: PathBuf,
        /// Also count the templates in this directory as existing.
        #[arg(long)]
        templates: Option<PathBuf>,
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
    },
    /// Check, then save every campaign in DIR (a new version for each one that changed).
    Apply {
        dir: PathBuf,
        #[arg(long)]
        templates: Option<PathBuf>,
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
        /// Apply to the deployed stack's DynamoDB table instead (needs `--features aws`).
        #[arg(long, env = "NUDGE_TABLE")]
        table: Option<String>,
    },
    /// List the campaigns in force, with their versions.
    List {
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
    },
    /// Per campaign: people entered, sent, converted (goal reached), skipped by reason, failed.
    Stats {
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Check every template in DIR: front matter, Liquid and MJML, with file:line:column errors.
    Check { dir: PathBuf },
    /// Check, then save every template in DIR (a new version for each one that changed).
    Apply {
        dir: PathBuf,
        /// The local data directory to apply to (as for `nudge serve`).
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
        /// Apply to the deployed stack's DynamoDB table instead (the stack's TableName output;
        /// AWS credentials and region from the environment; needs `--features aws`).
        #[arg(long, env = "NUDGE_TABLE")]
        table: Option<String>,
    },
    /// List the templates in force, with their versions.
    List {
        #[arg(long, default_value = ".nudge", env = "NUDGE_DATA")]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NUDGE_LOG").unwrap_or_else(|_| default_log_filter(&cli.command).into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nudge: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Serve { .. } => "info",
        Command::Templates { .. } | Command::Preview { .. } | Command::Campaigns { .. } | Command::Why { .. } => "warn",
        // The demo prints its own progress and summary.
        Command::Demo { .. } => "warn",
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            port,
            host,
            data,
            smtp,
            sender_address,
            sender_name,
            poll_ms,
            write_key,
            channel,
            admin_key,
            event_retention_days,
            public_url,
            postal_address,
            unsubscribe_secret,
            unsubscribe_mailto,
            cap_per_day,
            cap_per_week,
            quiet_hours,
        } => {
            let quiet_hours = quiet_hours
                .map(|q| nudge_shared::guardrails::QuietHours::parse(&q).map_err(|e| anyhow::anyhow!("--quiet-hours: {e}")))
                .transpose()?;
            let guardrails = nudge_shared::guardrails::Guardrails {
                cap: nudge_shared::guardrails::FrequencyCap {
                    per_day: (cap_per_day > 0).then_some(cap_per_day),
                    per_week: (cap_per_week > 0).then_some(cap_per_week),
                },
                quiet_hours,
            };
            let unsubscribe_mailto = unsubscribe_mailto
                .map(|m| EmailAddress::parse(&m).map_err(|e| anyhow::anyhow!("--unsubscribe-mailto {m:?}: {}", e.reason)))
                .transpose()?;
            let address =
                EmailAddress::parse(&sender_address).map_err(|e| anyhow::anyhow!("--sender-address {sender_address:?}: {}", e.reason))?;
            serve::serve(serve::ServeOptions {
                host,
                port,
                data,
                smtp,
                identity: SenderIdentity {
                    address,
                    name: sender_name,
                },
                poll_interval: std::time::Duration::from_millis(poll_ms),
                write_key,
                channel,
                admin_key,
                event_retention: chrono::Duration::days(i64::from(event_retention_days)),
                public_url,
                postal_address,
                unsubscribe_secret,
                unsubscribe_mailto,
                guardrails,
            })
            .await
        }
        Command::Why { person, data } => why::why(&person, &data).await,
        Command::Campaigns { command } => match command {
            CampaignsCommand::Validate { dir, templates, data } => campaigns::validate(&dir, templates.as_deref(), &data).await,
            CampaignsCommand::Apply {
                dir,
                templates,
                data,
                table,
            } => match table {
                Some(table) => campaigns::apply_to_table(&dir, templates.as_deref(), &table).await,
                None => campaigns::apply_local(&dir, templates.as_deref(), &data).await,
            },
            CampaignsCommand::List { data } => campaigns::list(&data).await,
            CampaignsCommand::Stats { data } => campaigns::stats(&data).await,
        },
        Command::Templates { command } => match command {
            TemplatesCommand::Check { dir } => templates::check(&dir),
            TemplatesCommand::Apply { dir, data, table } => match table {
                Some(table) => templates::apply_to_table(&dir, &table).await,
                None => templates::apply_local(&dir, &data).await,
            },
            TemplatesCommand::List { data } => templates::list(&data).await,
        },
        Command::Preview {
            template,
            person,
            event,
            data,
            html,
            sender_name,
            postal_address,
        } => {
            templates::preview(templates::PreviewOptions {
                template,
                person,
                event,
                data,
                html,
                company: sender_name,
                postal_address,
            })
            .await
        }
        Command::Demo {
            out,
            people,
            days,
            seed,
            redeliver_percent,
        } => {
            anyhow::ensure!(people > 0, "--people must be at least 1");
            anyhow::ensure!(days > 0, "--days must be at least 1");
            demo::run(demo::DemoOptions {
                out,
                people,
                days,
                seed,
                redeliver_percent,
            })
            .await
        }
    }
}
