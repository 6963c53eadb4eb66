//! Running work over inputs on several threads, with a progress bar and ordered output.
//!
//! The library is single-threaded by design; parallelism lives here. Each worker takes the
//! next input and processes it with its own state; its output goes through
//! [`Out::write_in_order`], which writes each input's output whole and in input order, so
//! lines never interleave and a run prints the same whatever `--jobs` is.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use breakglass_core::present::printable;
use indicatif::{ProgressBar, ProgressStyle};

use super::inputs::Input;

/// Where output goes: stdout, shared by the workers.
#[derive(Default)]
pub struct Out {
    /// Has a list item been written yet? (JSON lists need commas between items only.)
    wrote_item: Mutex<bool>,
    /// Output of inputs that finished before an earlier input did, held until its turn.
    order: Mutex<Order>,
    /// Signalled when the input whose output is due changes.
    turn: Condvar,
    /// Set when stdout is closed (e.g. `| head`) or failed: workers stop.
    closed: AtomicBool,
    /// The first write error other than a closed pipe.
    error: Mutex<Option<String>>,
}

impl Out {
    /// Writes one piece of output atomically; a closed pipe stops the run quietly.
    pub fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        use anyhow::Context as _;
        self.write_items(bytes, false)
            .context("cannot write the output")
    }

    /// Like `write`; with `json_items`, `bytes` holds JSON list items each preceded by
    /// `",\n"`, and the very first comma of the run is dropped.
    pub fn write_items(&self, bytes: &[u8], json_items: bool) -> io::Result<()> {
        if bytes.is_empty() || self.is_closed() {
            return Ok(());
        }
        let mut wrote = self
            .wrote_item
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes = if json_items && !*wrote {
            bytes.strip_prefix(b",\n").unwrap_or(bytes)
        } else {
            bytes
        };
        *wrote |= json_items;
        let mut lock = io::stdout().lock();
        match lock.write_all(bytes).and_then(|()| lock.flush()) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.closed.store(true, Ordering::Relaxed);
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                let mut first = self
                    .error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                first.get_or_insert_with(|| e.to_string());
                Err(e)
            }
        }
    }

    /// Fails if writing stdout failed for a reason other than the reader going away.
    pub fn check(&self) -> anyhow::Result<()> {
        let error = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match error.as_deref() {
            Some(e) => anyhow::bail!("cannot write the output: {e}"),
            None => Ok(()),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Writes output of the input at `index` (the inputs' order), after the output of every
    /// earlier input: an input's output goes straight out while it is the earliest unfinished
    /// one, and is held until then otherwise. `done` marks its last piece; every input must
    /// send one (empty if it printed nothing). Memory stays bounded: a worker whose held
    /// output would pass `HOLD_LIMIT` waits for its turn (the earliest unfinished input is
    /// always being worked on, since inputs are taken in order, so the wait ends).
    pub fn write_in_order(
        &self,
        index: usize,
        bytes: &[u8],
        done: bool,
        json_items: bool,
    ) -> io::Result<()> {
        let mut order = self
            .order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if index != order.next {
            let held = order.held.get(&index).map_or(0, |h| h.0.len());
            if held + bytes.len() <= HOLD_LIMIT {
                let held = order.held.entry(index).or_default();
                held.0.extend_from_slice(bytes);
                held.1 |= done;
                return Ok(());
            }
            while order.next != index && !self.is_closed() {
                order = self
                    .turn
                    .wait_timeout(order, std::time::Duration::from_millis(100))
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
        let mut result = self.write_items(bytes, json_items);
        if !done {
            return result;
        }
        order.next += 1;
        loop {
            let next = order.next;
            let Some((held, finished)) = order.held.remove(&next) else {
                break;
            };
            let written = self.write_items(&held, json_items);
            result = result.and(written);
            if !finished {
                break;
            }
            order.next += 1;
        }
        self.turn.notify_all();
        result
    }
}

/// The most output held per input before its worker waits for its turn.
const HOLD_LIMIT: usize = 8 << 20;

/// Which input's output is due, and the output held for later ones (bytes, finished).
#[derive(Default)]
struct Order {
    next: usize,
    held: std::collections::BTreeMap<usize, (Vec<u8>, bool)>,
}

/// Prints a one-line message on stderr (errors and warnings about inputs), made
/// [`printable`]: a message names inputs (an S3 key can hold any character, a line break
/// that would forge a message of ours among them) and quotes what was wrong with them.
pub fn say(message: &str) {
    #[expect(
        clippy::print_stderr,
        reason = "input problems are reported on stderr as they happen"
    )]
    {
        eprintln!("{}", printable(message));
    }
}

/// A progress bar over input bytes (as stored: gzip for `.json.gz`) and inputs, shown only
/// on an interactive terminal: for files when stdout and stderr both are and there is at
/// least 64 MiB to read; for bucket objects, which take longer to fetch, when stderr is and
/// there is at least 1 MiB.
pub fn progress(inputs: &[Input], disabled: bool) -> Option<ProgressBar> {
    let remote = inputs.iter().any(|i| matches!(i, Input::Object { .. }));
    let interactive = io::stderr().is_terminal() && (remote || io::stdout().is_terminal());
    let total: u64 = inputs.iter().map(Input::size).sum();
    let worth = if remote { 1 << 20 } else { 64 << 20 };
    if disabled || !interactive || total < worth {
        return None;
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {msg} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("0/{} objects", inputs.len()));
    Some(bar)
}

/// Opens an input for reading.
pub fn open(input: &Input) -> io::Result<Box<dyn Read + Send>> {
    match input {
        Input::File { path, .. } => Ok(Box::new(File::open(path)?)),
        Input::Stdin => Ok(Box::new(io::stdin())),
        Input::Object { source, key, .. } => source.open(key),
    }
}

/// Runs `work` over every input (with its index) on `jobs` threads, each with state from
/// `init`; returns the states for merging. Stops taking inputs once `out` is closed.
pub fn parallel<S: Send>(
    inputs: &[Input],
    jobs: usize,
    bar: Option<&ProgressBar>,
    out: &Out,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, &Input) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let worker = || {
        let mut state = init();
        loop {
            if out.is_closed() {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else {
                break;
            };
            work(&mut state, i, input);
            if let Some(bar) = bar {
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                bar.set_message(format!("{finished}/{} objects", inputs.len()));
                bar.inc(input.size());
            }
        }
        state
    };
    if jobs <= 1 {
        return vec![worker()];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs).map(|_| scope.spawn(worker)).collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}
