//! A non-HTTP service: a tokio job consumer with `#[instrument]` spans. A
//! job that fails (`#[instrument(err)]`) alerts with its span and error
//! chain; a job slower than its threshold alerts once, and every slow job is
//! counted in the digest.
//!
//! ```text
//! cargo run --example worker
//! ```

use std::fmt;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::instrument;

mod support;

#[derive(Debug)]
struct Job {
    id: u64,
    kind: &'static str,
}

#[derive(Debug)]
struct RenderError {
    page: u32,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {} has no layout", self.page)
    }
}

impl std::error::Error for RenderError {}

#[derive(Debug)]
struct JobFailed(RenderError);

impl fmt::Display for JobFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invoice could not be rendered")
    }
}

impl std::error::Error for JobFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// `err` records a returned error as an ERROR event inside this span.
#[instrument(err, skip(job), fields(job.id = job.id, job.kind = job.kind))]
async fn run_job(job: Job) -> Result<(), JobFailed> {
    match job.kind {
        "invoice" if job.id.is_multiple_of(4) => Err(JobFailed(RenderError { page: 2 })),
        "export" => {
            tokio::time::sleep(Duration::from_millis(250)).await; // slow
            Ok(())
        }
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, target) = support::Target::builder("billing-worker")?;
    let (layer, guard) = builder
        .slow_spans(|s| s.threshold_for("run_job", Duration::from_millis(200)))
        .build()?;
    support::install(layer);

    let (jobs, mut queue) = mpsc::channel::<Job>(16);
    let consumer = tokio::spawn(async move {
        while let Some(job) = queue.recv().await {
            let _ = run_job(job).await; // failures are reported by #[instrument(err)]
        }
    });
    for id in 1..=8u64 {
        let kind = if id.is_multiple_of(3) {
            "export"
        } else {
            "invoice"
        };
        jobs.send(Job { id, kind }).await?;
    }
    drop(jobs);
    consumer.await?;

    let stats = guard.shutdown(Duration::from_secs(5));
    target.print(&stats);
    Ok(())
}
