//! `nudge serve`'s outbox pages: what was sent, as a list and one message at a time (its
//! headers, its HTML in a sandboxed frame, its text part). Local development only: the
//! deployed stack sends through SES and has no such pages.

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use mail_parser::{Message, MessageParser};
use nudge_shared::template::escape_html;
use std::path::PathBuf;
use std::sync::Arc;

pub fn routes(outbox: PathBuf) -> axum::Router {
    axum::Router::new()
        .route("/outbox", get(list))
        .route("/outbox/{file}", get(show))
        .route("/outbox/{file}/html", get(html_part))
        .with_state(Arc::new(outbox))
}

/// One sent message's summary line.
struct Entry {
    file: String,
    date: String,
    to: String,
    subject: String,
    campaign: String,
}

fn parse(bytes: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(bytes)
}

fn entry(file: String, bytes: &[u8]) -> Entry {
    let message = parse(bytes);
    let text = |f: &dyn Fn(&Message<'_>) -> Option<String>| message.as_ref().and_then(f).unwrap_or_default();
    Entry {
        date: text(&|m| m.date().map(|d| d.to_rfc3339())),
        to: text(&|m| m.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_string)),
        subject: text(&|m| m.subject().map(str::to_string)),
        campaign: text(&|m| m.header_raw("X-Nudge-Campaign").map(|v| v.trim().to_string())),
        file,
    }
}

async fn list(State(outbox): State<Arc<PathBuf>>) -> Response {
    let mut entries: Vec<Entry> = std::fs::read_dir(outbox.as_path())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    let file = e.file_name().to_str()?.to_string();
                    file.ends_with(".eml")
                        .then(|| std::fs::read(e.path()).ok().map(|b| entry(file, &b)))?
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort_by(|a, b| b.date.cmp(&a.date));
    let mut rows = String::new();
    for e in &entries {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/outbox/{}\">{}</a></td></tr>",
            escape_html(&e.date),
            escape_html(&e.campaign),
            escape_html(&e.to),
            escape_html(&e.file),
            escape_html(&e.subject),
        ));
    }
    page(
        "Outbox",
        &format!(
            "<p>{} message(s) sent, newest first.</p><table><tr><th>Date</th><th>Campaign</th><th>To</th><th>Subject</th></tr>{rows}</table>",
            entries.len()
        ),
    )
}

/// The file's bytes, if `file` names a message in the outbox (and nothing else).
fn read(outbox: &std::path::Path, file: &str) -> Option<Vec<u8>> {
    let valid = file.ends_with(".eml") && !file.contains(['/', '\\']) && !file.starts_with('.');
    valid.then(|| std::fs::read(outbox.join(file)).ok())?
}

async fn show(State(outbox): State<Arc<PathBuf>>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(bytes) = read(&outbox, &file) else {
        return (StatusCode::NOT_FOUND, "no such message").into_response();
    };
    let Some(message) = parse(&bytes) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "not a readable message").into_response();
    };
    let mut headers = String::new();
    for name in [
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "X-Nudge-Campaign",
    ] {
        if let Some(value) = message.header_raw(name) {
            headers.push_str(&format!("<tr><th>{name}</th><td>{}</td></tr>", escape_html(value.trim())));
        }
    }
    let subject = message.subject().unwrap_or_default().to_string();
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    page(
        &subject,
        &format!(
            "<p><a href=\"/outbox\">← Outbox</a></p><table>{headers}</table>\
             <h2>HTML</h2><iframe sandbox src=\"/outbox/{file}/html\" style=\"width:100%;height:70vh;border:1px solid #ccc\"></iframe>\
             <h2>Text</h2><pre style=\"white-space:pre-wrap\">{}</pre>",
            escape_html(&text),
            file = escape_html(&file),
        ),
    )
}

async fn html_part(State(outbox): State<Arc<PathBuf>>, UrlPath(file): UrlPath<String>) -> Response {
    let html = read(&outbox, &file).and_then(|bytes| parse(&bytes).and_then(|m| m.body_html(0).map(|h| h.into_owned())));
    match html {
        // The message's own HTML, shown in a sandbox: no scripts, no forms, no same-origin access.
        Some(html) => ([(header::CONTENT_SECURITY_POLICY, "sandbox")], Html(html)).into_response(),
        None => (StatusCode::NOT_FOUND, "no HTML part").into_response(),
    }
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{} · Nudge</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}}td,th{{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee;vertical-align:top}}</style>\
         </head><body><h1>{}</h1>{body}</body></html>",
        escape_html(title),
        escape_html(title)
    ))
    .into_response()
}
