//! The recorder's mail and webhook: a daily digest at a local time, and a mail per burst of incidents (at most one
//! per `--incident-mail-every`, later incidents batched into the next), optionally the same events as a JSON POST
//! with a Slack-compatible `text` field.
//!
//! A worker thread of its own does everything (looking for new incidents in the samples the recorder hands it,
//! reading an event's range back from the data directory, rendering, sending), so sampling never waits for it. What is due and not yet delivered is kept in
//! `notify-state.json` in the data directory: a failing relay or webhook is retried with a growing delay, its
//! failure is logged once (and its recovery once), nothing is dropped without a log line, and a restart resumes
//! where the last run stopped; a digest missed while the recorder was off is sent at the next start when it is
//! less than a day late.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use clap::Args;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use stabmon_core::analysis::{IncidentKind, SpanMemo, detect_incident_spans_in};
use stabmon_core::series::{SampleParts, SystemSeries};
use stabmon_core::{Sample, Timestamp};
use stabmon_report::ReportBuilder;
use stabmon_store::StoreReader;

use crate::UsageError;
use crate::mail::{Relay, build_message, default_from, parse_address};

/// How often the worker looks at the recent data; each look analyses [`LOOK_BACK`] of samples.
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// How far back the worker looks for new incidents: enough for detection's baseline before a surge.
const LOOK_BACK: Duration = Duration::from_secs(20 * 60);
/// The data shown before the first incident of a burst.
const LEAD: Duration = Duration::from_secs(15 * 60);
/// A digest later than this is not sent any more.
const DIGEST_LATE_MAX: Duration = Duration::from_secs(24 * 3600);
/// An undelivered event older than this is given up, with a log line.
const GIVE_UP_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Retry delays: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// The state file in the data directory.
pub const STATE_FILE: &str = "notify-state.json";

/// The recorder's mail and webhook flags (config keys of the same names, `_` for `-`).
#[derive(Debug, Clone, Default, Args)]
pub struct NotifyArgs {
    /// Mail the digest and incident mail to this address (repeatable); needs --smtp.
    #[arg(long = "mail-to", value_name = "ADDR")]
    pub mail_to: Vec<String>,

    /// The sender of the recorder's mail. [default: the user stabmon at the host name]
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,

    /// The SMTP relay of the recorder's mail, as for `stabmon mail` (smtp:// with STARTTLS or smtps://; the
    /// password from the URL or $STABMON_SMTP_PASSWORD).
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,

    /// A PEM file of certificates to trust for the relay, as for `stabmon mail`.
    #[arg(long, value_name = "FILE")]
    pub smtp_ca: Option<PathBuf>,

    /// Send a digest of the last 24 hours every day at this local time (HH:MM); one missed while the recorder was
    /// off is sent at its next start if less than a day late.
    #[arg(long, value_name = "HH:MM", value_parser = parse_digest_at)]
    pub digest_at: Option<DigestAt>,

    /// Mail each burst of incidents as it is detected (within a minute): one mail per burst, at most one per
    /// --incident-mail-every, incidents found meanwhile batched into the next.
    #[arg(long)]
    pub incident_mail: bool,

    /// The least time between two incident mails (or webhook posts).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = crate::parse_run_duration)]
    pub incident_mail_every: Duration,

    /// Also POST the digest and incidents to this http(s) URL as JSON with a Slack-compatible `text` field (and
    /// `host`, `kind`, `subject`), with the same limits.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
}

/// The mail and webhook keys of a `record --config` file.
pub struct ConfigKeys {
    pub mail_to: Option<Vec<String>>,
    pub mail_from: Option<String>,
    pub smtp: Option<String>,
    pub smtp_ca: Option<PathBuf>,
    pub digest_at: Option<DigestAt>,
    pub incident_mail: Option<bool>,
    pub incident_mail_every: Option<Duration>,
    pub webhook: Option<String>,
}

/// Applies the config file's keys whose flags were not given explicitly.
pub fn apply_config(args: &mut NotifyArgs, keys: ConfigKeys, explicit: &dyn Fn(&str) -> bool) {
    macro_rules! set {
        ($key:ident) => {
            if let Some(v) = keys.$key
                && !explicit(stringify!($key))
            {
                args.$key = v.into();
            }
        };
    }
    set!(mail_to);
    set!(mail_from);
    set!(smtp);
    set!(smtp_ca);
    set!(digest_at);
    set!(incident_mail);
    set!(incident_mail_every);
    set!(webhook);
}

/// A local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestAt {
    pub hour: i8,
    pub minute: i8,
}

pub fn parse_digest_at(s: &str) -> Result<DigestAt, String> {
    let bad = || format!("{s:?} is not a time of day; use HH:MM such as 07:30");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let hour: i8 = h
        .parse()
        .ok()
        .filter(|h| (0..24).contains(h))
        .ok_or_else(bad)?;
    let minute: i8 = m
        .parse()
        .ok()
        .filter(|m| (0..60).contains(m))
        .ok_or_else(bad)?;
    Ok(DigestAt { hour, minute })
}

/// Where events go.
pub struct Channels {
    /// The relay, the sender (default: stabmon at the recorded host) and the recipients.
    mail: Option<(Relay, Option<Mailbox>, Vec<Mailbox>)>,
    webhook: Option<String>,
}

/// What the worker needs, checked.
pub struct NotifyConfig {
    channels: Channels,
    digest_at: Option<DigestAt>,
    incident_mail: bool,
    incident_every: Duration,
    zone: jiff::tz::TimeZone,
}

