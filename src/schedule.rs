//! The ordered parallel pool: items in, outputs handed on in item order, whatever the
//! parallelism. It knows nothing of what an item is.
//!
//! Workers claim items in order and send each output to the calling thread, which puts them back
//! in order before handing them to the sink. A worker never runs more than a fixed window ahead
//! of the oldest item not yet handed on, so memory stays bounded however many items there are;
//! the cost of the ordering guarantee is that one slow item can briefly stall the others at the
//! window's edge.
//!
//! An item still running after the time limit is handed on as [`Job::timed_out`] says, and a new
//! worker takes its place; the one that was stuck ends when its item does, and what it made is
//! dropped. A stuck worker cannot be stopped from outside, so the workers are detached threads
//! that own what they use (`'static`): a run ends whatever they are stuck in.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::error::{Result, RunError};

/// What the pool runs on each item.
pub trait Job: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;

    /// The item's output. Runs on a worker thread.
    fn run(&self, item: &Self::Item) -> Self::Output;

    /// The output of an item that was still running after `limit`.
    fn timed_out(&self, item: &Self::Item, limit: Duration) -> Self::Output;
}

/// How the pool runs.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Worker threads; items in flight are at most four times as many.
    pub workers: usize,
    /// The longest an item may run; `None`: no limit.
    pub limit: Option<Duration>,
}

/// Items stuck past their limit at once, beyond which the run stops: so many hangs at once say
/// the inputs' storage has stalled, and a thread per stuck item would grow without bound.
const MAX_STUCK: usize = 8;

/// Where workers send each item's position and output.
type Outputs<J> = mpsc::Sender<(usize, <J as Job>::Output)>;

/// The progress line on stderr (drawn only when it is a terminal), for the sink to annotate.
pub struct Progress(ProgressBar);

impl Progress {
    /// Shows `note` after the counts, e.g. the errors so far.
    pub fn note(&self, note: String) {
        self.0.set_message(note);
    }
}

/// What the workers share with the calling thread.
struct Shared<J: Job> {
    job: J,
    items: Vec<J::Item>,
    window: usize,
    next: AtomicUsize,
    abort: AtomicBool,
    /// Items handed on so far; workers wait on it to stay within the window.
    delivered: (Mutex<usize>, Condvar),
    running: Mutex<Running>,
}

/// The items being worked on, under one lock so that finishing and giving up cannot cross.
#[derive(Default)]
struct Running {
    /// When each running item started.
    started: HashMap<usize, Instant>,
    /// Items given up on whose workers are still stuck in them.
    abandoned: HashSet<usize>,
}

/// Runs `job` on every item on `threads` (the pool's first workers) and hands each output, in
/// item order, to `sink`. Only the sink can fail the run, and that stops it; so does a pile-up of
/// items past their time limit.
pub fn run<J: Job>(
    job: J,
    items: Vec<J::Item>,
    pool: Pool,
    threads: &rayon::ThreadPool,
    mut sink: impl FnMut(J::Output, &Progress) -> Result<()>,
) -> Result<()> {
    let total = items.len();
    let shared = Arc::new(Shared {
        job,
        items,
        window: pool.workers.max(1) * 4,
        next: AtomicUsize::new(0),
        abort: AtomicBool::new(false),
        delivered: (Mutex::new(0), Condvar::new()),
        running: Mutex::new(Running::default()),
    });
    let (tx, rx) = mpsc::channel::<(usize, J::Output)>();
    let live = Arc::new(Live::default());
    // Each first worker waits until all have a thread of their own. Otherwise a thread in the
    // middle of an item's parallel sums may take a second worker off the pool's queue while it
    // waits for them, run it on top of the first, and both block at the window's edge: the
    // first item never finishes. A barrier is no rayon wait, so nothing is taken while at it.
    let meeting = pool.workers.max(1).min(threads.current_num_threads());
    let start = Arc::new(Barrier::new(meeting));
    for n in 0..pool.workers.max(1) {
        let mut worker = live.worker(&shared, &tx);
        worker.start = (n < meeting).then(|| Arc::clone(&start));
        threads.spawn(move || worker.run());
    }
    let progress = Progress(progress_bar(total));
    let outcome = deliver(&shared, &tx, &rx, &live, pool, |out| {
        progress.0.inc(1);
        sink(out, &progress)
    });
    drop(tx);
    progress.0.finish_and_clear();
    // Idle workers, and any waiting at the window's edge, end now; the run returns once every
    // worker but the stuck ones has let go of the job, so nothing the job owns (a GPU device)
    // is torn down on a worker thread while the process exits.
    shared.abort.store(true, Ordering::Relaxed);
    shared.delivered.1.notify_all();
    let patience = pool.limit.unwrap_or(Duration::from_secs(3600));
    live.wait_for(|| lock(&shared.running).abandoned.len(), patience);
    outcome
}

/// The workers still running, for the run to wait on at its end.
#[derive(Default)]
struct Live {
    count: Mutex<usize>,
    ended: Condvar,
}

