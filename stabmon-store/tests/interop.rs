//! Interoperability: DuckDB, pandas (through pyarrow) and Polars, clients nobody here wrote, read a directory
//! written by stabmon (two hosts, several days) and answer the first questions a user asks with plain SELECT /
//! GROUP BY (or the dataframe equivalent) over the documented columns; each answer is checked against the one
//! computed from stabmon's own reader. Needs `python3` with `duckdb`, `pyarrow`, `pandas` and `polars` (`.ci/run`
//! installs them); outside CI the test says so and skips when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};
use stabmon_store::{FlightRecorder, RecorderOptions, Retention, StoreReader};

/// The eight questions, each asked by DuckDB, pandas and Polars: `{engine: {question: answer}}`, plus what
/// pandas makes of the column types and what DuckDB reads from the committed fixture.
const SCRIPT: &str = r#"
import json, sys
from datetime import datetime
import duckdb, pandas as pd, polars as pl, pyarrow.parquet as pq
root, fixture, instant, day = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
instant = datetime.fromisoformat(instant.replace("Z", "+00:00"))
out = {}

# ---- DuckDB ----
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
def q(sql):
    return [list(r) for r in con.execute(sql).fetchall()]
src = lambda t: f"read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)"
at = f"TIMESTAMPTZ '{instant.isoformat()}'"
out["duckdb"] = {
    "cpu_per_hour": q(f"""SELECT host, epoch_us(date_trunc('hour', ts)), avg(cpu_busy_pct), max(cpu_busy_pct)
        FROM {src('samples')} GROUP BY ALL ORDER BY ALL"""),
    "mem_used": q(f"SELECT epoch_us(ts), mem_used_bytes FROM {src('samples')} WHERE host = 'db 2' ORDER BY ts"),
    "top_names": q(f"""SELECT n.name, sum(n.cpu_pct / 100 * s.interval_us / 1e6) AS cpu_seconds
        FROM {src('names')} n JOIN {src('samples')} s USING (host, ts)
        WHERE n.host = 'web-1' AND n.date = '{day}'
        GROUP BY n.name ORDER BY cpu_seconds DESC LIMIT 5"""),
    "biggest": q(f"""SELECT pid, name, rss_bytes FROM {src('processes')}
        WHERE host = 'db 2' AND ts = {at} ORDER BY rss_bytes DESC, pid LIMIT 1""")[0],
    "p99": q(f"""SELECT target, epoch_us(date_trunc('hour', start_ts)), quantile_cont(total_us, 0.99)
        FROM {src('latency')} WHERE host = 'db 2' GROUP BY ALL ORDER BY ALL"""),
    "per_host": q(f"SELECT host, count(*) FROM {src('samples')} GROUP BY host ORDER BY host"),
    "listed": q(f"""SELECT pid, name, cpu_rank, rss_rank FROM {src('processes')}
        WHERE host = 'db 2' AND ts = {at} ORDER BY cpu_rank NULLS LAST, rss_rank NULLS LAST, pid"""),
    "oom": q(f"""SELECT host, max(oom_kill_count) - min(oom_kill_count) FROM {src('samples')}
        WHERE date = '{day}' GROUP BY host ORDER BY host"""),
}
fx = lambda t: f"read_parquet('{fixture}/{t}/**/*.parquet', hive_partitioning = true)"
out["fixture"] = {
    "samples": q(f"SELECT host, count(*) FROM {fx('samples')} GROUP BY host ORDER BY host"),
    "nas_busy": [r[0] for r in q(f"SELECT cpu_busy_pct FROM {fx('samples')} WHERE host = 'nas' ORDER BY ts")],
    "nas_listed": q(f"""SELECT epoch_us(ts), pid, cpu_rank, rss_rank FROM {fx('processes')} WHERE host = 'nas'
        ORDER BY ts, cpu_rank NULLS LAST, rss_rank NULLS LAST, pid"""),
}

# ---- pandas, through pyarrow ----
def pd_table(t):
    df = pq.read_table(f"{root}/{t}").to_pandas()
    # Hive partition keys come as categoricals.
    df["host"] = df["host"].astype(str)
    df["date"] = df["date"].astype(str)
    return df
