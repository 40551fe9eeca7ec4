//! The binary's choices for glibc's allocator (a process-wide setting, so here and not in a library). Other
//! allocators keep their own policy.
//!
//! glibc's malloc raises its mmap threshold (up to 32 MB) each time a big block is freed, after which big blocks
//! come from the heap, whose freed pages stay resident and are trimmed only past a threshold that rises with it.
//! A fixed threshold maps every block at least that big on its own, given back to the system when freed.

/// Fixes malloc's thresholds: blocks of `mmap_bytes` and more mapped on their own, free heap above `trim_bytes`
/// given back. False where the allocator refused.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn fixed_thresholds(mmap_bytes: i32, trim_bytes: i32) -> bool {
    // SAFETY: mallopt(3) only sets two of the allocator's tuning parameters, under its own lock; the values are
    // in range and nothing else is required of the caller.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_bytes) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, trim_bytes) == 1
    }
}

/// Other allocators keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn fixed_thresholds(_mmap_bytes: i32, _trim_bytes: i32) -> bool {
    true
}

/// One arena for every thread (threads otherwise get arenas of their own, whose freed blocks stay resident beside
/// the others'). False where the allocator refused.
pub fn one_arena() -> bool {
    arenas(1)
}

/// At most `n` arenas, shared by all threads (by default glibc makes up to eight per core, one for each thread that
/// allocates while the others' are busy). False where the allocator refused.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn arenas(n: i32) -> bool {
    // SAFETY: as in `fixed_thresholds`: one tuning parameter, set under the allocator's lock.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

/// Other allocators keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn arenas(_n: i32) -> bool {
    true
}

/// The server's choice beside [`for_reading`]: four arenas. Each page a render worker makes is read by two
/// decoding threads of its own, started for it; with an arena per new thread, each render's freed blocks stayed
/// resident in arenas the next render did not reuse, and three month pages in a row peaked at 260, 301 and
/// 325 MiB (schema-4 data; 251-253 MiB in today's format). With four, a month page and two more at once peak at
/// 239-263 MiB (schema 4; 245-260 MiB with three) and today's format's month page takes 2.14-2.44 s (2.22-2.92 s
/// with three, 2.01-2.26 s with eight) in interleaved runs (BENCHMARKS.md, "Reading at any range", "Memory"). A
/// refusal costs memory, not correctness, so it is not reported.
pub fn for_serving() {
    let _ = arenas(4);
}

/// The thresholds of the commands that hold a range's columns at once (report, incidents, mail, serve): blocks of
/// 1 MiB and more mapped on their own, free heap above 16 MiB given back. glibc's own, rising thresholds left a
/// month's report at 230-244 MiB; mapping every block from 256 KiB up (and trimming past 128 KiB) held it at
/// 209 MiB but mapped, faulted in and unmapped each row group's columns again (0.6-0.8 s of system time in the
/// month's report); these keep it at 215-223 MiB with about a third of that system time (BENCHMARKS.md, "Reading
/// at any range", "Memory"). A refusal costs memory, not correctness, so it is not reported.
pub fn for_reading() {
    let _ = fixed_thresholds(1 << 20, 16 << 20);
}

/// Gives the free memory of every arena back to the system (glibc's `malloc_trim`); nothing elsewhere.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) only releases free memory of the allocator's arenas, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
