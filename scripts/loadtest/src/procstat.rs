//! CPU time and resident memory of processes, from /proc (Linux).

use std::time::Duration;

/// One reading of a process: CPU time used so far and resident set size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu: Duration,
    pub rss_bytes: u64,
}

/// Clock ticks per second, the unit of /proc/PID/stat's times.
fn ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// Parses the text of /proc/PID/stat: utime, stime, cutime and cstime
/// (fields 14 to 17: the process's own CPU time and that of the children
/// it has waited for, such as a server's compiler runs) and rss in pages
/// (field 24). The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from its closing parenthesis.
pub fn parse_stat(stat: &str, ticks: u64, page: u64) -> Option<Usage> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // after_name starts with field 3 (state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks_used = field(14)? + field(15)? + field(16)? + field(17)?;
    Some(Usage {
        cpu: Duration::from_nanos(ticks_used * 1_000_000_000 / ticks),
        rss_bytes: field(24)? * page,
    })
}

/// The usage of process `pid`, `None` if it is gone.
pub fn usage(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat, ticks_per_second(), page_size())
}

/// The children of process `pid` (of all its threads).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The summed usage of process `pid` and all its descendants (a fork
/// server's function processes count with it), `None` if `pid` is gone.
/// CPU time of descendants that already exited is in the parent's
/// cumulative counters only once waited for, so a process that exits
/// between two readings may briefly count twice or not at all; RSS is
/// exact at the moment of reading.
pub fn tree_usage(pid: u32) -> Option<Usage> {
    let mut total = usage(pid)?;
    let mut stack = children(pid);
    while let Some(p) = stack.pop() {
        if let Some(u) = usage(p) {
            total.cpu += u.cpu;
            total.rss_bytes += u.rss_bytes;
        }
        stack.extend(children(p));
    }
    Some(total)
}

/// CPU time this process has used (user + system).
pub fn own_cpu_time() -> Duration {
    usage(std::process::id()).map_or(Duration::ZERO, |u| u.cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 70 30 20 0 3 0 1000 123456789 300 18446744073709551615";
        let u = parse_stat(stat, 100, 4096).unwrap();
        assert_eq!(u.cpu, Duration::from_secs(4));
        assert_eq!(u.rss_bytes, 300 * 4096);
        assert_eq!(parse_stat("garbage", 100, 4096), None);
    }

    #[test]
    fn own_usage_is_readable() {
        let u = usage(std::process::id()).unwrap();
        assert!(u.rss_bytes > 0);
    }

    #[test]
    fn a_tree_counts_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        // The child shows up at once, its memory only once its exec is
        // complete.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let visible = || {
            children(me).contains(&child.id()) && usage(child.id()).is_some_and(|u| u.rss_bytes > 0)
        };
        while !visible() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let own = usage(me).unwrap().rss_bytes;
        let tree = tree_usage(me).unwrap().rss_bytes;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(tree > own, "tree {tree} own {own}");
    }
}