impl NotifyConfig {
    /// Checks the flags: `None` when nothing is asked for. Bad input is a [`UsageError`] (exit 2).
    pub fn from_args(a: &NotifyArgs) -> Result<Option<NotifyConfig>, UsageError> {
        let wanted = a.digest_at.is_some() || a.incident_mail;
        let has_channel = !a.mail_to.is_empty() || a.webhook.is_some();
        if !wanted {
            if has_channel || a.smtp.is_some() {
                return Err(UsageError(
                    "--mail-to, --smtp and --webhook need --digest-at or --incident-mail (what to send)".into(),
                ));
            }
            return Ok(None);
        }
        if !has_channel {
            return Err(UsageError(
                "--digest-at and --incident-mail need --mail-to with --smtp, or --webhook (where to send)".into(),
            ));
        }
        let mail = if a.mail_to.is_empty() {
            None
        } else {
            let url = a
                .smtp
                .as_deref()
                .ok_or_else(|| UsageError("--mail-to needs --smtp URL".into()))?;
            let relay = Relay::parse(
                url,
                std::env::var("STABMON_SMTP_PASSWORD").ok(),
                a.smtp_ca.as_deref(),
            )
            .map_err(UsageError)?;
            let to = a
                .mail_to
                .iter()
                .map(|t| parse_address("--mail-to", t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(UsageError)?;
            let from = a
                .mail_from
                .as_deref()
                .map(|f| parse_address("--mail-from", f))
                .transpose()
                .map_err(UsageError)?;
            Some((relay, from, to))
        };
        if let Some(url) = &a.webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(UsageError(format!(
                "invalid --webhook {url:?}: use an http:// or https:// URL"
            )));
        }
        Ok(Some(NotifyConfig {
            channels: Channels {
                mail,
                webhook: a.webhook.clone(),
            },
            digest_at: a.digest_at,
            incident_mail: a.incident_mail,
            incident_every: a.incident_mail_every,
            zone: jiff::tz::TimeZone::system(),
        }))
    }

    /// What the recorder's start-up line says.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if let Some(d) = self.digest_at {
            what.push(format!("a digest daily at {:02}:{:02}", d.hour, d.minute));
        }
        if self.incident_mail {
            what.push(format!(
                "incidents at most every {}",
                stabmon_core::units::format_duration(self.incident_every)
            ));
        }
        let mut to = Vec::new();
        if let Some((relay, _, rcpt)) = &self.channels.mail {
            let names: Vec<String> = rcpt.iter().map(|m| m.email.to_string()).collect();
            to.push(format!(
                "mail to {} through {}",
                names.join(", "),
                relay.shown
            ));
        }
        if let Some(w) = &self.channels.webhook {
            to.push(format!("webhook {}", shown_webhook(w)));
        }
        format!("notifying {}: {}", what.join(" and "), to.join(" and "))
    }
}

/// A webhook URL without its path and query, which often hold a secret token (Slack's do).
fn shown_webhook(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            format!("{scheme}://{host}/...")
        }
        None => url.to_owned(),
    }
}

/// One event to deliver: a digest or a burst of incidents, over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub from_us: i64,
    pub to_us: i64,
    /// When it became due.
    pub due_us: i64,
    pub mail_done: bool,
    pub webhook_done: bool,
    pub attempts: u32,
    pub next_try_us: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Digest,
    Incidents,
}

/// What survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// The latest digest instant already handled (sent or queued).
    pub last_digest_us: Option<i64>,
    /// When the last incident event was queued.
    pub last_incident_event_us: Option<i64>,
    /// Incidents already queued (kind and start, µs), within the look-back.
    pub seen: Vec<(String, i64)>,
    /// Start of the earliest incident found and not yet queued (waiting for the rate limit).
    pub waiting_from_us: Option<i64>,
    /// Events not yet delivered everywhere.
    pub pending: Vec<Event>,
}

impl State {
    fn load(path: &Path) -> State {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log(&format!(
                    "{} is damaged ({e}): starting afresh (undelivered mail in it is lost)",
                    path.display()
                ));
                State::default()
            }),
            Err(_) => State::default(),
        }
    }

    fn save(&self, path: &Path) {
        let tmp = path.with_extension("json.tmp");
        let result = serde_json::to_vec_pretty(self)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            log(&format!("cannot save {}: {e}", path.display()));
        }
    }
}

fn log(msg: &str) {
    eprintln!("stabmon: notify: {msg}");
}

fn us(t: Timestamp) -> i64 {
    t.as_unix_micros()
}

fn dur_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The latest digest instant at or before `now_us`, at `at` in `zone`.
pub fn last_digest_instant(now_us: i64, at: DigestAt, zone: &jiff::tz::TimeZone) -> Option<i64> {
    let now = jiff::Timestamp::from_microsecond(now_us)
        .ok()?
        .to_zoned(zone.clone());
    let today = now
        .date()
        .at(at.hour, at.minute, 0, 0)
        .to_zoned(zone.clone())
        .ok()?;
    let t = if today.timestamp() > now.timestamp() {
        now.date()
            .yesterday()
            .ok()?
            .at(at.hour, at.minute, 0, 0)
            .to_zoned(zone.clone())
            .ok()?
    } else {
        today
    };
    Some(t.timestamp().as_microsecond())
}

/// Delivers an event's mail or webhook post.
pub trait Deliver {
    /// Makes and sends the mail of `event`; `Err` is one line.
    fn mail(&mut self, event: &Event) -> Result<(), String>;
    /// Posts `event` to the webhook.
    fn webhook(&mut self, event: &Event) -> Result<(), String>;
    /// Called after each delivery attempt of an event, its mail and its webhook both tried.
    fn attempted(&mut self) {}
}

/// The worker's look-back: each sample's system values as columns (what detection scans), and the sample itself
/// packed (postcard), unpacked only for the windows where detection reads whole samples: a fraction of the
/// samples' memory, and a look that reads the columns.
///
/// The packed samples lie one after another in one buffer, which the allocator maps on its own at this size (over
/// the recorder's 64 KiB threshold, see [`crate::malloc`]), rather than as a small block each among everything else
/// in the heap.
#[derive(Default)]
struct Recent {
    series: SystemSeries,
    /// The samples of `series`, packed one after another from `start`.
    bytes: Vec<u8>,
    start: usize,
    /// Where each sample of `series` ends in `bytes`, in the same order.
    ends: VecDeque<usize>,
}

