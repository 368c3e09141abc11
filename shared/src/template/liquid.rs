//! Liquid as marketers know it from Shopify, Customer.io and Dittofeed, plus Nudge's two
//! guarantees, applied by rewriting each `{{ output }}` before it is parsed:
//!
//! - **strict**: an output whose value is undefined (or null) fails the message, unless its
//!   filters include `default` or the template is lenient. `{% if %}` and comparisons on a
//!   missing value are fine: they see nil.
//! - **escaped**: in HTML bodies every output is HTML-escaped, unless it is marked `| raw`
//!   (or escapes itself with `escape` / `escape_once`).
//!
//! Filters added to Liquid's standard set: `date` (in the person's timezone), `money`,
//! `raw`, and the two internal ones the rewrite inserts.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use liquid_core::model::ScalarCow;
use liquid_core::{
    Display_filter, Expression, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter, Result, Runtime, Value,
    ValueView,
};
use std::sync::OnceLock;

pub(super) fn parser() -> &'static liquid::Parser {
    static PARSER: OnceLock<liquid::Parser> = OnceLock::new();
    PARSER.get_or_init(|| {
        liquid::ParserBuilder::with_stdlib()
            .filter(LocalDate)
            .filter(Money)
            .filter(Raw)
            .filter(Defined)
            .filter(EscapeHtml)
            .build()
            .expect("the Liquid library builds")
    })
}

/// How outputs are rewritten before parsing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Instrument {
    pub strict: bool,
    pub escape_html: bool,
}

const LITERALS: &[&str] = &["true", "false", "nil", "null", "empty", "blank"];
const SELF_ESCAPING: &[&str] = &["raw", "escape", "escape_once"];

impl Instrument {
    /// `source` with every `{{ output }}` outside `{% raw %}` rewritten; tags untouched.
    pub fn apply(self, source: &str) -> String {
        let mut out = String::with_capacity(source.len() + source.len() / 4);
        let mut rest = source;
        while let Some(start) = rest.find('{') {
            let (before, from) = rest.split_at(start);
            out.push_str(before);
            if let Some(after_raw) = skip_raw_block(from) {
                out.push_str(&from[..from.len() - after_raw.len()]);
                rest = after_raw;
            } else if let Some(output) = from.strip_prefix("{{") {
                match find_close(output, "}}") {
                    Some(end) => {
                        out.push_str("{{");
                        out.push_str(&self.rewrite_output(&output[..end]));
                        out.push_str("}}");
                        rest = &output[end + 2..];
                    }
                    None => {
                        // Unclosed: leave it for the parser to report.
                        out.push_str(from);
                        rest = "";
                    }
                }
            } else {
                out.push('{');
                rest = &from[1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn rewrite_output(self, inner: &str) -> String {
        let (lead, body, trail) = trim_dashes(inner);
        let parts = split_top_level(body, '|');
        let entry = parts[0].trim();
        let filters: Vec<&str> = parts[1..].iter().map(|f| f.split(':').next().unwrap_or("").trim()).collect();
        let mut rewritten = entry.to_string();
        let is_variable = entry.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !LITERALS.contains(&entry);
        if self.strict && is_variable && !filters.contains(&"default") {
            let quoted = if entry.contains('"') {
                format!("'{}'", entry.replace('\'', ""))
            } else {
                format!("\"{entry}\"")
            };
            rewritten.push_str(&format!(" | nudge_defined: {quoted}"));
        }
        for part in &parts[1..] {
            rewritten.push_str(" | ");
            rewritten.push_str(part.trim());
        }
        if self.escape_html && !filters.iter().any(|f| SELF_ESCAPING.contains(f)) {
            rewritten.push_str(" | nudge_escape_html");
        }
        format!("{lead} {rewritten} {trail}")
    }
}

/// After a `{% raw %}…{% endraw %}` block, if `from` starts with one.
fn skip_raw_block(from: &str) -> Option<&str> {
    let tag_end = from.strip_prefix("{%")?.find("%}")? + 2;
    let tag = from[2..tag_end].trim_matches(|c: char| c == '-' || c.is_whitespace());
    if tag != "raw" {
        return None;
    }
    let after = &from[tag_end + 2..];
    let mut search = after;
    loop {
        let open = search.find("{%")?;
        let close = search[open..].find("%}")? + open;
        let inner = search[open + 2..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if inner == "endraw" {
            return Some(&search[close + 2..]);
        }
        search = &search[close + 2..];
    }
}

/// The byte offset of `close` in `text`, outside quoted strings.
fn find_close(text: &str, close: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if text[i..].starts_with(close) => return Some(i),
            None => {}
        }
    }
    None
}

fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == separator => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Whitespace-control dashes (`{{-` / `-}}`) kept apart from the expression.
fn trim_dashes(inner: &str) -> (&str, &str, &str) {
    let lead = if inner.starts_with('-') { "-" } else { "" };
    let trail = if inner.ends_with('-') && inner.len() > lead.len() {
        "-"
    } else {
        ""
    };
    (lead, &inner[lead.len()..inner.len() - trail.len()], trail)
}

// ---- filters ----

#[derive(Debug, FilterParameters)]
struct DefinedArgs {
    #[parameter(description = "The expression, for the error message.", arg_type = "str")]
    expression: Expression,
}

/// Inserted by the strict rewrite: nil (undefined or null) fails the render.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "nudge_defined",
    description = "Fails when the value is undefined.",
    parameters(DefinedArgs),
    parsed(DefinedFilter)
)]
struct Defined;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "nudge_defined"]
struct DefinedFilter {
    #[parameters]
    args: DefinedArgs,
}

