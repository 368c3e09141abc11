use crate::backends::Backend;
use crate::fixtures::{job, start};
use chrono::Duration;
use nudge_shared::domain::Timer;
use nudge_shared::ports::TimerStore;

pub async fn timers_come_due_in_order_and_once(backend: impl Backend) {
    let timers = backend.store();
    let at = |minutes: i64, person: &str| Timer {
        due: start() + Duration::minutes(minutes),
        job: job(person, "m1"),
    };
    for timer in [at(120, "late"), at(5, "second"), at(1, "first")] {
        timers.schedule(&timer).await.unwrap();
    }
    assert!(timers.due(start(), 10).await.unwrap().is_empty(), "nothing is due before its time");
    let due = timers.due(start() + Duration::minutes(10), 10).await.unwrap();
    let people: Vec<_> = due.iter().map(|t| t.job.person_id.to_string()).collect();
    assert_eq!(people, ["first", "second"], "due timers, earliest first");
    assert_eq!(due[0], at(1, "first"), "a timer comes back whole");
    for timer in &due {
        timers.remove(timer).await.unwrap();
    }
    assert!(
        timers.due(start() + Duration::minutes(10), 10).await.unwrap().is_empty(),
        "removed timers do not come back"
    );
    let later = timers.due(start() + Duration::hours(3), 10).await.unwrap();
    assert_eq!(later, vec![at(120, "late")]);
    assert_eq!(
        timers.due(start() + Duration::hours(3), 1).await.unwrap().len(),
        1,
        "max limits the answer"
    );
}

pub async fn scheduling_the_same_job_twice_keeps_one_timer(backend: impl Backend) {
    let timers = backend.store();
    let timer = Timer {
        due: start() + Duration::minutes(3),
        job: job("u1", "m1"),
    };
    timers.schedule(&timer).await.unwrap();
    timers.schedule(&timer).await.unwrap();
    assert_eq!(timers.due(start() + Duration::minutes(5), 10).await.unwrap().len(), 1);
}
