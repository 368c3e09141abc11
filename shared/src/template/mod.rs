//! Email templates: a file of YAML front matter (subject, preheader, from name, reply-to)
//! and a Liquid body in MJML or HTML, compiled once and rendered per person.
//!
//! ```text
//! ---
//! subject: "Welcome, {{ person.first_name | default: 'friend' }}"
//! preheader: "Three things to try first"
//! ---
//! <mjml><mj-body>…</mj-body></mjml>
//! ```
//!
//! Rendering: Liquid (strict, HTML-escaped outputs, see `liquid.rs`), then MJML to HTML or
//! CSS inlining for HTML, then the text/plain alternative and the hidden preheader. Syntax
//! errors are found at compile time with the file's line and column; an undefined value
//! fails that one message with the variable's name.

mod context;
mod html;
mod liquid;

pub use context::{Links, RenderContext};
pub use liquid::{escape_html, format_money};

use crate::domain::{EmailAddress, TemplateName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The body's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    Mjml,
    Html,
}

impl BodyFormat {
    /// From a file name: `*.mjml` (also `*.mjml.liquid`) is MJML; `*.html`, `*.liquid` HTML.
    pub fn from_file_name(file_name: &str) -> Option<(&str, Self)> {
        for (suffix, format) in [
            (".mjml.liquid", Self::Mjml),
            (".html.liquid", Self::Html),
            (".mjml", Self::Mjml),
            (".html", Self::Html),
            (".liquid", Self::Html),
        ] {
            if let Some(stem) = file_name.strip_suffix(suffix) {
                return Some((stem, format));
            }
        }
        None
    }
}

/// A template as written: what is stored, versioned and shown back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDocument {
    pub name: TemplateName,
    pub format: BodyFormat,
    /// The whole file: front matter and body.
    pub source: String,
}

/// A stored template: a document and the version it was saved as (1, 2, …; 0 for a
/// built-in that was never overridden).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTemplate {
    pub version: u32,
    #[serde(flatten)]
    pub document: TemplateDocument,
    pub saved_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template cannot be compiled: reported when it is saved, with where.
    #[error("{name}: line {line}, column {column}: {detail}")]
    Syntax {
        name: String,
        line: usize,
        column: usize,
        detail: String,
    },
    /// This message cannot be rendered (an undefined value, bad data): the send fails with this reason.
    #[error("{part}: {detail}")]
    Render { part: &'static str, detail: String },
}

