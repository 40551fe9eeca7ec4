//! Interoperability (issue 3): DuckDB and pyarrow, clients nobody here wrote, read a directory written by stabmon
//! (two hosts, several days) and agree with stabmon's own reader. Needs `python3` with `duckdb` and `pyarrow`
//! (`.ci/run` installs them); outside CI the test says so and skips when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions, Retention, StoreReader};

const SCRIPT: &str = r#"
import json, sys
import duckdb, pyarrow.parquet as pq
root, host, ts_us, fixture = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
def q(sql):
    return con.execute(sql).fetchall()
src = lambda t: f"read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)"
# The documented macro (stabmon-store docs, "Exactness"): slot k of an `exact` list of (slot, value) pairs.
q("CREATE MACRO exact_slot(pairs, k) AS "
  "pairs[list_filter(range(1, coalesce(len(pairs), 0) + 1, 2), lambda i: pairs[i] = k)[1] + 1]")
# The documented macros (stabmon-store docs, "Derived values"): the whole machine's shares from the cores'.
q("CREATE MACRO core_mean(items) AS CASE WHEN len(items) > 0 AND list_count(items) = len(items) "
  "THEN CAST(floor((list_sum(items) * 200 + len(items)) / (2 * len(items))) / 100 AS DECIMAL(9,2)) END")
q("CREATE MACRO machine(value, items, exact, bit) AS "
  "coalesce(value, CASE WHEN coalesce(exact_slot(exact, 12), 0) & bit = 0 THEN core_mean(items) END)")
hundredths = lambda v: f"CAST({v} * 100 AS BIGINT)"
def derived(source, where):
    return q(f"""
        SELECT epoch_us(ts),
          {hundredths("coalesce(cpu_busy_pct, CASE WHEN len(core_busy) > 0 THEN core_mean(core_busy) ELSE user_pct + system_pct + steal_pct END)")},
          list_transform(core_busy, lambda c: {hundredths("c")}),
          coalesce(mem_used_kib, greatest(mem_total_kib - mem_available_kib, 0)),
          coalesce(interval_us, epoch_us(ts) - lag(epoch_us(ts)) OVER w + lateness_us - lag(lateness_us) OVER w),
          [{hundredths("user_pct")}, {hundredths("system_pct")}, {hundredths("iowait_pct")}, {hundredths("steal_pct")}]
        FROM (SELECT *,
            list_transform(list_zip(core_busy_pct, core_user_pct, core_system_pct, core_steal_pct),
              lambda c: coalesce(c[1], c[2] + c[3] + c[4])) AS core_busy,
            machine(cpu_user_pct, core_user_pct, exact, 1) AS user_pct,
            machine(cpu_system_pct, core_system_pct, exact, 2) AS system_pct,
            machine(cpu_iowait_pct, core_iowait_pct, exact, 4) AS iowait_pct,
            machine(cpu_steal_pct, core_steal_pct, exact, 8) AS steal_pct
          FROM {source}) WHERE host = '{where}'
        WINDOW w AS (PARTITION BY host ORDER BY ts) ORDER BY ts""")