impl Live {
    /// A new worker, counted until it ends.
    fn worker<J: Job>(self: &Arc<Self>, shared: &Arc<Shared<J>>, tx: &Outputs<J>) -> Worker<J> {
        *lock(&self.count) += 1;
        Worker {
            parts: Some((Arc::clone(shared), tx.clone())),
            live: Arc::clone(self),
            start: None,
        }
    }

    /// Blocks until no more workers run than `stuck()` says are stuck, or for `patience` at
    /// most: after a failed run a worker may be inside an item nobody gave up on.
    fn wait_for(&self, stuck: impl Fn() -> usize, patience: Duration) {
        let start = Instant::now();
        let mut count = lock(&self.count);
        while *count > stuck() && start.elapsed() < patience {
            count = self
                .ended
                .wait_timeout(count, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// One worker: what it shares, and the count it leaves when it ends (or is never started).
struct Worker<J: Job> {
    parts: Option<(Arc<Shared<J>>, Outputs<J>)>,
    live: Arc<Live>,
    /// For the pool's first workers: all of them, before any takes an item.
    start: Option<Arc<Barrier>>,
}

impl<J: Job> Worker<J> {
    fn run(self) {
        if let Some(start) = &self.start {
            start.wait();
        }
        if let Some((shared, tx)) = &self.parts {
            work(shared, tx);
        }
    }
}

impl<J: Job> Drop for Worker<J> {
    fn drop(&mut self) {
        drop(self.parts.take()); // before the count says this worker has ended
        *lock(&self.live.count) -= 1;
        self.live.ended.notify_all();
    }
}

/// The calling thread's loop: receives outputs, hands them on in order, gives up on items past
/// their limit.
fn deliver<J: Job>(
    shared: &Arc<Shared<J>>,
    tx: &Outputs<J>,
    rx: &mpsc::Receiver<(usize, J::Output)>,
    live: &Arc<Live>,
    pool: Pool,
    mut sink: impl FnMut(J::Output) -> Result<()>,
) -> Result<()> {
    let mut pending = BTreeMap::new();
    let mut expect = 0;
    while expect < shared.items.len() {
        if let Some(out) = pending.remove(&expect) {
            sink(out)?;
            expect += 1;
            *lock(&shared.delivered.0) = expect;
            shared.delivered.1.notify_all();
            continue;
        }
        let wait = pool.limit.map_or(Duration::from_secs(3600), |limit| {
            overdue_in(shared, expect, limit)
        });
        match rx.recv_timeout(wait) {
            Ok((i, out)) => {
                pending.insert(i, out);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let overdue = pool
                    .limit
                    .filter(|&l| overdue_in(shared, expect, l).is_zero());
                if let Some(limit) = overdue {
                    if let Some(out) = give_up(shared, tx, live, expect, limit)? {
                        pending.insert(expect, out);
                    }
                }
            }
            // Never: this loop holds a sender for the workers it starts.
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
    }
    Ok(())
}

/// How long until item `i` passes `limit`: the whole limit while no worker has started it.
fn overdue_in<J: Job>(shared: &Shared<J>, i: usize, limit: Duration) -> Duration {
    match lock(&shared.running).started.get(&i) {
        Some(start) => limit.saturating_sub(start.elapsed()),
        None => limit,
    }
}

/// Abandons item `i`, starts a worker in place of the stuck one, and returns the item's
/// timed-out output; `None` when its worker finished meanwhile (its output is on its way).
/// Fails when too many items are stuck at once.
fn give_up<J: Job>(
    shared: &Arc<Shared<J>>,
    tx: &Outputs<J>,
    live: &Arc<Live>,
    i: usize,
    limit: Duration,
) -> Result<Option<J::Output>> {
    let stuck = {
        let mut running = lock(&shared.running);
        if running.started.remove(&i).is_none() {
            return Ok(None);
        }
        running.abandoned.insert(i);
        running.abandoned.len()
    };
    if stuck > MAX_STUCK {
        return Err(RunError::Stalled(format!(
            "{stuck} inputs are still being read long after --file-timeout ({}); \
             their storage may have stalled",
            humantime::format_duration(limit)
        )));
    }
    let worker = live.worker(shared, tx);
    std::thread::Builder::new()
        .name("tbs-worker".into())
        .spawn(move || worker.run())
        .map_err(|e| RunError::Config(format!("cannot start a worker thread: {e}")))?;
    Ok(Some(shared.job.timed_out(&shared.items[i], limit)))
}

/// A worker's loop: claim the next item, run it, send the output; until the items run out, the
/// run stops, or its item was given up on.
fn work<J: Job>(shared: &Shared<J>, tx: &Outputs<J>) {
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.items.len() || !wait_for_window(shared, i) {
            return;
        }
        lock(&shared.running).started.insert(i, Instant::now());
        let out = shared.job.run(&shared.items[i]);
        let abandoned = {
            let mut running = lock(&shared.running);
            running.started.remove(&i);
            running.abandoned.remove(&i)
        };
        if abandoned || tx.send((i, out)).is_err() {
            return; // given up on: a fresh worker already took this one's place
        }
    }
}

/// Blocks until item `i` is within the window of the oldest not handed on; false on abort.
fn wait_for_window<J: Job>(shared: &Shared<J>, i: usize) -> bool {
    let (done, wake) = &shared.delivered;
    let mut done = lock(done);
    while i >= *done + shared.window && !shared.abort.load(Ordering::Relaxed) {
        done = wake.wait(done).unwrap_or_else(|p| p.into_inner());
    }
    !shared.abort.load(Ordering::Relaxed)
}

/// A lock, whatever a panicking holder left: the data here stay consistent at every step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Items done/total, rate, ETA and the sink's note.
fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {rate}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} files/s", state.per_sec());
                },
            );
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns its item after `item % 7` ms, or never for the items in `hang`.
    struct Sleepy {
        hang: Vec<usize>,
    }