impl Recent {
    /// Appends `s`, unless it is not later than the last sample kept.
    fn push(&mut self, s: &Sample) {
        if self.series.ts.last().is_some_and(|t| *t >= s.ts) {
            return;
        }
        // Packing a sample cannot fail (postcard into memory); one that did would only be missing from the look.
        let Ok(packed) = postcard::to_allocvec(s) else {
            return;
        };
        if self.series.is_empty() {
            self.series = SystemSeries::new(s.host.clone());
        }
        self.series.push(s);
        self.bytes.extend_from_slice(&packed);
        self.ends.push_back(self.bytes.len());
    }

    /// Drops the samples older than `span` before the last one.
    fn keep_last(&mut self, span: Duration) {
        let Some(&last) = self.series.ts.last() else {
            return;
        };
        let horizon = last.saturating_sub(span);
        let lo = self.series.index_at(horizon);
        if lo > 0 {
            self.series = self
                .series
                .slice(lo, self.series.len(), Some(horizon), None);
            self.start = self.ends[lo - 1];
            self.ends.drain(..lo);
            // The bytes of the samples dropped go once they are half the buffer (a minute's worth of samples is
            // cut at a time: the copy is of the look-back's bytes, once in a while).
            if self.start > self.bytes.len() / 2 {
                self.bytes.drain(..self.start);
                for e in &mut self.ends {
                    *e -= self.start;
                }
                self.start = 0;
            }
        }
    }

    /// The packed bytes of sample `i`.
    fn packed(&self, i: usize) -> &[u8] {
        let from = match i.checked_sub(1) {
            Some(k) => self.ends[k],
            None => self.start,
        };
        &self.bytes[from..self.ends[i]]
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ends.len()
    }
}

impl stabmon_core::series::WindowSource for Recent {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        let lo = self.series.index_at(from);
        let hi = self.series.ts.partition_point(|t| *t <= to).max(lo);
        (lo..hi)
            .map(|i| {
                postcard::from_bytes(self.packed(i)).map_err(|e| stabmon_core::Error::Window {
                    from,
                    to,
                    source: Box::new(e),
                })
            })
            .collect()
    }
}

/// The worker's logic, driven by [`Worker::tick`] with the current time (a fake clock in tests).
pub struct Worker<D: Deliver> {
    pub state: State,
    state_path: PathBuf,
    data_dir: PathBuf,
    digest_at: Option<DigestAt>,
    incident_mail: bool,
    incident_every: Duration,
    zone: jiff::tz::TimeZone,
    has_mail: bool,
    has_webhook: bool,
    deliver: D,
    /// The samples of the last [`LOOK_BACK`], trimmed by [`trim_recent`]: the data directory's from before the
    /// recorder started (read once, see [`Worker::seed`]), then those the recorder pushed ([`Notifier::push`]).
    /// The look for new incidents reads them instead of the data directory.
    recent: Recent,
    /// The detection options of the data directory when [`recent`](Self::recent) was seeded; `None` until then and
    /// after a hole in the pushed samples, when the next look seeds it again.
    recent_opts: Option<stabmon_core::analysis::DetectOptions>,
    /// The runaway candidates the last look judged, by everything a judgement reads (see [`SpanMemo`]): a
    /// finished run whose baseline window the look still holds is the same judgement at the next look, read from
    /// samples that do not change once recorded; a run still growing at the end of the look-back, or one whose
    /// baseline the look-back's start has begun to cut, has another key and is judged again.
    memo: SpanMemo,
}

impl<D: Deliver> Worker<D> {
    fn new(cfg: &NotifyConfig, data_dir: &Path, deliver: D, now_us: i64) -> Worker<D> {
        let state_path = data_dir.join(STATE_FILE);
        let mut state = State::load(&state_path);
        // First run: the digest schedule starts now, not with one for yesterday.
        if state.last_digest_us.is_none()
            && let Some(at) = cfg.digest_at
        {
            state.last_digest_us = last_digest_instant(now_us, at, &cfg.zone);
        }
        Worker {
            state,
            state_path,
            data_dir: data_dir.to_path_buf(),
            digest_at: cfg.digest_at,
            incident_mail: cfg.incident_mail,
            incident_every: cfg.incident_every,
            zone: cfg.zone.clone(),
            has_mail: cfg.channels.mail.is_some(),
            has_webhook: cfg.channels.webhook.is_some(),
            deliver,
            recent: Recent::default(),
            recent_opts: None,
            memo: SpanMemo::default(),
        }
    }

    /// Keeps a sample the recorder took, and at most a minute more than the last [`LOOK_BACK`] of them (cut
    /// once a minute, not at every sample: a cut copies the columns kept); one already kept is not kept twice.
    fn note(&mut self, s: &Sample) {
        let kept = &self.recent.series.ts;
        if kept.last().is_some_and(|t| *t >= s.ts) && kept.binary_search(&s.ts).is_err() {
            // The clock stepped back: the samples kept no longer lead up to this one. Start again from it (the
            // next look reads the data directory's look-back again).
            self.forget_recent();
        }
        self.recent.push(s);
        let kept = &self.recent.series.ts;
        if let (Some(first), Some(last)) = (kept.first(), kept.last())
            && *first < last.saturating_sub(LOOK_BACK + Duration::from_secs(60))
        {
            self.recent.keep_last(LOOK_BACK);
        }
    }

    /// Forgets the samples kept: some were not pushed (the next look seeds them again from the data directory).
    fn forget_recent(&mut self) {
        self.recent = Recent::default();
        self.recent_opts = None;
        // Judgements made with a hole in the samples: the next look, seeded again, judges afresh.
        self.memo.clear();
    }

