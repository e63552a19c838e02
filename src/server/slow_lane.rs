//! The slow lane: requests whose handler hashes a password (`Endpoint::slow`: sign-in, sign-up,
//! change-password…) are handed from the worker that received them to a small pool of
//! low-priority threads (`SESAME_HASH_THREADS`, default one per core) through a bounded queue.
//!
//! Why: a hash takes ~50–130 ms of CPU. Run on the workers, a burst of sign-ins would occupy
//! every worker and session checks would wait behind them. Here the workers stay free for the
//! fast requests, and because the lane runs at the lowest scheduling priority (nice 19) the
//! kernel preempts hashing whenever a session check is runnable. When the queue is full the
//! request gets 503 `SERVER_BUSY` at once rather than waiting without bound.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::Context;

use crate::app::App;

/// A queued request and when it was queued (for the wait metric).
type Queued = (Instant, tiny_http::Request);

pub(super) struct SlowLane {
    tx: SyncSender<Queued>,
    threads: Vec<JoinHandle<()>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl SlowLane {
    pub(super) fn start(app: &Arc<App>) -> anyhow::Result<SlowLane> {
        let (tx, rx) = sync_channel(app.config.hash_queue);
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..app.config.hash_threads)
            .map(|i| {
                let (app, rx) = (app.clone(), rx.clone());
                std::thread::Builder::new()
                    .name(format!("slow-{i}"))
                    .spawn(move || run(&app, &rx))
                    .context("spawning a slow-lane thread")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(SlowLane {
            tx,
            threads,
            metrics: app.metrics.clone(),
        })
    }

    /// Queues a request; gives it back when the queue is full.
    pub(super) fn offer(&self, rq: tiny_http::Request) -> Option<tiny_http::Request> {
        // Counted before sending, so the thread that takes it never sees the gauge below 0.
        self.metrics.hash_queue_depth.inc();
        match self.tx.try_send((Instant::now(), rq)) {
            Ok(()) => None,
            Err(TrySendError::Full((_, rq)) | TrySendError::Disconnected((_, rq))) => {
                self.metrics.hash_queue_depth.dec();
                Some(rq)
            }
        }
    }

    /// Lets the queued requests finish, then joins the threads.
    pub(super) fn stop(self) {
        drop(self.tx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn run(app: &App, rx: &Mutex<Receiver<Queued>>) {
    if let Err(e) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
        tracing::warn!("slow lane runs at normal priority: {e:?}");
    }
    loop {
        // The lock is held only while waiting for the next request, not while serving it.
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok((queued, rq)) => {
                app.metrics.hash_queue_depth.dec();
                app.metrics.hash_wait.observe(queued.elapsed().as_secs_f64());
                super::serve(app, rq, None)
            }
            Err(_) => return,
        }
    }
}
