//! The list of cases, and running them: filtering, repetitions (the median
//! run is kept), progress, and the report they make.

use std::collections::HashMap;

use crate::analysis::{self, Step};
use crate::baselines;
use crate::budget::Budget;
use crate::channel::{self, Setup as SetupStep, Wait};
use crate::error::Result;
use crate::harness::Ctx;
use crate::hotpath;
use crate::pin::Placement;
use crate::progress::Progress;
use crate::raw::{self, RawVariant};
use crate::rawcopy::{self, CopyWith};
use crate::report::{self, CaseResult, Outcome, Report, Section};
use crate::stats::{Latency, Throughput};
use crate::waitset::{self, IdleWait};
use crate::watchcost::{self, WatchCost};

/// What to run and how.
#[derive(Debug)]
pub(crate) struct Plan {
    pub budget: Budget,
    /// Lower-case substring of the keys or titles to run; all when `None`.
    pub filter: Option<String>,
    /// Pin the processes to cores.
    pub pin: bool,
}

/// A measured value of one run.
pub(crate) enum Measured {
    Latency(Latency),
    Throughput(Throughput),
    /// A case that pairs its runs itself (the watch cost).
    Cost(WatchCost),
}

impl Measured {
    /// The figure repetitions are ranked by: p50 for latency, messages per
    /// second for throughput.
    fn primary(&self) -> f64 {
        match self {
            Measured::Latency(l) => l.p50,
            Measured::Throughput(t) => t.msgs_per_sec,
            Measured::Cost(c) => c.kept(),
        }
    }
}

type Runner = Box<dyn Fn(&Ctx) -> Result<Measured>>;

/// One row of the table.
pub(crate) struct Case {
    pub key: String,
    pub title: String,
    pub section: Section,
    /// Key of the row this one is compared with.
    pub compare: Option<String>,
    /// Runs once whatever the repetitions: it repeats and pairs its runs
    /// itself.
    pub once: bool,
    run: Runner,
}

impl Case {
    fn new(
        key: impl Into<String>,
        title: impl Into<String>,
        section: Section,
        compare: Option<&str>,
        run: impl Fn(&Ctx) -> Result<Measured> + 'static,
    ) -> Case {
        Case {
            key: key.into(),
            title: title.into(),
            section,
            compare: compare.map(str::to_owned),
            once: false,
            run: Box::new(run),
        }
    }

    /// The same case, run once (see [`Case::once`]).
    fn once(mut self) -> Case {
        self.once = true;
        self
    }

    fn matches(&self, filter: &Option<String>) -> bool {
        filter.as_ref().is_none_or(|f| {
            self.key.to_lowercase().contains(f) || self.title.to_lowercase().contains(f)
        })
    }
}

/// "64 B", "4 KiB", "1 MiB".
pub(crate) fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn size_key(size: usize) -> String {
    size_label(size).replace(' ', "")
}

const LATENCY_SIZES: [usize; 3] = [64, 1024, 64 * 1024];
const STREAM_SIZES: [usize; 3] = [64, 4096, 1 << 20];
const MIB: usize = 1 << 20;

fn lat(r: Result<Latency>) -> Result<Measured> {
    r.map(Measured::Latency)
}

fn tput(r: Result<Throughput>) -> Result<Measured> {
    r.map(Measured::Throughput)
}