    /// Puts the data directory's samples of the last [`LOOK_BACK`] before `now_us` that precede the pushed ones
    /// in front of them, with the directory's detection options (its clean stops): read once, so that every look
    /// after reads nothing back, from the recorder's first minute on.
    fn seed(&mut self, now_us: i64) -> Result<(), String> {
        let from = Timestamp::from_unix_micros(now_us - dur_us(LOOK_BACK));
        let reader = StoreReader::open(&self.data_dir).map_err(|e| e.to_string())?;
        let mut opts = stabmon_core::analysis::DetectOptions::default();
        let mut stored = Vec::new();
        if let Some(host) = reader
            .host_to_read(None, false)
            .map_err(|e| e.to_string())?
        {
            use stabmon_core::series::WindowSource;
            opts = reader.detect_options(&host);
            stored = reader
                .windows(&host)
                .samples_between_parts(from, Timestamp::from_unix_micros(now_us), RECENT_PARTS)
                .map_err(|e| e.to_string())?;
        }
        // The pushed ones go after the stored ones that precede them (unpacked and packed again: a minute's worth
        // at most, once).
        let pushed = std::mem::take(&mut self.recent);
        let first_pushed = pushed.series.ts.first().copied();
        for s in stored
            .iter()
            .filter(|s| first_pushed.is_none_or(|f| s.ts < f))
        {
            self.recent.push(s);
        }
        drop(stored);
        if let (Some(&first), Some(&last)) = (pushed.series.ts.first(), pushed.series.ts.last()) {
            use stabmon_core::series::WindowSource;
            for s in pushed
                .samples_between(first, last)
                .map_err(|e| e.to_string())?
            {
                self.recent.push(&s);
            }
        }
        self.recent_opts = Some(opts);
        Ok(())
    }

    /// One round: queue a due digest, look for new incidents, queue a burst when the rate limit allows, deliver
    /// what is due, and save the state if anything changed.
    pub fn tick(&mut self, now_us: i64) {
        let before = self.state.clone();
        if let Some(at) = self.digest_at
            && let Some(inst) = last_digest_instant(now_us, at, &self.zone)
            && self.state.last_digest_us.is_none_or(|l| l < inst)
        {
            self.state.last_digest_us = Some(inst);
            if now_us - inst < dur_us(DIGEST_LATE_MAX) {
                self.queue(
                    EventKind::Digest,
                    inst - dur_us(DIGEST_LATE_MAX),
                    inst,
                    now_us,
                );
            }
        }
        if self.incident_mail {
            self.find_incidents(now_us);
            let allowed = self
                .state
                .last_incident_event_us
                .is_none_or(|l| now_us - l >= dur_us(self.incident_every));
            if let Some(from) = self.state.waiting_from_us
                && allowed
            {
                self.queue(EventKind::Incidents, from - dur_us(LEAD), now_us, now_us);
                self.state.last_incident_event_us = Some(now_us);
                self.state.waiting_from_us = None;
            }
        }
        self.deliver_due(now_us);
        if self.state != before {
            self.state.save(&self.state_path);
        }
    }

    fn queue(&mut self, kind: EventKind, from_us: i64, to_us: i64, now_us: i64) {
        self.state.pending.push(Event {
            kind,
            from_us,
            to_us,
            due_us: now_us,
            mail_done: !self.has_mail,
            webhook_done: !self.has_webhook,
            attempts: 0,
            next_try_us: now_us,
        });
    }

    /// Looks at the last [`LOOK_BACK`] of data (the samples kept in memory, else the data directory) and notes
    /// incidents not seen before (gaps are for the digest).
    ///
    /// What is new is decided by kind and start alone, so the look names no culprit: the mail names them when it
    /// is rendered (from the data directory, over the event's whole range, for the incidents batched into it as
    /// well). Only a runaway candidate outside a CPU surge reads whole samples, to judge it, and each judgement is
    /// kept for the next look ([`Worker::memo`]).
    fn find_incidents(&mut self, now_us: i64) {
        let from = Timestamp::from_unix_micros(now_us - dur_us(LOOK_BACK));
        let key = |i: &stabmon_core::analysis::Incident| (format!("{:?}", i.kind), us(i.start));
        if self.recent_opts.is_none() {
            // Where the data directory cannot be read now, the look below reads it and says why.
            let _ = self.seed(now_us);
        }
        let memo = &mut self.memo;
        let in_memory = self.recent_opts.as_ref().map(|opts| {
            self.recent.keep_last(LOOK_BACK);
            detect_incident_spans_in(&self.recent.series, &self.recent, opts, memo)
                .map(|found| {
                    found
                        .iter()
                        .filter(|i| !matches!(i.kind, IncidentKind::Gap(_)))
                        .map(key)
                        .collect()
                })
                .map_err(|e| e.to_string())
        });
        let found = in_memory.unwrap_or_else(|| -> Result<Vec<(String, i64)>, String> {
            let reader = StoreReader::open(&self.data_dir).map_err(|e| e.to_string())?;
            let Some(host) = reader
                .host_to_read(None, false)
                .map_err(|e| e.to_string())?
            else {
                return Ok(Vec::new());
            };
            let series = reader
                .system_series(&host, Some(from), None)
                .map_err(|e| e.to_string())?;
            if series.is_empty() {
                return Ok(Vec::new());
            }
            let incidents = detect_incident_spans_in(
                &series,
                &reader.windows(&host),
                &reader.detect_options(&host),
                memo,
            )
            .map_err(|e| e.to_string())?;
            Ok(incidents
                .iter()
                .filter(|i| !matches!(i.kind, IncidentKind::Gap(_)))
                .map(key)
                .collect())
        });
        match found {
            Ok(found) => {
                for key in found {
                    if !self.state.seen.contains(&key) {
                        self.state.waiting_from_us =
                            Some(self.state.waiting_from_us.map_or(key.1, |w| w.min(key.1)));
                        self.state.seen.push(key);
                    }
                }
                let horizon = now_us - 2 * dur_us(LOOK_BACK);
                self.state.seen.retain(|(_, start)| *start >= horizon);
            }
            Err(e) => log(&format!(
                "cannot read the recent data to look for incidents: {e}"
            )),
        }
    }

