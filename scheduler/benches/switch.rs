//! Cost of a sandbox-to-sandbox context switch: two contexts bouncing
//! between each other, so each iteration is two switches.
//!
//! Run: `cargo bench -p luge-scheduler --bench switch`

use criterion::{criterion_group, criterion_main, Criterion};
use luge_scheduler::context::{switch, Context};
use luge_scheduler::stack::Stack;

struct Pair {
    main: Context,
    other: Context,
}

unsafe extern "C" fn bounce(arg: usize) -> ! {
    // SAFETY: the bench passes a `Pair` that outlives the coroutine.
    let pair = unsafe { &mut *(arg as *mut Pair) };
    loop {
        let (other, main) = (
            &mut pair.other as *mut Context,
            &pair.main as *const Context,
        );
        // SAFETY: `main` was saved by the switch that resumed us.
        unsafe { switch(&mut *other, &*main) };
    }
}

fn bench(c: &mut Criterion) {
    let stack = Stack::new(64 << 10).unwrap();
    let mut pair = Box::new(Pair {
        main: Context::default(),
        other: Context::default(),
    });
    let arg = &mut *pair as *mut Pair as usize;
    // SAFETY: the stack outlives every switch below.
    pair.other = unsafe { Context::new(&stack, bounce, arg) };
    c.bench_function("context/switch-round-trip", |b| {
        b.iter(|| {
            let (main, other) = (
                &mut pair.main as *mut Context,
                &pair.other as *const Context,
            );
            // SAFETY: `other` is fresh or saved by its own last switch.
            unsafe { switch(&mut *main, &*other) };
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
