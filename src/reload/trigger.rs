//! When reloads start: triggers coalesce into a flag, and reload starts keep a minimum
//! interval apart.
//!
//! [`Triggers::trigger`] only sets the flag (and remembers when the oldest unserved trigger
//! came); a reload clears it as it starts ([`Triggers::begin`]), so it serves every trigger
//! before it, and triggers during it make exactly one more. [`Triggers::next`] waits until a
//! reload should start. Time is `tokio::time`'s, so tests drive it with a paused clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The pending-reload flag and the reload schedule.
pub struct Triggers {
    /// A reload has been asked for since the last one started.
    pending: AtomicBool,
    /// Wakes [`Triggers::next`] when `pending` is set.
    wake: Notify,
    /// The least time between two starts that [`Triggers::next`] lets through.
    min_interval: Duration,
    /// When the oldest trigger not yet served arrived (for "trigger to installed" times).
    since: Mutex<Option<Instant>>,
    /// When [`Triggers::next`] last let a reload start.
    last_start: Mutex<Option<Instant>>,
}

impl Triggers {
    pub fn new(min_interval: Duration) -> Triggers {
        Triggers {
            pending: AtomicBool::new(false),
            wake: Notify::new(),
            min_interval,
            since: Mutex::new(None),
            last_start: Mutex::new(None),
        }
    }

    pub fn set_min_interval(&mut self, interval: Duration) {
        self.min_interval = interval;
    }

    /// Asks for a reload; cheap, never blocks, coalesces with pending requests.
    pub fn trigger(&self) {
        if let Ok(mut since) = self.since.lock() {
            since.get_or_insert_with(Instant::now);
        }
        self.pending.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Called as a reload starts: triggers from here on ask for the next reload, the ones
    /// before are served by this one. Returns when the oldest of those arrived, if any did.
    pub fn begin(&self) -> Option<Instant> {
        self.pending.store(false, Ordering::SeqCst);
        self.since.lock().ok().and_then(|mut since| since.take())
    }

    /// Waits until a reload should start: a trigger is pending and the last start (through
    /// this method) is at least the minimum interval ago. True then (the start is recorded
    /// now); false once `shutdown` completes first.
    pub async fn next<F: Future<Output = ()>>(&self, mut shutdown: Pin<&mut F>) -> bool {
        // A wake-up whose trigger a reload already served finds the flag clear: wait on.
        while !self.pending.load(Ordering::SeqCst) {
            tokio::select! {
                () = self.wake.notified() => {}
                () = shutdown.as_mut() => return false,
            }
        }
        let last = self.last_start.lock().ok().and_then(|last| *last);
        if let Some(next) = last.map(|t| t + self.min_interval) {
            if next > Instant::now() {
                tokio::select! {
                    () = tokio::time::sleep_until(next) => {}
                    () = shutdown.as_mut() => return false,
                }
            }
        }
        if let Ok(mut last) = self.last_start.lock() {
            *last = Some(Instant::now());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    //! All under tokio's paused clock: time moves only when every task waits on a timer, so
    //! the start times are exact and the tests take no wall-clock time.

    use super::*;
    use std::sync::Arc;

    const INTERVAL: Duration = Duration::from_secs(1);

    /// A stand-in for `Reloader::run`: starts a "reload" whenever `next` says so, records
    /// its start time, and takes `takes` to finish.
    struct FakeReloads {
        triggers: Arc<Triggers>,
        starts: Arc<Mutex<Vec<Instant>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl FakeReloads {
        fn spawn(takes: Duration) -> FakeReloads {
            let triggers = Arc::new(Triggers::new(INTERVAL));
            let starts = Arc::new(Mutex::new(Vec::new()));
            let (t, s) = (triggers.clone(), starts.clone());
            let task = tokio::spawn(async move {
                let shutdown = std::future::pending::<()>();
                tokio::pin!(shutdown);
                while t.next(shutdown.as_mut()).await {
                    t.begin();
                    s.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(takes).await;
                }
            });
            FakeReloads {
                triggers,
                starts,
                task,
            }
        }

        fn starts(&self) -> Vec<Instant> {
            self.starts.lock().unwrap().clone()
        }
    }

    impl Drop for FakeReloads {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Lets every task that can run, run, without moving the clock.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_over_the_interval_becomes_at_most_two_starts() {
        let reloads = FakeReloads::spawn(Duration::from_millis(100));
        let spacing = INTERVAL / 50;
        for _ in 0..50 {
            reloads.triggers.trigger();
            tokio::time::sleep(spacing).await;
        }
        tokio::time::sleep(INTERVAL * 10).await;
        let starts = reloads.starts();
        assert!(!starts.is_empty(), "the burst started no reload");
        assert!(starts.len() <= 2, "{} starts for one burst", starts.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_trigger_after_a_quiet_interval_starts_at_once() {
        let reloads = FakeReloads::spawn(Duration::from_millis(100));
        let first = Instant::now();
        reloads.triggers.trigger();
        settle().await;
        tokio::time::sleep(INTERVAL * 3).await;
        let later = Instant::now();
        reloads.triggers.trigger();
        settle().await;
        assert_eq!(reloads.starts(), vec![first, later]);
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_never_closer_than_the_minimum_interval() {
        let reloads = FakeReloads::spawn(Duration::from_millis(30));
        // Triggers at uneven gaps, some bursts, some quiet spells.
        let gaps_ms = [
            0, 5, 400, 999, 1, 1001, 250, 250, 250, 250, 3000, 10, 10, 700, 1500,
        ];
        let mut last_trigger = Instant::now();
        for _ in 0..4 {
            for gap in gaps_ms {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                reloads.triggers.trigger();
                last_trigger = Instant::now();
            }
        }
        tokio::time::sleep(INTERVAL * 5).await;
        let starts = reloads.starts();
        assert!(starts.len() > 5, "only {} starts", starts.len());
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= INTERVAL, "two starts {gap:?} apart");
        }
        // Every trigger was served: the last reload started after the last trigger.
        assert!(*starts.last().unwrap() >= last_trigger);
    }

    #[tokio::test(start_paused = true)]
    async fn triggers_during_a_reload_make_exactly_one_more() {
        let takes = Duration::from_millis(1500);
        let reloads = FakeReloads::spawn(takes);
        let first = Instant::now();
        reloads.triggers.trigger();
        settle().await;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            reloads.triggers.trigger();
        }
        tokio::time::sleep(INTERVAL * 10).await;
        // The second starts as soon as the first is done (it took longer than the interval).
        assert_eq!(reloads.starts(), vec![first, first + takes]);
    }

    #[tokio::test(start_paused = true)]
    async fn begin_clears_the_flag_and_tells_the_oldest_trigger() {
        let triggers = Triggers::new(INTERVAL);
        assert_eq!(triggers.begin(), None);
        let oldest = Instant::now();
        triggers.trigger();
        tokio::time::sleep(Duration::from_millis(300)).await;
        triggers.trigger();
        assert_eq!(triggers.begin(), Some(oldest));
        assert_eq!(triggers.begin(), None);
        // Nothing pending: `next` waits until the shutdown.
        let shutdown = tokio::time::sleep(INTERVAL * 5);
        tokio::pin!(shutdown);
        assert!(!triggers.next(shutdown.as_mut()).await);
        assert_eq!(
            Instant::now() - oldest,
            Duration::from_millis(300) + INTERVAL * 5
        );
    }
}
