//! Small pages that are not a report: "no samples yet", "choose a host", "cannot read the data". They are made like
//! the report (the same style sheet, the same strict Content-Security-Policy, every text escaped) so that a live
//! view can answer with them.

use std::fmt::Write as _;
use std::time::Duration;

use crate::escape::{html, push_html};
use crate::page::{STYLE, push_head, push_warnings};

/// A small page with a title, paragraphs of text and a list of links, all plain text (escaped when rendered).
///
/// ```
/// use std::time::Duration;
/// use stabmon_report::Notice;
///
/// let page = Notice::new("stabmon: choose a host")
///     .paragraph("The data holds several hosts. Choose one:")
///     .link("web-1", "/?host=web-1")
///     .link("db <1>", "/?host=db%201")
///     .refresh(Duration::from_secs(30))
///     .to_html();
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("<a href=\"/?host=web-1\">web-1</a>"));
/// assert!(page.contains("db &lt;1&gt;"));
/// assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    title: String,
    paragraphs: Vec<String>,
    links: Vec<(String, String)>,
    refresh: Option<Duration>,
    warnings: Vec<String>,
}

impl Notice {
    /// A page titled `title` (also its heading).
    pub fn new(title: impl Into<String>) -> Self {
        Notice {
            title: title.into(),
            paragraphs: Vec::new(),
            links: Vec::new(),
            refresh: None,
            warnings: Vec::new(),
        }
    }

    /// Adds a paragraph of text.
    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.paragraphs.push(text.into());
        self
    }

    /// Adds a link, listed after the paragraphs: its text and its `href` (a URL the caller has percent-encoded;
    /// it is escaped for the attribute here).
    pub fn link(mut self, text: impl Into<String>, href: impl Into<String>) -> Self {
        self.links.push((text.into(), href.into()));
        self
    }

    /// Reloads the page every `every` (whole seconds), as [`ReportBuilder::refresh`](crate::ReportBuilder::refresh)
    /// does; zero turns it off. By default, the page does not reload.
    pub fn refresh(mut self, every: Duration) -> Self {
        self.refresh = (!every.is_zero()).then(|| every.max(Duration::from_secs(1)));
        self
    }

    /// Lists what could not be read, after the paragraphs, as the report does
    /// ([`ReportBuilder::warnings`](crate::ReportBuilder::warnings)): plain text, escaped when rendered. By default,
    /// there is no such list.
    pub fn warnings<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.warnings = lines.into_iter().map(Into::into).collect();
        self
    }

    /// The page.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(STYLE.len() + 1024);
        push_head(&mut out, &self.title, self.refresh);
        out.push_str("<h1>");
        push_html(&mut out, &self.title);
        out.push_str("</h1>");
        for p in &self.paragraphs {
            out.push_str("<p>");
            push_html(&mut out, p);
            out.push_str("</p>");
        }
        push_warnings(&mut out, &self.warnings);
        if !self.links.is_empty() {
            out.push_str("<ul>");
            for (text, href) in &self.links {
                let _ = write!(
                    out,
                    "<li><a href=\"{}\">{}</a></li>",
                    html(href),
                    html(text)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_reload_is_optional() {
        let page = Notice::new("a <b>").paragraph("x & \"y\"").to_html();
        assert!(page.contains("<title>a &lt;b&gt;</title>"), "{page}");
        assert!(page.contains("<p>x &amp; &quot;y&quot;</p>"), "{page}");
        assert!(
            !page.contains("refresh") && !page.contains("<ul>"),
            "{page}"
        );
        let page = Notice::new("t")
            .link("l", "/?a=\"><script>")
            .refresh(Duration::ZERO)
            .to_html();
        assert!(
            page.contains("href=\"/?a=&quot;&gt;&lt;script&gt;\""),
            "{page}"
        );
        assert!(!page.contains("refresh"), "{page}");
        assert!(page.contains("default-src 'none'"), "{page}");
        assert!(!page.contains("could not be read"), "{page}");
    }

    #[test]
    fn warnings_are_listed_escaped() {
        let page = Notice::new("t")
            .paragraph("p")
            .warnings(["skipped /d/<img src=x onerror=alert(1)>.journal: bad"])
            .to_html();
        assert!(
            page.contains(
                "could not be read and is left out of this page:</p><ul><li>skipped /d/&lt;img src=x \
                 onerror=alert(1)&gt;.journal: bad</li></ul>"
            ),
            "{page}"
        );
        assert!(!page.contains("<img"), "{page}");
    }
}