/// The marker the render layer finds in the error text to report an undefined variable.
pub(super) const UNDEFINED_MARKER: &str = "undefined variable: ";

impl Filter for DefinedFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() {
            let args = self.args.evaluate(runtime)?;
            return Err(liquid_core::Error::with_msg(format!("{UNDEFINED_MARKER}{}", args.expression)));
        }
        Ok(input.to_value())
    }
}

/// Inserted by the escaping rewrite in HTML bodies.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "nudge_escape_html", description = "HTML-escapes the value.", parsed(EscapeHtmlFilter))]
struct EscapeHtml;

#[derive(Debug, Default, Display_filter)]
#[name = "nudge_escape_html"]
struct EscapeHtmlFilter;

impl Filter for EscapeHtmlFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        Ok(Value::scalar(escape_html(input.to_kstr().as_str())))
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `{{ value | raw }}`: this value is HTML already; do not escape it.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "raw", description = "Marks a value as HTML that must not be escaped.", parsed(RawFilter))]
struct Raw;

#[derive(Debug, Default, Display_filter)]
#[name = "raw"]
struct RawFilter;

impl Filter for RawFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(input.to_value())
    }
}

#[derive(Debug, FilterParameters)]
struct DateArgs {
    #[parameter(description = "strftime format, e.g. \"%b %-d, %Y\".", arg_type = "str")]
    format: Expression,
    #[parameter(
        description = "An IANA timezone; default: the person's `timezone` trait, else UTC.",
        arg_type = "str"
    )]
    timezone: Option<Expression>,
}

/// `date`, in the reader's timezone: `{{ event.timestamp | date: "%A %-I:%M %p" }}`.
/// Input: an RFC 3339 / ISO 8601 time, a date, a Unix timestamp, or `"now"` / `"today"`
/// (the render time, from the clock).
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "date",
    description = "Formats a time in the person's timezone.",
    parameters(DateArgs),
    parsed(LocalDateFilter)
)]
struct LocalDate;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "date"]
struct LocalDateFilter {
    #[parameters]
    args: DateArgs,
}

impl Filter for LocalDateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let Some(time) = parse_time(input, runtime) else {
            return Ok(input.to_value());
        };
        let zone = match &args.timezone {
            Some(name) => Some(name.to_string()),
            None => lookup(runtime, &["person", "timezone"]).map(|v| v.to_kstr().as_str().to_string()),
        };
        let tz: Tz = zone.and_then(|z| z.parse().ok()).unwrap_or(Tz::UTC);
        let format = args.format.as_str();
        let items: Vec<_> = chrono::format::StrftimeItems::new(format).collect();
        if items.iter().any(|i| matches!(i, chrono::format::Item::Error)) {
            return Err(liquid_core::Error::with_msg(format!("invalid date format: {format}")));
        }
        Ok(Value::scalar(
            time.with_timezone(&tz).format_with_items(items.into_iter()).to_string(),
        ))
    }
}

