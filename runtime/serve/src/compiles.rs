//! The threads that compile modules deployed through the admin API (and
//! its OpenWhisk action creates): a fixed few started with the server,
//! behind a bounded queue. Compiling is CPU-heavy and slow for large modules, so deploys may
//! neither take every core from the functions being served nor make the
//! server start threads without bound; a deploy that finds the queue full
//! is refused (503) instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A fixed set of compile threads with a bounded queue.
pub struct CompilePool {
    /// The compiler's own parallel work runs here too, so a compile uses
    /// these threads and no others.
    threads: rayon::ThreadPool,
    taken: Arc<AtomicUsize>,
    capacity: usize,
}

/// A place in the pool (running or queued), given back when its job ends,
/// panicked or not.
struct Taken(Arc<AtomicUsize>);

impl Drop for Taken {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A place reserved for one job; see [`CompilePool::reserve`].
pub struct Reservation<'a> {
    pool: &'a CompilePool,
    taken: Taken,
}

impl CompilePool {
    /// Starts `workers` threads (at least one), which hold up to `queue`
    /// more jobs waiting.
    pub fn start(workers: usize, queue: usize) -> std::io::Result<CompilePool> {
        let workers = workers.max(1);
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("luge-compile-{i}"))
            // A compile that panics costs its deploy, not the process.
            .panic_handler(|_| eprintln!("luge: a compile job panicked; its request got no answer"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(CompilePool {
            threads,
            taken: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
        })
    }

    /// A place for one more job, or `None` when the threads are all busy
    /// and the queue is full. Asked before the job is made, so that a
    /// refused request can still be answered.
    pub fn reserve(&self) -> Option<Reservation<'_>> {
        let capacity = self.capacity;
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()?;
        Some(Reservation {
            pool: self,
            taken: Taken(self.taken.clone()),
        })
    }
}

impl Reservation<'_> {
    /// Runs `job` on a compile thread, in its turn.
    pub fn run(self, job: impl FnOnce() + Send + 'static) {
        let taken = self.taken;
        self.pool.threads.spawn(move || {
            let _taken = taken;
            job();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use std::sync::{mpsc, Mutex};

    #[test]
    fn jobs_past_the_threads_and_queue_are_refused_until_one_ends() {
        let pool = CompilePool::start(1, 1).unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let release = Arc::new(Mutex::new(release_rx));
        for _ in 0..2 {
            let (release, done_tx) = (release.clone(), done_tx.clone());
            pool.reserve().expect("a place").run(move || {
                release.lock().unwrap().recv().unwrap();
                done_tx.send(()).unwrap();
            });
        }
        assert!(pool.reserve().is_none(), "one running and one queued");
        release_tx.send(()).unwrap();
        done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // The finished job's place comes back once its thread lets it go.
        let again = (0..1000).find_map(|_| {
            std::thread::sleep(Duration::from_millis(1));
            pool.reserve()
        });
        assert!(again.is_some());
        drop(again);
        release_tx.send(()).unwrap();
        done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn a_panicking_job_leaves_its_thread_working() {
        let pool = CompilePool::start(1, 0).unwrap();
        pool.reserve().unwrap().run(|| panic!("boom"));
        let (tx, rx) = mpsc::channel();
        let reserved = (0..1000).find_map(|_| {
            std::thread::sleep(Duration::from_millis(1));
            pool.reserve()
        });
        reserved.unwrap().run(move || tx.send(7).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
    }
}
