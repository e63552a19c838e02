//! The configuration as people read it, made from the variable tables: the environment part
//! of `sesame --help`, the README's tables, and `sesame config check`'s effective values.

use super::var::{Effective, Origin, Spec};
use super::AREAS;

/// The `Environment:` section of `--help`.
pub fn help() -> String {
    let mut out = String::from("Environment (see README.md, \"Configuration\"):\n");
    for area in AREAS {
        out.push_str(&format!("\n  {}:\n", area.title));
        for v in area.variables {
            let default = match v.default_text() {
                "" => "none",
                d => d,
            };
            out.push_str(&format!("    {:<42} {} (default: {default})\n", v.name, v.help));
        }
    }
    out
}

/// The README's configuration tables, one per area (checked against README.md by a test).
pub fn markdown() -> String {
    let mut out = String::new();
    for area in AREAS {
        out.push_str(&format!(
            "### {}\n\n| variable | default | meaning |\n|---|---|---|\n",
            area.title
        ));
        for v in area.variables {
            out.push_str(&markdown_row(v));
        }
        out.push('\n');
    }
    out
}

fn markdown_row(v: &Spec) -> String {
    let default = match v.default_text() {
        "" => "—".to_string(),
        d => d.replace('|', "\\|"),
    };
    format!("| `{}` | {default} | {} |\n", v.name, v.help.replace('|', "\\|"))
}

/// `sesame config check`'s listing: every variable read, grouped by area, secrets redacted.
pub fn effective(values: &[Effective]) -> String {
    let mut out = String::new();
    let mut area = "";
    for e in values {
        if e.area != area {
            area = e.area;
            out.push_str(&format!("# {area}\n"));
        }
        let origin = match e.origin {
            Origin::Set => "",
            Origin::Default => "  # default",
        };
        let value = if e.value.is_empty() {
            "(unset)"
        } else {
            e.value.as_str()
        };
        out.push_str(&format!("{}={value}{origin}\n", e.name));
    }
    out
}
