//! Isolation between tasks and between groups: late tasks drop behind
//! tasks on time, groups share the CPU by weight and within budgets, and a
//! task's owner can stop it. One worker and no quantum, so that the order
//! is decided by the queue alone (tasks give up the worker by yielding).

use luge_scheduler::group::{Budget, Group, DEFAULT_WEIGHT};
use luge_scheduler::queue::Policy;
use luge_scheduler::task::{cpu_time, on_timeout, sleep_until, yield_now, TaskOptions};
use luge_scheduler::worker::{Scheduler, TASK_STACK_SIZE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// The CPU time of one step of `race`. Shares are charged in wall-clock
/// time, so a hiccup of the host (or of qemu translating a path for the
/// first time) is charged to the task it hits; at 1 ms a step, one of 3 ms
/// moved a fair share out of its tolerance. Steps several times longer than
/// such hiccups keep the order the queue's.
const STEP: Duration = Duration::from_millis(5);

/// Held by each test: shares are charged in wall-clock time, so tests that
/// spin at once on a two-core machine would charge each other's delays.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A scheduler of one worker, and this test's turn.
fn one_worker(policy: Policy) -> (Scheduler, std::sync::MutexGuard<'static, ()>) {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    (
        Scheduler::with_config(1, TASK_STACK_SIZE, None, policy),
        turn,
    )
}

/// Holds the only worker, from before this returns until the returned
/// sender is used (or dropped).
fn hold(scheduler: &Scheduler) -> std::sync::mpsc::Sender<()> {
    let (release, gate) = channel::<()>();
    let (started, running) = channel::<()>();
    scheduler.spawn(move || {
        started.send(()).unwrap();
        let _ = gate.recv();
    });
    running.recv().unwrap();
    release
}

fn spin(time: Duration) {
    let start = Instant::now();
    while start.elapsed() < time {
        std::hint::spin_loop();
    }
}

fn with_deadline(ms: u64) -> TaskOptions {
    TaskOptions {
        relative_deadline: Some(Duration::from_millis(ms)),
        ..TaskOptions::default()
    }
}

/// Spawns a task that logs `name` when it runs.
fn logged(scheduler: &Scheduler, log: &Arc<Mutex<Vec<String>>>, name: &str, options: TaskOptions) {
    let (log, name) = (log.clone(), name.to_owned());
    scheduler.spawn_with(options, move || log.lock().unwrap().push(name));
}

#[test]
fn under_edf_a_task_past_its_deadline_runs_after_the_tasks_on_time() {
    let (scheduler, _turn) = one_worker(Policy::Edf);
    let release = hold(&scheduler);
    let log = Arc::new(Mutex::new(Vec::new()));
    logged(&scheduler, &log, "late", with_deadline(1));
    logged(&scheduler, &log, "b", with_deadline(400));
    logged(&scheduler, &log, "a", with_deadline(300));
    logged(&scheduler, &log, "none", TaskOptions::default());
    std::thread::sleep(20 * MS);
    release.send(()).unwrap();
    scheduler.wait_idle();
    assert_eq!(*log.lock().unwrap(), ["a", "b", "none", "late"]);
}

#[test]
fn under_fifo_a_task_past_its_deadline_runs_after_the_tasks_on_time() {
    let (scheduler, _turn) = one_worker(Policy::Fifo);
    let release = hold(&scheduler);
    let log = Arc::new(Mutex::new(Vec::new()));
    logged(&scheduler, &log, "late", with_deadline(1));
    logged(&scheduler, &log, "first", TaskOptions::default());
    logged(&scheduler, &log, "second", with_deadline(10_000));
    std::thread::sleep(20 * MS);
    release.send(()).unwrap();
    scheduler.wait_idle();
    assert_eq!(*log.lock().unwrap(), ["first", "second", "late"]);
}

/// Options that put a task in `group`.
fn in_group(group: &Arc<Group>) -> TaskOptions {
    TaskOptions {
        group: Some(group.clone()),
        ..TaskOptions::default()
    }
}

