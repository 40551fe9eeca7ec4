//! Golden answers: what users are told (`stabmon incidents --json`, the report's spike labels) compared with files
//! committed in the repository, so that a change in how data is read that moves an incident, a culprit or a label
//! is caught. The CLI's tests pin a synthetic day (`stabmon-cli/tests/golden/`), the `answers` bench the synthetic
//! week it times (`benches/golden/`).
//!
//! With `STABMON_BLESS=1` in the environment ([`bless_requested`]), the callers write the files from what they
//! got instead: review the diff before committing it.

use std::path::Path;

/// The spike labels of a report page, one line each: chart, incident index, the label's text and its hover title.
pub fn spike_labels(html: &str) -> String {
    let mut out = String::new();
    for (chart, svg) in html.split("<svg class=\"chart\"").skip(1).enumerate() {
        for g in svg.split("<g class=\"inc ").skip(1) {
            let i = g
                .split("data-i=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?");
            let between = |open: &str, close: &str| {
                g.split(open)
                    .nth(1)
                    .and_then(|r| r.split_once('>'))
                    .and_then(|(_, r)| r.split(close).next())
                    .unwrap_or_default()
                    .to_string()
            };
            let text = format!(
                "{} | {}",
                between("<text ", "</text>"),
                between("<title", "</title>")
            );
            out.push_str(&format!("chart {chart} incident {i}: {}\n", text.trim()));
        }
    }
    out
}

/// `stabmon incidents --json` output in the form the golden files hold: the JSON pretty-printed, with a final
/// newline; an error names what is not JSON.
pub fn incidents_json(stdout: &[u8]) -> Result<String, String> {
    let json: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("incidents --json printed no JSON: {e}"))?;
    serde_json::to_string_pretty(&json)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// Whether `STABMON_BLESS` is set: golden files are then written, not compared.
pub fn bless_requested() -> bool {
    std::env::var_os("STABMON_BLESS").is_some()
}

/// Compares `got` with the golden file at `path`: an error gives the first lines that differ. With `bless`,
/// writes `got` to `path` instead.
pub fn compare(path: &Path, got: &str, bless: bool) -> Result<(), String> {
    if bless {
        return std::fs::write(path, got).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (STABMON_BLESS=1 writes it)", path.display()))?;
    if want == got {
        return Ok(());
    }
    let (w, g) = (want.lines().count(), got.lines().count());
    let mut diff: Vec<String> = want
        .lines()
        .zip(got.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(5)
        .map(|(i, (a, b))| format!("line {}:\n  want {a}\n  got  {b}", i + 1))
        .collect();
    if diff.is_empty() {
        diff.push(format!("the first {} lines are the same", w.min(g)));
    }
    Err(format!(
        "{} differs ({w} lines wanted, {g} got):\n{}",
        path.display(),
        diff.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_are_read_from_each_chart_in_order() {
        let html = concat!(
            "<svg class=\"chart\"><g class=\"inc cpu\" data-i=\"0\"><title>CPU 90%</title>",
            "<text x=\"1\">xmrig</text></g></svg>",
            "<svg class=\"chart\"><g class=\"inc mem\" data-i=\"3\"><text y=\"2\">java</text>",
            "<title>leak</title></g></svg>"
        );
        assert_eq!(
            spike_labels(html),
            "chart 0 incident 0: xmrig | CPU 90%\nchart 1 incident 3: java | leak\n"
        );
    }

    #[test]
    fn a_difference_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.txt");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert!(compare(&path, "a\nb\nc\n", false).is_ok());
        let e = compare(&path, "a\nB\nc\n", false).unwrap_err();
        assert!(e.contains("line 2:\n  want b\n  got  B"), "{e}");
        let e = compare(&path, "a\nb\n", false).unwrap_err();
        assert!(e.contains("3 lines wanted, 2 got"), "{e}");
        assert!(compare(&dir.path().join("none"), "a", false).is_err());
        compare(&path, "x\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
    }

    #[test]
    fn incidents_are_pretty_printed_with_a_final_newline() {
        assert_eq!(
            incidents_json(br#"{"a":[1]}"#).unwrap(),
            "{\n  \"a\": [\n    1\n  ]\n}\n"
        );
        assert!(incidents_json(b"no").is_err());
    }
}