impl TemplateError {
    fn syntax(name: &TemplateName, line: usize, column: usize, detail: impl Into<String>) -> Self {
        Self::Syntax {
            name: name.to_string(),
            line,
            column,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    subject: String,
    #[serde(default)]
    preheader: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    /// Undefined values render empty instead of failing the message.
    #[serde(default)]
    lenient: bool,
    /// For people: what the template is for.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

/// One Liquid part, compiled.
#[derive(Clone)]
struct Part {
    name: &'static str,
    template: Arc<::liquid::Template>,
}

impl Part {
    /// Compiles `source`, which starts at `line` of the file. Syntax errors are looked for
    /// in the text as written, so their positions match the file.
    fn compile(
        template: &TemplateName,
        name: &'static str,
        source: &str,
        line: usize,
        instrument: liquid::Instrument,
    ) -> Result<Self, TemplateError> {
        let parser = liquid::parser();
        if let Err(error) = parser.parse(source) {
            let (l, c, detail) = locate(&error.to_string());
            // An unclosed block is found at the end of the text; point at where it opens.
            let (l, c) = unclosed_block_start(source, &detail).unwrap_or((l, c));
            return Err(TemplateError::syntax(template, line + l - 1, c, format!("{name}: {detail}")));
        }
        let compiled = parser
            .parse(&instrument.apply(source))
            .map_err(|e| TemplateError::syntax(template, line, 1, format!("{name}: {}", first_line(&e.to_string()))))?;
        Ok(Self {
            name,
            template: Arc::new(compiled),
        })
    }

    fn render(&self, globals: &::liquid::Object) -> Result<String, TemplateError> {
        self.template.render(globals).map_err(|e| TemplateError::Render {
            part: self.name,
            detail: render_error_detail(&e.to_string()),
        })
    }
}

/// Line, column and message of a Liquid parse error (`--> 3:7` in its text).
fn locate(message: &str) -> (usize, usize, String) {
    let position = message.lines().find_map(|l| {
        let (line, column) = l.split_once("--> ")?.1.trim().split_once(':')?;
        Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
    });
    let detail = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string)
        .unwrap_or_else(|| first_line(message));
    let (line, column) = position.unwrap_or((1, 1));
    (line, column, detail)
}

/// For "Unclosed block. {% endif %} tag expected.": the line and column of the last `{% if`.
fn unclosed_block_start(source: &str, detail: &str) -> Option<(usize, usize)> {
    let tag = detail.split("{% end").nth(1)?.split_whitespace().next()?;
    let at = [format!("{{% {tag}"), format!("{{%- {tag}")]
        .iter()
        .filter_map(|opening| source.rfind(opening.as_str()))
        .max()?;
    let line = source[..at].matches('\n').count() + 1;
    let column = at - source[..at].rfind('\n').map_or(0, |nl| nl + 1) + 1;
    Some((line, column))
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim_start_matches("liquid: ").to_string()
}

fn render_error_detail(message: &str) -> String {
    if let Some(at) = message.find(liquid::UNDEFINED_MARKER) {
        let variable = message[at + liquid::UNDEFINED_MARKER.len()..].lines().next().unwrap_or("").trim();
        return format!("`{variable}` is undefined for this person (give it a default: `{{{{ {variable} | default: \"…\" }}}}`, or wrap it in `{{% if {variable} %}}`)");
    }
    let from = message.lines().find_map(|l| l.trim().strip_prefix("from: ")).unwrap_or("");
    format!("{} {}", first_line(message), from).trim().to_string()
}

/// A compiled template, ready to render many messages.
#[derive(Clone)]
pub struct Template {
    pub name: TemplateName,
    pub version: u32,
    pub format: BodyFormat,
    pub lenient: bool,
    subject: Part,
    preheader: Option<Part>,
    from_name: Option<Part>,
    reply_to: Option<Part>,
    body: Part,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({} v{})", self.name, self.version)
    }
}

/// A message's content, rendered for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedMessage {
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preheader: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<EmailAddress>,
    pub html: String,
    pub text: String,
}