    fn deliver_due(&mut self, now_us: i64) {
        let mut pending = std::mem::take(&mut self.state.pending);
        for ev in &mut pending {
            if ev.next_try_us > now_us {
                continue;
            }
            let mut errors = Vec::new();
            if !ev.mail_done {
                match self.deliver.mail(ev) {
                    Ok(()) => ev.mail_done = true,
                    Err(e) => errors.push(e),
                }
            }
            if !ev.webhook_done {
                match self.deliver.webhook(ev) {
                    Ok(()) => ev.webhook_done = true,
                    Err(e) => errors.push(e),
                }
            }
            self.deliver.attempted();
            let what = match ev.kind {
                EventKind::Digest => "the digest",
                EventKind::Incidents => "the incident mail",
            };
            if errors.is_empty() {
                if ev.attempts > 0 {
                    log(&format!(
                        "sent {what} after {} failed attempts",
                        ev.attempts
                    ));
                }
            } else {
                ev.attempts += 1;
                let delay = RETRY_FIRST
                    .saturating_mul(1 << ev.attempts.min(6).saturating_sub(1))
                    .min(RETRY_MAX);
                ev.next_try_us = now_us + dur_us(delay);
                if ev.attempts == 1 {
                    log(&format!(
                        "{}; {what} is kept and retried (every {} at most) until it is sent",
                        errors.join("; "),
                        stabmon_core::units::format_duration(RETRY_MAX)
                    ));
                }
            }
        }
        pending.retain(|ev| {
            let done = ev.mail_done && ev.webhook_done;
            let stale = now_us - ev.due_us > dur_us(GIVE_UP_AFTER);
            if !done && stale {
                log(&format!(
                    "giving up an event due at {} after {} attempts",
                    Timestamp::from_unix_micros(ev.due_us),
                    ev.attempts
                ));
            }
            !done && !stale
        });
        self.state.pending = pending;
    }
}

/// An event's rendering (by kind and range), shared by its mail and its webhook post, and the host it shows.
type Rendered = (
    (EventKind, i64, i64),
    Arc<stabmon_report::MailContent>,
    String,
);

/// The real deliverer: renders the event's range from the data directory and sends it.
pub struct Sender {
    data_dir: PathBuf,
    channels: Channels,
    /// The last event's rendering, which its mail and its webhook post share (rendering a range is the costly part).
    last: Option<Rendered>,
}

impl Sender {
    /// The mail of `ev`'s range, from the data directory (shared, not copied: it holds the page).
    fn content(
        &mut self,
        ev: &Event,
    ) -> Result<(Arc<stabmon_report::MailContent>, String), String> {
        let key = (ev.kind, ev.from_us, ev.to_us);
        if let Some((k, content, host)) = &self.last
            && *k == key
        {
            return Ok((Arc::clone(content), host.clone()));
        }
        // The previous rendering goes first.
        self.last = None;
        let (content, host) = self.render(ev)?;
        let content = Arc::new(content);
        self.last = Some((key, Arc::clone(&content), host.clone()));
        Ok((content, host))
    }

    fn render(&self, ev: &Event) -> Result<(stabmon_report::MailContent, String), String> {
        let reader = StoreReader::open(&self.data_dir).map_err(|e| e.to_string())?;
        let host = reader
            .host_to_read(None, false)
            .map_err(|e| e.to_string())?
            .ok_or("no data recorded yet")?;
        let (from, to) = (
            Timestamp::from_unix_micros(ev.from_us),
            Timestamp::from_unix_micros(ev.to_us),
        );
        let series = reader
            .system_series(&host, Some(from), Some(to))
            .map_err(|e| e.to_string())?;
        let title = match ev.kind {
            EventKind::Digest => format!("stabmon daily digest: {host}"),
            EventKind::Incidents => format!("stabmon incidents: {host}"),
        };
        ReportBuilder::new()
            .range(from, to)
            .title(title)
            .detect_options(reader.detect_options(&host))
            .build()
            .render_mail_from(&series, &reader.windows(&host))
            .map(|c| (c, host.clone()))
            .map_err(|e| e.to_string())
    }
}

impl Deliver for Sender {
    /// The rendering the mail and the webhook shared is dropped: the recorder does not keep a page between
    /// events.
    fn attempted(&mut self) {
        self.last = None;
        crate::malloc::trim();
    }

    fn mail(&mut self, ev: &Event) -> Result<(), String> {
        if self.channels.mail.is_none() {
            return Ok(());
        }
        let (content, host) = self.content(ev)?;
        let Some((relay, from, to)) = &self.channels.mail else {
            return Ok(());
        };
        let from = match from {
            Some(f) => f.clone(),
            None => default_from(&host)?,
        };
        let message = build_message(&content, &from, to).map_err(|e| e.to_string())?;
        relay.send(&message)
    }

    fn webhook(&mut self, ev: &Event) -> Result<(), String> {
        if self.channels.webhook.is_none() {
            return Ok(());
        }
        let (content, _) = self.content(ev)?;
        let Some(url) = &self.channels.webhook else {
            return Ok(());
        };
        post_webhook(url, &content, ev.kind)
    }
}

/// Posts the event as JSON: `text` (Slack's field: the subject, then the plain-text summary), `subject`, `kind`.
pub fn post_webhook(
    url: &str,
    content: &stabmon_report::MailContent,
    kind: EventKind,
) -> Result<(), String> {
    let shown = shown_webhook(url);
    let mut text = format!("{}\n{}", content.subject, content.text);
    if text.len() > 3500 {
        let mut cut = 3500;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n…");
    }
    let body = serde_json::json!({
        "text": text,
        "subject": content.subject,
        "kind": kind,
    });
    let tls = stabmon_store::http_tls_config()
        .map_err(|e| format!("cannot set up the webhook {shown}: {e}"))?;
    let client = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot set up the webhook client: {e}"))?;
    let resp = client.post(url).json(&body).send().map_err(|e| {
        let mut m = e.to_string();
        if let Some(s) = std::error::Error::source(&e) {
            m = format!("{m}: {s}");
        }
        format!("cannot post to the webhook {shown}: {m}")
    })?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook {shown} answered {}", resp.status()))
    }
}

