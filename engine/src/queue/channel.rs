//! The in-process queue: a mutex-guarded table of messages with SQS standard
//! queue semantics (see the parent module), a bounded capacity so overload
//! turns into back-pressure, and an optional redrive policy to a DLQ.
//! Time is `tokio::time`, so tests can pause the clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Message, QueueBackend, QueueDepth, QueueError, MAX_BATCH};

/// How a channel queue behaves.
#[derive(Clone)]
pub struct QueueConfig {
    pub name: String,
    /// How long a delivered message stays invisible unless deleted.
    pub visibility_timeout: Duration,
    /// Most messages held at once; `send` answers [`QueueError::Full`] past it.
    pub capacity: usize,
    /// Redrive policy: after this many receives, the next delivery moves the
    /// message to the dead-letter queue instead.
    pub dead_letter: Option<(u32, Arc<ChannelQueue>)>,
}

impl QueueConfig {
    pub fn new(name: impl Into<String>) -> Self {
        QueueConfig {
            name: name.into(),
            visibility_timeout: Duration::from_secs(30),
            capacity: 100_000,
            dead_letter: None,
        }
    }
}

struct Entry {
    message_id: String,
    body: String,
    receive_count: u32,
    /// Bumped at every delivery; the receipt handle carries it, so only the
    /// newest delivery's handle can delete or extend.
    delivery: u64,
    /// `None` while visible; the instant it becomes visible again otherwise.
    invisible_until: Option<Instant>,
    /// When it was sent (to this queue: a dead letter's clock starts again).
    sent_at: Instant,
}

#[derive(Default)]
struct State {
    next_seq: u64,
    entries: HashMap<u64, Entry>,
    visible: VecDeque<u64>,
    /// In-flight deadlines; stale ones (deleted, extended) are skipped on pop.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl State {
    /// Returns every in-flight message whose visibility timeout has run out.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, seq))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            if let Some(e) = self.entries.get_mut(&seq) {
                if e.invisible_until == Some(at) {
                    e.invisible_until = None;
                    self.visible.push_back(seq);
                }
            }
        }
    }

    fn in_flight(&self) -> u64 {
        (self.entries.len() - self.visible.len()) as u64
    }
}

pub struct ChannelQueue {
    config: QueueConfig,
    state: Mutex<State>,
    arrived: Notify,
}

impl ChannelQueue {
    pub fn new(config: QueueConfig) -> Arc<Self> {
        Arc::new(ChannelQueue {
            config,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        })
    }

    /// How long the oldest message held (visible or not) has waited since it
    /// was sent: SQS's `ApproximateAgeOfOldestMessage`. `None` when empty.
    pub fn oldest_age(&self) -> Option<std::time::Duration> {
        let state = self.lock();
        let oldest = state.entries.values().map(|e| e.sent_at).min()?;
        Some(oldest.elapsed())
    }

