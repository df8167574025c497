//! The processes under measurement: a server child on loopback (killed on drop) and the sampler of
//! its resident memory, read from `/proc/<pid>/status` because that is what an operator's
//! monitoring sees too.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(super) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A server process on loopback, killed on drop.
pub(super) struct Server {
    child: Child,
}

impl Server {
    /// Starts `command` with its output appended to `log` and returns once `port` accepts
    /// connections (at most 60 s; a child that exits first fails with its log).
    pub(super) fn start(name: &str, command: &mut Command, port: u16, log: &Path) -> Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut server = Self { child };
        server.wait_listening(name, port, log)?;
        Ok(server)
    }

    fn wait_listening(&mut self, name: &str, port: u16, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("{name} exited with {status} before listening:\n{text}");
            }
            if Instant::now() > deadline {
                bail!("{name} did not listen on port {port} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `…kB` field of `/proc/<pid>/status`, in KiB.
pub(super) fn read_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The resident set now, in bytes.
pub(super) fn read_rss(pid: u32) -> Option<u64> {
    read_status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// Samples a process's VmRSS every 20 ms and keeps the largest per phase (VmHWM can't be reset
/// between phases).
pub(super) struct Sampler {
    phase: Arc<Mutex<String>>,
    peaks: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub(super) fn start(pid: u32) -> Self {
        let phase = Arc::new(Mutex::new(String::from("start")));
        let peaks = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (phase, peaks, stop) = (phase.clone(), peaks.clone(), stop.clone());
            std::thread::spawn(move || sample(pid, &phase, &peaks, &stop))
        };
        Self {
            phase,
            peaks,
            stop,
            thread: Some(thread),
        }
    }

    /// Samples taken from now on count for `name`.
    pub(super) fn phase(&self, name: &str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = name.to_owned();
        }
    }

    /// Stops sampling; the peak RSS in bytes of every phase that had a sample.
    pub(super) fn finish(mut self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// The sampler's thread: until `stop`, every 20 ms, raise the current phase's peak.
fn sample(pid: u32, phase: &Mutex<String>, peaks: &Mutex<BTreeMap<String, u64>>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(rss) = read_rss(pid) {
            let name = phase.lock().map(|p| p.clone()).unwrap_or_default();
            if let Ok(mut peaks) = peaks.lock() {
                let peak = peaks.entry(name).or_insert(0);
                *peak = (*peak).max(rss);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