/// Every case, in table order.
pub(crate) fn all_cases() -> Vec<Case> {
    use Section::*;
    let mut cases = vec![
        Case::new(
            "lat.raw",
            "raw cache-line ping-pong (hardware limit)",
            Latency,
            None,
            |ctx| lat(raw::pingpong(ctx, RawVariant::Bare)),
        ),
        Case::new(
            "lat.futex",
            "futex ping-pong (blocking limit)",
            Latency,
            None,
            |ctx| lat(baselines::futex_pingpong(ctx)),
        ),
        Case::new(
            "lat.unix.64B",
            "unix socket ping-pong 64 B",
            Latency,
            Some("lat.futex"),
            |ctx| lat(baselines::unix_pingpong(ctx, 64)),
        ),
        Case::new(
            "lat.pipe.64B",
            "pipe ping-pong 64 B",
            Latency,
            Some("lat.futex"),
            |ctx| lat(baselines::pipe_pingpong(ctx, 64)),
        ),
    ];
    for wait in [Wait::Spin, Wait::Default, Wait::Park] {
        for size in LATENCY_SIZES {
            let compare = if wait == Wait::Park {
                "lat.futex"
            } else {
                "lat.raw"
            };
            cases.push(Case::new(
                format!("lat.memlink.{}.{}", wait.as_str(), size_key(size)),
                format!("memlink {} {}", wait.as_str(), size_label(size)),
                Latency,
                Some(compare),
                move |ctx| lat(channel::pingpong(ctx, size, wait)),
            ));
        }
    }
    // The iceoryx2 baseline, compared with memlink spin 64 B: the ratio is
    // iceoryx2's p50 over memlink's (issue 13's target: >= 2).
    #[cfg(feature = "iceoryx2")]
    cases.push(Case::new(
        "lat.iceoryx2.64B",
        "iceoryx2 pub-sub 64 B, busy-poll, loan",
        Latency,
        Some("lat.memlink.spin.64B"),
        |ctx| lat(crate::iceoryx2::pingpong(ctx)),
    ));
    cases.push(Case::new(
        "lat.memlink.waitset64.64B",
        "memlink park 64 B, via a WaitSet over 64 idle + 1",
        Latency,
        Some("lat.memlink.park.64B"),
        |ctx| lat(channel::pingpong_waitset(ctx, 64, 64)),
    ));
    cases.push(Case::new(
        "cpu.idle64.busypoll",
        "CPU time per 50 ms on 64 idle: busy-poll",
        Latency,
        None,
        |ctx| lat(waitset::idle_cpu(ctx, IdleWait::BusyPoll)),
    ));
    cases.push(Case::new(
        "cpu.idle64.waitset",
        "CPU time per 50 ms on 64 idle: WaitSet",
        Latency,
        Some("cpu.idle64.busypoll"),
        |ctx| lat(waitset::idle_cpu(ctx, IdleWait::WaitSet)),
    ));
    cases.push(Case::new(
        "tput.memcpy.1MiB",
        "memcpy 1 MiB (one process)",
        Throughput,
        None,
        |ctx| tput(baselines::memcpy(ctx, MIB)),
    ));
    for size in STREAM_SIZES {
        cases.push(Case::new(
            format!("tput.unix.{}", size_key(size)),
            format!("unix socket {}", size_label(size)),
            Throughput,
            None,
            move |ctx| tput(baselines::unix_stream(ctx, size)),
        ));
    }
    for size in STREAM_SIZES {
        cases.push(Case::new(
            format!("tput.pipe.{}", size_key(size)),
            format!("pipe {}", size_label(size)),
            Throughput,
            Some(&format!("tput.unix.{}", size_key(size))),
            move |ctx| tput(baselines::pipe_stream(ctx, size)),
        ));
    }
    for size in STREAM_SIZES {
        let compare = if size == MIB {
            "tput.memcpy.1MiB".to_string()
        } else {
            format!("tput.unix.{}", size_key(size))
        };
        cases.push(Case::new(
            format!("tput.memlink.copy.{}", size_key(size)),
            format!("memlink copy {}", size_label(size)),
            Throughput,
            Some(&compare),
            move |ctx| tput(channel::stream(ctx, size, false)),
        ));
    }
    for size in STREAM_SIZES {
        // 64 B against copy (zero-copy must never be slower); the larger
        // sizes against zero-copy 64 B (how flat it stays).
        let compare = if size == 64 {
            "tput.memlink.copy.64B"
        } else {
            "tput.memlink.zerocopy.64B"
        };
        cases.push(Case::new(
            format!("tput.memlink.zerocopy.{}", size_key(size)),
            format!("memlink zero-copy {}", size_label(size)),
            Throughput,
            Some(compare),
            move |ctx| tput(channel::stream(ctx, size, true)),
        ));
    }
    for readers in [1usize, 2, 4] {
        cases.push(Case::new(
            format!("tput.memlink.broadcast.{readers}r.64B"),
            format!(
                "memlink broadcast 64 B to {readers} reader{}",
                if readers > 1 { "s" } else { "" }
            ),
            Throughput,
            Some("tput.memlink.copy.64B"),
            move |ctx| tput(channel::broadcast(ctx, 64, readers)),
        ));
    }
    cases.push(Case::new(
        "tput.memlink.16ch.64B",
        "memlink 64 B round-robin to 16 channels",
        Throughput,
        None,
        |ctx| tput(waitset::watch_cost(ctx, None, false).map(|r| r.throughput)),
    ));
    cases.push(Case::new(
        "tput.memlink.16ch.watched.64B",
        "the same, watched at 10 Hz (10x memlink watch)",
        Throughput,
        Some("tput.memlink.16ch.64B"),
        |ctx| tput(waitset::watch_cost(ctx, Some(waitset::WATCH_HZ), false).map(|r| r.throughput)),
    ));
    cases.push(
        Case::new(
            "cost.watch.1hz.16ch",
            "memlink watch (1 Hz) on 16 busy channels",
            Throughput,
            None,
            |ctx| watchcost::paired(ctx, watchcost::WATCH_CLI_HZ).map(Measured::Cost),
        )
        .once(),
    );
    for (key, title, what) in [
        (
            "setup.mapping.create",
            "mapping create 1 MiB + map",
            SetupStep::MappingCreate,
        ),
        (
            "setup.mapping.open",
            "mapping open 1 MiB + map",
            SetupStep::MappingOpen,
        ),
        (
            "setup.channel.create",
            "channel create (64 KiB ring)",
            SetupStep::ChannelCreate,
        ),
        ("setup.channel.open", "channel open", SetupStep::ChannelOpen),
    ] {
        cases.push(Case::new(key, title, Setup, None, move |ctx| {
            lat(channel::setup(ctx, what))
        }));
    }
    for (variant, title) in [
        (RawVariant::Release, "raw 64 B message, Release publish"),
        (
            RawVariant::Dekker,
            "raw 64 B message, SeqCst publish + parked check",
        ),
        (
            RawVariant::Ring72,
            "raw ring, 72 B records packed (memlink layout)",
        ),
        (
            RawVariant::Ring128,
            "raw ring, 72 B records on 128 B blocks",
        ),
        (RawVariant::Ring64, "raw ring, 64 B records (56 B payload)"),
    ] {
        cases.push(Case::new(
            format!("why.raw.{}.64B", variant.as_str()),
            title,
            WhyLatency,
            Some("lat.raw"),
            move |ctx| lat(raw::pingpong(ctx, variant)),
        ));
    }
    for (key, title, step) in [
        (
            "why.wordstore.1MiB",
            "clean loop of relaxed atomic word stores",
            Step::WordStore,
        ),
        (
            "why.wordload.1MiB",
            "clean loop of relaxed atomic word loads",
            Step::WordLoad,
        ),
        (
            "why.viewwrite.1MiB",
            "View::write_at, memlink's store_shared loop",
            Step::ViewWrite,
        ),
        (
            "why.viewread.1MiB",
            "View::read_at, memlink's load_shared loop",
            Step::ViewRead,
        ),
        (
            "why.zerofill.1MiB",
            "Vec::resize zero-fill (recv_into)",
            Step::ZeroFill,
        ),
    ] {
        cases.push(Case::new(
            key,
            title,
            WhyCopy,
            Some("tput.memcpy.1MiB"),
            move |ctx| tput(analysis::copy_step(ctx, MIB, step)),
        ));
    }
    for (key, title, size, zero_copy) in [
        (
            "why.onecore.copy.64B",
            "memlink send + recv_into 64 B, one process",
            64,
            false,
        ),
        (
            "why.onecore.zerocopy.64B",
            "memlink loan + recv_borrow 64 B, one process",
            64,
            true,
        ),
        (
            "why.onecore.copy.1MiB",
            "memlink send + recv_into 1 MiB, one process",
            MIB,
            false,
        ),
    ] {
        let compare = (size == MIB).then_some("tput.memcpy.1MiB");
        cases.push(Case::new(key, title, WhyCopy, compare, move |ctx| {
            tput(hotpath::rate(ctx, size, zero_copy))
        }));
    }
    for (with, title) in [
        (CopyWith::Memcpy, "raw 1 MiB stream, memcpy in and out"),
        (CopyWith::View, "raw 1 MiB stream, View::write_at/read_at"),
    ] {
        cases.push(Case::new(
            format!("why.rawcopy.{}.1MiB", with.as_str()),
            title,
            WhyStream,
            Some("tput.memcpy.1MiB"),
            move |ctx| tput(rawcopy::stream(ctx, with)),
        ));
    }
    cases
}

