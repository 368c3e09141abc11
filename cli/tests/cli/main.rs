//! The `nudge` binary as people run it: `demo` end to end, `serve` over real HTTP with mail
//! to the outbox or to an SMTP relay, and the errors bad arguments get.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn nudge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nudge"));
    command.env_remove("NUDGE_LOG");
    command
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_writes_an_outbox_and_a_summary_with_no_duplicate_email() {
    let out = tempfile::tempdir().unwrap();
    let output = nudge()
        .args(["demo", "--people", "40", "--days", "2", "--seed", "3", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Duplicate emails: 0"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("signed up"),
        "progress goes to stderr"
    );

    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap()).unwrap();
    let files = eml_files(&out.path().join("outbox"));
    let sent: u64 = summary["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sent"].as_u64().unwrap())
        .sum();
    assert_eq!(files.len() as u64, sent, "one .eml per sent email");
    assert!(sent > 0);
    assert!(
        summary["pipeline"]["stream_batches_redelivered"].as_u64().unwrap() > 0,
        "the demo exercises redelivery"
    );
    let welcome = &summary["campaigns"][0];
    assert_eq!(welcome["triggered"], 40, "everyone who signed up triggered the welcome");
    for file in &files {
        let raw = std::fs::read_to_string(file).unwrap();
        assert!(raw.contains("From: \"Acme Analytics\" <hello@acme.example>"));
    }
    // `nudge why` explains a person from the demo's database.
    let why = nudge().args(["why", "user-00001", "--data"]).arg(out.path()).output().unwrap();
    let explained = String::from_utf8_lossy(&why.stdout);
    assert!(why.status.success(), "{}", String::from_utf8_lossy(&why.stderr));
    assert!(
        explained.starts_with("user-00001: first seen") && explained.contains("welcome"),
        "{explained}"
    );
    let total_explained: usize = (1..=40)
        .map(|n| {
            let out = nudge()
                .args(["why", &format!("user-{n:05}"), "--data"])
                .arg(out.path())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("  sent ") || l.contains("skipped "))
                .count()
        })
        .sum();
    let settled: u64 = summary["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sent"].as_u64().unwrap() + c["skipped"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>())
        .sum();
    assert_eq!(
        total_explained as u64, settled,
        "every send and skip in the summary is explained per person"
    );
    // `nudge campaigns stats` agrees with the summary.
    let stats = nudge().args(["campaigns", "stats", "--data"]).arg(out.path()).output().unwrap();
    let stats = String::from_utf8_lossy(&stats.stdout);
    for campaign in summary["campaigns"].as_array().unwrap() {
        let line = stats
            .lines()
            .find(|l| l.starts_with(campaign["id"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{stats}"));
        let sent: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(sent, campaign["sent"].as_u64().unwrap(), "{line}");
    }
    // Every message, parsed back by Python's `email` package: an independent MIME reader.
    let checked = check_mime(&files, &["getting-started", "cart-reminder", "onboarding-nudge", "new-post"]);
    assert_eq!(checked["messages"].as_u64(), Some(files.len() as u64), "{checked}");
    assert!(
        checked["campaigns"]["getting-started"].as_u64().unwrap() > 0,
        "marketing mail was checked too: {checked}"
    );
}

/// Runs tests/mime/check_messages.py over `files`; panics with its finding if any fails.
fn check_mime(files: &[PathBuf], marketing: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/mime/check_messages.py");
    let mut command = Command::new("python3");
    command.arg(script);
    for campaign in marketing {
        command.args(["--marketing", campaign]);
    }
    let output = command.args(files).output().expect("python3 runs");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success() && report["ok"] == true, "{report}");
    report
}

#[test]
fn the_same_seed_gives_the_same_demo() {
    let run = |dir: &Path| {
        let output = nudge()
            .args(["demo", "--people", "15", "--days", "2", "--seed", "11", "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(output.status.success());
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        (summary["campaigns"].clone(), summary["pipeline"].clone())
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(run(a.path()), run(b.path()));
}

#[test]
fn bad_arguments_get_a_message_naming_them() {
    let output = nudge().args(["demo", "--people", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--people"));

    let output = nudge().args(["serve", "--sender-address", "not an address"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--sender-address"));

    let data = tempfile::tempdir().unwrap();
    let output = nudge()
        .args(["serve", "--smtp", "no-port-here", "--data"])
        .arg(data.path().join("never"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--smtp"));
    assert!(!data.path().join("never").exists(), "a bad argument creates nothing");
}

const WRITE_KEY: &str = "wk_cli_test";
const ADMIN_KEY: &str = "ak_cli_test";

/// A running `nudge serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = nudge()
            .args([
                "serve",
                "--port",
                "0",
                "--poll-ms",
                "50",
                "--write-key",
                WRITE_KEY,
                "--admin-key",
                ADMIN_KEY,
                "--data",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).basic_auth(WRITE_KEY, Some("")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn sign_up(server: &Server, email: &str) {
    let client = reqwest::Client::new();
    let (status, _) = post(
        &client,
        &format!("{}/v1/identify", server.url),
        json!({"userId": "u-42", "traits": {"email": email, "first_name": "Grace"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &client,
        &format!("{}/v1/track", server.url),
        json!({"userId": "u-42", "event": "signed_up", "messageId": "s-42"}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"success": true, "duplicate": false})));
}

#[tokio::test]
async fn serve_accepts_tracking_calls_and_the_welcome_lands_in_the_outbox() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    sign_up(&server, "grace@example.com").await;

    let outbox = data.path().join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    while eml_files(&outbox).is_empty() {
        assert!(Instant::now() < deadline, "no email in {} after 20 s", outbox.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = std::fs::read_to_string(&eml_files(&outbox)[0]).unwrap();
    assert!(raw.contains("To: grace@example.com"));
    assert!(raw.contains("Subject: Welcome to Nudge, Grace!"), "{raw}");

    let client = reqwest::Client::new();
    let (status, body) = post(&client, &format!("{}/v1/track", server.url), json!({"userId": "u-42"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "event");
    let status = client
        .get(format!("{}/v1/nothing-here", server.url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 404);
}

/// A minimal SMTP relay: accepts one message and hands back its DATA.
async fn smtp_sink() -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ready\r\n").await.unwrap();
        let mut data = String::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await.unwrap();
                    while let Some(body_line) = lines.next_line().await.unwrap() {
                        if body_line == "." {
                            break;
                        }
                        data.push_str(&body_line);
                        data.push('\n');
                    }
                    b"250 queued as 42\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(reply).await.unwrap();
            if verb == "DATA" {
                break;
            }
        }
        data
    });
    (port, task)
}

#[tokio::test]
async fn serve_delivers_through_an_smtp_relay_when_asked() {
    let (port, received) = smtp_sink().await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--smtp", &format!("127.0.0.1:{port}")]);
    sign_up(&server, "grace@example.com").await;
    let message = tokio::time::timeout(Duration::from_secs(20), received)
        .await
        .expect("the relay got a message in time")
        .unwrap();
    assert!(message.contains("Subject: Welcome to Nudge, Grace!"), "{message}");
    assert!(message.contains("X-Nudge-Campaign: welcome"));
    assert!(
        eml_files(&data.path().join("outbox")).is_empty(),
        "with --smtp nothing goes to the outbox"
    );
}

#[tokio::test]
async fn serve_refuses_calls_without_a_write_key() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/track", server.url))
        .json(&json!({"userId": "u", "event": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn serve_takes_browser_beacons_and_admin_calls() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &["--channel", "web"]);
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{}/v1/page", server.url))
        .header("origin", "https://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let beacon = client
        .post(format!("{}/v1/page", server.url))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(json!({"writeKey": WRITE_KEY, "anonymousId": "a-1", "name": "Home"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(beacon.status().as_u16(), 200);

    let created = client
        .post(format!("{}/v1/admin/sources", server.url))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"name": "Support chat", "channel": "chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let chat_key = created["writeKey"].as_str().unwrap();
    let tracked = client
        .post(format!("{}/v1/track", server.url))
        .basic_auth(chat_key, Some(""))
        .json(&json!({"userId": "u-1", "event": "chat_started"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tracked.status().as_u16(), 200);
    let refused = client
        .post(format!("{}/v1/admin/sources", server.url))
        .basic_auth(WRITE_KEY, Some(""))
        .json(&json!({"name": "x", "channel": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401, "a write key cannot create sources");
}

#[test]
fn serve_prints_generated_keys_when_none_are_given() {
    let data = tempfile::tempdir().unwrap();
    let mut child = nudge()
        .args(["serve", "--port", "0", "--data"])
        .arg(data.path())
        .env_remove("NUDGE_WRITE_KEY")
        .env_remove("NUDGE_ADMIN_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = String::new();
    for _ in 0..3 {
        std::io::BufRead::read_line(&mut reader, &mut lines).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.contains("write key (HTTP Basic username"), "{lines}");
    assert!(lines.contains("wk_"), "{lines}");
    assert!(lines.contains("admin key (Authorization: Bearer"), "{lines}");
}

/// Segment's Python library, installed by `make test` into `.venv/clients`.
fn segment_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/clients/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run the tests with `make test`, which installs Segment's Python library",
        python.display()
    );
    python
}

async fn admin_get(server: &Server, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn segments_python_library_works_against_serve_unchanged_but_for_the_host() {
    for mode in ["plain", "gzip"] {
        let data = tempfile::tempdir().unwrap();
        let server = Server::start(data.path(), &[]);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/segment_python.py");
        let output = Command::new(segment_python())
            .arg(&script)
            .args([&server.url, WRITE_KEY, mode])
            .output()
            .unwrap();
        assert!(output.status.success(), "{mode}: {}", String::from_utf8_lossy(&output.stderr));

        let shown = admin_get(&server, "/v1/admin/people/py-1").await;
        let person = &shown["person"];
        assert_eq!(person["traits"]["first_name"], "Guido", "{mode}");
        assert_eq!(person["behavior"]["events"]["signed_up"]["count"], 1);
        assert_eq!(
            person["behavior"]["pages"]["Quickstart"]["count"], 1,
            "the anonymous page view was merged in"
        );
        assert_eq!(person["behavior"]["screens"]["Home"]["count"], 1);
        assert_eq!(person["accounts"], json!(["python-software"]));
        assert_eq!(
            shown["accounts"][0]["traits"]["name"], "PSF",
            "the group call's traits are the account's"
        );
        assert!(person["merged_ids"].as_array().unwrap().contains(&json!("py-anon-1")));
        assert!(person["merged_ids"].as_array().unwrap().contains(&json!("py-old-1")));
        assert_eq!(shown["events"].as_array().unwrap().len(), 6);

        let outbox = data.path().join("outbox");
        let deadline = Instant::now() + Duration::from_secs(20);
        while eml_files(&outbox).is_empty() {
            assert!(Instant::now() < deadline, "{mode}: no welcome email");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(std::fs::read_to_string(&eml_files(&outbox)[0])
            .unwrap()
            .contains("Subject: Welcome to Nudge, Guido!"));
    }
}

async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const WELCOME_WITH_LINKS: &str = "---\nsubject: \"Hello {{ person.first_name | default: 'there' }}, from a file\"\npreheader: Read me first\n---\n<mjml><mj-body><mj-section><mj-column>\n<mj-text>Plan: {{ event.properties.plan | default: 'free' }}</mj-text>\n<mj-text><a href=\"{{ preferences_url }}\">Email preferences</a> <a href=\"{{ view_in_browser_url }}\">View in browser</a></mj-text>\n</mj-column></mj-section></mj-body></mjml>\n";

#[test]
fn templates_check_names_the_file_line_and_column_of_every_mistake() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "welcome.mjml", WELCOME_WITH_LINKS);
    write(
        dir.path(),
        "broken.mjml",
        "---\nsubject: Hi\n---\n<mjml><mj-body>\n{% if person.plan %}\n</mj-body></mjml>\n",
    );
    write(dir.path(), "typo.html", "---\nsubject: Hi\nsubjekt: oops\n---\n<p>x</p>\n");
    write(dir.path(), "notes.txt", "not a template: ignored");
    let output = nudge().args(["templates", "check"]).arg(dir.path()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 template(s) have errors"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:", dir.path().join("broken.mjml").display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:3:", dir.path().join("typo.html").display())) && stderr.contains("subjekt"),
        "{stderr}"
    );

    std::fs::remove_file(dir.path().join("broken.mjml")).unwrap();
    std::fs::remove_file(dir.path().join("typo.html")).unwrap();
    let output = nudge().args(["templates", "check"]).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok  welcome"));
}

#[tokio::test]
async fn applied_templates_are_versioned_previewed_sent_and_their_links_unsubscribe() {
    let templates = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(templates.path(), "welcome.mjml", WELCOME_WITH_LINKS);
    let apply = || {
        nudge()
            .args(["templates", "apply"])
            .arg(templates.path())
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap()
    };
    let first = apply();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("saved as version 1"));
    assert!(String::from_utf8_lossy(&apply().stdout).contains("unchanged at version 1"));
    let listed = nudge().args(["templates", "list", "--data"]).arg(data.path()).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("welcome") && listed.contains("v1") && listed.contains("getting-started") && listed.contains("built-in"),
        "{listed}"
    );

    let server = Server::start(data.path(), &["--postal-address", "1 Main St"]);
    sign_up(&server, "grace@example.com").await;
    let outbox = data.path().join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    while eml_files(&outbox).is_empty() {
        assert!(Instant::now() < deadline, "no email in {} after 20 s", outbox.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let files = eml_files(&outbox);
    check_mime(&files, &[]);
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("Subject: Hello Grace, from a file"), "{raw}");

    // `nudge preview` renders the same template for the same person from the same data.
    let preview = nudge()
        .args([
            "preview",
            "welcome",
            "--person",
            "u-42",
            "--event",
            r#"{"name": "signed_up", "properties": {"plan": "team"}}"#,
            "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&preview.stdout);
    assert!(preview.status.success(), "{}", String::from_utf8_lossy(&preview.stderr));
    assert!(
        shown.contains("Subject:   Hello Grace, from a file") && shown.contains("Preheader: Read me first"),
        "{shown}"
    );
    assert!(shown.contains("Plan: team") && shown.contains("(version 1)"), "{shown}");
    let missing = nudge()
        .args(["preview", "welcome", "--person", "nobody", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no person nobody"));

    // The outbox pages show what was sent.
    let client = reqwest::Client::new();
    let list = get_text(&client, &format!("{}/outbox", server.url)).await;
    assert!(list.contains("Hello Grace, from a file") && list.contains("1 message(s)"), "{list}");
    let file = files[0].file_name().unwrap().to_str().unwrap().to_string();
    let page = get_text(&client, &format!("{}/outbox/{file}", server.url)).await;
    assert!(
        page.contains("Plan: free") && page.contains(&format!("/outbox/{file}/html")),
        "{page}"
    );
    let html = client.get(format!("{}/outbox/{file}/html", server.url)).send().await.unwrap();
    assert_eq!(html.headers()["content-security-policy"], "sandbox");
    assert_eq!(
        client
            .get(format!("{}/outbox/..%2Fnudge.db", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The preferences link in the email: GET shows the page, a one-click POST unsubscribes.
    let unfolded = raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let link = unfolded
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|l| l.contains("/u/"))
        .unwrap_or_else(|| panic!("no preferences link in {unfolded}"))
        .to_string();
    assert!(link.starts_with(&server.url), "{link} points at this server");
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Unsubscribe from our marketing email?"));
    let clicked = client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    let person = admin_get(&server, "/v1/admin/people/u-42").await;
    assert!(person["preferences"]["unsubscribed_all"].is_string(), "{person}");
    let forged = client
        .post(format!("{link}x"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

/// `nudge templates apply --table`: the deployed stack's table (here, on the AWS emulator).
#[cfg(feature = "aws")]
#[tokio::test]
async fn templates_apply_to_a_deployed_table() {
    use nudge_shared::adapters::aws::{create_table, sdk_config_for_endpoint, DynamoStore};
    use nudge_shared::domain::TemplateName;
    use nudge_shared::ports::TemplateStore;

    let endpoint = nudge_tests::endpoint();
    let config = sdk_config_for_endpoint(&endpoint).await;
    let table = nudge_tests::unique_name("nudge-templates");
    create_table(&aws_sdk_dynamodb::Client::new(&config), &table).await.unwrap();
    let templates = tempfile::tempdir().unwrap();
    write(templates.path(), "welcome.mjml", WELCOME_WITH_LINKS);
    let apply = || {
        nudge()
            .args(["templates", "apply"])
            .arg(templates.path())
            .args(["--table", &table])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let first = apply();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("saved as version 1"));
    assert!(String::from_utf8_lossy(&apply().stdout).contains("unchanged at version 1"));
    let store = DynamoStore::from_config(&config, table.clone());
    let stored = store
        .current_template(&TemplateName::parse("welcome").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.version, stored.document.source.as_str()), (1, WELCOME_WITH_LINKS));

    // Campaigns too: applied to the table, read back as the functions read them.
    let apply_campaigns = nudge()
        .args(["campaigns", "apply"])
        .arg(examples().join("campaigns"))
        .arg("--templates")
        .arg(examples().join("templates"))
        .args(["--table", &table])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert!(
        apply_campaigns.status.success(),
        "{}",
        String::from_utf8_lossy(&apply_campaigns.stderr)
    );
    let library = nudge_shared::campaigns::CampaignLibrary::new(store);
    let campaigns = library.current(chrono::Utc::now()).await.unwrap();
    let mut ids: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["cart-reminder", "getting-started", "new-post", "onboarding-nudge", "welcome"]);
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn campaigns_validate_names_the_file_line_and_field_of_every_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good.yaml",
        "id: good\nname: Good\ntrigger: { event: signed_up }\nsteps:\n  - send: { template: welcome }\n",
    );
    write(
        dir.path(),
        "typo.yaml",
        "id: typo\nname: Typo\ntrigger: { event: signed_up }\nsteps:\n  - wait: 3 days\n  - send: { template: welcome }\n",
    );
    write(
        dir.path(),
        "missing.yaml",
        "id: missing\nname: Missing\ntrigger: { event: signed_up }\nsteps:\n  - send:\n      template: nowhere\n",
    );
    write(
        dir.path(),
        "renamed.yaml",
        "id: other\nname: Renamed\ntrigger: { event: signed_up }\nsteps:\n  - send: { template: welcome }\n",
    );
    let output = nudge()
        .args(["campaigns", "validate"])
        .arg(dir.path())
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 mistake(s)"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:", dir.path().join("typo.yaml").display())) && stderr.contains("steps[0]"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:6:1: steps[0].send.template: no template named \"nowhere\"",
            dir.path().join("missing.yaml").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("renamed.yaml:1:1: id"), "{stderr}");

    let examples = nudge()
        .args(["campaigns", "validate"])
        .arg(examples().join("campaigns"))
        .arg("--templates")
        .arg(examples().join("templates"))
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        examples.status.success(),
        "the examples are valid: {}",
        String::from_utf8_lossy(&examples.stderr)
    );
}

#[tokio::test]
async fn an_applied_campaign_runs_in_serve_once_per_object() {
    let data = tempfile::tempdir().unwrap();
    let campaigns = tempfile::tempdir().unwrap();
    // The example cart reminder, without its hour's wait so that the test need not wait.
    let cart = std::fs::read_to_string(examples().join("campaigns/cart-reminder.yaml"))
        .unwrap()
        .replace("  - wait: 1h\n", "");
    write(campaigns.path(), "cart-reminder.yaml", &cart);
    let apply_templates = nudge()
        .args(["templates", "apply"])
        .arg(examples().join("templates"))
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        apply_templates.status.success(),
        "{}",
        String::from_utf8_lossy(&apply_templates.stderr)
    );
    let apply = nudge()
        .args(["campaigns", "apply"])
        .arg(campaigns.path())
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    assert!(String::from_utf8_lossy(&apply.stdout).contains("cart-reminder                saved as version 1"));
    let listed = nudge().args(["campaigns", "list", "--data"]).arg(data.path()).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("cart-reminder") && listed.contains("v1") && listed.contains("welcome") && listed.contains("built-in"),
        "{listed}"
    );

    let server = Server::start(data.path(), &[]);
    let client = reqwest::Client::new();
    let (status, _) = post(
        &client,
        &format!("{}/v1/identify", server.url),
        json!({"userId": "u-7", "traits": {"email": "ada@example.com", "first_name": "Ada"}}),
    )
    .await;
    assert_eq!(status, 200);
    let cart = |id: &str, message: &str, total: f64| {
        json!({"userId": "u-7", "event": "cart_abandoned", "messageId": message,
               "properties": {"cart_id": id, "total": total, "currency": "EUR", "items": [{"name": "Desk", "price": total, "quantity": 1, "image_url": "https://x.test/d.png"}]}})
    };
    for body in [
        cart("c-1", "m1", 42.0),
        cart("c-1", "m2", 42.0),
        cart("c-2", "m3", 10.0),
        cart("c-3", "m4", 0.0),
    ] {
        let (status, _) = post(&client, &format!("{}/v1/track", server.url), body).await;
        assert_eq!(status, 200);
    }
    let outbox = data.path().join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    while eml_files(&outbox)
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("cart-reminder"))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "no cart reminders in {} after 20 s", outbox.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reminders: Vec<String> = eml_files(&outbox)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .filter(|raw| raw.contains("X-Nudge-Campaign: cart-reminder"))
        .collect();
    assert_eq!(
        reminders.len(),
        2,
        "c-1 once (abandoned twice), c-2 once, c-3 below the trigger's total"
    );
    assert!(
        reminders.iter().all(|r| r.contains("Subject: Ada, your cart at Nudge is waiting")),
        "{reminders:?}"
    );
    check_mime(&eml_files(&outbox), &["cart-reminder"]);
}

#[tokio::test]
async fn a_pending_timer_survives_a_restart_and_fires_once() {
    let data = tempfile::tempdir().unwrap();
    let campaigns = tempfile::tempdir().unwrap();
    write(
        campaigns.path(),
        "follow-up.yaml",
        "id: follow-up\nname: Follow-up\ntrigger: { event: demo_requested }\nsteps:\n  - wait: 3s\n  - send: { template: welcome, class: transactional }\n",
    );
    let apply = nudge()
        .args(["campaigns", "apply"])
        .arg(campaigns.path())
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    let server = Server::start(data.path(), &[]);
    let client = reqwest::Client::new();
    let (status, _) = post(
        &client,
        &format!("{}/v1/identify", server.url),
        json!({"userId": "u-9", "traits": {"email": "grace@example.com"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &client,
        &format!("{}/v1/track", server.url),
        json!({"userId": "u-9", "event": "demo_requested", "messageId": "d-1"}),
    )
    .await;
    assert_eq!(status, 200);
    // Stopped before the timer is due: nothing sent yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);
    let follow_ups = || {
        eml_files(&data.path().join("outbox"))
            .iter()
            .filter(|f| std::fs::read_to_string(f).unwrap().contains("X-Nudge-Campaign: follow-up"))
            .count()
    };
    assert_eq!(follow_ups(), 0);
    // Started again: the timer, kept in the database, fires once it is due.
    let _server = Server::start(data.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while follow_ups() == 0 {
        assert!(Instant::now() < deadline, "the follow-up never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(follow_ups(), 1);
}