out = {
    "count": q(f"SELECT count(*) FROM {src('samples')}")[0][0],
    "per_host": dict(q(f"SELECT host, count(*) FROM {src('samples')} GROUP BY host")),
    # Ranks are derived from the values (see the stabmon-store docs): the documented window function.
    "top": q(f"""
        SELECT p.name, p.pid FROM (
            SELECT *, row_number() OVER (PARTITION BY host, ts
                ORDER BY cpu_pct + coalesce(children_cpu_pct, 0) DESC, rss_kib DESC, pid) AS r
            FROM {src('processes')}) p
        JOIN {src('samples')} s USING (host, ts)
        WHERE p.host = '{host}' AND epoch_us(p.ts) = {ts_us}
          AND p.r <= s.top_n AND p.cpu_pct + coalesce(p.children_cpu_pct, 0) >= s.cpu_nth_pct AND p.r = 1""")[0],
    # A list stored out of canonical order (the committed fixture's odd sample at 23:00:02): its rows' list
    # positions (slot 4) give the written order back.
    "odd_order": q(f"""
        SELECT pid, epoch_us(start_time)
        FROM read_parquet('{fixture}/processes/**/*.parquet', hive_partitioning = true)
        WHERE host = 'odd' AND epoch_us(ts) = 1795647602000000 ORDER BY exact_slot(exact, 4)"""),
    # The list lengths by the documented rule: rank r <= top_n and the value at or above the list's bound.
    "list_lens": q(f"""
        SELECT count(*) FILTER (WHERE rc <= s.top_n AND p.cpu_pct + coalesce(p.children_cpu_pct, 0) >= s.cpu_nth_pct),
          count(*) FILTER (WHERE rr <= s.top_n AND p.rss_kib >= s.rss_nth_kib)
        FROM (SELECT *,
                row_number() OVER (PARTITION BY host, ts
                    ORDER BY cpu_pct + coalesce(children_cpu_pct, 0) DESC, rss_kib DESC, pid) AS rc,
                row_number() OVER (PARTITION BY host, ts
                    ORDER BY rss_kib DESC, cpu_pct + coalesce(children_cpu_pct, 0) DESC, pid) AS rr
              FROM {src('processes')}) p
        JOIN {src('samples')} s USING (host, ts)
        GROUP BY p.host, p.ts ORDER BY p.host, p.ts"""),
    "days": q(f"SELECT count(DISTINCT date) FROM {src('samples')}")[0][0],
    # Values left out as derived (see the stabmon-store docs, "Derived values"): the documented query.
    "derived": derived(src('samples'), host),
    # The committed fixture's machine shares against their cores: every case of the rule.
    "fixture_derived": derived(f"read_parquet('{fixture}/samples/**/*.parquet', hive_partitioning = true)", "cores"),
    "nulls": q(f"""SELECT count(*) - count(cpu_busy_pct), count(*) - count(mem_used_kib), count(*) - count(interval_us),
          count(*) - count(cpu_user_pct)
        FROM {src('samples')}""")[0],
    "pyarrow": {t: pq.read_table(f"{root}/{t}").num_rows for t in ["samples", "processes", "names"]},
}
print(json.dumps(out))
"#;

