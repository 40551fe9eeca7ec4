//! The CPU time of the calling thread, on every OS the benches build for.

use std::time::Duration;

/// User + system CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
#[cfg(unix)]
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// User + system CPU time of the calling thread (`GetThreadTimes`, in 100 ns units; Windows charges it in scheduler
/// ticks, so compare sums over many operations, not single ones).
#[cfg(windows)]
pub fn thread_cpu() -> Duration {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentThread, GetThreadTimes};

    let mut t = [FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    }; 4];
    let [creation, exit, kernel, user] = &mut t;
    // SAFETY: the pseudo-handle of the current thread; the four FILETIMEs are ours to write.
    unsafe { GetThreadTimes(GetCurrentThread(), creation, exit, kernel, user) };
    let hundred_ns =
        |f: &FILETIME| (u64::from(f.dwHighDateTime) << 32) | u64::from(f.dwLowDateTime);
    Duration::from_nanos((hundred_ns(kernel) + hundred_ns(user)) * 100)
}
