//! The simulated machine's processes: their profiles and the templates of a typical server.

use crate::time::Timestamp;

pub(super) const PAGE: u64 = 4096;
pub(super) const MIB: u64 = 1 << 20;
pub(super) const PID_MAX: u32 = 4_194_304;

/// How a simulated process uses the CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum CpuProfile {
    /// A clock tick with this probability per second.
    Idle(f64),
    /// Around this percent of one core, with noise.
    Busy(f64),
    /// Exactly this much (incidents).
    Fixed(f64),
}

/// How a simulated process's resident memory moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MemProfile {
    /// A few pages change with this probability per second.
    Steady(f64),
    /// Grows and shrinks often (a JVM heap, a database cache).
    Breathing,
    /// Grows by this many bytes per second.
    Leak(u64),
}

#[derive(Debug, Clone)]
pub(super) struct SimProc {
    pub(super) pid: u32,
    pub(super) ppid: u32,
    pub(super) name: String,
    pub(super) cmdline: Option<String>,
    pub(super) user: Option<String>,
    pub(super) start_time: Timestamp,
    pub(super) rss_pages: u64,
    pub(super) base_pages: u64,
    pub(super) vsz_bytes: u64,
    pub(super) cpu: CpuProfile,
    pub(super) mem: MemProfile,
    /// The tick index at which it exits, if it is short-lived.
    pub(super) exit_at: Option<u64>,
    /// Children's ticks reaped this interval.
    pub(super) child_ticks: u64,
    pub(super) kernel: bool,
    /// The index of the worker storm this process is a worker of.
    pub(super) storm: Option<usize>,
    /// Ticks used over its life (reaped by the parent of a storm worker when it exits).
    pub(super) life_ticks: u64,
}

/// A template of the processes of a typical server: (name, cmdline, user, rss MiB, profile, count).
pub(super) struct Template {
    pub(super) name: &'static str,
    pub(super) cmdline: &'static str,
    pub(super) user: &'static str,
    pub(super) rss_mib: u64,
    pub(super) cpu: CpuProfile,
    pub(super) mem: MemProfile,
    pub(super) count: usize,
}

const fn t(
    name: &'static str,
    cmdline: &'static str,
    user: &'static str,
    rss_mib: u64,
    cpu: CpuProfile,
    mem: MemProfile,
    count: usize,
) -> Template {
    Template {
        name,
        cmdline,
        user,
        rss_mib,
        cpu,
        mem,
        count,
    }
}

use CpuProfile::{Busy, Idle};
use MemProfile::{Breathing, Steady};

