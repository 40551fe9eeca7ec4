//! `stabmon record --config FILE`: every `record` flag in a TOML file, so that a service line stays short. A flag
//! given on the command line (or through its environment variable) overrides the file.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::{NetPreset, RecordArgs, SamplerArg, UsageError};

/// Shown in `record --help`.
pub const CONFIG_HELP: &str = "Config file (--config FILE): TOML with any of the record flags as keys, `_` for \
    `-`: data = \"/var/lib/stabmon\", interval = \"1s\", top = 10, cpu_floor = 2.5, duration = \"1h\", \
    no_cmdline = true, cmdline_max = 256, sampler = \"auto\", targets = [\"gw=icmp://192.168.1.1\"], net = \
    \"auto\", probe_interval = \"5s\", probe_timeout = \"5s\", sync = \"1s\", rotate = \"1h\", retain = \"30d\", \
    max_disk = \"1GB\", mail_to = [\"ops@example.com\"], mail_from, smtp = \"smtp://user@relay\", smtp_ca, \
    digest_at = \"07:30\", incident_mail = true, incident_mail_every = \"15m\", webhook = \"https://...\", ship = \"s3://fleet/stabmon\". A flag on the command line (or its environment variable) overrides the file; an unknown \
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

/// A config file: every `record` flag, `_` for `-`, each read by the flag's own parser. A new flag is a field here
/// and a line in [`apply_text`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data: Option<PathBuf>,
    interval: Option<Scalar>,
    top: Option<Scalar>,
    cpu_floor: Option<Scalar>,
    duration: Option<Scalar>,
    no_cmdline: Option<bool>,
    cmdline_max: Option<Scalar>,
    sampler: Option<SamplerArg>,
    targets: Option<Vec<String>>,
    net: Option<NetPreset>,
    probe_interval: Option<Scalar>,
    probe_timeout: Option<Scalar>,
    sync: Option<Scalar>,
    rotate: Option<Scalar>,
    retain: Option<Scalar>,
    max_disk: Option<Scalar>,
    mail_to: Option<Vec<String>>,
    mail_from: Option<String>,
    smtp: Option<String>,
    smtp_ca: Option<PathBuf>,
    digest_at: Option<String>,
    incident_mail: Option<bool>,
    incident_mail_every: Option<Scalar>,
    webhook: Option<String>,
    ship: Option<Scalar>,
}

/// A value written as a string or a number, as it would be typed after its flag.
#[derive(Debug)]
struct Scalar {
    text: String,
    /// Written with a fraction (only `cpu_floor` takes one).
    fraction: bool,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar {
                    text: v.to_owned(),
                    fraction: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar {
                    text: format!("{v:?}"),
                    fraction: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn apply_text(
    args: &mut RecordArgs,
    text: &str,
    path: &Path,
    explicit: &dyn Fn(&str) -> bool,
) -> Result<(), UsageError> {
    let shown = path.display();
    let file: ConfigFile = toml::from_str(text).map_err(|mut e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let msg = e.message().replace("unknown field", "unknown key");
        let msg = msg.replace(['\n', '\r'], " ");
        // Without the input, toml's text ends with the key the error is in: "in `interval`".
        e.set_input(None);
        let key = e
            .to_string()
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("in "))
            .map(str::to_owned);
        match (key, line) {
            (Some(k), _) => UsageError(format!("config {shown}: key {k}: {msg}")),
            (None, Some(l)) => UsageError(format!("config {shown}: line {l}: {msg}")),
            (None, None) => UsageError(format!("config {shown}: {msg}")),
        }
    })?;
    // Every value is checked, even where the command line overrides it: a bad file is bad.
    let bad = |key: &str, why: String| bad_key(&shown, key, why);
    // `set!(key = v)` takes a value as it is; `set!(key: parse)` reads it with the flag's parser (`?parse` for a
    // flag without a default). Either is skipped where the flag was given explicitly.
    macro_rules! set {
        ($key:ident = $v:expr) => {
            if let Some(v) = $v
                && !explicit(stringify!($key))
            {
                args.$key = v;
            }
        };
        ($key:ident: $parse:path) => {
            set!($key = scalar(&shown, stringify!($key), file.$key, $parse)?)
        };
        ($key:ident: ?$parse:path) => {
            set!($key = scalar(&shown, stringify!($key), file.$key, $parse)?.map(Some))
        };
    }
    let targets = file
        .targets
        .map(|list| {
            list.iter()
                .map(|s| crate::parse_target(s).map_err(|e| bad("targets", format!("{s:?}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    set!(data = file.data.map(Some));
    set!(interval: crate::parse_interval);
    set!(top: crate::parse_top);
    set!(cpu_floor: crate::parse_cpu_floor);
    set!(duration: ?crate::parse_run_duration);
    set!(no_cmdline = file.no_cmdline);
    set!(cmdline_max: crate::parse_cmdline_max);
    set!(sampler = file.sampler);
    set!(targets = targets);
    set!(net = file.net.map(Some));
    set!(probe_interval: ?crate::parse_interval);
    set!(probe_timeout: crate::parse_probe_timeout);
    set!(sync: crate::parse_sync);
    set!(rotate: crate::parse_rotate);
    set!(retain: crate::parse_retain);
    set!(max_disk: ?crate::parse_max_disk);
    crate::notify::apply_config(
        &mut args.notify,
        crate::notify::ConfigKeys {
            mail_to: file.mail_to,
            mail_from: file.mail_from,
            smtp: file.smtp,
            smtp_ca: file.smtp_ca,
            digest_at: file
                .digest_at
                .map(|v| crate::notify::parse_digest_at(&v).map_err(|e| bad("digest_at", e)))
                .transpose()?,
            incident_mail: file.incident_mail,
            incident_mail_every: scalar(
                &shown,
                "incident_mail_every",
                file.incident_mail_every,
                crate::parse_run_duration,
            )?,
            webhook: file.webhook,
        },
        explicit,
    );
    set!(ship: ?crate::ship::parse_ship_url);
    Ok(())
}

fn bad_key(shown: &dyn std::fmt::Display, key: &str, why: String) -> UsageError {
    UsageError(format!("config {shown}: key `{key}`: {why}"))
}

/// The value of `key` read by its flag's parser; a fraction only for `cpu_floor`.
fn scalar<T>(
    shown: &dyn std::fmt::Display,
    key: &str,
    v: Option<Scalar>,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, UsageError> {
    v.map(|v| {
        if v.fraction && key != "cpu_floor" {
            let why = format!("expected a whole number or a string, found {}", v.text);
            return Err(bad_key(shown, key, why));
        }
        parse(&v.text).map_err(|e| bad_key(shown, key, e))
    })
    .transpose()
}