/// Runs the selected cases and builds the report. A case that fails is
/// reported as failed; the run goes on.
///
/// Ratios are paired: each repetition of a case that is compared with a
/// baseline runs that baseline right before it, and the ratio is the
/// median of the per-pair ratios. On this kind of machine (a VM whose
/// virtual CPUs the host moves between near and far physical cores, with
/// other work competing) the same case can differ by 4x from one second to
/// the next; a baseline measured seconds earlier would make the ratio
/// meaningless. The baseline runs even when filtered out of the table.
pub(crate) fn run_all(plan: &Plan) -> Result<Report> {
    let placement = Placement::choose(plan.pin);
    let ctx = Ctx {
        budget: &plan.budget,
        placement: &placement,
    };
    let load_before = report::load_average();
    let all = all_cases();
    let by_key: HashMap<&str, &Case> = all.iter().map(|c| (c.key.as_str(), c)).collect();
    let selected: Vec<&Case> = all.iter().filter(|c| c.matches(&plan.filter)).collect();
    if selected.is_empty() {
        return Err(format!(
            "no case matches --filter {:?}",
            plan.filter.as_deref().unwrap_or("")
        )
        .into());
    }
    let pair_of = |case: &Case| -> Option<&Case> {
        let key = case.compare.as_deref()?;
        (key != case.key)
            .then(|| by_key.get(key).copied())
            .flatten()
    };
    let steps: u32 = selected
        .iter()
        .map(|c| {
            let runs = 1 + u32::from(pair_of(c).is_some());
            if c.once {
                runs
            } else {
                runs * plan.budget.repeat
            }
        })
        .sum();
    let mut progress = Progress::new(steps);
    let mut results = Vec::with_capacity(selected.len());
    for case in selected {
        let pair = pair_of(case);
        let mut runs = Vec::new();
        let mut ratios = Vec::new();
        let mut error = None;
        let repeat = if case.once { 1 } else { plan.budget.repeat };
        for _ in 0..repeat {
            let baseline = pair.and_then(|b| {
                progress.step(&format!("{} (baseline of {})", b.title, case.title));
                // A failed baseline only costs the ratio; its own row says
                // why.
                (b.run)(&ctx).ok().map(|m| m.primary())
            });
            progress.step(&case.title);
            match (case.run)(&ctx) {
                Ok(m) => {
                    if let Measured::Cost(c) = &m {
                        // Its own pairs: each round's watched / unwatched.
                        ratios.extend(c.costs.iter().map(|cost| 1.0 - cost));
                    } else if let Some(b) = baseline.filter(|b| *b > 0.0) {
                        ratios.push(m.primary() / b);
                    }
                    runs.push(m);
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let primaries: Vec<f64> = runs.iter().map(Measured::primary).collect();
        // The median run by the primary figure: robust to one run disturbed
        // by the other processes of the machine.
        runs.sort_by(|a, b| a.primary().total_cmp(&b.primary()));
        let outcome = match (error, runs.len()) {
            (Some(message), _) => Outcome::Error { message },
            (None, 0) => Outcome::Error {
                message: "no run".into(),
            },
            (None, n) => match runs.swap_remove(n / 2) {
                Measured::Latency(l) => Outcome::Latency(l),
                Measured::Throughput(t) => Outcome::Throughput(t),
                Measured::Cost(c) => Outcome::Cost(c),
            },
        };
        let ratio = if let Outcome::Cost(c) = &outcome {
            // What the target checks: the worst the run cannot rule out.
            Some(1.0 - c.upper_bound())
        } else if case.compare.as_deref() == Some(case.key.as_str()) {
            Some(1.0)
        } else {
            median(&mut ratios)
        };
        results.push(CaseResult {
            key: case.key.clone(),
            title: case.title.clone(),
            section: case.section,
            compare: case.compare.clone(),
            ratio,
            ratios,
            runs: primaries,
            outcome,
        });
    }
    progress.done();
    Ok(Report::new(plan.budget, placement, results, load_before))
}

/// The median of `values` (the upper one of an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}
