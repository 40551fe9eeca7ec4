//! The [`Sampler`] trait, the options every sampler shares, and the pieces both samplers use.

use std::time::Duration;

use stabmon_core::attribution::{
    DEFAULT_CMDLINE_MAX_BYTES, DEFAULT_CPU_FLOOR_PCT, DEFAULT_TOP_N, TopSpec,
};
use stabmon_core::{Sample, Timestamp};

use crate::Error;

/// A platform sampler: reads the system's state into a [`Sample`], keeping its counters between calls.
///
/// A sampler is primed when it is created (its constructor reads every counter once), so the first call to
/// [`sample`](Sampler::sample) already reports rates over the time since then. The [`Collector`](crate::Collector)
/// drives a sampler on a schedule; benches and embedders can call it directly.
pub trait Sampler: Send {
    /// The sampler's short name: `"proc"` or `"sysinfo"`.
    fn name(&self) -> &'static str;

    /// Reads one sample, stamped with `ts` (the tick it belongs to).
    ///
    /// [`Sample::interval`] is the monotonic time measured since the previous reading (or since priming);
    /// [`Sample::lateness`] is left at zero for the caller to fill in.
    fn sample(&mut self, ts: Timestamp) -> Result<Sample, Error>;

    /// Like [`sample`](Self::sample), for a reading that starts at `now`, an instant the caller took: the interval
    /// is measured from the previous reading's instant to this one. The [`Collector`](crate::Collector) passes its
    /// tick plus the lateness it reports, so that the interval is exactly the ticks' spacing plus the change in
    /// lateness, which the store then derives instead of storing. By default, the reading's own instant is used.
    fn sample_at(&mut self, ts: Timestamp, now: std::time::Instant) -> Result<Sample, Error> {
        let _ = now;
        self.sample(ts)
    }
}

/// What a sampler records about processes; shared by every sampler.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SamplerOptions {
    /// The length of each top list. By default, this is [`DEFAULT_TOP_N`].
    pub top_n: usize,
    /// The least CPU, in percent of one core, that puts a process or a name in a CPU list; 0 keeps the strict top
    /// N. By default, this is [`DEFAULT_CPU_FLOOR_PCT`] (see
    /// [`stabmon_core::attribution`](stabmon_core::attribution#the-cpu-floor)).
    pub cpu_floor_pct: f32,
    /// Whether command lines are recorded. By default, this is `true`.
    pub cmdline: bool,
    /// The longest command line kept, in bytes. By default, this is [`DEFAULT_CMDLINE_MAX_BYTES`].
    pub cmdline_max_bytes: usize,
}

