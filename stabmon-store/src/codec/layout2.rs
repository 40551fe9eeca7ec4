//! Record layout 2 (journal format 4): a sample and its exits in one record, frozen.
//!
//! Layout 1 repeats what barely changes from one second to the next: every listed process's name, command line
//! and user in every record, where a process that left a top list a minute ago and came back costs them again,
//! and absolute numbers whose low bytes change every second. Layout 2 holds what layout 1 holds (its structs, for
//! everything but the time and the processes), except:
//! - the time is the microseconds since the record before (since 0 in a key record);
//! - a listed process is named once per key interval: the first record since the key that lists an identity (pid,
//!   start time) gives its parent, name, command line, user and cgroup, and the identity takes the next index;
//!   later records give that index, and its resident and virtual bytes as the change since the record that listed
//!   it last, in pages (an identity whose parent, names or cgroup changed is named again, under a new index);
//! - the sample's exits ride in the record, column by column: each exited process's pid as the change from the
//!   one before it, its parent's as the change from its own, its end relative to the sample's time and its start
//!   relative to its end, peak memory in KiB.
//!
//! Postcard, field by field, in this order (signed integers zigzag varints). A record decodes only after the
//! records since its key did: the decoder keeps the same table of identities and the time of the record before.
//! Never edit these structs: when the journal has to hold more, add a layout 3 and a journal format that uses it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use std::time::Duration;

use stabmon_core::{
    ExitStatus, ExitedName, ExitedProcess, Exits, ProcessEntry, ProcessKey, Sample, Timestamp,
};

