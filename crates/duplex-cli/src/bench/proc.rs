//! What the kernel reports about a process, from `/proc`: CPU time and
//! resident memory. Linux only; elsewhere every reading is `None`.

use std::time::Duration;

/// A process to read figures of: ourselves or another PID.
#[derive(Debug, Clone, Copy)]
pub enum Pid {
    /// The load generator itself (`/proc/self`).
    Me,
    /// Another process, e.g. the server under test.
    Other(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Me => "/proc/self".to_owned(),
            Pid::Other(pid) => format!("/proc/{pid}"),
        }
    }

    /// User plus system CPU time of every thread so far (`utime + stime`
    /// of `/proc/PID/stat`, in clock ticks of 10 ms on Linux).
    pub fn cpu_time(self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("{}/stat", self.dir())).ok()?;
        let ticks = parse_stat_cpu_ticks(&stat)?;
        let per_second = clock_ticks_per_second();
        Some(Duration::from_secs_f64(ticks as f64 / per_second as f64))
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("{}/status", self.dir())).ok()?;
        parse_status_kib(&status, "VmRSS:")
    }
}

/// `utime + stime` from the text of `/proc/PID/stat`. The command name (field
/// 2) is in parentheses and may hold spaces, so fields are counted after the
/// last `)`: state is field 3, utime field 14, stime field 15.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The value of a `Name:   1234 kB` line of `/proc/PID/status`.
fn parse_status_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    line[name.len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(target_os = "linux")]
fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

#[cfg(not(target_os = "linux"))]
fn clock_ticks_per_second() -> u64 {
    100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (tokio (rt) worker) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    1234 56 0 0 20 0 3 0 123456 1000000 250 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(1234 + 56));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_lines_are_read_in_kib() {
        let status = "Name:\tduplex\nVmPeak:\t  20000 kB\nVmRSS:\t    8123 kB\nThreads:\t2\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(8123));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn our_own_figures_are_readable() {
        assert!(Pid::Me.cpu_time().is_some());
        assert!(Pid::Me.rss_kib().unwrap() > 0);
    }
}