impl Template {
    pub fn compile(document: &TemplateDocument, version: u32) -> Result<Self, TemplateError> {
        let name = &document.name;
        let (front, front_line, body, body_line) = split_front_matter(name, &document.source)?;
        let front: FrontMatter = serde_yaml_ng::from_str(front).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            // The YAML library counts from the front matter; the file's position is ours.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            TemplateError::syntax(name, front_line + line - 1, column, format!("front matter: {message}"))
        })?;
        let line_of = |key: &str| {
            front_line
                + document.source[..]
                    .lines()
                    .skip(front_line - 1)
                    .position(|l| l.starts_with(&format!("{key}:")))
                    .unwrap_or(0)
        };
        let text_part = liquid::Instrument {
            strict: !front.lenient,
            escape_html: false,
        };
        let html_part = liquid::Instrument {
            strict: !front.lenient,
            escape_html: true,
        };
        let optional = |key: &'static str, source: &Option<String>| {
            source
                .as_deref()
                .map(|s| Part::compile(name, key, s, line_of(key), text_part))
                .transpose()
        };
        let template = Self {
            name: name.clone(),
            version,
            format: document.format,
            lenient: front.lenient,
            subject: Part::compile(name, "subject", &front.subject, line_of("subject"), text_part)?,
            preheader: optional("preheader", &front.preheader)?,
            from_name: optional("from_name", &front.from_name)?,
            reply_to: optional("reply_to", &front.reply_to)?,
            body: Part::compile(name, "body", body, body_line, html_part)?,
        };
        if template.format == BodyFormat::Mjml {
            // The MJML must be well-formed whatever the data: check it once with every value empty.
            let sample = ::liquid::Object::new();
            let lenient = Part::compile(
                name,
                "body",
                body,
                body_line,
                liquid::Instrument {
                    strict: false,
                    escape_html: true,
                },
            )?;
            // (A filter that cannot take an empty value is reported when a message renders.)
            if let Ok(mjml) = lenient.render(&sample) {
                html::compile_mjml(&mjml).map_err(|e| TemplateError::syntax(name, body_line, 1, format!("MJML: {e}")))?;
            }
        }
        Ok(template)
    }

    pub fn render(&self, context: &RenderContext<'_>) -> Result<RenderedMessage, TemplateError> {
        let globals = context.globals();
        let one_line = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let optional = |part: &Option<Part>| -> Result<Option<String>, TemplateError> {
            Ok(part
                .as_ref()
                .map(|p| p.render(&globals))
                .transpose()?
                .map(one_line)
                .filter(|s| !s.is_empty()))
        };
        // Subjects and names are header lines: whatever the data held, they stay one line.
        let subject = one_line(self.subject.render(&globals)?);
        if subject.is_empty() {
            return Err(TemplateError::Render {
                part: "subject",
                detail: "renders empty".into(),
            });
        }
        let preheader = optional(&self.preheader)?;
        let from_name = optional(&self.from_name)?;
        let reply_to = optional(&self.reply_to)?
            .map(|address| EmailAddress::parse(&address))
            .transpose()
            .map_err(|e| TemplateError::Render {
                part: "reply_to",
                detail: e.reason,
            })?;
        let html = self.body_html(&globals)?;
        let render_error = |detail: String| TemplateError::Render { part: "body", detail };
        let text = html::text_from_html(&html).map_err(render_error)?;
        let html = match &preheader {
            Some(preheader) => html::insert_preheader(&html, preheader),
            None => html,
        };
        Ok(RenderedMessage {
            subject,
            preheader,
            from_name,
            reply_to,
            html,
            text,
        })
    }
}

impl Template {
    /// The body after Liquid, before MJML or CSS inlining: the raw MJML a preview can show,
    /// and what benchmarks compare with other Liquid engines.
    pub fn render_body_source(&self, context: &RenderContext<'_>) -> Result<String, TemplateError> {
        self.body.render(&context.globals())
    }

    /// The body as the HTML that is sent (before the hidden preheader is added).
    pub fn render_body_html(&self, context: &RenderContext<'_>) -> Result<String, TemplateError> {
        self.body_html(&context.globals())
    }

    fn body_html(&self, globals: &::liquid::Object) -> Result<String, TemplateError> {
        let body = self.body.render(globals)?;
        let render_error = |detail: String| TemplateError::Render { part: "body", detail };
        match self.format {
            BodyFormat::Mjml => html::compile_mjml(&body).map_err(|e| render_error(format!("MJML: {e}"))),
            BodyFormat::Html => html::inline_css(&body).map_err(|e| render_error(format!("CSS: {e}"))),
        }
    }
}

/// (front matter, its first line, body, its first line), all 1-based.
fn split_front_matter<'s>(name: &TemplateName, source: &'s str) -> Result<(&'s str, usize, &'s str, usize), TemplateError> {
    let missing = || TemplateError::syntax(name, 1, 1, "a template starts with front matter: `---`, `subject: …`, `---`");
    let rest = source.strip_prefix("---").ok_or_else(missing)?;
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n')).ok_or_else(missing)?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let body_line = 2 + front.lines().count() + 1;
            return Ok((front, 2, body, body_line));
        }
        offset += line.len();
    }
    Err(TemplateError::syntax(name, 1, 1, "front matter is not closed with `---`"))
}

#[cfg(test)]
mod tests;
