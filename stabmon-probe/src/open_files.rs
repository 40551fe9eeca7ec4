//! The process's open-file limit, which the `/proc` sampler's kept-open files count against.

/// Raises this process's soft open-file limit (`RLIMIT_NOFILE`) to its hard limit (at most 1,048,576) and returns
/// the soft limit now in force.
///
/// The Linux `/proc` sampler (`ProcSampler`) keeps one file open per process, the cheapest way to read them all,
/// up to three quarters of the soft limit it finds when it is created; the usual default of 1,024 covers ~770
/// processes, and the rest are opened and closed at every pass. A recorder on a busy machine calls this once at
/// start-up, before it builds its sampler or [`Collector`](crate::Collector).
///
/// The limit is the whole process's (and is inherited by the children it starts afterwards), so nothing in this
/// crate changes it: the program decides. Only Linux has a sampler that needs it: elsewhere this changes nothing
/// and returns `None`.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        Some(crate::linux::raise_nofile_limit())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
