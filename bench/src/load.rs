//! The closed loop every benchmark runs: `concurrency` clients, each asking
//! again as soon as it is answered, for `seconds`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the loop: each client takes `make()` (not timed), then times `one` on
/// it; `one` answers whether the request succeeded. Returns the latencies of
/// the successes, the number of failures and the wall time.
pub async fn closed_loop<X, M, F, Fut>(
    concurrency: usize,
    seconds: u64,
    make: M,
    one: F,
) -> (Vec<Duration>, usize, Duration)
where
    M: Fn() -> X + Send + Sync + 'static,
    F: Fn(X) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
    X: Send,
{
    let make = Arc::new(make);
    let one = Arc::new(one);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let x = make();
                let at = Instant::now();
                if one(x).await {
                    lat.push(at.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((lat, e)) = task.await {
            all.extend(lat);
            errors += e;
        }
    }
    (all, errors, started.elapsed())
}
