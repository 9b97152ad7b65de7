//! The training worker: [`crate::train::run`] on a named background thread.
//!
//! Commands go in through [`TrainWorker::send`] (they set the shared [`StopFlag`], which the run
//! checks between steps); events come out of a **bounded** channel. Step events are sent with
//! `try_send` and dropped when the receiver is behind; every other event is sent blocking so
//! checkpoints, previews and the final result are never lost. An optional waker (the GUI passes
//! `ctx.request_repaint`) is called after each event; the worker never sees the GUI.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::backend::{self, BackendChoice};
use crate::error::{Error, Result};
use crate::train::config::TrainConfig;
use crate::train::events::{Event, ProgressSink, StopFlag};

/// Capacity of the event channel.
pub const EVENT_CAPACITY: usize = 256;

/// A command to a running training worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Stop stepping until [`Command::Resume`].
    Pause,
    /// Continue after a pause.
    Resume,
    /// Save a checkpoint and end the run.
    Stop,
    /// Write a preview grid after the current step.
    PreviewNow,
    /// Write a checkpoint after the current step.
    SaveNow,
}

/// Called after each event (e.g. to wake a GUI). Must be cheap and must not block.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

struct ChannelSink {
    tx: SyncSender<Event>,
    waker: Option<Waker>,
}

impl ProgressSink for ChannelSink {
    fn event(&mut self, event: Event) {
        let sent = match event {
            Event::Step { .. } => match self.tx.try_send(event) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
            other => self.tx.send(other).is_ok(),
        };
        if sent && let Some(w) = &self.waker {
            w();
        }
    }
}

/// A training run on its own thread.
pub struct TrainWorker {
    flag: StopFlag,
    events: Receiver<Event>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl std::fmt::Debug for TrainWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainWorker")
            .field("running", &!self.is_finished())
            .finish_non_exhaustive()
    }
}

impl TrainWorker {
    /// Starts `cfg` on a thread named `pdpaint-train`, on the backend `choice` selects.
    /// Errors of the run arrive as [`Event::Failed`] (and from [`TrainWorker::join`]).
    pub fn spawn(cfg: TrainConfig, choice: BackendChoice, waker: Option<Waker>) -> Result<Self> {
        let (tx, rx) = sync_channel(EVENT_CAPACITY);
        let flag = StopFlag::new();
        let run_flag = flag.clone();
        let handle = std::thread::Builder::new()
            .name("pdpaint-train".into())
            .spawn(move || {
                crate::threads::lower_priority();
                let mut sink = ChannelSink { tx, waker };
                let result = backend::select(choice).and_then(|sel| {
                    sink.event(Event::Log(format!("backend: {}", sel.description)));
                    crate::train::run::run(&cfg, &sel.device, &mut sink, &run_flag)
                });
                if let Err(e) = &result {
                    sink.event(Event::Failed {
                        error: error_chain(e),
                    });
                }
                result
            })
            .map_err(|e| Error::Backend(format!("could not start the training thread: {e}")))?;
        Ok(Self {
            flag,
            events: rx,
            handle: Some(handle),
        })
    }

    /// Sends a command (takes effect between steps).
    pub fn send(&self, cmd: Command) {
        match cmd {
            Command::Pause => self.flag.set_paused(true),
            Command::Resume => self.flag.set_paused(false),
            Command::Stop => self.flag.stop(),
            Command::PreviewNow => self.flag.request_preview(),
            Command::SaveNow => self.flag.request_save(),
        }
    }

    /// The next pending event, if any.
    pub fn try_recv(&self) -> Option<Event> {
        match self.events.try_recv() {
            Ok(e) => Some(e),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    /// Pending events, taken until `budget` has passed; the rest stay queued.
    pub fn drain(&self, budget: Duration) -> Vec<Event> {
        let start = Instant::now();
        let mut out = Vec::new();
        while start.elapsed() < budget {
            match self.try_recv() {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits for the run to end and returns its result.
    pub fn join(mut self) -> Result<()> {
        self.join_inner()
    }

    fn join_inner(&mut self) -> Result<()> {
        let Some(h) = self.handle.take() else {
            return Ok(());
        };
        // Keep the channel moving so a blocking send cannot deadlock the join.
        while !h.is_finished() {
            let _ = self.events.recv_timeout(Duration::from_millis(20));
        }
        h.join()
            .map_err(|_| Error::Backend("the training thread panicked".into()))?
    }
}

impl Drop for TrainWorker {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.flag.stop();
            self.flag.set_paused(false);
            let _ = self.join_inner();
        }
    }
}

/// An error with its causes, one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
