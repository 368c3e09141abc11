//! The preference center's HTML: small, inline-styled, every value escaped.

use nudge_shared::domain::{Preferences, Topic};
use nudge_shared::template::escape_html;
use nudge_shared::unsubscribe::UnsubscribeToken;

/// `product_tips` reads as "Product tips".
pub fn topic_label(topic: &Topic) -> String {
    let words = topic.as_str().replace(['_', '-'], " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn layout(company: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Email preferences · {company}</title></head>\
         <body style=\"font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2933; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5\">\
         <h1 style=\"font-size: 1.4rem\">Email preferences · {company}</h1>{body}</body></html>",
        company = escape_html(company),
    )
}

/// The page for a valid link: what the person gets, and the forms to change it.
pub fn center(company: &str, token: &UnsubscribeToken, topics: &[Topic], preferences: &Preferences, notice: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p role=\"status\" style=\"background: #ecfdf5; padding: .75rem 1rem\">{}</p>",
            escape_html(notice)
        ));
    }
    if preferences.unsubscribed_all.is_some() {
        body.push_str(
            "<p>You are unsubscribed from all marketing email. You will still get messages about your account, such as receipts.</p>",
        );
    } else if notice.is_none() {
        let what = match &token.topic {
            Some(topic) => format!("{} email", topic_label(topic)),
            None => "our marketing email".to_string(),
        };
        body.push_str(&format!(
            "<form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"unsubscribe\">\
             <p>Unsubscribe from {}?</p><button type=\"submit\">Unsubscribe</button></form>",
            escape_html(&what)
        ));
    }
    if !topics.is_empty() {
        body.push_str(
            "<form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"save\"><h2 style=\"font-size: 1.1rem\">What you get</h2>",
        );
        for topic in topics {
            let checked = preferences.unsubscribed_all.is_none() && preferences.allows(Some(topic));
            body.push_str(&format!(
                "<p><label><input type=\"checkbox\" name=\"topic\" value=\"{value}\"{checked}> {label}</label></p>",
                value = escape_html(topic.as_str()),
                checked = if checked { " checked" } else { "" },
                label = escape_html(&topic_label(topic)),
            ));
        }
        body.push_str("<button type=\"submit\">Save preferences</button></form>");
    }
    body.push_str(
        "<form method=\"post\" style=\"margin-top: 2rem\"><input type=\"hidden\" name=\"action\" value=\"unsubscribe_all\">\
         <button type=\"submit\">Unsubscribe from all marketing email</button></form>",
    );
    layout(company, &body)
}

pub fn not_on_list(company: &str) -> String {
    layout(
        company,
        "<p>This address is not on our list: we will not send it marketing email.</p>",
    )
}

pub fn error(company: &str, message: &str) -> String {
    layout(company, &format!("<p>{}</p>", escape_html(message)))
}
