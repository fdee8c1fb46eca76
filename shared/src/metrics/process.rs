//! The process's own figures, read from `/proc/self` when Prometheus scrapes (nothing is
//! kept between scrapes): CPU seconds, resident memory, open file descriptors, start time.
//! Names follow Prometheus' client conventions, so the usual dashboards read them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second in `/proc` (`USER_HZ`): 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug)]
pub(super) struct ProcessCollector;

#[derive(Debug, PartialEq)]
pub(super) struct Figures {
    pub cpu_seconds: f64,
    pub resident_bytes: i64,
    pub start_time_seconds: f64,
}

/// CPU time and start time from `stat`, resident memory from `status` (in bytes, so no
/// page size is assumed), boot time from `/proc/stat`.
pub(super) fn read(stat: &str, status: &str, system: &str) -> Option<Figures> {
    // The command name (field 2) may hold spaces: fields are counted after its `)`.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    let resident_kb: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let boot: f64 = system
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(Figures {
        cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
        resident_bytes: resident_kb * 1024,
        start_time_seconds: boot + field(22)? / TICKS_PER_SECOND,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let text = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let figures = read(
            &text("/proc/self/stat"),
            &text("/proc/self/status"),
            &text("/proc/stat"),
        );
        // Not Linux (or /proc hidden): no process figures rather than wrong ones.
        let Some(figures) = figures else {
            return Ok(());
        };
        let cpu = ConstCounter::new(figures.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size",
                figures.resident_bytes as f64,
            ),
            (
                "process_start_time_seconds",
                "When the process started, Unix seconds",
                figures.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            let gauge = ConstGauge::new(fds.count() as i64);
            gauge.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Figures, read};

    #[test]
    fn figures_are_read_from_proc_even_with_a_space_in_the_command_name() {
        let stat = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 \
                    123400 900000000 2048 18446744073709551615";
        let status = "Name:\tapp\nVmPeak:\t 9000 kB\nVmRSS:\t    8192 kB\nThreads:\t9\n";
        let system = "cpu  1 2 3\nbtime 1700000000\nprocesses 10\n";
        assert_eq!(
            read(stat, status, system),
            Some(Figures {
                cpu_seconds: 3.0,
                resident_bytes: 8192 * 1024,
                start_time_seconds: 1_700_001_234.0,
            })
        );
        assert_eq!(read("garbage", status, system), None);
        assert_eq!(read(stat, "Name:\tapp\n", system), None);
    }
}
