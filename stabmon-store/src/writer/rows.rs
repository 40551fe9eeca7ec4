//! The compact rows of the `processes` and `names` tables that a row group buffers, and the process identities

/// A value and whether it is there, for the compact rows below: an `Option` of a 4-byte value takes 8 bytes.
fn present<T: Copy>(flags: u8, bit: u8, v: T) -> Option<T> {
    (flags & bit != 0).then_some(v)
}

/// Sets `bit` in `flags` when `v` is there and returns the value (or the default).
pub(super) fn mark<T: Copy + Default>(flags: &mut u8, bit: u8, v: Option<T>) -> T {
    if v.is_some() {
        *flags |= bit;
    }
    v.unwrap_or_default()
}

/// What a process is across the samples of a row group: its identity (pid, start) and what rarely changes with
/// it. The rows refer to it by index, so that the ~40 samples a process spends in the lists hold it once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcIdentity {
    pub(super) start_time: i64,
    pub(super) pid: u32,
    pub(super) parent_pid: u32,
    pub(super) name: i32,
    pub(super) cmdline: i32,
    pub(super) user: i32,
    /// The cgroup's and its unit's ids in the buffer's interners, -1 where there is none.
    pub(super) cgroup: i32,
    pub(super) unit: i32,
    /// Which of the optional values are there (the `P_PARENT`, `P_CMDLINE`, `P_USER` bits).
    pub(super) flags: u8,
}

impl ProcIdentity {
    pub(super) fn parent_pid(&self) -> Option<u32> {
        present(self.flags, P_PARENT, self.parent_pid)
    }
    pub(super) fn cmdline(&self) -> Option<i32> {
        present(self.flags, P_CMDLINE, self.cmdline)
    }
    pub(super) fn user(&self) -> Option<i32> {
        present(self.flags, P_USER, self.user)
    }
    pub(super) fn cgroup(&self) -> Option<i32> {
        (self.cgroup >= 0).then_some(self.cgroup)
    }
    pub(super) fn unit(&self) -> Option<i32> {
        (self.unit >= 0).then_some(self.unit)
    }
}

/// One row of the `processes` table in the buffer, in 40 bytes (`Option`s as bits of `flags`): an hour's row group
/// holds ~40,000 of them, the biggest part of the recorder's memory at compaction.
pub(super) struct ProcRow {
    pub(super) rss_bytes: u64,
    pub(super) virtual_bytes: u64,
    /// The process's index in `Buffer::idents`.
    pub(super) ident: u32,
    /// The sample's index in the row group: its `ts` is `Buffer::ts[sample]`.
    pub(super) sample: u32,
    pub(super) cpu_pct: f32,
    pub(super) children_cpu_pct: f32,
    pub(super) cpu_rank: u16,
    pub(super) rss_rank: u16,
    /// Which of the optional values are there (the `P_CHILDREN`, `P_*_RANK` bits).
    pub(super) flags: u8,
}

const _: () = assert!(std::mem::size_of::<ProcRow>() == 40);
const _: () = assert!(std::mem::size_of::<ProcIdentity>() == 40);
const _: () = assert!(std::mem::size_of::<NameRow>() == 32);

pub(super) const P_PARENT: u8 = 1;
pub(super) const P_CMDLINE: u8 = 2;
pub(super) const P_USER: u8 = 4;
pub(super) const P_CHILDREN: u8 = 8;
pub(super) const P_CPU_RANK: u8 = 16;
pub(super) const P_RSS_RANK: u8 = 32;

impl ProcRow {
    pub(super) fn children_cpu_pct(&self) -> Option<f32> {
        present(self.flags, P_CHILDREN, self.children_cpu_pct)
    }
    pub(super) fn cpu_rank(&self) -> Option<u16> {
        present(self.flags, P_CPU_RANK, self.cpu_rank)
    }
    pub(super) fn rss_rank(&self) -> Option<u16> {
        present(self.flags, P_RSS_RANK, self.rss_rank)
    }
}

/// The process rows of a row group, sorted, with the identities they refer to.
pub(super) struct ProcRows {
    pub(super) rows: Vec<ProcRow>,
    pub(super) idents: Vec<ProcIdentity>,
}

impl ProcRows {
    pub(super) fn ident(&self, r: &ProcRow) -> &ProcIdentity {
        &self.idents[r.ident as usize]
    }
}

/// One row of the `names` table in the buffer, in 32 bytes.
pub(super) struct NameRow {
    pub(super) rss_bytes: u64,
    /// The sample's index in the row group.
    pub(super) sample: u32,
    pub(super) name: i32,
    pub(super) process_count: u32,
    pub(super) cpu_pct: f32,
    pub(super) cpu_rank: u16,
    pub(super) rss_rank: u16,
    /// Which of the optional values are there (the `N_*` bits).
    pub(super) flags: u8,
}

pub(super) const N_CPU_RANK: u8 = 1;
pub(super) const N_RSS_RANK: u8 = 2;

impl NameRow {
    pub(super) fn cpu_rank(&self) -> Option<u16> {
        present(self.flags, N_CPU_RANK, self.cpu_rank)
    }
    pub(super) fn rss_rank(&self) -> Option<u16> {
        present(self.flags, N_RSS_RANK, self.rss_rank)
    }
}
