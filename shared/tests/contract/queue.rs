use crate::backends::Backend;
use crate::fixtures::job;
use chrono::Duration;
use nudge_shared::domain::MessageJob;
use nudge_shared::ports::{JobQueue, JobSource, QueuedMessage};

async fn receive_all(queue: &impl JobSource, expected: usize, visibility: Duration) -> Vec<QueuedMessage> {
    let mut received = Vec::new();
    for _ in 0..20 {
        received.extend(queue.receive(10, visibility).await.unwrap());
        if received.len() >= expected {
            break;
        }
    }
    received
}

pub async fn enqueued_jobs_are_received_intact_and_acknowledged(backend: impl Backend) {
    let queue = backend.queue();
    let jobs = vec![job("u1", "m1"), job("u2", "m2")];
    queue.enqueue(&jobs).await.unwrap();
    let received = receive_all(queue, 2, Duration::seconds(30)).await;
    let mut bodies: Vec<MessageJob> = received.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    bodies.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    assert_eq!(bodies, jobs);
    assert!(received.iter().all(|m| m.receive_count == 1));
    for message in &received {
        queue.acknowledge(&message.receipt).await.unwrap();
    }
    assert!(
        queue.receive(10, Duration::zero()).await.unwrap().is_empty(),
        "acknowledged jobs are gone"
    );
}

pub async fn an_unacknowledged_job_comes_back(backend: impl Backend) {
    let queue = backend.queue();
    queue.enqueue(&[job("u1", "m1")]).await.unwrap();
    let first = receive_all(queue, 1, Duration::zero()).await;
    assert_eq!(first.len(), 1);
    let second = receive_all(queue, 1, Duration::seconds(30)).await;
    assert_eq!(second.len(), 1, "a job whose visibility timeout passed is delivered again");
    assert_eq!(second[0].body, first[0].body);
    assert_eq!(second[0].receive_count, 2);
}

pub async fn more_jobs_than_one_batch_all_arrive(backend: impl Backend) {
    let queue = backend.queue();
    let jobs: Vec<_> = (0..23).map(|n| job(&format!("u{n}"), &format!("m{n}"))).collect();
    queue.enqueue(&jobs).await.unwrap();
    let received = receive_all(queue, 23, Duration::seconds(30)).await;
    assert_eq!(received.len(), 23);
}
