//! The journal's annex records (kinds 16 and 17): what a sample carries beyond record layout 1, written just
//! before the sample record it belongs to (kind 17 only up to format 3). Their layouts are frozen like layout 1's
//! (postcard, field by field, in this order, plain types only): never edit these structs; add a new kind when an
//! annex has to hold more.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use stabmon_core::{OomKill, ProcessKey, Sample, Timestamp};

use super::encode;
use crate::journal::{Kind, encode_frame};

/// Kind 16: the OOM kills a sample carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OomKillsV1 {
    #[serde(deserialize_with = "super::bounded::seq")]
    kills: Vec<OomKillV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OomKillV1 {
    ts: i64,
    pid: u32,
    name: String,
    anon_rss_bytes: Option<u64>,
    file_rss_bytes: Option<u64>,
    shmem_rss_bytes: Option<u64>,
    total_vm_bytes: Option<u64>,
    uid: Option<u32>,
    oom_score_adj: Option<i32>,
    constraint: Option<String>,
    memcg: bool,
    cgroup: Option<String>,
    oom_cgroup: Option<String>,
}

impl From<&OomKill> for OomKillV1 {
    fn from(k: &OomKill) -> Self {
        OomKillV1 {
            ts: k.ts.as_unix_micros(),
            pid: k.pid,
            name: k.name.clone(),
            anon_rss_bytes: k.anon_rss_bytes,
            file_rss_bytes: k.file_rss_bytes,
            shmem_rss_bytes: k.shmem_rss_bytes,
            total_vm_bytes: k.total_vm_bytes,
            uid: k.uid,
            oom_score_adj: k.oom_score_adj,
            constraint: k.constraint.clone(),
            memcg: k.memcg,
            cgroup: k.cgroup.clone(),
            oom_cgroup: k.oom_cgroup.clone(),
        }
    }
}

impl From<OomKillV1> for OomKill {
    fn from(k: OomKillV1) -> Self {
        let mut out = OomKill::new(Timestamp::from_unix_micros(k.ts), k.pid, k.name);
        out.anon_rss_bytes = k.anon_rss_bytes;
        out.file_rss_bytes = k.file_rss_bytes;
        out.shmem_rss_bytes = k.shmem_rss_bytes;
        out.total_vm_bytes = k.total_vm_bytes;
        out.uid = k.uid;
        out.oom_score_adj = k.oom_score_adj;
        out.constraint = k.constraint;
        out.memcg = k.memcg;
        out.cgroup = k.cgroup;
        out.oom_cgroup = k.oom_cgroup;
        out
    }
}

/// Kind 17: process identities (pid, start time in microseconds) and their cgroups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CgroupsV1 {
    #[serde(deserialize_with = "super::bounded::seq")]
    procs: Vec<(u32, i64, String)>,
}

/// Appends the annex frames of `s` to `out` (cleared first), their CRCs XORed with the journal's `salt`: its OOM
/// kills; empty when it has none. (Journals of format 3 and older also named the cgroups of the sample's
/// processes in kind-17 annexes; format 4 on names them in the sample's record.)
pub(crate) fn encode_annexes(s: &Sample, salt: u32, out: &mut Vec<u8>) {
    out.clear();
    if !s.oom_kills.is_empty() {
        let kills = OomKillsV1 {
            kills: s.oom_kills.iter().map(OomKillV1::from).collect(),
        };
        encode_frame(Kind::OomKills, &encode(&kills), salt, out);
    }
}

/// A kind-17 frame naming these processes' cgroups (pid, start time in microseconds, cgroup), as formats 1 to 3
/// wrote it.
#[cfg(test)]
pub(crate) fn cgroups_frame(procs: Vec<(u32, i64, String)>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(Kind::Cgroups, &encode(&CgroupsV1 { procs }), 0, &mut out);
    out
}

/// Reads a journal's annexes and applies them to the samples that follow.
#[derive(Debug, Default)]
pub(crate) struct AnnexDecoder {
    kills: Vec<OomKill>,
    cgroups: HashMap<ProcessKey, String>,
}

impl AnnexDecoder {
    /// Takes one annex frame; `false` when its payload does not decode (its data is lost, nothing else).
    pub(crate) fn take(&mut self, kind: Kind, payload: &[u8]) -> bool {
        match kind {
            Kind::OomKills => match postcard::from_bytes::<OomKillsV1>(payload) {
                Ok(k) => {
                    self.kills.extend(k.kills.into_iter().map(OomKill::from));
                    true
                }
                Err(_) => false,
            },
            Kind::Cgroups => match postcard::from_bytes::<CgroupsV1>(payload) {
                Ok(c) => {
                    for (pid, start, cg) in c.procs {
                        let key = ProcessKey {
                            pid,
                            start_time: Timestamp::from_unix_micros(start),
                        };
                        self.cgroups.insert(key, cg);
                    }
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// Gives `s` the kills read since the last sample, and its processes the cgroups this journal named.
    pub(crate) fn apply(&mut self, s: &mut Sample) {
        s.oom_kills.append(&mut self.kills);
        if self.cgroups.is_empty() {
            return;
        }
        for p in &mut s.top.processes {
            if let Some(cg) = self.cgroups.get(&p.key()) {
                p.cgroup = Some(cg.clone());
            }
        }
    }
}
