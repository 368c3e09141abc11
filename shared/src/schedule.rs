//! The scheduler's periodic work: timers that have come due become message jobs.
//! Enqueue first, then remove: a crash in between enqueues again, and the send ledger
//! turns that into one email.

use crate::error::PortError;
use crate::ports::{JobQueue, TimerStore};
use crate::Clock;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub timers_fired: usize,
}

pub struct Scheduler<T, Q, C> {
    pub timers: T,
    pub queue: Q,
    pub clock: C,
    /// Timers handled per round trip.
    pub batch_size: usize,
}

impl<T: TimerStore, Q: JobQueue, C: Clock> Scheduler<T, Q, C> {
    /// Fires every timer due now.
    pub async fn tick(&self) -> Result<TickReport, PortError> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        loop {
            let due = self.timers.due(now, self.batch_size).await?;
            if due.is_empty() {
                return Ok(report);
            }
            let jobs: Vec<_> = due.iter().map(|timer| timer.job.clone()).collect();
            self.queue.enqueue(&jobs).await?;
            for timer in &due {
                self.timers.remove(timer).await?;
            }
            report.timers_fired += due.len();
            if due.len() < self.batch_size {
                return Ok(report);
            }
        }
    }
}
