//! Plain-text tables for the terminal: columns sized to their content in display columns (CJK and emoji take two),
//! shrunk to the terminal's width (long text cut with `…`), colour only on a terminal and never with `NO_COLOR`.

use std::io::IsTerminal;

use stabmon_core::Timestamp;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Where a column's text sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column: its header, alignment, and whether it may be cut to fit (the text columns).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub align: Align,
    /// May be cut to fit, down to `min` characters.
    pub shrink: bool,
    pub min: usize,
}

impl Column {
    pub const fn left(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Left,
            shrink: false,
            min: 0,
        }
    }

    pub const fn right(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Right,
            shrink: false,
            min: 0,
        }
    }

    /// A left-aligned column that is cut with `…` (down to 8 characters) when the table is too wide.
    pub const fn text(header: &'static str) -> Self {
        Column::text_min(header, 8)
    }

    /// A left-aligned column that is cut with `…`, down to `min` characters, when the table is too wide.
    pub const fn text_min(header: &'static str, min: usize) -> Self {
        Column {
            header,
            align: Align::Left,
            shrink: true,
            min,
        }
    }
}

/// How to render: the width to fit in (none: as wide as the content) and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub width: Option<usize>,
    pub colour: bool,
}

impl Style {
    /// For stdout: `$COLUMNS` when set, else the terminal's width when stdout is a terminal, else no limit; colour
    /// when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        let tty = std::io::stdout().is_terminal();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
            .or_else(|| {
                tty.then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
                    .flatten()
            });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            width,
            colour: tty && !no_color,
        }
    }

    /// Bold text when colouring.
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    /// Red text when colouring.
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    /// Yellow text when colouring.
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }

    /// Dim text when colouring.
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// Colours a cell's text (such as [`Style::red`]).
pub type Paint = fn(&Style, &str) -> String;

/// A cell: its text and an optional colour applied after sizing.
pub struct Cell {
    pub text: String,
    pub paint: Option<Paint>,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell {
            text: printable(text),
            paint: None,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::from(text.to_owned())
    }
}

/// A cell painted with `paint` (such as [`Style::red`]) when colouring.
pub fn painted(text: String, paint: Paint) -> Cell {
    Cell {
        text: printable(text),
        paint: Some(paint),
    }
}

/// `text` with every control character (escape, bell, carriage return, newline...) replaced by U+FFFD: a cell
/// holds names and command lines that any process chose, which must not move the cursor or retitle the terminal.
pub fn printable(text: String) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect()
    } else {
        text
    }
}

