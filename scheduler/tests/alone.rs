//! `Scheduler::run_alone`: one task on the calling thread, as `luge run`
//! runs its sandbox. The scheduler's threads start only when the task
//! needs them (the ticker for a timeout, the IO loop for a wait on a
//! descriptor that is not ready), and the task still sleeps, waits and
//! times out as it would on a worker thread.
//!
//! Also here, because it reads threads the same way: the IO loop a pinned
//! worker starts may run on every CPU the scheduler was created with.
//!
//! The tests look at this process's thread names, so they take turns.

use luge_scheduler::task::{sleep_until, timed_out, wait_readable, TaskOptions, Wake};
use luge_scheduler::worker::{Scheduler, TASK_STACK_SIZE};
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::mpsc::channel;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The CPUs the thread named `name` may run on (`Cpus_allowed_list`).
fn cpus_of(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| Some(task.ok()?.path()))
        .find(|task| std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.trim() == name))
        .and_then(|task| std::fs::read_to_string(task.join("status")).ok())
        .and_then(|status| {
            let line = status
                .lines()
                .find(|l| l.starts_with("Cpus_allowed_list"))?;
            Some(line.split_whitespace().last()?.to_string())
        })
}

/// The names of this process's threads that belong to a scheduler.
fn scheduler_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("luge-"))
        .collect();
    names.sort();
    names
}

/// The scheduler threads still alive once they have had time to go: a
/// joined thread's entry in /proc/self/task may outlive the join briefly.
fn threads_left() -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = scheduler_threads();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `body` alone with `options`; returns what it sent and the threads
/// of the scheduler's that lived while it ran.
fn alone<T: Send + 'static>(
    options: TaskOptions,
    body: impl FnOnce() -> T + Send + 'static,
) -> (T, Vec<String>) {
    let (tx, rx) = channel();
    Scheduler::run_alone(TASK_STACK_SIZE, options, move || {
        let result = body();
        tx.send((result, scheduler_threads())).unwrap();
    });
    rx.try_recv()
        .expect("the task ended before run_alone returned")
}

#[test]
fn a_lone_task_runs_on_the_calling_thread_and_starts_no_thread_it_does_not_need() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let caller = std::thread::current().id();
    let (ran_on, threads) = alone(TaskOptions::default(), || {
        // A timer wait needs no helper either: the caller's loop keeps it.
        let start = Instant::now();
        assert_eq!(
            sleep_until(start + Duration::from_millis(20)),
            Wake::Deadline
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        std::thread::current().id()
    });
    assert_eq!(ran_on, caller, "the task ran on the caller's thread");
    assert_eq!(
        threads,
        Vec::<String>::new(),
        "no ticker, IO loop or worker"
    );
    // Input that is ready already is read without the IO loop.
    let (reader, mut writer) = rustix::pipe::pipe()
        .map(|(r, w)| (r, std::fs::File::from(w)))
        .unwrap();
    writer.write_all(b"ready").unwrap();
    let (wake, threads) = alone(TaskOptions::default(), move || {
        wait_readable(reader.as_fd(), None)
    });
    assert_eq!(wake, Wake::Ready);
    assert_eq!(threads, Vec::<String>::new());
    assert_eq!(
        scheduler_threads(),
        Vec::<String>::new(),
        "nothing left behind"
    );
}

#[test]
fn a_lone_task_waiting_for_input_gets_the_io_loop_and_a_timeout_gets_the_ticker() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let mut writer = std::fs::File::from(writer);
    let late_writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        writer.write_all(b"late").unwrap();
    });
    let (wake, threads) = alone(TaskOptions::default(), move || {
        wait_readable(reader.as_fd(), None)
    });
    late_writer.join().unwrap();
    assert_eq!(wake, Wake::Ready);
    assert_eq!(threads, ["luge-io"]);
    assert_eq!(threads_left(), Vec::<String>::new(), "the IO loop joined");

    let options = TaskOptions {
        timeout: Some(Duration::from_millis(30)),
        ..TaskOptions::default()
    };
    let start = Instant::now();
    let ((wake, stopped), threads) = alone(options, || {
        let wake = sleep_until(Instant::now() + Duration::from_secs(60));
        (wake, timed_out())
    });
    assert_eq!((wake, stopped), (Wake::TimedOut, true));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the timeout ended the sleep after {:?}",
        start.elapsed()
    );
    assert_eq!(threads, ["luge-ticker"]);
    assert_eq!(threads_left(), Vec::<String>::new(), "both joined");
}

/// Input that is ready already is read without the IO loop, but not by a
/// task whose timeout has passed: its wait ends as timed out, as every
/// other wait of it does, so that a program past its time limit cannot go
/// on reading.
#[test]
fn a_timed_out_task_is_not_handed_input_that_is_ready() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (reader, mut writer) = rustix::pipe::pipe()
        .map(|(r, w)| (r, std::fs::File::from(w)))
        .unwrap();
    writer.write_all(b"ready").unwrap();
    let options = TaskOptions {
        timeout: Some(Duration::from_millis(30)),
        ..TaskOptions::default()
    };
    let ((slept, read), _) = alone(options, move || {
        let slept = sleep_until(Instant::now() + Duration::from_secs(60));
        (slept, wait_readable(reader.as_fd(), None))
    });
    assert_eq!((slept, read), (Wake::TimedOut, Wake::TimedOut));
    assert_eq!(threads_left(), Vec::<String>::new(), "nothing left behind");
}

#[test]
fn the_io_loop_a_pinned_worker_starts_runs_on_every_cpu_of_the_scheduler() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let own = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let own = own
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    let scheduler = Scheduler::new(1);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let (tx, rx) = channel();
    scheduler.spawn(move || tx.send(wait_readable(reader.as_fd(), None)).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    let io_cpus = loop {
        if let Some(cpus) = cpus_of("luge-io") {
            break cpus;
        }
        assert!(Instant::now() < deadline, "no IO loop thread");
        std::thread::sleep(Duration::from_millis(5));
    };
    std::fs::File::from(writer).write_all(b"x").unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Wake::Ready
    );
    assert_eq!(
        io_cpus,
        own,
        "the worker is pinned to {:?}",
        cpus_of("luge-worker-0")
    );
    drop(scheduler);
}
