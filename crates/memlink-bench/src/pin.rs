//! Pinning processes to cores, so that the two ends of a case run on
//! separate cores (a cross-core measurement, which is what IPC is) and the
//! scheduler does not move them mid-run.

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// Which cores the run uses, or why it does not pin.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Placement {
    /// The benchmark process's core, when pinned.
    pub main_cpu: Option<usize>,
    /// Cores for peer processes, in the order they are handed out.
    pub peer_cpus: Vec<usize>,
    /// Cores this process may run on (before pinning).
    pub cpus: usize,
    /// What happened, in words, for the report.
    pub note: String,
}

impl Placement {
    /// Pins the current process to the first allowed core and reserves the
    /// others for peers, if `pin` and there are at least two cores.
    pub fn choose(pin: bool) -> Placement {
        let allowed = match sched_getaffinity(None) {
            Ok(set) => (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
            Err(e) => {
                return Placement::unpinned(
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                    format!("not pinned: cannot read the CPU set ({e})"),
                )
            }
        };
        let allowed: Vec<usize> = allowed;
        let cpus = allowed.len();
        if !pin {
            return Placement::unpinned(cpus, "not pinned (--no-pin)".into());
        }
        if cpus < 2 {
            return Placement::unpinned(
                cpus,
                format!("not pinned: only {cpus} CPU available, both processes share it"),
            );
        }
        let main = allowed[0];
        if let Err(e) = pin_to(main) {
            return Placement::unpinned(
                cpus,
                format!("not pinned: sched_setaffinity failed ({e})"),
            );
        }
        let peers = allowed[1..].to_vec();
        Placement {
            main_cpu: Some(main),
            cpus,
            note: format!(
                "pinned: benchmark on CPU {main}, peers on CPU {}",
                peers
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            peer_cpus: peers,
        }
    }

    /// No pinning, for the reason in `note`.
    pub(crate) fn unpinned(cpus: usize, note: String) -> Placement {
        Placement {
            main_cpu: None,
            cpus,
            peer_cpus: Vec::new(),
            note,
        }
    }

    /// The core for the `i`th peer of a case (round robin over the peer
    /// cores), or `None` when not pinning.
    pub fn peer_cpu(&self, i: usize) -> Option<usize> {
        if self.peer_cpus.is_empty() {
            None
        } else {
            Some(self.peer_cpus[i % self.peer_cpus.len()])
        }
    }
}

/// Pins the calling thread (the whole process, for a single-threaded one)
/// to `cpu`.
pub(crate) fn pin_to(cpu: usize) -> rustix::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set)
}
