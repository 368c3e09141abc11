//! The scheduler function: fired by an EventBridge schedule every minute; fires the timers
//! that have come due (their jobs go to the queue). `nudge serve` and `nudge demo` tick it
//! on their own clocks.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use nudge_shared::ports::{JobQueue, TimerStore};
use nudge_shared::schedule::{Scheduler, TickReport};
use nudge_shared::{Clock, PortError};
use tracing::info;

pub type SchedulerDeps<T, Q, C> = Scheduler<T, Q, C>;

/// A failed tick returns the error, so the invocation fails and EventBridge retries it;
/// timers fired before the failure are already gone from the store and not fired twice.
pub async fn handle<T: TimerStore, Q: JobQueue, C: Clock>(
    deps: &SchedulerDeps<T, Q, C>,
    event: EventBridgeEvent,
) -> Result<TickReport, PortError> {
    let report = deps.tick().await?;
    info!(schedule_time = ?event.time, timers_fired = report.timers_fired, "tick");
    Ok(report)
}