fn python_has_modules() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn duckdb_and_pyarrow_read_what_stabmon_wrote() {
    if !python_has_modules() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the interoperability test: .ci/run installs duckdb and pyarrow"
        );
        eprintln!(
            "SKIPPED: python3 with duckdb and pyarrow is not available (pip install duckdb pyarrow)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Two hosts, three UTC days at a 10-minute interval, through the flight recorder with 6-hour segments.
    let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let opts = RecorderOptions::new()
        .rotate(Duration::from_secs(6 * 3600))
        .retention(Retention::new().max_age(None));
    for (host, seed, cpu_floor) in [("web-1", 1, 0.0), ("db 2", 2, 2.5)] {
        let samples = Synth::new(start, Duration::from_secs(600))
            .count(3 * 144)
            .host(host)
            .seed(seed)
            .cpu_floor_pct(cpu_floor)
            .generate();
        let (mut rec, _) = FlightRecorder::open(dir.path(), opts.clone()).unwrap();
        for s in &samples {
            assert!(rec.record(s).is_empty());
            // Compaction keeps up (it runs on its own thread; here the test lets it catch up each time).
            assert!(rec.wait_for_compaction().is_empty());
        }
        rec.stop(samples.last().unwrap().ts).unwrap();
    }
    let reader = StoreReader::open(dir.path()).unwrap();
    let ours = reader.samples(None, None).unwrap();
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    let chosen = &ours.iter().filter(|s| s.host == "db 2").nth(200).unwrap();
    let top = chosen
        .top
        .processes
        .iter()
        .find(|p| p.cpu_rank == Some(1))
        .unwrap();

    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(dir.path())
        .arg("db 2")
        .arg(chosen.ts.as_unix_micros().to_string())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "tests/fixtures/store-v{}",
            stabmon_store::SCHEMA_VERSION
        )))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], ours.len() as u64);
    assert_eq!(v["count"], 2 * 3 * 144);
    for host in ["web-1", "db 2"] {
        let n = ours.iter().filter(|s| s.host == host).count() as u64;
        assert_eq!(v["per_host"][host], n, "{host}: {v}");
    }
    assert_eq!(v["days"], 3);
    assert_eq!(v["top"][0], top.name.as_str(), "{v}");
    assert_eq!(v["top"][1], top.pid, "{v}");
    let lens: Vec<(usize, usize)> = serde_json::from_value(v["list_lens"].clone()).unwrap();
    let mut by_host: Vec<&stabmon_core::Sample> = ours
        .iter()
        .filter(|s| !s.top.processes.is_empty())
        .collect();
    by_host.sort_by(|a, b| (&a.host, a.ts).cmp(&(&b.host, b.ts)));
    let ours_lens: Vec<(usize, usize)> = by_host
        .iter()
        .map(|s| {
            let count = |f: fn(&stabmon_core::ProcessEntry) -> bool| {
                s.top.processes.iter().filter(|p| f(p)).count()
            };
            (
                count(|p| p.cpu_rank.is_some()),
                count(|p| p.rss_rank.is_some()),
            )
        })
        .collect();
    assert_eq!(lens, ours_lens);
    // The CPU floor cut db 2's lists short; web-1 has none, so its lists are full, with ties at 0 %: the rule
    // was tried on both kinds of list.
    assert!(
        lens.iter().any(|l| l.0 < 10) && lens.iter().any(|l| l.0 == 10),
        "{lens:?}"
    );
    // The fixture's third odd sample lists `unranked` (pid 7), then two processes with pid 42 started at 2 us and
    // 1 us: not the canonical order, so only the stored positions give it.
    let odd_order: Vec<(u64, i64)> = serde_json::from_value(v["odd_order"].clone()).unwrap();
    assert_eq!(
        odd_order,
        [(7, 1_795_647_600_000_000), (42, 2), (42, 1)],
        "{v}"
    );
    // The derived values come back in SQL as the reader gives them, and some were left out.
    let db2: Vec<_> = ours.iter().filter(|s| s.host == "db 2").collect();
    assert_derived_rows(&v["derived"], &db2);
    let fixture = StoreReader::open(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/fixtures/store-v{}",
        stabmon_store::SCHEMA_VERSION
    )))
    .unwrap()
    .with_host("cores")
    .samples(None, None)
    .unwrap();
    assert!(fixture.len() >= 6, "{}", fixture.len());
    assert_derived_rows(&v["fixture_derived"], &fixture.iter().collect::<Vec<_>>());
    for (k, what) in [
        "cpu_busy_pct",
        "mem_used_kib",
        "interval_us",
        "cpu_user_pct",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            v["nulls"][k].as_u64().unwrap() > 0,
            "no {what} left out: {v}"
        );
    }
    let process_rows: usize = ours.iter().map(|s| s.top.processes.len()).sum();
    let name_rows: usize = ours.iter().map(|s| s.top.names.len()).sum();
    assert_eq!(v["pyarrow"]["samples"], ours.len() as u64);
    assert_eq!(v["pyarrow"]["processes"], process_rows as u64);
    assert_eq!(v["pyarrow"]["names"], name_rows as u64);
}

/// Rows of the documented "Derived values" query, as DuckDB gave them, against stabmon's reader: time, busy in
/// hundredths, the cores' busy, used memory in KiB, interval, the machine's user, system, iowait and steal in
/// hundredths (null where unknown).
fn assert_derived_rows(rows: &serde_json::Value, samples: &[&stabmon_core::Sample]) {
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), samples.len());
    // A non-finite value is stored as the decimal 0 (its bits in `exact`): that is what SQL reads.
    let hundredths = |p: f32| {
        if p.is_finite() {
            (f64::from(p) * 100.0).round() as i64
        } else {
            0
        }
    };
    for (row, s) in rows.iter().zip(samples) {
        let cores: Vec<i64> = s.per_core.iter().map(|c| hundredths(c.busy_pct)).collect();
        let c = &s.cpu;
        let parts =
            [c.user_pct, c.system_pct, c.iowait_pct, c.steal_pct].map(|p| p.map(hundredths));
        let want = serde_json::json!([
            s.ts.as_unix_micros(),
            hundredths(c.busy_pct),
            cores,
            s.memory.used_bytes / 1024,
            s.interval.as_micros() as u64,
            parts
        ]);
        assert_eq!(row, &want, "at {}", s.ts);
    }
}
