//! From a rendered body to the parts of an email: MJML compiled to HTML, CSS inlined into
//! plain HTML, the preheader placed first in the body, and the text/plain alternative.

use super::liquid::escape_html;

/// MJML (already through Liquid) to responsive HTML.
pub fn compile_mjml(mjml: &str) -> Result<String, String> {
    let parsed = mrml::parse(mjml).map_err(|e| e.to_string())?;
    parsed
        .element
        .render(&mrml::prelude::render::RenderOptions::default())
        .map_err(|e| e.to_string())
}

/// `<style>` rules copied onto the elements they match, since many mail clients drop
/// `<style>`; the tags stay for clients that honour media queries. Nothing is fetched.
pub fn inline_css(html: &str) -> Result<String, String> {
    let inliner = css_inline::CSSInliner::options()
        .keep_style_tags(true)
        .load_remote_stylesheets(false)
        .build();
    inliner.inline(html).map_err(|e| e.to_string())
}

/// The text/plain alternative, from the HTML (before the hidden preheader is added).
pub fn text_from_html(html: &str) -> Result<String, String> {
    // Raw mode reads layout tables (all MJML is tables) as plain paragraphs.
    let text = html2text::config::plain()
        .raw_mode(true)
        .no_link_wrapping()
        .link_footnotes(true)
        .string_from_read(html.as_bytes(), 78)
        .map_err(|e| e.to_string())?;
    // Trailing spaces and runs of blank lines are noise in a text email.
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out.trim_end().to_string() + "\n")
}

/// The preview line inbox lists show after the subject: hidden text at the top of the
/// body, padded so the list does not continue into the body's first words.
pub fn insert_preheader(html: &str, preheader: &str) -> String {
    let hidden = format!(
        "<div style=\"display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all\">{}{}</div>",
        escape_html(preheader),
        "&#847;&zwnj;&nbsp;".repeat(40)
    );
    let lower = html.to_ascii_lowercase();
    match lower.find("<body").and_then(|at| lower[at..].find('>').map(|end| at + end + 1)) {
        Some(after_body) => format!("{}{}{}", &html[..after_body], hidden, &html[after_body..]),
        None => format!("{hidden}{html}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mjml_compiles_to_html() {
        let html = compile_mjml("<mjml><mj-body><mj-section><mj-column><mj-text>Hello</mj-text></mj-column></mj-section></mj-body></mjml>")
            .unwrap();
        assert!(html.contains("<!doctype html>") && html.contains("Hello"), "{html}");
    }

    #[test]
    fn broken_mjml_is_an_error() {
        assert!(compile_mjml("<mjml><mj-body><mj-section>").is_err());
    }

    #[test]
    fn css_is_inlined_and_style_kept() {
        let html = inline_css("<html><head><style>p { color: red }</style></head><body><p>x</p></body></html>").unwrap();
        assert!(html.contains("<p style=\"color: red;\">x</p>"), "{html}");
    }

    #[test]
    fn preheader_goes_right_after_body() {
        let html = insert_preheader("<html><BODY class=\"x\"><p>Hi</p></BODY></html>", "Your <order>");
        assert!(html.starts_with("<html><BODY class=\"x\"><div style=\"display:none"), "{html}");
        assert!(html.contains("Your &lt;order&gt;"));
    }

    #[test]
    fn text_alternative_keeps_links() {
        let text = text_from_html("<p>Read <a href=\"https://x.test/a\">the post</a></p><p></p><p></p><p>Bye</p>").unwrap();
        assert!(
            text.contains("the post") && text.contains("https://x.test/a") && text.contains("Bye"),
            "{text}"
        );
    }
}