S, P, N, L = (pd_table(t) for t in ["samples", "processes", "names", "latency"])
us = lambda t: (t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
opt = lambda v: None if pd.isna(v) else int(v)
at = pd.Timestamp(instant)
g = S.groupby(["host", S.ts.dt.floor("h")]).cpu_busy_pct.agg(["mean", "max"]).reset_index()
d = S[S.host == "db 2"].sort_values("ts")
n = N[(N.host == "web-1") & (N.date == day)].merge(S[["host", "ts", "interval_us"]], on=["host", "ts"])
n["cpu_seconds"] = n.cpu_pct / 100 * n.interval_us / 1e6
top = n.groupby("name").cpu_seconds.sum().sort_values(ascending=False).head(5)
big = P[(P.host == "db 2") & (P.ts == at)].sort_values(["rss_bytes", "pid"], ascending=[False, True]).iloc[0]
lat = L[L.host == "db 2"]
p99 = lat.groupby(["target", lat.start_ts.dt.floor("h")]).total_us.quantile(0.99).reset_index()
listed = P[(P.host == "db 2") & (P.ts == at)].sort_values(["cpu_rank", "rss_rank", "pid"], na_position="last")
oom = S[S.date == day].groupby("host").oom_kill_count.agg(lambda c: c.max() - c.min())
out["pandas"] = {
    "cpu_per_hour": [[h, int(us(t)), float(a), float(m)] for h, t, a, m in g.itertuples(index=False)],
    "mem_used": [[int(t), int(v)] for t, v in zip(us(d.ts), d.mem_used_bytes)],
    "top_names": [[k, float(v)] for k, v in top.items()],
    "biggest": [int(big.pid), big["name"], int(big.rss_bytes)],
    "p99": [[t, int(us(h)), None if pd.isna(v) else float(v)] for t, h, v in p99.itertuples(index=False)],
    "per_host": [[h, int(c)] for h, c in S.groupby("host").size().items()],
    "listed": [[int(r.pid), r.name, opt(r.cpu_rank), opt(r.rss_rank)] for r in listed.itertuples()],
    "oom": [[h, int(c)] for h, c in oom.items()],
}
out["pandas_dtypes"] = {c: str(S[c].dtype) for c in ["cpu_busy_pct", "load_1m", "mem_used_bytes", "interval_us"]}
out["pandas_dtypes"]["names.cpu_pct"] = str(N.cpu_pct.dtype)
out["pandas_dtypes"]["processes.rss_bytes"] = str(P.rss_bytes.dtype)

# ---- Polars ----
pl_table = lambda t: pl.read_parquet(f"{root}/{t}/**/*.parquet", hive_partitioning=True)
S, P, N, L = (pl_table(t) for t in ["samples", "processes", "names", "latency"])
on_day = pl.col("date").cast(pl.String) == day
g = (S.group_by("host", pl.col("ts").dt.truncate("1h").alias("hour"))
     .agg(pl.col("cpu_busy_pct").mean().alias("avg"), pl.col("cpu_busy_pct").max().alias("max"))
     .sort("host", "hour").with_columns(pl.col("hour").dt.epoch("us")))
top = (N.filter((pl.col("host") == "web-1") & on_day).join(S.select("host", "ts", "interval_us"), on=["host", "ts"])
       .with_columns((pl.col("cpu_pct") / 100 * pl.col("interval_us") / 1e6).alias("cpu_seconds"))
       .group_by("name").agg(pl.col("cpu_seconds").sum()).sort("cpu_seconds", descending=True).head(5))
now = P.filter((pl.col("host") == "db 2") & (pl.col("ts") == instant))
p99 = (L.filter(pl.col("host") == "db 2")
       .group_by("target", pl.col("start_ts").dt.truncate("1h").alias("hour"))
       .agg(pl.col("total_us").quantile(0.99, interpolation="linear"))
       .sort("target", "hour").with_columns(pl.col("hour").dt.epoch("us")))
oom = (S.filter(on_day).group_by("host")
       .agg((pl.col("oom_kill_count").max() - pl.col("oom_kill_count").min()).alias("kills")).sort("host"))
out["polars"] = {
    "cpu_per_hour": [list(r) for r in g.iter_rows()],
    "mem_used": [list(r) for r in S.filter(pl.col("host") == "db 2").sort("ts")
                 .select(pl.col("ts").dt.epoch("us"), "mem_used_bytes").iter_rows()],
    "top_names": [list(r) for r in top.iter_rows()],
    "biggest": list(now.sort(["rss_bytes", "pid"], descending=[True, False]).select("pid", "name", "rss_bytes").row(0)),
    "p99": [list(r) for r in p99.iter_rows()],
    "per_host": [list(r) for r in S.group_by("host").len().sort("host").iter_rows()],
    "listed": [list(r) for r in now.sort(["cpu_rank", "rss_rank", "pid"], nulls_last=True)
               .select("pid", "name", "cpu_rank", "rss_rank").iter_rows()],
    "oom": [list(r) for r in oom.iter_rows()],
}
print(json.dumps(out))
"#;

fn python_has_modules() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb, pyarrow, pandas, polars"])
        .output()
        .is_ok_and(|o| o.status.success())
}

