//! Time as a port. Everything time-based asks a `Clock`; tests and the demo hand it a
//! `VirtualClock` they move forward by hand.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    micros: Arc<AtomicI64>,
}

impl VirtualClock {
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(at.timestamp_micros())),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.micros.fetch_add(by.num_microseconds().unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// Moves the clock to `at`; never backwards, so concurrent readers see time only grow.
    pub fn advance_to(&self, at: DateTime<Utc>) {
        self.micros.fetch_max(at.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros.load(Ordering::SeqCst)).expect("virtual clock within chrono's range")
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_forward_and_clones_share_time() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let clock = VirtualClock::starting_at(start);
        let other = clock.clone();
        clock.advance(Duration::hours(2));
        assert_eq!(other.now(), start + Duration::hours(2));
        clock.advance_to(start);
        assert_eq!(other.now(), start + Duration::hours(2), "advance_to never goes back");
    }
}
