//! Progress of a long `serve`, `send` or `connect`, drawn on standard error
//! when it is a terminal; nothing at all when it is not (piped, redirected,
//! under a test), so scripts see exactly the output they always did.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// A progress line, or nothing.
///
/// Counting is one relaxed atomic add: a drawing thread reads the count
/// and redraws at 10 Hz, so that the message loop never reads a clock or
/// takes a lock for the bar (which halved `serve`'s rate when it did).
pub struct Progress(Option<Drawing>);

struct Drawing {
    bar: ProgressBar,
    count: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar towards `total` messages, or a counter when the total is not
    /// known. `shares_stdout`: the command also prints messages on standard
    /// output, so a bar on the same terminal would tear them; then it shows
    /// only when standard output goes elsewhere.
    pub fn new(label: &str, total: Option<u64>, shares_stdout: bool) -> Progress {
        let wanted =
            std::io::stderr().is_terminal() && !(shares_stdout && std::io::stdout().is_terminal());
        if !wanted {
            return Progress(None);
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {human_pos}/{human_len} messages, {per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {prefix}: {human_pos} messages, {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(label.to_owned());
        // Drawn once now: even a run that ends before the drawing thread
        // first wakes has shown its line.
        bar.tick();
        let count = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let drawer = {
            let (bar, count, done) = (bar.clone(), Arc::clone(&count), Arc::clone(&done));
            std::thread::spawn(move || {
                // Redrawing is this thread's whole job: the pause is its pace.
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(count.load(Ordering::Relaxed));
                    bar.tick();
                    std::thread::park_timeout(REDRAW);
                }
            })
        };
        Progress(Some(Drawing {
            bar,
            count,
            done,
            drawer: Some(drawer),
        }))
    }

    /// One more message.
    #[inline]
    pub fn inc(&self) {
        if let Some(drawing) = &self.0 {
            drawing.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the line away (the command's own summary follows).
    pub fn finish(&mut self) {
        if let Some(mut drawing) = self.0.take() {
            drawing.done.store(true, Ordering::Relaxed);
            if let Some(drawer) = drawing.drawer.take() {
                drawer.thread().unpark();
                let _ = drawer.join();
            }
            drawing.bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
