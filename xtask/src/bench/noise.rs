//! How quiet the machine was: its load average (`/proc/loadavg`) at the start, before the first
//! row and after the last, and the share of the cores that processes other than the benchmark's
//! own used while the SQLite rows ran (`/proc/stat` against `/proc/self/stat`). A run is marked
//! busy by [`Noise::busy`]'s rule.

use serde_json::{Value, json};

/// Above this 1-minute load average per core at the start, the run is busy.
pub(super) const BUSY_LOAD_PER_CORE: f64 = 0.5;
/// Above this share of the cores used by other processes during the SQLite rows, the run is busy.
pub(super) const BUSY_OTHERS_SHARE: f64 = 0.25;

/// `/proc/loadavg`'s 1-, 5- and 15-minute averages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LoadAverage(pub(super) [f64; 3]);

impl LoadAverage {
    pub(super) fn now() -> Option<Self> {
        parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
    }

    pub(super) fn one(self) -> f64 {
        self.0[0]
    }

    fn text(this: Option<Self>) -> String {
        this.map_or_else(|| "?".into(), |l| format!("{:.2} {:.2} {:.2}", l.0[0], l.0[1], l.0[2]))
    }
}

fn parse_loadavg(text: &str) -> Option<LoadAverage> {
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some(LoadAverage([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ]))
}

/// CPU time so far, in clock ticks: the machine's (every core, busy and idle) and this process's
/// with its waited-for children (wrk, the servers once stopped, the `accountd` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CpuMark {
    all: u64,
    busy: u64,
    ours: u64,
}

impl CpuMark {
    /// `None` off Linux. Take it when none of the benchmark's children is running.
    pub(super) fn now() -> Option<Self> {
        let (all, busy) = parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let ours = parse_self_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some(Self { all, busy, ours })
    }

    /// The share of the machine (0–1, of every core) that other processes used since `start`.
    pub(super) fn others_since(self, start: Self) -> Option<f64> {
        let all = self.all.checked_sub(start.all)?;
        let busy = self.busy.checked_sub(start.busy)?;
        let ours = self.ours.checked_sub(start.ours)?;
        (all > 0).then(|| busy.saturating_sub(ours) as f64 / all as f64)
    }
}

/// `/proc/stat`'s first line: (every tick, busy ticks). Busy is user + nice + system + irq +
/// softirq: a process's `stime` includes the interrupts served while it ran, which `/proc/stat`
/// counts apart (measured: wrk against the ceiling, `softirq` 20% of the ticks, and the two
/// processes' times matched user + system + softirq). Idle, iowait and steal are nobody's work.
fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, ..] = ticks[..] else {
        return None;
    };
    Some((ticks.iter().sum(), user + nice + system + irq + softirq))
}

/// utime + stime + cutime + cstime of `/proc/self/stat` (fields 14–17, counted after the
/// parenthesised command name, which may hold spaces).
fn parse_self_stat(text: &str) -> Option<u64> {
    let after_name = &text[text.rfind(')')? + 1..];
    // after_name's fields start at field 3 (state): fields 14–17 are its 12th to 15th.
    after_name
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// What the report says of the machine's quiet.
#[derive(Debug, Clone, Default)]
pub(super) struct Noise {
    pub(super) cores: f64,
    pub(super) at_start: Option<LoadAverage>,
    pub(super) before_rows: Option<LoadAverage>,
    pub(super) after: Option<LoadAverage>,
    /// Share of the machine other processes used while the SQLite rows ran.
    pub(super) others: Option<f64>,
}

impl Noise {
    /// The rule: busy when the 1-minute load average at the start (before the build and anything
    /// else the benchmark does) is above [`BUSY_LOAD_PER_CORE`] × cores, or other processes used
    /// more than [`BUSY_OTHERS_SHARE`] of the cores while the SQLite rows ran.
    pub(super) fn busy(&self) -> bool {
        self.at_start.is_some_and(|l| l.one() > BUSY_LOAD_PER_CORE * self.cores)
            || self.others.is_some_and(|o| o > BUSY_OTHERS_SHARE)
    }

    /// One sentence for the report's header.
    pub(super) fn sentence(&self) -> String {
        let others = self.others.map_or_else(|| "?".into(), |o| format!("{:.0}%", 100.0 * o));
        format!(
            "{}load average {} at the start, {} before the first row, {} after the last; other processes \
             used {others} of the cores while the SQLite rows ran (busy when the 1-minute load at the \
             start is above {BUSY_LOAD_PER_CORE} × cores = {:.1}, or others used more than {:.0}%)",
            if self.busy() {
                "**BUSY MACHINE**: "
            } else {
                "Quiet machine: "
            },
            LoadAverage::text(self.at_start),
            LoadAverage::text(self.before_rows),
            LoadAverage::text(self.after),
            BUSY_LOAD_PER_CORE * self.cores,
            100.0 * BUSY_OTHERS_SHARE,
        )
    }

    pub(super) fn json(&self) -> Value {
        let load = |l: Option<LoadAverage>| l.map(|l| l.0.to_vec());
        json!({
            "loadavg_at_start": load(self.at_start),
            "loadavg_before_rows": load(self.before_rows),
            "loadavg_after": load(self.after),
            "others_share_during_sqlite_rows": self.others,
            "busy": self.busy(),
            "rule": format!(
                "1-minute load at start > {BUSY_LOAD_PER_CORE} × cores, or others > {BUSY_OTHERS_SHARE} of the cores"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            parse_loadavg("0.62 1.37 1.57 3/145 24091\n"),
            Some(LoadAverage([0.62, 1.37, 1.57]))
        );
        assert_eq!(
            parse_stat("cpu  100 5 50 1000 10 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"),
            Some((1171, 158))
        );
        let stat = "42 (x task) S 1 42 42 0 -1 4194304 1 2 3 4 70 30 12 8 20 0 1 0 5 6 7";
        assert_eq!(parse_self_stat(stat), Some(120));
    }

    #[test]
    fn others_are_the_busy_ticks_that_are_not_ours() {
        let start = CpuMark {
            all: 1_000,
            busy: 100,
            ours: 50,
        };
        let end = CpuMark {
            all: 2_000,
            busy: 700,
            ours: 400,
        };
        assert_eq!(end.others_since(start), Some(0.25));
        assert_eq!(start.others_since(end), None);
    }

    #[test]
    fn busy_by_the_load_at_start_or_by_others_during_the_rows() {
        let quiet = Noise {
            cores: 2.0,
            at_start: Some(LoadAverage([0.9, 3.0, 3.0])),
            others: Some(0.1),
            ..Noise::default()
        };
        assert!(!quiet.busy());
        assert!(quiet.sentence().starts_with("Quiet machine"));
        let loaded = Noise {
            at_start: Some(LoadAverage([1.1, 0.0, 0.0])),
            ..quiet.clone()
        };
        assert!(loaded.busy());
        assert!(loaded.sentence().starts_with("**BUSY MACHINE**"));
        let shared = Noise {
            others: Some(0.3),
            ..quiet
        };
        assert!(shared.busy());
    }
}