/// The columns `s` takes on a terminal: two for a CJK character or an emoji, none for a combining mark.
fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `width` terminal columns, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Renders the table: a header line, then one line per row, columns two spaces apart; when wider than the style's
/// width, the shrinkable columns give up width (the widest first, none below its minimum), and when that is not
/// enough the last columns are left out.
pub fn render(columns: &[Column], rows: &[Vec<Cell>], style: &Style) -> String {
    const GAP: usize = 2;
    let mut widths: Vec<usize> = columns.iter().map(|c| display_width(c.header)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(&cell.text));
        }
    }
    let mut shown = vec![true; columns.len()];
    if let Some(limit) = style.width {
        let natural = widths.clone();
        let total = |w: &[usize], shown: &[bool]| {
            let visible: Vec<usize> = w
                .iter()
                .zip(shown)
                .filter(|(_, s)| **s)
                .map(|(w, _)| *w)
                .collect();
            visible.iter().sum::<usize>() + GAP * visible.len().saturating_sub(1)
        };
        loop {
            // The widest shrinkable column above the minimum gives up one character at a time.
            widths.clone_from(&natural);
            while total(&widths, &shown) > limit {
                let pick = columns
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| shown[*i] && c.shrink && widths[*i] > c.min)
                    .max_by_key(|(i, _)| widths[*i])
                    .map(|(i, _)| i);
                match pick {
                    Some(i) => widths[i] -= 1,
                    None => break,
                }
            }
            if total(&widths, &shown) <= limit {
                break;
            }
            // Still too wide: the last column shown goes (never the first), and the others are sized again.
            match shown.iter().rposition(|s| *s) {
                Some(i) if i > 0 => shown[i] = false,
                _ => break,
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<(String, Option<Paint>)>, out: &mut String| {
        let last = shown.iter().rposition(|s| *s).unwrap_or(0);
        let mut text = String::new();
        for (i, ((s, paint), col)) in cells.into_iter().zip(columns).enumerate() {
            if !shown[i] {
                continue;
            }
            let s = truncate(&s, widths[i]);
            let pad = widths[i] - display_width(&s);
            let shown = match paint {
                Some(p) => p(style, &s),
                None => s,
            };
            match col.align {
                Align::Right => {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(&shown);
                }
                Align::Left if i == last => text.push_str(&shown),
                Align::Left => {
                    text.push_str(&shown);
                    text.push_str(&" ".repeat(pad));
                }
            }
            if i != last {
                text.push_str(&" ".repeat(GAP));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(
        columns
            .iter()
            .map(|c| (c.header.to_owned(), Some(Style::bold as Paint)))
            .collect(),
        &mut out,
    );
    for row in rows {
        line(
            row.iter().map(|c| (c.text.clone(), c.paint)).collect(),
            &mut out,
        );
    }
    out
}

/// A timestamp in this machine's time zone, to the second: `2026-11-25 03:12:00`.
pub fn local_time(ts: Timestamp) -> String {
    jiff::Timestamp::from_microsecond(ts.as_unix_micros())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string())
}

/// The name of this machine's time zone (an IANA name, else its offset now), for table headers.
pub fn local_zone() -> String {
    let tz = jiff::tz::TimeZone::system();
    match tz.iana_name() {
        Some(n) => n.to_owned(),
        None => jiff::Zoned::now().strftime("UTC%:z").to_string(),
    }
}

/// Prints `doc` as pretty JSON and a newline on `out`: what every `--json` answer ends with.
pub fn print_json(
    out: &mut impl std::io::Write,
    doc: &serde_json::Value,
) -> anyhow::Result<std::process::ExitCode> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)?;
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_to_width_with_an_ellipsis() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("äöü", 2), "ä…");
        // Wide characters take two columns: never cut one in half.
        assert_eq!(truncate("数据库服务", 5), "数据…");
        assert_eq!(truncate("数据库服务", 6), "数据…");
    }

    /// The display columns of a line: what a terminal shows, not how many chars it holds.
    fn columns_of(line: &str) -> usize {
        UnicodeWidthStr::width(line)
    }

    #[test]
    fn wide_names_keep_the_columns_aligned() {
        let cols = [
            Column::text("NAME"),
            Column::right("CPU"),
            Column::text("COMMAND"),
        ];
        let rows: Vec<Vec<Cell>> = [
            ("数据库", "97%", "/opt/db --x"),
            ("🚀worker", "3%", "w"),
            ("nginx", "12%", "nginx: master"),
        ]
        .iter()
        .map(|(n, c, cmd)| vec![Cell::from(*n), Cell::from(*c), Cell::from(*cmd)])
        .collect();
        for width in [None, Some(24)] {
            let out = render(
                &cols,
                &rows,
                &Style {
                    width,
                    colour: false,
                },
            );
            let lines: Vec<&str> = out.lines().collect();
            // CPU is right-aligned: every line's CPU ends at the same display column.
            let cpu_end = |l: &str| {
                let at = l
                    .find('%')
                    .map_or(l.find("CPU").map(|i| i + 3), |i| Some(i + 1));
                at.map(|i| columns_of(&l[..i]))
            };
            let ends: Vec<Option<usize>> = lines.iter().map(|l| cpu_end(l)).collect();
            assert!(
                ends.iter().all(|e| e.is_some() && *e == ends[0]),
                "{width:?}:\n{out}"
            );
            // The command starts at the same display column too.
            let starts: Vec<usize> = lines[1..]
                .iter()
                .zip(["/opt", "w", "nginx:"])
                .map(|(l, cmd)| columns_of(&l[..l.rfind(cmd).unwrap_or(0)]))
                .collect();
            assert!(starts.iter().all(|s| *s == starts[0]), "{width:?}:\n{out}");
            if let Some(w) = width {
                assert!(lines.iter().all(|l| columns_of(l) <= w), "{out}");
            }
        }
    }

    #[test]
    fn tables_fit_the_width_by_cutting_text_columns() {
        let cols = [Column::right("N"), Column::text("COMMAND")];
        let rows = vec![vec![
            Cell::from("1"),
            Cell::from("/usr/bin/python3 -m worker --queue=default --concurrency=8"),
        ]];
        let wide = render(
            &cols,
            &rows,
            &Style {
                width: None,
                colour: false,
            },
        );
        assert!(wide.contains("--concurrency=8"), "{wide}");
        let narrow = render(
            &cols,
            &rows,
            &Style {
                width: Some(30),
                colour: false,
            },
        );
        for line in narrow.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
        assert!(narrow.contains('…') && !narrow.contains('\x1b'), "{narrow}");
        let coloured = render(
            &cols,
            &rows,
            &Style {
                width: None,
                colour: true,
            },
        );
        assert!(coloured.starts_with("\x1b[1mN\x1b[0m"), "{coloured:?}");
    }
}
