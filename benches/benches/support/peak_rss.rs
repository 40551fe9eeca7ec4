//! The peak resident memory of this process, on every OS the benches build for.

/// The most resident memory this process has had, in MiB (`getrusage`'s `ru_maxrss`: KiB on Linux, bytes on
/// macOS).
#[cfg(unix)]
pub fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let unit = if cfg!(target_os = "macos") {
        1.0
    } else {
        1024.0
    };
    ru.ru_maxrss as f64 * unit / (1024.0 * 1024.0)
}

/// The most resident memory this process has had, in MiB (the peak working set).
#[cfg(windows)]
pub fn peak_rss_mib() -> f64 {
    use windows_sys::Win32::System::ProcessStatus::{
        GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::GetCurrentProcess;

    // SAFETY: PROCESS_MEMORY_COUNTERS is plain integers, for which zero is valid.
    let mut c: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    let size = size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    c.cb = size;
    // SAFETY: the pseudo-handle of this process and a struct of the size we pass.
    unsafe { GetProcessMemoryInfo(GetCurrentProcess(), &mut c, size) };
    c.PeakWorkingSetSize as f64 / (1024.0 * 1024.0)
}
