//! A small HTML writer for self-contained reports: escaped text, tables, figures referring to
//! image files beside the page, one document with inline CSS.
//!
//! Every piece of text goes through [`escape`] (`&`, `<`, `>`, `"`, `'`); only the writer's own
//! tags are emitted raw. The page carries one inline script, [`IMAGE_CHECK_SCRIPT`], that marks
//! `<html data-images-total=… data-images-broken=…>` after loading, so a headless browser's
//! DOM dump can tell whether every image rendered (`scripts/check_report.sh`).

use std::fmt::Write as _;

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A table: a header row and body rows of plain text cells (escaped on output).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Body rows (each as long as the header).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings and no rows.
    pub fn new(header: &[&str]) -> Self {
        Self { header: header.iter().map(|h| (*h).to_string()).collect(), rows: Vec::new() }
    }

    /// Append a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as HTML.
    pub fn to_html(&self) -> String {
        let mut s = String::from("<table>\n<thead><tr>");
        for h in &self.header {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            s.push_str("<tr>");
            for cell in row {
                let _ = write!(s, "<td>{}</td>", escape(cell));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        s
    }
}

/// The body of a page, built in order.
#[derive(Debug, Clone, Default)]
pub struct Body {
    html: String,
}

impl Body {
    /// A section heading (`<h2>`) with an anchor id.
    pub fn heading(&mut self, id: &str, text: &str) -> &mut Self {
        let _ = writeln!(self.html, "<h2 id=\"{}\">{}</h2>", escape(id), escape(text));
        self
    }

    /// A sub-heading (`<h3>`).
    pub fn subheading(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.html, "<h3>{}</h3>", escape(text));
        self
    }

    /// A paragraph of plain text.
    pub fn para(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.html, "<p>{}</p>", escape(text));
        self
    }

    /// A highlighted note (assumptions, caveats).
    pub fn note(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.html, "<p class=\"note\">{}</p>", escape(text));
        self
    }

    /// A preformatted block (commands).
    pub fn code(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(self.html, "<pre>{}</pre>", escape(text));
        self
    }

    /// A bulleted list.
    pub fn list(&mut self, items: &[String]) -> &mut Self {
        self.html.push_str("<ul>\n");
        for i in items {
            let _ = writeln!(self.html, "<li>{}</li>", escape(i));
        }
        self.html.push_str("</ul>\n");
        self
    }

    /// A table.
    pub fn table(&mut self, table: &Table) -> &mut Self {
        self.html.push_str(&table.to_html());
        self
    }

    /// A figure: the image at relative path `src` (a link to `svg` beside it), with a caption.
    pub fn figure(&mut self, src: &str, svg: &str, alt: &str, caption: &str) -> &mut Self {
        let _ = writeln!(
            self.html,
            "<figure><a href=\"{}\"><img src=\"{}\" alt=\"{}\" width=\"800\" height=\"520\"></a><figcaption>{}</figcaption></figure>",
            escape(svg),
            escape(src),
            escape(alt),
            escape(caption)
        );
        self
    }

    /// The body's HTML so far.
    pub fn html(&self) -> &str {
        &self.html
    }
}

/// Marks `<html>` with the number of images and of images that failed to load.
pub const IMAGE_CHECK_SCRIPT: &str = "window.addEventListener('load', function () {\n\
  var imgs = Array.prototype.slice.call(document.images);\n\
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });\n\
  document.documentElement.setAttribute('data-images-total', String(imgs.length));\n\
  document.documentElement.setAttribute('data-images-broken', String(broken.length));\n\
  document.documentElement.setAttribute('data-images-broken-src', broken.map(function (i) { return i.getAttribute('src'); }).join(' '));\n\
});";

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #bbb;padding:0.25em 0.6em;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}img{max-width:100%;height:auto;border:1px solid #ddd}\
figcaption{font-size:0.9em;color:#444}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:0.5em 0.8em}\
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:2em}";

/// A complete HTML document with `title`, inline CSS, `body` and the image-check script.
pub fn document(title: &str, body: &Body) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n{}<script>\n{IMAGE_CHECK_SCRIPT}\n</script>\n</body>\n</html>\n",
        escape(title),
        escape(title),
        body.html()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let mut t = Table::new(&["n<", "acc"]);
        t.push(vec!["<script>".into(), "0.5".into()]);
        let h = t.to_html();
        assert!(h.contains("<th>n&lt;</th>") && h.contains("<td>&lt;script&gt;</td>") && !h.contains("<script>"));
        let mut b = Body::default();
        b.para("x < y & z").figure("img/a\".png", "img/a.svg", "alt'", "cap<");
        let doc = document("T & U", &b);
        assert!(doc.contains("<p>x &lt; y &amp; z</p>"));
        assert!(doc.contains("src=\"img/a&quot;.png\"") && doc.contains("alt=\"alt&#39;\"") && doc.contains("cap&lt;"));
        assert!(doc.contains("<title>T &amp; U</title>") && doc.contains("data-images-broken"));
    }
}
