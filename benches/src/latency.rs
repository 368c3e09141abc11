//! `make bench` (latency): trigger-to-send time on `nudge serve`, from the moment the API
//! answers a `track` call to the moment the email is in the outbox, for a campaign that
//! sends at once. Runs the release `nudge` binary with its default poll interval (250 ms)
//! and at 20 ms, and reports p50 / p99 over the calls.

use nudge_shared::domain::{CampaignId, DedupKey, PersonId};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CALLS: usize = 200;
const WRITE_KEY: &str = "wk_latency_bench";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(poll_ms: u64) -> anyhow::Result<(Duration, Duration)> {
    let data = tempfile::tempdir()?;
    let campaigns = tempfile::tempdir()?;
    std::fs::write(
        campaigns.path().join("instant.yaml"),
        "id: instant\nname: Instant\ntrigger: { event: requested }\nreentry: always\nsteps:\n  - send: { template: welcome, class: transactional }\n",
    )?;
    let nudge = Path::new("target/release/nudge");
    let applied = Command::new(nudge)
        .args(["campaigns", "apply"])
        .arg(campaigns.path())
        .arg("--data")
        .arg(data.path())
        .output()?;
    anyhow::ensure!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let mut server = Command::new(nudge)
        .args([
            "serve",
            "--port",
            "0",
            "--poll-ms",
            &poll_ms.to_string(),
            "--write-key",
            WRITE_KEY,
            "--data",
        ])
        .arg(data.path())
        .env("NUDGE_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the URL line")
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let latencies = runtime.block_on(async {
        let client = reqwest::Client::new();
        let post = |path: &str, body: serde_json::Value| {
            client
                .post(format!("{url}{path}"))
                .basic_auth(WRITE_KEY, Some(""))
                .json(&body)
                .send()
        };
        post(
            "/v1/identify",
            serde_json::json!({"userId": "bench", "traits": {"email": "bench@example.com"}}),
        )
        .await?;
        let campaign = CampaignId::parse("instant")?;
        let person = PersonId::parse("bench")?;
        let mut latencies = Vec::with_capacity(CALLS);
        for n in 0..CALLS {
            let message_id = format!("latency-{n}");
            post(
                "/v1/track",
                serde_json::json!({"userId": "bench", "event": "requested", "messageId": message_id}),
            )
            .await?
            .error_for_status()?;
            let accepted = Instant::now();
            let file = data
                .path()
                .join("outbox")
                .join(format!("{}.eml", DedupKey::for_step(&campaign, "send-1", &person, &message_id)));
            while !file.exists() {
                anyhow::ensure!(accepted.elapsed() < Duration::from_secs(30), "no email for {message_id}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            latencies.push(accepted.elapsed());
        }
        anyhow::Ok(latencies)
    });
    let _ = server.kill();
    let _ = server.wait();
    let mut latencies = latencies?;
    latencies.sort();
    Ok((percentile(&latencies, 0.5), percentile(&latencies, 0.99)))
}

fn main() -> anyhow::Result<()> {
    println!("# Trigger-to-send latency on `nudge serve`\n");
    println!("{CALLS} `track` calls one after another, each starting a campaign that sends at once; from the API's 200 to the email in the outbox.\n");
    println!("| poll interval | p50 | p99 |");
    println!("|---:|---:|---:|");
    for poll_ms in [250, 20] {
        let (p50, p99) = run(poll_ms)?;
        println!("| {poll_ms} ms | {} ms | {} ms |", p50.as_millis(), p99.as_millis());
    }
    Ok(())
}
