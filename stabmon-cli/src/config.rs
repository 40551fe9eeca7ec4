//! `stabmon record --config FILE`: every `record` flag in a TOML file, so that a service line stays short. A flag
//! given on the command line (or through its environment variable) overrides the file.

use std::path::Path;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::{RecordArgs, UsageError};

/// The keys a config file may hold: the `record` flags, with `_` for `-`.
pub const KEYS: &[&str] = &[
    "data",
    "interval",
    "top",
    "cpu_floor",
    "duration",
    "no_cmdline",
    "cmdline_max",
    "sampler",
    "targets",
    "net",
    "probe_interval",
    "probe_timeout",
    "sync",
    "rotate",
    "retain",
    "max_disk",
];

/// Shown in `record --help`.
pub const CONFIG_HELP: &str = "Config file (--config FILE): TOML with any of the record flags as keys, `_` for \
    `-`: data = \"/var/lib/stabmon\", interval = \"1s\", top = 10, cpu_floor = 2.5, duration = \"1h\", \
    no_cmdline = true, cmdline_max = 256, sampler = \"auto\", targets = [\"gw=icmp://192.168.1.1\"], net = \
    \"auto\", probe_interval = \"5s\", probe_timeout = \"5s\", sync = \"1s\", rotate = \"1h\", retain = \"30d\", \
    max_disk = \"1GB\". A flag on the command line (or its environment variable) overrides the file; an unknown \
    key or a bad value is an error naming the file and the key.";

/// Reads `args.config` (when given) and applies every key whose flag was not given explicitly. `matches` are
/// the `record` subcommand's, to tell explicit flags from defaults.
pub fn apply(args: &mut RecordArgs, matches: &ArgMatches) -> Result<(), UsageError> {
    let Some(path) = args.config.clone() else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| UsageError(format!("config {}: cannot read it: {e}", path.display())))?;
    apply_text(args, &text, &path, &|id| explicit(matches, id))
}

/// True when the flag `id` (a field name) came from the command line or the environment.
fn explicit(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

fn apply_text(
    args: &mut RecordArgs,
    text: &str,
    path: &Path,
    explicit: &dyn Fn(&str) -> bool,
) -> Result<(), UsageError> {
    let shown = path.display();
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.message().replace(['\n', '\r'], " ");
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        match line {
            Some(l) => UsageError(format!("config {shown}: line {l}: {msg}")),
            None => UsageError(format!("config {shown}: {msg}")),
        }
    })?;
    for (key, value) in &table {
        let bad = |why: String| UsageError(format!("config {shown}: key `{key}`: {why}"));
        if !KEYS.contains(&key.as_str()) {
            return Err(UsageError(format!(
                "config {shown}: unknown key `{key}` (allowed: {})",
                KEYS.join(", ")
            )));
        }
        // Checked even when the command line overrides it: a bad file is bad.
        let text_of = |v: &toml::Value| -> Result<String, UsageError> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                other => Err(bad(format!(
                    "expected a string or a number, found {}",
                    other.type_str()
                ))),
            }
        };
        let skip = explicit(key);
        match key.as_str() {
            "data" => {
                let s = text_of(value)?;
                if !skip {
                    args.data = Some(s.into());
                }
            }
            "interval" => {
                let d = crate::parse_interval(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.interval = d;
                }
            }
            "top" => {
                let n = crate::parse_top(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.top = n;
                }
            }
            "cpu_floor" => {
                // A percentage: the one key that takes a fraction.
                let text = match value {
                    toml::Value::Float(f) => f.to_string(),
                    other => text_of(other)?,
                };
                let v = crate::parse_cpu_floor(&text).map_err(bad)?;
                if !skip {
                    args.cpu_floor = v;
                }
            }
            "duration" => {
                let d = crate::parse_run_duration(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.duration = Some(d);
                }
            }
            "no_cmdline" => {
                let b = value
                    .as_bool()
                    .ok_or_else(|| bad("expected true or false".to_owned()))?;
                if !skip {
                    args.no_cmdline = b;
                }
            }
            "cmdline_max" => {
                let n = crate::parse_cmdline_max(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.cmdline_max = n;
                }
            }
            "sampler" => {
                let s = text_of(value)?;
                let v = <crate::SamplerArg as clap::ValueEnum>::from_str(&s, false)
                    .map_err(|_| bad(format!("{s:?} is not one of auto, proc, sysinfo")))?;
                if !skip {
                    args.sampler = v;
                }
            }
            "net" => {
                let s = text_of(value)?;
                let v = <crate::NetPreset as clap::ValueEnum>::from_str(&s, false)
                    .map_err(|_| bad(format!("{s:?} is not a preset (allowed: auto)")))?;
                if !skip {
                    args.net = Some(v);
                }
            }
            "targets" => {
                let list = value.as_array().ok_or_else(|| {
                    bad(
                        "expected a list of NAME=URL strings, such as [\"gw=icmp://192.168.1.1\"]"
                            .to_owned(),
                    )
                })?;
                let mut targets = Vec::with_capacity(list.len());
                for v in list {
                    let s = v
                        .as_str()
                        .ok_or_else(|| bad("expected NAME=URL strings".to_owned()))?;
                    targets.push(crate::parse_target(s).map_err(|e| bad(format!("{s:?}: {e}")))?);
                }
                if !skip {
                    args.targets = targets;
                }
            }
            "probe_interval" => {
                let d = crate::parse_interval(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.probe_interval = Some(d);
                }
            }
            "probe_timeout" => {
                let d = crate::parse_probe_timeout(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.probe_timeout = d;
                }
            }
            "sync" => {
                let d = crate::parse_sync(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.sync = d;
                }
            }
            "rotate" => {
                let d = crate::parse_rotate(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.rotate = d;
                }
            }
            "retain" => {
                let r = crate::parse_retain(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.retain = r;
                }
            }
            "max_disk" => {
                let b = crate::parse_max_disk(&text_of(value)?).map_err(bad)?;
                if !skip {
                    args.max_disk = Some(b);
                }
            }
            _ => {}
        }
    }
    Ok(())
}