#[rustfmt::skip]
pub(super) const USERLAND: &[Template] = &[
    t("systemd", "/sbin/init splash", "root", 12, Idle(0.05), Steady(0.001), 1),
    t("systemd-journal", "/lib/systemd/systemd-journald", "root", 48, Idle(0.2), Steady(0.01), 1),
    t("systemd-udevd", "/lib/systemd/systemd-udevd", "root", 7, Idle(0.001), Steady(0.0005), 1),
    t("systemd-network", "/lib/systemd/systemd-networkd", "systemd-network", 9, Idle(0.01), Steady(0.0005), 1),
    t("systemd-resolve", "/lib/systemd/systemd-resolved", "systemd-resolve", 13, Idle(0.02), Steady(0.001), 1),
    t("systemd-logind", "/lib/systemd/systemd-logind", "root", 8, Idle(0.005), Steady(0.0005), 1),
    t("systemd-timesyn", "/lib/systemd/systemd-timesyncd", "systemd-timesync", 7, Idle(0.002), Steady(0.0002), 1),
    t("dbus-daemon", "@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only", "messagebus", 5, Idle(0.01), Steady(0.0005), 1),
    t("rsyslogd", "/usr/sbin/rsyslogd -n -iNONE", "syslog", 6, Idle(0.05), Steady(0.002), 1),
    t("cron", "/usr/sbin/cron -f -P", "root", 3, Idle(0.001), Steady(0.0002), 1),
    t("sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "root", 9, Idle(0.002), Steady(0.0002), 1),
    t("sshd", "sshd: alice@pts/0", "alice", 7, Idle(0.01), Steady(0.0005), 1),
    t("bash", "-bash", "alice", 5, Idle(0.003), Steady(0.0005), 1),
    t("tmux: server", "tmux new -s ops", "alice", 4, Idle(0.02), Steady(0.001), 1),
    t("agetty", "/sbin/agetty -o -p -- \\u --noclear tty1 linux", "root", 2, Idle(0.0), Steady(0.0), 1),
    t("polkitd", "/usr/libexec/polkitd --no-debug", "polkitd", 11, Idle(0.001), Steady(0.0002), 1),
    t("multipathd", "/sbin/multipathd -d -s", "root", 27, Idle(0.1), Steady(0.0005), 1),
    t("containerd", "/usr/bin/containerd", "root", 45, Idle(0.3), Steady(0.01), 1),
    t("dockerd", "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock", "root", 80, Idle(0.2), Steady(0.01), 1),
    t("node_exporter", "/usr/local/bin/node_exporter --collector.systemd --web.listen-address=:9100", "prometheus", 22, Idle(0.1), Steady(0.02), 1),
    t("nginx", "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;", "root", 3, Idle(0.0), Steady(0.0), 1),
    t("nginx", "nginx: worker process", "www-data", 9, Idle(0.3), Steady(0.02), 4),
    t("php-fpm8.2", "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)", "root", 20, Idle(0.01), Steady(0.0005), 1),
    t("php-fpm8.2", "php-fpm: pool www", "www-data", 38, Idle(0.15), Steady(0.05), 12),
    t("postgres", "/usr/lib/postgresql/16/bin/postgres -D /var/lib/postgresql/16/main -c config_file=/etc/postgresql/16/main/postgresql.conf", "postgres", 220, Idle(0.01), Steady(0.001), 1),
    t("postgres", "postgres: 16/main: checkpointer", "postgres", 60, Idle(0.05), Steady(0.01), 1),
    t("postgres", "postgres: 16/main: background writer", "postgres", 12, Idle(0.2), Steady(0.005), 1),
    t("postgres", "postgres: 16/main: walwriter", "postgres", 9, Idle(0.2), Steady(0.002), 1),
    t("postgres", "postgres: 16/main: autovacuum launcher", "postgres", 8, Idle(0.02), Steady(0.001), 1),
    t("postgres", "postgres: 16/main: app appdb 10.0.0.5(52314) idle", "postgres", 35, Idle(0.1), Steady(0.02), 14),
    t("postgres", "postgres: 16/main: app appdb 10.0.0.6(40122) SELECT", "postgres", 140, Busy(25.0), Breathing, 1),
    t("java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xms2g -Xmx4g -XX:+UseG1GC -Dspring.profiles.active=prod -jar /opt/app/app.jar", "app", 2600, Busy(45.0), Breathing, 1),
    t("node", "node /srv/web/server.js --port 3000", "app", 180, Busy(6.0), Breathing, 1),
    t("redis-server", "/usr/bin/redis-server 127.0.0.1:6379", "redis", 95, Idle(0.5), Steady(0.05), 1),
    t("python3", "/usr/bin/python3 /opt/worker/worker.py --queue default --concurrency 1", "app", 70, Idle(0.4), Steady(0.03), 8),
    t("gunicorn", "/srv/api/venv/bin/python3 /srv/api/venv/bin/gunicorn api.wsgi:application --workers 6 --bind 127.0.0.1:8000", "app", 110, Idle(0.3), Steady(0.03), 6),
    t("snapd", "/usr/lib/snapd/snapd", "root", 30, Idle(0.01), Steady(0.001), 1),
    t("unattended-upgr", "/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal", "root", 21, Idle(0.0), Steady(0.0), 1),
];

/// Kernel thread names; `{}` is replaced by a CPU number.
pub(super) const KTHREADS: &[&str] = &[
    "ksoftirqd/{}",
    "migration/{}",
    "cpuhp/{}",
    "kworker/{}:0-events",
    "kworker/{}:1H-kblockd",
    "kworker/{}:2-mm_percpu_wq",
    "idle_inject/{}",
];
pub(super) const KTHREADS_GLOBAL: &[&str] = &[
    "kthreadd",
    "rcu_gp",
    "rcu_par_gp",
    "rcu_sched",
    "kworker/u8:1-events_unbound",
    "kworker/u8:3-flush-8:0",
    "kcompactd0",
    "khugepaged",
    "kswapd0",
    "jbd2/sda1-8",
    "ext4-rsv-conver",
    "kauditd",
    "oom_reaper",
    "writeback",
    "kintegrityd",
    "kblockd",
    "watchdogd",
    "ksmd",
    "scsi_eh_0",
    "xfsaild/dm-0",
];
