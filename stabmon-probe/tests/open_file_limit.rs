//! The open-file limit is the program's to raise: a sampler only reads it. A test binary of its own, because it
//! changes the limit of the whole test process.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use stabmon_probe::{ProcSampler, SamplerOptions, raise_open_file_limit};

fn limits() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    (lim.rlim_cur, lim.rlim_max)
}

fn set_soft(soft: u64) {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: limits().1,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// What a sampler keeps open under a soft limit: all but a quarter of it (at least 128).
fn kept_open(soft: u64) -> usize {
    usize::try_from(soft - (soft / 4).max(128)).unwrap()
}

#[test]
fn a_sampler_only_reads_the_limit_and_raise_open_file_limit_raises_it() {
    let hard = limits().1;
    if hard < 1024 {
        println!(
            "SKIPPED: the hard open-file limit ({hard}) leaves no room below it for this test"
        );
        return;
    }
    set_soft(512);
    let low = ProcSampler::new(SamplerOptions::new()).unwrap();
    assert_eq!(
        limits().0,
        512,
        "creating a sampler changed the process's limit"
    );
    assert_eq!(low.max_open_files(), kept_open(512));

    let raised = raise_open_file_limit();
    let want = hard.min(1 << 20);
    assert_eq!(raised, Some(want));
    assert_eq!(limits().0, want);
    let high = ProcSampler::new(SamplerOptions::new()).unwrap();
    assert_eq!(high.max_open_files(), kept_open(want));
    // Raising again is harmless and says the same.
    assert_eq!(raise_open_file_limit(), Some(want));
}