impl SamplerOptions {
    /// The defaults: top 10, a CPU floor of 2.5 %, command lines on, cut at [`DEFAULT_CMDLINE_MAX_BYTES`].
    pub fn new() -> Self {
        SamplerOptions {
            top_n: DEFAULT_TOP_N,
            cpu_floor_pct: DEFAULT_CPU_FLOOR_PCT,
            cmdline: true,
            cmdline_max_bytes: DEFAULT_CMDLINE_MAX_BYTES,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.top_n == 0 {
            return Err(Error::InvalidConfig {
                setting: "top_n",
                reason: "it must be at least 1".into(),
            });
        }
        if self.top_n > usize::from(u16::MAX) {
            return Err(Error::InvalidConfig {
                setting: "top_n",
                reason: format!("{} is more than the {} allowed", self.top_n, u16::MAX),
            });
        }
        if !(self.cpu_floor_pct.is_finite() && self.cpu_floor_pct >= 0.0) {
            return Err(Error::InvalidConfig {
                setting: "cpu_floor_pct",
                reason: format!("{} is not a percentage of at least 0", self.cpu_floor_pct),
            });
        }
        Ok(())
    }

    /// What attribution keeps, from these options.
    pub(crate) fn top_spec(&self) -> TopSpec {
        TopSpec::new(self.top_n).with_cpu_floor_pct(self.cpu_floor_pct)
    }
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Facts about the host read once at start: name and time zone.
#[derive(Debug, Clone)]
pub(crate) struct HostInfo {
    pub(crate) host: String,
    tz: jiff::tz::TimeZone,
    tz_name: Option<String>,
}

impl HostInfo {
    pub(crate) fn new() -> Self {
        let host = sysinfo::System::host_name().unwrap_or_default();
        let tz = jiff::tz::TimeZone::system();
        let tz_name = tz.iana_name().map(str::to_owned);
        HostInfo { host, tz, tz_name }
    }

    /// A sample at `ts` with the host's identity and time zone filled in.
    pub(crate) fn new_sample(&self, ts: Timestamp, interval: Duration) -> Sample {
        let mut s = Sample::new(ts, self.host.clone());
        s.timezone = self.tz_name.clone();
        s.utc_offset_secs = jiff::Timestamp::from_microsecond(ts.as_unix_micros())
            .ok()
            .map(|t| self.tz.to_offset(t).seconds());
        s.interval = whole_micros(interval);
        s
    }
}

/// A percentage rounded to 0.01 %, the resolution samples keep (see `stabmon_core::Sample`): CPU time comes in
/// clock ticks (1 % of a core at 1 s), so the rounding loses nothing measurable, and the store keeps the values
/// compactly.
pub(crate) fn round_pct(v: f64) -> f32 {
    ((v * 100.0).round() / 100.0) as f32
}

/// A duration cut to whole microseconds, the resolution of [`Sample::interval`].
pub(crate) fn whole_micros(d: Duration) -> Duration {
    Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A lateness cut to [`LATENESS_RESOLUTION`](stabmon_core::units::LATENESS_RESOLUTION) (100 us), the resolution
/// of [`Sample::lateness`].
pub(crate) fn cut_lateness(d: Duration) -> Duration {
    let step = stabmon_core::units::LATENESS_RESOLUTION.as_micros();
    let micros = d.as_micros() / step * step;
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

/// User names by uid, from `/etc/passwd`, read once on first use. No NSS lookups: they could reach the network.
#[cfg(unix)]
#[derive(Debug, Default)]
pub(crate) struct Users {
    names: Option<std::collections::HashMap<u32, String>>,
}

#[cfg(unix)]
impl Users {
    /// The name of `uid`, or the number itself when it has no name.
    pub(crate) fn name(&mut self, uid: u32) -> String {
        let names = self.names.get_or_insert_with(|| {
            std::fs::read("/etc/passwd")
                .map(|b| parse_passwd(&String::from_utf8_lossy(&b)))
                .unwrap_or_default()
        });
        names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

/// `name:password:uid:...` lines to a map from uid to the first name that has it.
#[cfg(unix)]
pub(crate) fn parse_passwd(text: &str) -> std::collections::HashMap<u32, String> {
    let mut map = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        if let Ok(uid) = uid.trim().parse::<u32>() {
            map.entry(uid).or_insert_with(|| name.to_owned());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn passwd_maps_uids_to_first_name() {
        let text = "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\n\
                    daemon:x:1:1::/:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nbad:x:notanumber:0::/:\n";
        let map = parse_passwd(text);
        assert_eq!(map.get(&0).map(String::as_str), Some("root"));
        assert_eq!(map.get(&1).map(String::as_str), Some("daemon"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn percentages_and_durations_are_cut_to_their_resolution() {
        assert_eq!(round_pct(100.0 / 3.0), 33.33);
        assert_eq!(round_pct(200.0 / 3.0), 66.67);
        assert_eq!(round_pct(187.004_9), 187.0);
        assert_eq!(
            whole_micros(Duration::new(1, 250_999)),
            Duration::from_micros(1_000_250)
        );
        assert_eq!(
            cut_lateness(Duration::new(0, 1_299_999)),
            Duration::from_micros(1_200)
        );
        assert_eq!(cut_lateness(Duration::from_micros(99)), Duration::ZERO);
    }

    #[test]
    fn options_validate_top_n() {
        let mut o = SamplerOptions::new();
        assert!(o.validate().is_ok());
        o.top_n = 0;
        assert!(o.validate().is_err());
        let mut o = SamplerOptions::new();
        o.cpu_floor_pct = 0.0;
        assert!(o.validate().is_ok());
        o.cpu_floor_pct = -0.5;
        assert!(o.validate().is_err());
    }
}