const HOUR_US: i64 = 3_600_000_000;

fn ts_us(s: &Sample) -> i64 {
    s.ts.as_unix_micros()
}

/// The eight answers computed from the samples that [`StoreReader::samples`] gives, without SQL.
fn expected(ours: &[Sample], instant: Timestamp, day: (i64, i64)) -> Value {
    let host = |h: &'static str| ours.iter().filter(move |s| s.host == h);
    // Average and peak machine CPU per host and hour.
    let mut hours: BTreeMap<(&str, i64), (f64, u32, f32)> = BTreeMap::new();
    for s in ours {
        let e = hours
            .entry((s.host.as_str(), ts_us(s).div_euclid(HOUR_US) * HOUR_US))
            .or_insert((0.0, 0, f32::MIN));
        e.0 += f64::from(s.cpu.busy_pct);
        e.1 += 1;
        e.2 = e.2.max(s.cpu.busy_pct);
    }
    let cpu_per_hour: Vec<Value> = hours
        .iter()
        .map(|((h, t), (sum, n, max))| json!([h, t, sum / f64::from(*n), max]))
        .collect();
    let mem_used: Vec<Value> = host("db 2")
        .map(|s| json!([ts_us(s), s.memory.used_bytes]))
        .collect();
    let in_day = |s: &&Sample| (day.0..day.1).contains(&ts_us(s));
    // CPU seconds per name in the day: each name total's share of one core times the interval it covers.
    let mut secs: BTreeMap<&str, f64> = BTreeMap::new();
    for s in host("web-1").filter(in_day) {
        for n in &s.top.names {
            *secs.entry(n.name.as_str()).or_default() +=
                f64::from(n.cpu_pct) / 100.0 * s.interval.as_secs_f64();
        }
    }
    let mut top: Vec<(&str, f64)> = secs.into_iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top_names: Vec<Value> = top.iter().take(5).map(|(n, v)| json!([n, v])).collect();
    let at = host("db 2").find(|s| s.ts == instant).unwrap();
    let big = at
        .top
        .processes
        .iter()
        .max_by_key(|p| (p.rss_bytes, std::cmp::Reverse(p.pid)))
        .unwrap();
    // p99 of the completed probes' total time per target and hour, interpolated linearly between ranks.
    let mut probes: BTreeMap<(&str, i64), Vec<f64>> = BTreeMap::new();
    for s in host("db 2") {
        for p in &s.latency {
            let hour = p.ts.as_unix_micros().div_euclid(HOUR_US) * HOUR_US;
            let v = probes.entry((p.target.as_str(), hour)).or_default();
            if let Some(ms) = p.total_ms {
                v.push((ms * 1000.0).round());
            }
        }
    }
    let p99: Vec<Value> = probes
        .iter_mut()
        .map(|((t, h), v)| {
            v.sort_by(f64::total_cmp);
            let q = if v.is_empty() {
                None
            } else {
                let pos = 0.99 * (v.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
            };
            json!([t, h, q])
        })
        .collect();
    let mut per_host: BTreeMap<&str, u64> = BTreeMap::new();
    for s in ours {
        *per_host.entry(s.host.as_str()).or_default() += 1;
    }
    // The processes listed at the instant, in the order the reader gives them (by CPU rank, then memory rank).
    let listed: Vec<Value> = at
        .top
        .processes
        .iter()
        .map(|p| json!([p.pid, p.name, p.cpu_rank, p.rss_rank]))
        .collect();
    // OOM kills in the day: the counter's increments from one sample to the next.
    let mut oom: BTreeMap<&str, u64> = BTreeMap::new();
    for h in ["db 2", "web-1"] {
        let counts: Vec<u64> = host(h)
            .filter(in_day)
            .map(|s| s.oom_kill_count.unwrap())
            .collect();
        oom.insert(h, counts.windows(2).map(|w| w[1] - w[0]).sum());
    }
    json!({
        "cpu_per_hour": cpu_per_hour,
        "mem_used": mem_used,
        "top_names": top_names,
        "biggest": [big.pid, big.name, big.rss_bytes],
        "p99": p99,
        "per_host": per_host.iter().map(|(h, n)| json!([h, n])).collect::<Vec<_>>(),
        "listed": listed,
        "oom": oom.iter().map(|(h, n)| json!([h, n])).collect::<Vec<_>>(),
    })
}

/// Equal, with floating-point numbers equal to a relative 1e-5 (engines sum and divide in their own order and
/// precision); integers, strings and nulls exactly.
fn assert_close(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: {got} against {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_close(g, w, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1e-3),
                "{at}: {g} against {w}"
            );
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[test]
fn duckdb_pandas_and_polars_answer_the_first_questions_like_stabmon() {
    if !python_has_modules() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the interoperability test: .ci/run installs duckdb, pyarrow, pandas and polars"
        );
        eprintln!(
            "SKIPPED: python3 with duckdb, pyarrow, pandas and polars is not available \
             (pip install duckdb pyarrow pandas polars)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Two hosts, three UTC days at a 10-minute interval, through the flight recorder with 6-hour segments; web-1
    // leaks memory until the OOM killer ends it on the second day, db 2 probes two latency targets, one of which
    // fails for an hour (failed probes have no total time).
    let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let day = Timestamp::from_unix_secs(1_795_564_800 + 86_400); // 2026-11-26
    let hours = |h: u64| day.saturating_add(Duration::from_secs(h * 3600));
    let opts = RecorderOptions::new()
        .rotate(Duration::from_secs(6 * 3600))
        .retention(Retention::new().max_age(None));
    let web = Synth::new(start, Duration::from_secs(600))
        .count(3 * 144)
        .host("web-1")
        .seed(1)
        .cpu_floor_pct(0.0)
        .memory_leak("leaky", "/opt/leaky --serve", hours(3), hours(9), 64 << 10);
    let db = Synth::new(start, Duration::from_secs(600))
        .count(3 * 144)
        .host("db 2")
        .seed(2)
        .cpu_floor_pct(2.5)
        .latency_target("api", 20.0, 5.0)
        .latency_target("dns", 2.0, 0.5)
        .latency_outage("api", hours(10), hours(11));
    for synth in [web, db] {
        let samples = synth.generate();
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
    let instant = ours
        .iter()
        .filter(|s| s.host == "db 2")
        .nth(200)
        .unwrap()
        .ts;
    let day_us = day.as_unix_micros();
    let want = expected(&ours, instant, (day_us, day_us + 24 * HOUR_US));
    // The data makes every question worth asking: an OOM kill on the day, failed probes, unranked rows.
    assert!(want["oom"][1][1].as_u64().unwrap() > 0, "{want}");
    assert!(
        want["p99"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[2].is_null()),
        "{want}"
    );
    assert!(
        want["listed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[2].is_null()),
        "{want}"
    );
    assert_eq!(want["top_names"].as_array().unwrap().len(), 5, "{want}");

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/fixtures/store-v{}",
        stabmon_store::SCHEMA_VERSION
    ));
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(dir.path())
        .arg(&fixture)
        .arg(instant.to_string())
        .arg("2026-11-26")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    for engine in ["duckdb", "pandas", "polars"] {
        for (question, answer) in want.as_object().unwrap() {
            assert_close(
                &v[engine][question],
                answer,
                &format!("{engine} {question}"),
            );
        }
    }
    // pandas gets numbers, not objects: floats for percentages, unsigned integers for sizes.
    assert_eq!(
        v["pandas_dtypes"],
        json!({
            "cpu_busy_pct": "float32",
            "load_1m": "float32",
            "mem_used_bytes": "uint64",
            "interval_us": "int64",
            "names.cpu_pct": "float32",
            "processes.rss_bytes": "uint64",
        })
    );

    // The committed fixture of this schema version reads the same in DuckDB as in stabmon.
    let fx = StoreReader::open(&fixture).unwrap();
    let counts: Vec<Value> = fx
        .hosts()
        .iter()
        .map(|h| json!([h, fx.samples_for_host(h, None, None).unwrap().len()]))
        .collect();
    assert_eq!(v["fixture"]["samples"], json!(counts));
    let nas = fx.samples_for_host("nas", None, None).unwrap();
    let busy: Vec<f32> = nas.iter().map(|s| s.cpu.busy_pct).collect();
    assert_close(&v["fixture"]["nas_busy"], &json!(busy), "fixture busy");
    let listed: Vec<Value> = nas
        .iter()
        .flat_map(|s| {
            s.top
                .processes
                .iter()
                .map(|p| json!([ts_us(s), p.pid, p.cpu_rank, p.rss_rank]))
        })
        .collect();
    assert_eq!(v["fixture"]["nas_listed"], json!(listed));
}