use super::MAX_RECORD;
use super::exits1::{StatusV1, micros};
use super::layout1::SampleV1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SampleV2 {
    ts_delta: i64,
    /// Layout 1 of the sample with time 0 and no processes.
    rest: SampleV1,
    #[serde(deserialize_with = "super::bounded::seq")]
    processes: Vec<ProcessV2>,
    exits: Option<ExitsV2>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ProcessV2 {
    /// An identity this key interval has not named (or whose names changed): it takes the next index.
    New(NewProcessV2),
    /// An identity named before, by its index.
    Known { index: u32, nums: NumbersV2 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NewProcessV2 {
    pid: u32,
    start_time: i64,
    parent_pid: Option<u32>,
    name: String,
    cmdline: Option<String>,
    user: Option<String>,
    cgroup: Option<String>,
    nums: NumbersV2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NumbersV2 {
    cpu_pct: f32,
    children_cpu_pct: Option<f32>,
    /// Resident bytes minus the identity's last (0 when it is new), wrapping, in pages ([`in_units`]).
    rss_delta: i128,
    /// Virtual bytes minus the identity's last (0 when it is new), wrapping, in pages ([`in_units`]).
    virtual_delta: i128,
    cpu_rank: Option<u16>,
    rss_rank: Option<u16>,
}

/// A sample's exits, column by column (values of one kind side by side compress better than rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExitsV2 {
    count: u32,
    dropped: u32,
    /// The per-name totals.
    #[serde(deserialize_with = "super::bounded::seq")]
    names: Vec<String>,
    #[serde(deserialize_with = "super::bounded::seq")]
    name_counts: Vec<u32>,
    #[serde(deserialize_with = "super::bounded::seq")]
    name_cpu_us: Vec<u64>,
    /// Rotated right by 10 bits (whole KiB become small numbers; any value comes back).
    #[serde(deserialize_with = "super::bounded::seq")]
    name_peak_rss: Vec<u64>,
    /// The detailed processes: each pid minus the pid before it in the list (0 for the first).
    #[serde(deserialize_with = "super::bounded::seq")]
    pid_deltas: Vec<i64>,
    /// The parent's pid minus the pid.
    #[serde(deserialize_with = "super::bounded::seq")]
    parent_pid_deltas: Vec<i64>,
    #[serde(deserialize_with = "super::bounded::seq")]
    process_names: Vec<String>,
    #[serde(deserialize_with = "super::bounded::seq")]
    uids: Vec<u32>,
    /// The end time minus the sample's time, in microseconds.
    #[serde(deserialize_with = "super::bounded::seq")]
    end_deltas: Vec<i64>,
    /// The end time minus the start time, in microseconds.
    #[serde(deserialize_with = "super::bounded::seq")]
    run_us: Vec<i64>,
    #[serde(deserialize_with = "super::bounded::seq")]
    cpu_us: Vec<u64>,
    /// Rotated right by 10 bits, as `name_peak_rss`.
    #[serde(deserialize_with = "super::bounded::seq")]
    peak_rss: Vec<u64>,
    #[serde(deserialize_with = "super::bounded::seq")]
    statuses: Vec<StatusV1>,
}

/// What an identity was named with, and its last figures.
#[derive(Debug, Clone)]
struct Named {
    key: ProcessKey,
    parent_pid: Option<u32>,
    name: String,
    cmdline: Option<String>,
    user: Option<String>,
    cgroup: Option<String>,
    rss_bytes: u64,
    virtual_bytes: u64,
}

impl Named {
    /// What keeping it costs: the struct and the bytes of its names.
    fn cost(&self) -> usize {
        std::mem::size_of::<Named>() + self.name_bytes()
    }

    /// The bytes of its name, command line, user and cgroup.
    fn name_bytes(&self) -> usize {
        self.name.len()
            + [&self.cmdline, &self.user, &self.cgroup]
                .into_iter()
                .flatten()
                .map(String::len)
                .sum::<usize>()
    }

    fn names(&self, p: &ProcessEntry) -> bool {
        self.parent_pid == p.parent_pid
            && self.name == p.name
            && self.cmdline == p.cmdline
            && self.user == p.user
            && self.cgroup == p.cgroup
    }
}

/// What records of layout 2 refer to: the identities named since the key and the time of the record before. The
/// encoder and the decoder of one journal each keep one, reset at every key.
#[derive(Debug, Default)]
pub(crate) struct Layout2State {
    prev_ts: i64,
    named: Vec<Named>,
    /// The encoder's index of `named` (the decoder goes by position).
    index: HashMap<ProcessKey, u32>,
    /// The names, command lines, users and cgroups of `named`, in order, up to [`HISTORY_MAX`] bytes: the front of
    /// a delta's compression dictionary (a new process's command line is most like those of the processes before
    /// it, which the previous record may not list).
    history: Vec<u8>,
    /// What `named` costs ([`Named::cost`]), at most [`NAMED_MAX_BYTES`].
    named_bytes: usize,
}

/// The most bytes of names [`Layout2State`] keeps for the dictionary.
const HISTORY_MAX: usize = 64 << 10;
/// The most processes one decoded sample lists; a record that lists more is damage.
const MAX_PROCESSES: usize = 65_536;
/// The most bytes of names, command lines, users and cgroups one decoded sample holds; a record that decodes to
/// more (by referring to a long-named identity over and over) is damage. A sample's layout-1 bytes hold all its
/// names, and those are less than [`MAX_RECORD`].
const MAX_SAMPLE_NAME_BYTES: usize = MAX_RECORD as usize;
/// The most the identities named in one key interval may cost ([`Named::cost`]); a record that names more is
/// damage. A record names at most [`MAX_PROCESSES`] identities with names of at most [`MAX_RECORD`] bytes in all,
/// so an encoder that starts a key once its identities cost more than [`NAMED_KEY_AT`] stays below it.
const NAMED_MAX_BYTES: usize = 4 * MAX_RECORD as usize;
/// An encoder whose identities cost more than this writes a key next ([`Layout2State::needs_key`]).
const NAMED_KEY_AT: usize = NAMED_MAX_BYTES / 2;

impl Layout2State {
    /// Forgets everything: the next record is a key.
    pub(crate) fn reset(&mut self) {
        self.prev_ts = 0;
        self.named.clear();
        self.index.clear();
        self.history.clear();
        self.named_bytes = 0;
    }

    /// Whether the identities named since the key cost so much that the next record should be a key, so that no
    /// key interval's identities grow past what the decoder accepts.
    pub(crate) fn needs_key(&self) -> bool {
        self.named_bytes > NAMED_KEY_AT
    }

    /// The names of the identities named since the key, as far as kept: what a delta's dictionary starts with.
    pub(crate) fn history(&self) -> &[u8] {
        &self.history
    }

    fn remember(&mut self, n: &Named) {
        for x in [
            Some(&n.name),
            n.cmdline.as_ref(),
            n.user.as_ref(),
            n.cgroup.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if self.history.len() + x.len() <= HISTORY_MAX {
                self.history.extend_from_slice(x.as_bytes());
            }
        }
    }

    /// Layout 2 of `s`, following the records encoded since the last [`reset`](Self::reset).
    pub(crate) fn encode(&mut self, s: &Sample) -> SampleV2 {
        let ts = s.ts.as_unix_micros();
        let ts_delta = ts.wrapping_sub(self.prev_ts);
        self.prev_ts = ts;
        let processes = s.top.processes.iter().map(|p| self.process(p)).collect();
        SampleV2 {
            ts_delta,
            rest: SampleV1::without_time_and_processes(s),
            processes,
            exits: s.exits.as_ref().map(|e| exits(e, ts)),
        }
    }

    fn process(&mut self, p: &ProcessEntry) -> ProcessV2 {
        let key = p.key();
        if let Some(&i) = self.index.get(&key)
            && let Some(n) = self.named.get_mut(i as usize)
            && n.names(p)
        {
            let nums = numbers(p, n.rss_bytes, n.virtual_bytes);
            n.rss_bytes = p.rss_bytes;
            n.virtual_bytes = p.virtual_bytes;
            return ProcessV2::Known { index: i, nums };
        }
        let i = u32::try_from(self.named.len()).unwrap_or(u32::MAX);
        self.index.insert(key, i);
        let n = Named {
            key,
            parent_pid: p.parent_pid,
            name: p.name.clone(),
            cmdline: p.cmdline.clone(),
            user: p.user.clone(),
            cgroup: p.cgroup.clone(),
            rss_bytes: p.rss_bytes,
            virtual_bytes: p.virtual_bytes,
        };
        self.remember(&n);
        self.named_bytes = self.named_bytes.saturating_add(n.cost());
        self.named.push(n);
        ProcessV2::New(NewProcessV2 {
            pid: p.pid,
            start_time: p.start_time.as_unix_micros(),
            parent_pid: p.parent_pid,
            name: p.name.clone(),
            cmdline: p.cmdline.clone(),
            user: p.user.clone(),
            cgroup: p.cgroup.clone(),
            nums: numbers(p, 0, 0),
        })
    }

    /// The sample of a layout-2 record, following the records decoded since the last [`reset`](Self::reset);
    /// `None` when the record refers to what was not named, holds a value out of range, lists more than
    /// [`MAX_PROCESSES`] processes, decodes to more than [`MAX_SAMPLE_NAME_BYTES`] of names, or names more than
    /// [`NAMED_MAX_BYTES`] of identities since the key (damage: checked before it is allocated).
    pub(crate) fn decode(&mut self, v: SampleV2) -> Option<Sample> {
        if v.processes.len() > MAX_PROCESSES {
            return None;
        }
        let ts = self.prev_ts.wrapping_add(v.ts_delta);
        self.prev_ts = ts;
        let mut s = v.rest.into_sample()?;
        s.ts = Timestamp::from_unix_micros(ts);
        let mut processes = Vec::with_capacity(v.processes.len());
        let mut name_bytes = 0usize;
        for p in v.processes {
            let (n, nums) = match p {
                ProcessV2::New(n) => {
                    let nums = n.nums;
                    let n = Named {
                        key: ProcessKey {
                            pid: n.pid,
                            start_time: Timestamp::from_unix_micros(n.start_time),
                        },
                        parent_pid: n.parent_pid,
                        name: n.name,
                        cmdline: n.cmdline,
                        user: n.user,
                        cgroup: n.cgroup,
                        rss_bytes: 0,
                        virtual_bytes: 0,
                    };
                    self.named_bytes = self.named_bytes.saturating_add(n.cost());
                    if self.named_bytes > NAMED_MAX_BYTES {
                        return None;
                    }
                    self.remember(&n);
                    self.named.push(n);
                    (self.named.last_mut()?, nums)
                }
                ProcessV2::Known { index, nums } => (self.named.get_mut(index as usize)?, nums),
            };
            name_bytes = name_bytes.saturating_add(n.name_bytes());
            if name_bytes > MAX_SAMPLE_NAME_BYTES {
                return None;
            }
            n.rss_bytes = n
                .rss_bytes
                .wrapping_add(from_units(nums.rss_delta, PAGE)? as u64);
            n.virtual_bytes = n
                .virtual_bytes
                .wrapping_add(from_units(nums.virtual_delta, PAGE)? as u64);
            let mut e = ProcessEntry::new(n.key.pid, n.name.clone());
            e.parent_pid = n.parent_pid;
            e.cmdline = n.cmdline.clone();
            e.user = n.user.clone();
            e.cgroup = n.cgroup.clone();
            e.start_time = n.key.start_time;
            e.cpu_pct = nums.cpu_pct;
            e.children_cpu_pct = nums.children_cpu_pct;
            e.rss_bytes = n.rss_bytes;
            e.virtual_bytes = n.virtual_bytes;
            e.cpu_rank = nums.cpu_rank;
            e.rss_rank = nums.rss_rank;
            processes.push(e);
        }
        s.top.processes = processes;
        s.exits = match v.exits {
            Some(e) => Some(e.into_exits(ts)?),
            None => None,
        };
        Some(s)
    }
}

fn numbers(p: &ProcessEntry, rss_before: u64, virtual_before: u64) -> NumbersV2 {
    NumbersV2 {
        cpu_pct: p.cpu_pct,
        children_cpu_pct: p.children_cpu_pct,
        rss_delta: in_units(p.rss_bytes.wrapping_sub(rss_before) as i64, PAGE),
        virtual_delta: in_units(p.virtual_bytes.wrapping_sub(virtual_before) as i64, PAGE),
        cpu_rank: p.cpu_rank,
        rss_rank: p.rss_rank,
    }
}

/// A page: resident and virtual sizes are whole pages.
const PAGE: i64 = 4096;

/// `d` in `unit`s when it is a whole number of them (an even number), else `d` itself (an odd one): small for
/// the usual values, and every value comes back ([`from_units`]).
fn in_units(d: i64, unit: i64) -> i128 {
    if d % unit == 0 {
        i128::from(d / unit) * 2
    } else {
        i128::from(d) * 2 + 1
    }
}

fn from_units(e: i128, unit: i64) -> Option<i64> {
    if e % 2 == 0 {
        i64::try_from(e / 2).ok()?.checked_mul(unit)
    } else {
        i64::try_from((e - 1) / 2).ok()
    }
}

fn exits(e: &Exits, ts: i64) -> ExitsV2 {
    let mut prev_pid = 0i64;
    let p = &e.processes;
    ExitsV2 {
        count: e.count,
        dropped: e.dropped,
        names: e.names.iter().map(|n| n.name.clone()).collect(),
        name_counts: e.names.iter().map(|n| n.count).collect(),
        name_cpu_us: e.names.iter().map(|n| micros(n.cpu_time)).collect(),
        name_peak_rss: e
            .names
            .iter()
            .map(|n| n.peak_rss_bytes.rotate_right(10))
            .collect(),
        pid_deltas: p
            .iter()
            .map(|p| {
                let pid = i64::from(p.pid);
                let d = pid - prev_pid;
                prev_pid = pid;
                d
            })
            .collect(),
        parent_pid_deltas: p
            .iter()
            .map(|p| i64::from(p.parent_pid) - i64::from(p.pid))
            .collect(),
        process_names: p.iter().map(|p| p.name.clone()).collect(),
        uids: p.iter().map(|p| p.uid).collect(),
        end_deltas: p
            .iter()
            .map(|p| p.end_time.as_unix_micros().wrapping_sub(ts))
            .collect(),
        run_us: p
            .iter()
            .map(|p| {
                p.end_time
                    .as_unix_micros()
                    .wrapping_sub(p.start_time.as_unix_micros())
            })
            .collect(),
        cpu_us: p.iter().map(|p| micros(p.cpu_time)).collect(),
        peak_rss: p
            .iter()
            .map(|p| p.peak_rss_bytes.rotate_right(10))
            .collect(),
        statuses: p
            .iter()
            .map(|p| match p.status {
                ExitStatus::Code(c) => StatusV1::Code(c),
                ExitStatus::Signal(s) => StatusV1::Signal(s),
            })
            .collect(),
    }
}

impl ExitsV2 {
    /// The exits; `None` when the columns differ in length or a pid is out of range (damage).
    fn into_exits(self, ts: i64) -> Option<Exits> {
        let mut e = Exits::default();
        e.count = self.count;
        e.dropped = self.dropped;
        let n = self.names.len();
        if [
            self.name_counts.len(),
            self.name_cpu_us.len(),
            self.name_peak_rss.len(),
        ] != [n; 3]
        {
            return None;
        }
        e.names = self
            .names
            .into_iter()
            .zip(self.name_counts)
            .zip(self.name_cpu_us.into_iter().zip(self.name_peak_rss))
            .map(|((name, count), (cpu_us, rss))| {
                let mut x = ExitedName::new(name);
                x.count = count;
                x.cpu_time = Duration::from_micros(cpu_us);
                x.peak_rss_bytes = rss.rotate_left(10);
                x
            })
            .collect();
        let n = self.pid_deltas.len();
        if [
            self.parent_pid_deltas.len(),
            self.process_names.len(),
            self.uids.len(),
            self.end_deltas.len(),
            self.run_us.len(),
            self.cpu_us.len(),
            self.peak_rss.len(),
            self.statuses.len(),
        ] != [n; 8]
        {
            return None;
        }
        let mut prev_pid = 0i64;
        let mut names = self.process_names.into_iter();
        for i in 0..n {
            let pid = prev_pid.checked_add(self.pid_deltas[i])?;
            prev_pid = pid;
            let mut x = ExitedProcess::new(u32::try_from(pid).ok()?, names.next()?);
            x.parent_pid = u32::try_from(pid.checked_add(self.parent_pid_deltas[i])?).ok()?;
            x.uid = self.uids[i];
            let end = ts.wrapping_add(self.end_deltas[i]);
            x.end_time = Timestamp::from_unix_micros(end);
            x.start_time = Timestamp::from_unix_micros(end.wrapping_sub(self.run_us[i]));
            x.cpu_time = Duration::from_micros(self.cpu_us[i]);
            x.peak_rss_bytes = self.peak_rss[i].rotate_left(10);
            x.status = match self.statuses[i] {
                StatusV1::Code(c) => ExitStatus::Code(c),
                StatusV1::Signal(s) => ExitStatus::Signal(s),
            };
            e.processes.push(x);
        }
        Some(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample(i: u64) -> Sample {
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let mut s = Sample::new(t0.saturating_add(Duration::from_millis(1000 * i + 7)), "h");
        s.top.processes = (10..13)
            .map(|pid| {
                let mut p = ProcessEntry::new(pid, "app");
                p.cmdline = Some(format!("/usr/bin/app --worker {pid}"));
                p.cgroup = Some(format!("/system.slice/app-{pid}.service"));
                p.start_time = Timestamp::from_unix_secs(1_795_500_000);
                p.rss_bytes = (100 + i * u64::from(pid)) << 12;
                p.virtual_bytes = u64::MAX - i;
                p.cpu_pct = i as f32 / 3.0;
                p
            })
            .collect();
        s
    }

    fn news(v: &SampleV2) -> usize {
        v.processes
            .iter()
            .filter(|p| matches!(p, ProcessV2::New(_)))
            .count()
    }

    /// A process is named (its names, command line and cgroup written) in the first record since the key that
    /// lists it, and referred to by index after; one whose names change is named again; everything decodes to the
    /// same values.
    #[test]
    fn each_identity_is_named_once_per_key_interval() {
        let mut samples: Vec<Sample> = (0..6).map(sample).collect();
        // A process leaves the lists at the third sample and comes back at the fourth.
        samples[2].top.processes.remove(1);
        // One execs at the fifth: same identity, another name.
        samples[4].top.processes[0].name = "app-exec".into();
        samples[5].top.processes[0].name = "app-exec".into();
        let (mut enc, mut dec) = (Layout2State::default(), Layout2State::default());
        let mut counts = Vec::new();
        for s in &samples {
            let v = enc.encode(s);
            counts.push(news(&v));
            let bytes = postcard::to_allocvec(&v).unwrap();
            let back = dec
                .decode(postcard::from_bytes::<SampleV2>(&bytes).unwrap())
                .unwrap();
            assert_eq!(format!("{back:?}"), format!("{s:?}"));
        }
        assert_eq!(counts, [3, 0, 0, 0, 1, 0]);
        // After a key everything is named again.
        enc.reset();
        assert_eq!(news(&enc.encode(&samples[5])), 3);
        // A record that refers to an identity its decoder never saw (its key was lost) does not decode.
        let v = enc.encode(&samples[5]);
        assert_eq!(Layout2State::default().decode(v), None);
    }

    /// A record of `processes` after one of `key`, with the rest of `key`.
    fn with_processes(key: &SampleV2, processes: Vec<ProcessV2>) -> SampleV2 {
        SampleV2 {
            ts_delta: 1_000_000,
            rest: key.rest.clone(),
            processes,
            exits: None,
        }
    }

    /// A record of a few hundred bytes that refers a hundred times to an identity named with a 1 MiB command line
    /// would decode to 100 MiB of names: it is damage, refused before the names are copied. One that refers to it
    /// a few times decodes. So for the count of processes.
    #[test]
    fn a_record_that_repeats_a_long_named_identity_is_damage() {
        let mut s = sample(0);
        s.top.processes.truncate(1);
        s.top.processes[0].cmdline = Some("x".repeat(1 << 20));
        let mut enc = Layout2State::default();
        let key = enc.encode(&s);
        let again = enc.encode(&s);
        let known = again.processes[0].clone();
        assert!(matches!(known, ProcessV2::Known { index: 0, .. }));
        let hostile =
            postcard::to_allocvec(&with_processes(&key, vec![known.clone(); 100])).unwrap();
        assert!(hostile.len() < 4 << 10, "{}", hostile.len());
        let mut dec = Layout2State::default();
        assert!(dec.decode(key.clone()).is_some());
        // (Not `assert_eq!`: a failure would print the 100 MiB.)
        let got = super::super::sample_v2_from(&hostile, &mut dec);
        assert!(matches!(got, Err(super::super::Undecodable::Damaged)));
        // Within the bounds: eight references, 8 MiB of names.
        let mut dec = Layout2State::default();
        dec.decode(key.clone()).unwrap();
        let got = dec
            .decode(with_processes(&key, vec![known.clone(); 8]))
            .unwrap();
        assert_eq!(got.top.processes.len(), 8);
        // More processes than a sample lists, each with a short name: damage too.
        let mut s = sample(0);
        s.top.processes.truncate(1);
        let mut enc = Layout2State::default();
        let key = enc.encode(&s);
        let known = enc.encode(&s).processes[0].clone();
        let mut dec = Layout2State::default();
        dec.decode(key.clone()).unwrap();
        let many = with_processes(&key, vec![known.clone(); MAX_PROCESSES + 1]);
        assert!(dec.decode(many).is_none());
        dec.reset();
        dec.decode(key.clone()).unwrap();
        let most = with_processes(&key, vec![known; MAX_PROCESSES]);
        assert_eq!(dec.decode(most).unwrap().top.processes.len(), MAX_PROCESSES);
    }

    /// Deltas that each name a new identity with a 4 MiB command line, with no key between them, stop decoding
    /// once the identities named since the key cost more than the bound: the decoder keeps no more than that.
    #[test]
    fn the_identities_of_a_key_interval_are_bounded() {
        let big = "y".repeat(4 << 20);
        let rest = SampleV1::without_time_and_processes(&sample(0));
        let record = |pid: u32| SampleV2 {
            ts_delta: 1_000_000,
            rest: rest.clone(),
            processes: vec![ProcessV2::New(NewProcessV2 {
                pid,
                start_time: 0,
                parent_pid: None,
                name: "app".into(),
                cmdline: Some(big.clone()),
                user: None,
                cgroup: None,
                nums: NumbersV2 {
                    cpu_pct: 1.0,
                    children_cpu_pct: None,
                    rss_delta: 0,
                    virtual_delta: 0,
                    cpu_rank: None,
                    rss_rank: None,
                },
            })],
            exits: None,
        };
        let mut dec = Layout2State::default();
        let decoded = (0..20u32)
            .take_while(|&pid| dec.decode(record(pid)).is_some())
            .count();
        // 15 of 4 MiB and a bit are within 64 MiB, the 16th is not.
        assert_eq!(decoded, NAMED_MAX_BYTES / (4 << 20) - 1);
        assert!(dec.named_bytes > NAMED_MAX_BYTES);
        // After a key the interval starts again.
        dec.reset();
        assert!(dec.decode(record(0)).is_some());
    }

    /// A record of a million references to one identity (12 MB decompressed, under the 16 MiB a record may
    /// claim) would build a million processes, about 200 MB, before their count was checked: the sequence is
    /// refused as it is read, and the decoder goes on with the next key.
    #[test]
    fn a_record_of_a_million_processes_is_refused_as_it_is_read() {
        let mut s = sample(0);
        s.top.processes.truncate(1);
        let mut enc = Layout2State::default();
        let key = enc.encode(&s);
        let known = postcard::to_allocvec(&enc.encode(&s).processes[0]).unwrap();
        // Postcard writes a struct as its fields in order and a sequence as its length, then its elements.
        let n: usize = 1 << 20;
        let mut hostile = postcard::to_allocvec(&(1_000_000i64, &key.rest, n)).unwrap();
        for _ in 0..n {
            hostile.extend_from_slice(&known);
        }
        hostile.push(0); // no exits
        assert!(hostile.len() < super::super::MAX_RECORD as usize);
        let mut dec = Layout2State::default();
        dec.decode(key.clone()).unwrap();
        let (got, peak) = super::super::bounded::tests::peak_heap_of(|| {
            super::super::sample_v2_from(&hostile, &mut dec)
        });
        assert!(matches!(got, Err(super::super::Undecodable::Damaged)));
        assert!(peak < 1 << 20, "{peak} bytes");
        // The same bytes with a sequence of two decode: the encoding above is the record's.
        let mut two = postcard::to_allocvec(&(1_000_000i64, &key.rest, 2usize)).unwrap();
        two.extend_from_slice(&known);
        two.extend_from_slice(&known);
        two.push(0);
        let got = super::super::sample_v2_from(&two, &mut dec).unwrap();
        assert_eq!(got.top.processes.len(), 2);
    }

    /// Sizes in units and rotated sizes come back exactly, whole units or not, at the extremes too.
    #[test]
    fn units_and_rotations_round_trip() {
        for d in [
            0,
            1,
            -1,
            4095,
            4096,
            -4096,
            12_288,
            -3,
            i64::MAX,
            i64::MIN,
            i64::MIN + 4096,
        ] {
            assert_eq!(from_units(in_units(d, PAGE), PAGE), Some(d), "{d}");
        }
        assert_eq!(in_units(8192, PAGE), 4);
        assert_eq!(in_units(-4096, PAGE), -2);
        for v in [0, 1, 1023, 1024, 30 << 20, u64::MAX] {
            assert_eq!(v.rotate_right(10).rotate_left(10), v);
        }
        assert_eq!((30u64 << 20).rotate_right(10), 30 << 10);
        // What no encoder writes, read from damage: refused, not wrapped.
        assert_eq!(from_units(i128::MAX - 1, PAGE), None);
    }
}