/// The running worker thread.
pub struct Notifier {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<thread::JoinHandle<()>>,
    samples: mpsc::SyncSender<Sample>,
    /// Set when a sample was left out: the worker starts its samples again.
    lost: Arc<AtomicBool>,
}

/// The samples that may wait for the worker (it takes them once a minute): a few minutes' worth at 1 s.
const SAMPLES_WAITING: usize = 600;

/// What the look for incidents needs of a sample: command lines, cgroups, users and the details of exits left out
/// (they name and describe a culprit in a mail, which is rendered from the data directory), so that the worker's
/// [`LOOK_BACK`] of samples stays small.
fn trim_recent(s: &mut Sample) {
    RECENT_PARTS.trim(s);
}

/// The parts of a sample [`trim_recent`] keeps.
const RECENT_PARTS: SampleParts = SampleParts::ALL.without(
    SampleParts::CMDLINE
        .union(SampleParts::CGROUP)
        .union(SampleParts::USER)
        .union(SampleParts::EXITED_PROCESSES),
);

/// A copy of `s` trimmed by [`trim_recent`].
fn trimmed(s: &Sample) -> Sample {
    let mut s = s.clone();
    trim_recent(&mut s);
    s
}

impl Notifier {
    /// Starts the worker for `data_dir`. It ticks at once (a missed digest goes out now) and every
    /// [`CHECK_EVERY`].
    pub fn start(cfg: NotifyConfig, data_dir: &Path) -> std::io::Result<Notifier> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let data_dir = data_dir.to_path_buf();
        let (samples, taken) = mpsc::sync_channel::<Sample>(SAMPLES_WAITING);
        let lost = Arc::new(AtomicBool::new(false));
        let lost_seen = Arc::clone(&lost);
        let handle = thread::Builder::new()
            .name("stabmon-notify".into())
            .spawn(move || {
                let now = || us(Timestamp::now());
                let sender = Sender {
                    data_dir: data_dir.clone(),
                    last: None,
                    channels: Channels {
                        mail: cfg.channels.mail.clone(),
                        webhook: cfg.channels.webhook.clone(),
                    },
                };
                let mut worker = Worker::new(&cfg, &data_dir, sender, now());
                let (lock, cv) = &*flag;
                loop {
                    // A hole in the samples would read as a gap: start them again after one.
                    if lost_seen.swap(false, Ordering::Relaxed) {
                        worker.forget_recent();
                        while taken.try_recv().is_ok() {}
                    }
                    while let Ok(s) = taken.try_recv() {
                        worker.note(&s);
                    }
                    worker.tick(now());
                    let Ok(guard) = lock.lock() else { return };
                    let Ok((guard, _)) = cv.wait_timeout_while(guard, CHECK_EVERY, |s| !*s) else {
                        return;
                    };
                    if *guard {
                        return;
                    }
                }
            })?;
        Ok(Notifier {
            stop,
            handle: Some(handle),
            samples,
            lost,
        })
    }

    /// Hands the worker a sample the recorder took, without waiting: one that finds the queue full (the worker
    /// busy sending) is left out, and the worker reads its look-back from the data directory again.
    pub fn push(&self, s: &Sample) {
        if self.samples.try_send(trimmed(s)).is_err() {
            self.lost.store(true, Ordering::Relaxed);
        }
    }

    /// Asks the worker to stop after the round it is in, without waiting.
    pub fn request_stop(&self) {
        let (lock, cv) = &*self.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        cv.notify_all();
    }

    /// Stops the worker and waits for it: a send in flight ends within its timeout (30 s), and what is left is in
    /// the state file for the next run.
    pub fn stop(mut self) {
        self.request_stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Notifier {
    /// Dropped without [`Notifier::stop`] (the recorder failed): asked to stop, not waited for.
    fn drop(&mut self) {
        self.request_stop();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;
    /// 2026-11-25T00:00:00Z.
    const T0: i64 = 1_795_564_800_000_000;

    #[derive(Default)]
    struct Fake {
        mails: Vec<Event>,
        posts: Vec<Event>,
        fail: bool,
    }

    impl Deliver for &mut Fake {
        fn mail(&mut self, ev: &Event) -> Result<(), String> {
            if self.fail {
                return Err("relay down".into());
            }
            self.mails.push(ev.clone());
            Ok(())
        }
        fn webhook(&mut self, ev: &Event) -> Result<(), String> {
            if self.fail {
                return Err("webhook down".into());
            }
            self.posts.push(ev.clone());
            Ok(())
        }
    }

    fn cfg(digest: Option<DigestAt>, incident_mail: bool) -> NotifyConfig {
        NotifyConfig {
            channels: Channels {
                mail: Some((
                    Relay::parse("smtp://127.0.0.1:1", None, None).unwrap(),
                    Some(parse_address("f", "a@b.c").unwrap()),
                    vec![parse_address("t", "d@e.f").unwrap()],
                )),
                webhook: Some("http://127.0.0.1:1/hook".into()),
            },
            digest_at: digest,
            incident_mail,
            incident_every: Duration::from_secs(15 * 60),
            zone: jiff::tz::TimeZone::fixed(jiff::tz::offset(1)),
        }
    }

    #[test]
    fn digest_instants_are_local() {
        let z = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        let at = DigestAt {
            hour: 7,
            minute: 30,
        };
        // 2026-11-25 10:00 local (09:00Z): today's 07:30 local is 06:30Z.
        assert_eq!(
            last_digest_instant(T0 + 9 * H, at, &z),
            Some(T0 + 6 * H + H / 2)
        );
        // 05:00 local: yesterday's.
        assert_eq!(
            last_digest_instant(T0 + 4 * H, at, &z),
            Some(T0 - 18 * H + H / 2)
        );
        assert!(parse_digest_at("24:00").is_err() && parse_digest_at("7").is_err());
        assert_eq!(
            parse_digest_at("07:05"),
            Ok(DigestAt { hour: 7, minute: 5 })
        );
    }

    #[test]
    fn digest_is_sent_daily_retried_while_failing_and_a_missed_one_when_less_than_a_day_late() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(Some(DigestAt { hour: 7, minute: 0 }), false);
        let mut fake = Fake::default();
        // First start at 09:00 local (08:00Z): nothing for today's 07:00, which was before the first run.
        let mut w = Worker::new(&c, dir.path(), &mut fake, T0 + 8 * H);
        w.tick(T0 + 8 * H);
        assert!(w.state.pending.is_empty());
        // The next day at 07:00 local (06:00Z): due, and the relay is down.
        w.deliver.fail = true;
        let next = T0 + 30 * H;
        w.tick(next);
        assert_eq!(w.state.pending.len(), 1);
        assert_eq!(w.state.pending[0].attempts, 1);
        // Not retried before its delay; then retried, still failing, the delay doubling.
        w.tick(next + 30_000_000);
        assert_eq!(w.state.pending[0].attempts, 1);
        w.tick(next + 61_000_000);
        assert_eq!(w.state.pending[0].attempts, 2);
        // A restart keeps it (the state is on disk) and sends it once the relay is back.
        drop(w);
        let mut fake2 = Fake::default();
        let mut w = Worker::new(&c, dir.path(), &mut fake2, next + H);
        assert_eq!(w.state.pending.len(), 1);
        w.tick(next + H);
        assert!(w.state.pending.is_empty());
        drop(w);
        assert_eq!(fake2.mails.len(), 1);
        assert_eq!(fake2.posts.len(), 1);
        assert_eq!(fake2.mails[0].kind, EventKind::Digest);
        assert_eq!(fake2.mails[0].to_us - fake2.mails[0].from_us, 24 * H);
        // Off over the next digest; started 20 hours late: sent. Then off for three days: only the latest digest
        // (two hours late) is sent, not the ones more than a day late.
        let mut fake3 = Fake::default();
        let mut w = Worker::new(&c, dir.path(), &mut fake3, next + 44 * H);
        w.tick(next + 44 * H);
        w.tick(next + 44 * H + 1);
        drop(w);
        assert_eq!(fake3.mails.len(), 1, "one digest, once");
        let mut fake4 = Fake::default();
        let mut w = Worker::new(&c, dir.path(), &mut fake4, next + 24 * 4 * H + 2 * H);
        w.tick(next + 24 * 4 * H + 2 * H);
        drop(w);
        assert_eq!(fake4.mails.len(), 1);
        assert_eq!(fake4.mails[0].to_us, T0 + 126 * H);
    }

    #[test]
    fn incidents_are_batched_at_most_one_mail_per_interval() {
        // The worker reads incidents from a data directory: a synthetic one with three CPU surges.
        use stabmon_core::synth::Synth;
        let dir = tempfile::tempdir().unwrap();
        let start = Timestamp::from_unix_micros(T0);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let samples = Synth::new(start, Duration::from_secs(1))
            .count(3000)
            .host("web-1")
            .cpu_hog("a", "./a", at(600), at(700), 190.0)
            .cpu_hog("b", "./b", at(1500), at(1600), 190.0)
            .cpu_hog("c", "./c", at(2400), at(2500), 190.0)
            .generate();
        let write = |upto: usize| {
            let d = dir.path().join(format!("d{upto}"));
            let mut w = stabmon_store::StoreWriter::create(&d).unwrap();
            for s in &samples[..upto] {
                w.write(s).unwrap();
            }
            w.finish().unwrap();
            d
        };
        let c = cfg(None, true);
        let mut fake = Fake::default();
        // At 00:12 (720 s), the first surge is there: a mail at once.
        let d = write(720);
        let mut w = Worker::new(&c, &d, &mut fake, T0 + 720_000_000);
        w.tick(T0 + 720_000_000);
        assert_eq!(w.deliver.mails.len(), 1);
        // At 00:27 the second: within 15 minutes of the first mail (00:12), so it waits...
        w.data_dir = write(1620);
        w.forget_recent(); // no samples pushed here: each look reads the directory
        w.tick(T0 + 1_620_000_000 - 60_000_000);
        assert_eq!(w.deliver.mails.len(), 1);
        assert!(w.state.waiting_from_us.is_some());
        // ...and at 00:42, with the third also found, one mail covers both, from before the second.
        w.data_dir = write(2520);
        w.forget_recent(); // no samples pushed here: each look reads the directory
        w.tick(T0 + 2_520_000_000);
        assert_eq!(w.deliver.mails.len(), 2);
        let ev = &w.deliver.mails[1];
        assert!(ev.from_us <= T0 + 1_500_000_000 - dur_us(LEAD), "{ev:?}");
        // Nothing new: nothing more.
        w.tick(T0 + 2_520_000_000 + 20 * 60_000_000);
        assert_eq!(w.deliver.mails.len(), 2);
        assert_eq!(w.deliver.posts.len(), 2);
    }

    #[test]
    fn the_looks_read_the_data_directory_once_then_the_samples_pushed() {
        use stabmon_core::synth::Synth;
        let dir = tempfile::tempdir().unwrap();
        let start = Timestamp::from_unix_micros(T0);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let samples = Synth::new(start, Duration::from_secs(1))
            .count(1800)
            .host("web-1")
            .cpu_hog("a", "./a", at(1500), at(1600), 190.0)
            .generate();
        // A run before this one recorded the first 20 minutes; this one pushes the rest.
        let mut writer = stabmon_store::StoreWriter::create(dir.path()).unwrap();
        for s in &samples[..1200] {
            writer.write(s).unwrap();
        }
        writer.finish().unwrap();
        let c = cfg(None, true);
        let mut fake = Fake::default();
        let mut w = Worker::new(&c, dir.path(), &mut fake, T0);
        for s in &samples[1200..1260] {
            w.note(&trimmed(s));
        }
        // The first look puts the stored look-back before the pushed minute, each sample once.
        w.tick(T0 + 1_260_000_000);
        assert!(w.recent_opts.is_some());
        assert_eq!(w.recent.len(), LOOK_BACK.as_secs() as usize);
        let kept = {
            use stabmon_core::series::WindowSource;
            w.recent.samples_between(at(0), at(1800)).unwrap()
        };
        assert_eq!(kept.len(), w.recent.len());
        assert_eq!(kept[0].ts, at(1260 - LOOK_BACK.as_secs()));
        assert!(kept.windows(2).all(|p| p[0].ts < p[1].ts));
        // Trimmed: nothing that only names a culprit is kept.
        assert!(
            kept.iter()
                .flat_map(|s| &s.top.processes)
                .all(|p| p.cmdline.is_none() && p.user.is_none())
        );
        // What is kept is what was recorded, but for that.
        let want: Vec<Sample> = samples[60..1260].iter().map(trimmed).collect();
        assert_eq!(kept, want);
        assert!(w.deliver.mails.is_empty(), "{:?}", w.state);
        // The data directory is gone: what is found now comes from the samples kept and pushed.
        drop(dir);
        for s in &samples[1250..1620] {
            w.note(&trimmed(s));
        }
        w.tick(T0 + 1_620_000_000);
        assert_eq!(w.deliver.mails.len(), 1, "{:?}", w.state);
        let ev = &w.deliver.mails[0];
        assert!(ev.from_us <= T0 + 1_500_000_000 - dur_us(LEAD), "{ev:?}");
        // Only the look-back is kept.
        assert_eq!(w.recent.len(), LOOK_BACK.as_secs() as usize + 1);
        assert_eq!(w.recent.series.ts[0], at(1619 - LOOK_BACK.as_secs()));
        // After a hole in the pushed samples, the next look seeds them again.
        w.forget_recent();
        assert!(w.recent.len() == 0 && w.recent_opts.is_none());
    }

    /// Whether the worker looks for incidents or not (a digest only), it keeps only the last [`LOOK_BACK`] of
    /// the samples pushed; a sample from before the last one (the clock stepped back) starts them again.
    #[test]
    fn the_samples_kept_are_the_look_back_whatever_the_looks_and_the_clock() {
        use stabmon_core::synth::Synth;
        let dir = tempfile::tempdir().unwrap();
        let start = Timestamp::from_unix_micros(T0);
        let samples = Synth::new(start, Duration::from_secs(1))
            .count(3000)
            .host("web-1")
            .generate();
        let c = cfg(None, true);
        let mut fake = Fake::default();
        let mut w = Worker::new(&c, dir.path(), &mut fake, T0);
        let most = LOOK_BACK.as_secs() as usize + 61;
        for s in &samples {
            w.note(&trimmed(s));
            assert!(w.recent.len() <= most, "{}", w.recent.len());
        }
        let kept = w.recent.len();
        assert!(kept > LOOK_BACK.as_secs() as usize, "{kept}");
        // After many cuts, each sample kept unpacks to what was pushed.
        let unpacked = {
            use stabmon_core::series::WindowSource;
            w.recent
                .samples_between(samples[0].ts, samples[2999].ts)
                .unwrap()
        };
        let want: Vec<Sample> = samples[3000 - kept..].iter().map(trimmed).collect();
        assert_eq!(unpacked, want);
        // The same sample again: kept once.
        w.note(&trimmed(&samples[2999]));
        assert_eq!(w.recent.len(), kept);
        // A minute back (a time no sample kept has): the look-back starts again from it.
        let mut back = trimmed(&samples[2940]);
        back.ts = back.ts.saturating_add(Duration::from_millis(500));
        w.note(&back);
        assert_eq!(w.recent.len(), 1);
        assert!(w.recent_opts.is_none());
    }

    /// A one-request HTTP server on 127.0.0.1 answering `status`; gives the request's body.
    fn one_request_server(status: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/services/T0/B0/secret",
            listener.local_addr().unwrap()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut w = stream;
            let _ = write!(
                w,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(String::from_utf8(body).unwrap());
        });
        (url, rx)
    }

    #[test]
    fn webhook_posts_slack_compatible_json_to_a_loopback_server() {
        use stabmon_core::synth::Synth;
        let dir = tempfile::tempdir().unwrap();
        let start = Timestamp::from_unix_micros(T0);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let samples = Synth::new(start, Duration::from_secs(1))
            .count(1200)
            .host("web-1")
            .cpu_hog("evil\r\nname", "./x", at(600), at(700), 190.0)
            .generate();
        let mut w = stabmon_store::StoreWriter::create(dir.path()).unwrap();
        for s in &samples {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        let ev = Event {
            kind: EventKind::Incidents,
            from_us: T0,
            to_us: T0 + 1_200_000_000,
            due_us: T0,
            mail_done: true,
            webhook_done: false,
            attempts: 0,
            next_try_us: T0,
        };
        let (url, got) = one_request_server("200 OK");
        let mut sender = Sender {
            data_dir: dir.path().to_path_buf(),
            last: None,
            channels: Channels {
                mail: None,
                webhook: Some(url),
            },
        };
        sender.webhook(&ev).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&got.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with("stabmon web-1: 1 incident (CPU surge: evil name)"),
            "{text}"
        );
        assert!(text.contains("evil name (pid"), "{text}");
        assert_eq!(body["kind"], "incidents");
        // A server that fails: an error naming the webhook without its secret path.
        let (url, _got) = one_request_server("500 Internal Server Error");
        sender.channels.webhook = Some(url.clone());
        let err = sender.webhook(&ev).unwrap_err();
        assert!(err.contains("answered 500"), "{err}");
        assert!(
            err.contains(&shown_webhook(&url)) && !err.contains("secret"),
            "{err}"
        );
    }
}