/// Runs, on one worker under `policy`, a task per entry of `steppers`,
/// each `steps` steps of `STEP` of CPU that yield after each and log the
/// entry's name before it, all queued before the first runs; returns the
/// log.
fn race(policy: Policy, steppers: Vec<(&'static str, TaskOptions, usize)>) -> Vec<&'static str> {
    let (scheduler, _turn) = one_worker(policy);
    let release = hold(&scheduler);
    let log = Arc::new(Mutex::new(Vec::new()));
    for (name, options, steps) in steppers {
        let log = log.clone();
        scheduler.spawn_with(options, move || {
            for _ in 0..steps {
                log.lock().unwrap().push(name);
                spin(STEP);
                yield_now();
            }
        });
    }
    release.send(()).unwrap();
    scheduler.wait_idle();
    let log = log.lock().unwrap().clone();
    log
}

#[test]
fn two_groups_of_equal_weight_take_turns() {
    let (a, b) = (
        Group::new("a", DEFAULT_WEIGHT, None),
        Group::new("b", DEFAULT_WEIGHT, None),
    );
    // Three tasks of `a` against one of `b`: shares go by group, not task.
    let mut steppers = vec![("a", in_group(&a), 10); 3];
    steppers.push(("b", in_group(&b), 10));
    let log = race(Policy::Fifo, steppers);
    let b_in_first_20 = log[..20].iter().filter(|n| **n == "b").count();
    assert!(
        (8..=12).contains(&b_in_first_20),
        "b ran {b_in_first_20} of the first 20 steps: {log:?}"
    );
}

#[test]
fn a_group_with_three_times_the_weight_gets_about_three_times_the_cpu() {
    let heavy = Group::new("heavy", 3 * DEFAULT_WEIGHT, None);
    let light = Group::new("light", DEFAULT_WEIGHT, None);
    let steppers = vec![
        ("heavy", in_group(&heavy), 40),
        ("light", in_group(&light), 40),
    ];
    let log = race(Policy::Fifo, steppers);
    let heavy_in_first_40 = log[..40].iter().filter(|n| **n == "heavy").count();
    assert!(
        (24..=36).contains(&heavy_in_first_40),
        "heavy ran {heavy_in_first_40} of the first 40 steps: {log:?}"
    );
}

#[test]
fn a_group_that_spent_its_budget_waits_for_groups_with_work_and_budget() {
    let budget = Budget {
        max: 3 * STEP,
        period: Duration::from_secs(10),
    };
    let capped = Group::new("capped", DEFAULT_WEIGHT, Some(budget));
    let free = Group::new("free", DEFAULT_WEIGHT, None);
    let steppers = vec![
        ("capped", in_group(&capped), 10),
        ("free", in_group(&free), 10),
    ];
    let log = race(Policy::Edf, steppers);
    let last_free = log.iter().rposition(|n| *n == "free").unwrap();
    let capped_before = log[..last_free].iter().filter(|n| **n == "capped").count();
    assert!(
        capped_before <= 4,
        "capped ran {capped_before} steps before free finished: {log:?}"
    );
    assert_eq!(log.len(), 20, "the capped group still finishes");
}

#[test]
fn a_tasks_cpu_time_leaves_out_the_time_it_slept() {
    let (scheduler, _turn) = one_worker(Policy::Fifo);
    let (tx, rx) = channel();
    scheduler.spawn(move || {
        sleep_until(Instant::now() + 50 * MS);
        spin(10 * MS);
        yield_now();
        tx.send(cpu_time()).unwrap();
    });
    let cpu = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    scheduler.wait_idle();
    assert!(cpu >= 10 * MS && cpu < 45 * MS, "cpu time {cpu:?}");
    assert_eq!(cpu_time(), Duration::ZERO, "not in a task here");
}

#[test]
fn a_task_handle_stops_a_running_task_before_its_timeout() {
    let scheduler = Scheduler::new(1);
    let (tx, rx) = channel();
    let options = TaskOptions {
        timeout: Some(Duration::from_secs(600)),
        ..TaskOptions::default()
    };
    let handle = scheduler.spawn_with(options, move || {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        on_timeout(move || flag.store(true, Ordering::Release));
        tx.send(()).unwrap();
        // Stands for guest code, which the timeout action interrupts.
        while !stop.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    handle.stop();
    scheduler.wait_idle();
}

#[test]
fn a_group_whose_tasks_are_late_still_gets_its_share() {
    // Lateness orders tasks within a group only: otherwise a group that
    // keeps the CPU busy would make another's tasks late and then take
    // the CPU from it for good.
    let (busy, late) = (
        Group::new("busy", DEFAULT_WEIGHT, None),
        Group::new("late", DEFAULT_WEIGHT, None),
    );
    // Late from the start: its deadline passes before it can first run.
    let already_late = TaskOptions {
        relative_deadline: Some(Duration::from_micros(1)),
        ..in_group(&late)
    };
    let steppers = vec![("busy", in_group(&busy), 10), ("late", already_late, 10)];
    let log = race(Policy::Edf, steppers);
    let late_in_first_10 = log[..10].iter().filter(|n| **n == "late").count();
    assert!(
        (4..=6).contains(&late_in_first_10),
        "the late group ran {late_in_first_10} of the first 10 steps: {log:?}"
    );
}

#[test]
fn a_task_handle_stops_a_blocked_task_within_a_second() {
    let scheduler = Scheduler::new(1);
    let options = TaskOptions {
        timeout: Some(Duration::from_secs(600)),
        ..TaskOptions::default()
    };
    let (tx, rx) = channel();
    let handle = scheduler.spawn_with(options, move || {
        let wake = sleep_until(Instant::now() + Duration::from_secs(60));
        tx.send(wake).unwrap();
    });
    std::thread::sleep(50 * MS);
    let stopped = Instant::now();
    handle.stop();
    let wake = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(wake, luge_scheduler::task::Wake::TimedOut);
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopped.elapsed()
    );
    scheduler.wait_idle();
}

#[test]
fn tasks_sleeping_twice_resume_on_any_worker_unharmed() {
    // Two sleeps make a task block, wake and block again; with two workers
    // and busy neighbours it resumes on either between the two. Each must
    // still sleep its full time.
    let scheduler = Scheduler::new(2);
    let (tx, rx) = channel();
    for i in 0..16u64 {
        let tx = tx.clone();
        scheduler.spawn(move || {
            let started = Instant::now();
            let end = started + Duration::from_millis(2200 + 10 * i);
            let first = sleep_until(started + Duration::from_millis(1100));
            assert_eq!(first, luge_scheduler::task::Wake::Deadline, "task {i}");
            let wake = sleep_until(end);
            tx.send((i, wake, started.elapsed())).unwrap();
        });
    }
    for _ in 0..4 {
        scheduler.spawn(|| {
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        });
    }
    let mut seen = Vec::new();
    for _ in 0..16 {
        let (i, wake, slept) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(wake, luge_scheduler::task::Wake::Deadline, "task {i}");
        assert!(
            slept >= Duration::from_millis(2200 + 10 * i),
            "task {i}: {slept:?}"
        );
        seen.push(i);
    }
    seen.sort();
    assert_eq!(seen, (0..16).collect::<Vec<_>>());
    scheduler.wait_idle();
}