    impl Job for Sleepy {
        type Item = usize;
        type Output = String;

        fn run(&self, &item: &usize) -> String {
            if self.hang.contains(&item) {
                loop {
                    std::thread::park();
                }
            }
            std::thread::sleep(Duration::from_millis((item % 7) as u64));
            item.to_string()
        }

        fn timed_out(&self, item: &usize, _: Duration) -> String {
            format!("{item} timed out")
        }
    }

    fn collect(job: Sleepy, items: usize, pool: Pool) -> (Result<()>, Vec<String>) {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(pool.workers)
            .build()
            .unwrap();
        let mut got = Vec::new();
        let outcome = run(job, (0..items).collect(), pool, &threads, |out, _| {
            got.push(out);
            Ok(())
        });
        (outcome, got)
    }

    #[test]
    fn outputs_come_in_item_order_whatever_finishes_first() {
        let pool = Pool {
            workers: 5,
            limit: None,
        };
        let (outcome, got) = collect(Sleepy { hang: vec![] }, 60, pool);
        assert!(outcome.is_ok());
        assert_eq!(got, (0..60).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn an_item_that_hangs_is_timed_out_and_the_rest_go_on_in_order() {
        let pool = Pool {
            workers: 2,
            limit: Some(Duration::from_millis(50)),
        };
        // Both first workers hang: the run still ends, on the workers that replace them.
        let (outcome, got) = collect(Sleepy { hang: vec![3, 4] }, 12, pool);
        assert!(outcome.is_ok());
        let mut expect: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        expect[3] = "3 timed out".into();
        expect[4] = "4 timed out".into();
        assert_eq!(got, expect);
    }

    #[test]
    fn too_many_items_stuck_at_once_stop_the_run() {
        let pool = Pool {
            workers: 2,
            limit: Some(Duration::from_millis(20)),
        };
        let (outcome, got) = collect(
            Sleepy {
                hang: (5..40).collect(),
            },
            40,
            pool,
        );
        let e = outcome.unwrap_err().to_string();
        assert!(e.contains("storage may have stalled"), "{e}");
        assert_eq!(got.len(), 5 + MAX_STUCK, "{got:?}");
    }

    /// Item 0 shares its work out with `rayon::join`, 50 ms a half; the rest are instant.
    struct Joining;

    impl Job for Joining {
        type Item = usize;
        type Output = usize;

        fn run(&self, &item: &usize) -> usize {
            if item == 0 {
                let nap = || std::thread::sleep(Duration::from_millis(50));
                rayon::join(nap, nap);
            }
            item
        }

        fn timed_out(&self, &item: &usize, _: Duration) -> usize {
            item
        }
    }

    #[test]
    fn a_thread_waiting_inside_an_items_parallel_work_takes_no_second_worker() {
        // Two threads, one busy for 10 ms as the run starts. The other's worker would start
        // item 0 at once; on waking, the busy thread steals the second half of its join (rayon
        // steals before it takes queued work), so item 0's thread then waits on the join with
        // the second worker still queued. Before the workers met at a barrier it ran that
        // worker on top of item 0, which filled the window and waited for item 0 for ever.
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        threads.spawn(|| std::thread::sleep(Duration::from_millis(10)));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let pool = Pool {
                workers: 2,
                limit: None,
            };
            let mut got = Vec::new();
            let outcome = run(Joining, (0..40).collect(), pool, &threads, |out, _| {
                got.push(out);
                Ok(())
            });
            tx.send((outcome.is_ok(), got)).ok();
        });
        let (ok, got) = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the run hung");
        assert!(ok);
        assert_eq!(got, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn a_failing_sink_stops_the_run() {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let pool = Pool {
            workers: 3,
            limit: None,
        };
        let mut seen = 0;
        let outcome = run(
            Sleepy { hang: vec![] },
            (0..100).collect(),
            pool,
            &threads,
            |_, _| {
                seen += 1;
                if seen == 10 {
                    Err(RunError::Output("disk full".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(outcome.unwrap_err().to_string().contains("disk full"));
        assert_eq!(seen, 10);
    }
}