    fn peek_n(&self, max: usize) -> Vec<Message> {
        let state = self.lock();
        let mut all: Vec<_> = state.entries.iter().collect();
        all.sort_by_key(|(seq, _)| **seq);
        all.into_iter()
            .take(max)
            .map(|(_, e)| Message {
                message_id: e.message_id.clone(),
                receipt_handle: String::new(),
                body: e.body.clone(),
                receive_count: e.receive_count,
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the table consistent (every
        // mutation is a few plain assignments), so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue(
        &self,
        state: &mut State,
        message_id: Option<String>,
        body: String,
        receive_count: u32,
    ) -> String {
        let seq = state.next_seq;
        state.next_seq += 1;
        let message_id = message_id.unwrap_or_else(|| format!("{}-{seq}", self.config.name));
        state.entries.insert(
            seq,
            Entry {
                message_id: message_id.clone(),
                body,
                receive_count,
                delivery: 0,
                invisible_until: None,
                sent_at: Instant::now(),
            },
        );
        state.visible.push_back(seq);
        message_id
    }

    /// A dead-letter queue takes what it is given, whatever its capacity: a
    /// message is moved there, never dropped, and keeps its id (as in SQS).
    fn dead_letter(&self, message: Message) {
        let mut state = self.lock();
        self.enqueue(
            &mut state,
            Some(message.message_id),
            message.body,
            message.receive_count,
        );
        drop(state);
        self.arrived.notify_waiters();
    }

    fn take(&self, max: usize) -> (Vec<Message>, Vec<Message>) {
        let now = Instant::now();
        let mut state = self.lock();
        state.expire(now);
        let mut out = Vec::new();
        let mut to_dlq = Vec::new();
        while out.len() < max {
            let Some(seq) = state.visible.pop_front() else {
                break;
            };
            let Some(e) = state.entries.get_mut(&seq) else {
                continue;
            };
            if let Some((max_receives, _)) = &self.config.dead_letter {
                if e.receive_count >= *max_receives {
                    if let Some(e) = state.entries.remove(&seq) {
                        to_dlq.push(Message {
                            message_id: e.message_id,
                            receipt_handle: String::new(),
                            body: e.body,
                            receive_count: e.receive_count,
                        });
                    }
                    continue;
                }
            }
            e.receive_count += 1;
            e.delivery += 1;
            let until = now + self.config.visibility_timeout;
            e.invisible_until = Some(until);
            out.push(Message {
                message_id: e.message_id.clone(),
                receipt_handle: format!("{seq}:{}", e.delivery),
                body: e.body.clone(),
                receive_count: e.receive_count,
            });
            state.deadlines.push(Reverse((until, seq)));
        }
        (out, to_dlq)
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.lock().deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Finds the entry a receipt handle names, if it is still the newest
    /// delivery of an in-flight message.
    fn with_receipt<T>(
        &self,
        receipt: &str,
        f: impl FnOnce(&mut State, u64) -> T,
    ) -> Result<T, QueueError> {
        let invalid = || QueueError::InvalidReceipt(receipt.to_owned());
        let (seq, delivery) = receipt.split_once(':').ok_or_else(invalid)?;
        let seq: u64 = seq.parse().map_err(|_| invalid())?;
        let delivery: u64 = delivery.parse().map_err(|_| invalid())?;
        let mut state = self.lock();
        match state.entries.get(&seq) {
            Some(e) if e.delivery == delivery && e.invisible_until.is_some() => {
                Ok(f(&mut state, seq))
            }
            _ => Err(invalid()),
        }
    }
}

#[async_trait]
impl QueueBackend for ChannelQueue {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn send(&self, body: String) -> Result<String, QueueError> {
        let mut state = self.lock();
        if state.entries.len() >= self.config.capacity {
            return Err(QueueError::Full(self.config.name.clone()));
        }
        let id = self.enqueue(&mut state, None, body, 0);
        drop(state);
        self.arrived.notify_waiters();
        Ok(id)
    }

    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        if bodies.len() > MAX_BATCH {
            return Err(QueueError::BatchTooLarge(bodies.len()));
        }
        let mut state = self.lock();
        if state.entries.len() + bodies.len() > self.config.capacity {
            return Err(QueueError::Full(self.config.name.clone()));
        }
        for body in bodies {
            self.enqueue(&mut state, None, body, 0);
        }
        drop(state);
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Message>, QueueError> {
        if max > MAX_BATCH {
            return Err(QueueError::BatchTooLarge(max));
        }
        let deadline = Instant::now() + wait;
        loop {
            // Register for wake-ups before looking, so a send between the look
            // and the wait is not missed.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();

            let (got, to_dlq) = self.take(max.max(1));
            if !to_dlq.is_empty() {
                if let Some((_, dlq)) = &self.config.dead_letter {
                    for message in to_dlq {
                        dlq.dead_letter(message);
                    }
                }
            }
            if !got.is_empty() {
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wake = self.next_expiry().map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                _ = &mut arrived => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.with_receipt(receipt_handle, |state, seq| {
            state.entries.remove(&seq);
        })
    }

    async fn delete_batch(&self, receipt_handles: &[&str]) -> Vec<Result<(), QueueError>> {
        if receipt_handles.len() > MAX_BATCH {
            let error = QueueError::BatchTooLarge(receipt_handles.len());
            return vec![Err(error); receipt_handles.len()];
        }
        receipt_handles
            .iter()
            .map(|handle| {
                self.with_receipt(handle, |state, seq| {
                    state.entries.remove(&seq);
                })
            })
            .collect()
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let now = Instant::now();
        self.with_receipt(receipt_handle, |state, seq| {
            if let Some(e) = state.entries.get_mut(&seq) {
                if timeout.is_zero() {
                    e.invisible_until = None;
                    state.visible.push_back(seq);
                } else {
                    let until = now + timeout;
                    e.invisible_until = Some(until);
                    state.deadlines.push(Reverse((until, seq)));
                }
            }
        })?;
        if timeout.is_zero() {
            self.arrived.notify_waiters();
        }
        Ok(())
    }

    async fn peek(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        Ok(self.peek_n(max))
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let mut state = self.lock();
        state.expire(Instant::now());
        Ok(QueueDepth {
            visible: state.visible.len() as u64,
            in_flight: state.in_flight(),
        })
    }
}