fn lookup(runtime: &dyn Runtime, path: &[&'static str]) -> Option<Value> {
    let path: Vec<ScalarCow<'_>> = path.iter().map(|p| ScalarCow::new(*p)).collect();
    runtime.try_get(&path).map(|v| v.into_owned()).filter(|v| !v.is_nil())
}

fn parse_time(input: &dyn ValueView, runtime: &dyn Runtime) -> Option<DateTime<Utc>> {
    let scalar = input.as_scalar()?;
    if let Some(seconds) = scalar.to_integer() {
        return Utc.timestamp_opt(seconds, 0).single();
    }
    let text = scalar.to_kstr();
    let text = text.as_str().trim();
    if text == "now" || text == "today" {
        let now = lookup(runtime, &["now"])?;
        return DateTime::parse_from_rfc3339(now.to_kstr().as_str())
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(time) = DateTime::<FixedOffset>::parse_from_str(text, format) {
            return Some(time.with_timezone(&Utc));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[derive(Debug, FilterParameters)]
struct MoneyArgs {
    #[parameter(description = "ISO 4217 currency code; default USD.", arg_type = "str")]
    currency: Option<Expression>,
}

/// `{{ 1234.5 | money }}` is `$1,234.50`; `{{ 9 | money: "EUR" }}` is `€9.00`. The input is
/// an amount in major units (what tracking events usually carry: `price: 19.99`).
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "money",
    description = "Formats an amount as money.",
    parameters(MoneyArgs),
    parsed(MoneyFilter)
)]
struct Money;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "money"]
struct MoneyFilter {
    #[parameters]
    args: MoneyArgs,
}

impl Filter for MoneyFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        let amount = input
            .as_scalar()
            .and_then(|s| s.to_float().or_else(|| s.to_kstr().trim().parse().ok()))
            .ok_or_else(|| liquid_core::Error::with_msg(format!("money: `{}` is not a number", input.source())))?;
        let currency = args.currency.map(|c| c.to_uppercase()).unwrap_or_else(|| "USD".into());
        Ok(Value::scalar(format_money(amount, &currency)))
    }
}

pub fn format_money(amount: f64, currency: &str) -> String {
    let cents = (amount.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0.0 && cents > 0 { "-" } else { "" };
    let number = format!("{grouped}.{:02}", cents % 100);
    match currency {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        "JPY" => format!("{sign}¥{grouped}"),
        other => format!("{sign}{number} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict_html() -> Instrument {
        Instrument {
            strict: true,
            escape_html: true,
        }
    }

    #[test]
    fn outputs_get_strict_and_escape_filters() {
        assert_eq!(
            strict_html().apply("Hi {{ person.name }}!"),
            "Hi {{ person.name | nudge_defined: \"person.name\" | nudge_escape_html }}!"
        );
    }

    #[test]
    fn default_raw_literals_and_dashes_are_respected() {
        let i = strict_html();
        assert_eq!(i.apply("{{ x | default: 'a|b' }}"), "{{ x | default: 'a|b' | nudge_escape_html }}");
        assert_eq!(i.apply("{{- body | raw -}}"), "{{- body | nudge_defined: \"body\" | raw -}}");
        assert_eq!(i.apply("{{ \"}}\" | upcase }}"), "{{ \"}}\" | upcase | nudge_escape_html }}");
        assert_eq!(i.apply("{{ true }}"), "{{ true | nudge_escape_html }}");
    }

    #[test]
    fn raw_blocks_and_tags_are_left_alone() {
        let i = strict_html();
        let source = "{% if a %}{% raw %}{{ not.rewritten }}{% endraw %}{% endif %}{ plain }";
        assert_eq!(i.apply(source), source);
    }

    #[test]
    fn money_groups_thousands() {
        assert_eq!(format_money(1234.5, "USD"), "$1,234.50");
        assert_eq!(format_money(-0.5, "EUR"), "-€0.50");
        assert_eq!(format_money(1_000_000.0, "CHF"), "1,000,000.00 CHF");
        assert_eq!(format_money(999.999, "USD"), "$1,000.00");
    }
}
