//! The queues over the sale, step by step: a fluid model of orders arriving
//! at the profile's rate and the two mappings taking them in batches at
//! their scaling concurrency (the simulated AWS's own rule), and what that
//! makes of the worst wait and the drain. The one part of the screen that
//! runs over time, apart from the per-operation costs it reads
//! ([`super::costs`]).

use super::{Flow, Screen, DRAIN_SECS, STEP};
use crate::aws::esm::{next_concurrency, Scaling};
use crate::plan::space::{Candidate, MappingChoice};
use crate::plan::Load;

impl Screen<'_> {
    /// A fluid model of the two queues over the sale and after it: orders
    /// arrive at the profile's rate; a mapping's batches run at its scaling
    /// concurrency (the model's initial batches, growing by its rate a
    /// minute, up to `maximumConcurrency`), each taking its cycle; a batch
    /// closes full or at its window.
    pub(super) fn flow(&self, c: &Candidate, load: &Load) -> Flow {
        // The mappings scale by the simulated AWS's own rule
        // (`esm::next_concurrency`), step by step.
        let scaling = Scaling::of(self.model);
        let cap = |m: &MappingChoice| scaling.cap(Some(m.maximum_concurrency as usize));
        let (p_cap, n_cap) = (cap(&c.processor), cap(&c.notifier));
        let tick = scaling.tick().as_secs_f64();
        let end = load.duration + DRAIN_SECS + 1.0;
        let mut f = Flow::default();
        let (mut orders, mut processed) = (0.0_f64, 0.0_f64);
        let (mut p_conc, mut n_conc) = (scaling.initial.min(p_cap), scaling.initial.min(n_cap));
        let (mut next_step, mut n) = (tick, 0);
        let mut t = 0.0;
        while t < end {
            let arriving = load.rate_at(t) * STEP;
            orders += arriving;
            let (served, batches, wait_ms) =
                self.serve(c, (orders, load.rate_at(t)), p_conc as f64, true);
            orders -= served;
            processed += served;
            f.processor_batches += batches;
            if arriving > 0.0 {
                f.worst_ms = f.worst_ms.max(wait_ms);
            }
            let (n_served, n_batches, _) =
                self.serve(c, (processed, load.rate_at(t)), n_conc as f64, false);
            processed -= n_served;
            f.notifier_batches += n_batches;
            if t >= next_step {
                p_conc = next_concurrency(&scaling, p_cap, p_conc, orders > 0.5, n);
                n_conc = next_concurrency(&scaling, n_cap, n_conc, processed > 0.5, n);
                (next_step, n) = (next_step + tick, n + 1);
            }
            f.processor_envs = f.processor_envs.max(p_conc as f64);
            f.notifier_envs = f.notifier_envs.max(n_conc as f64);
            if t >= load.duration && orders <= 0.5 && processed <= 0.5 {
                break;
            }
            if t >= load.duration {
                if orders > 0.5 {
                    f.drain_secs = t - load.duration;
                }
                if processed > 0.5 {
                    f.notifier_drain_secs = t - load.duration;
                }
            }
            t += STEP;
        }
        if orders > 0.5 {
            f.drain_secs = f64::INFINITY;
        }
        if processed > 0.5 {
            f.notifier_drain_secs = f64::INFINITY;
        }
        f
    }

    /// One step of a mapping: of `waiting` messages arriving at `rate` a
    /// second, what `conc` concurrent batches take in a step, how many
    /// batches that is, and how long a message arriving now waits, ms.
    fn serve(
        &self,
        c: &Candidate,
        (waiting, rate): (f64, f64),
        conc: f64,
        processor: bool,
    ) -> (f64, f64, f64) {
        let (batch, window) = match processor {
            true => (c.processor.batch_size, c.processor.window_secs),
            false => (c.notifier.batch_size, c.notifier.window_secs),
        };
        let full = f64::from(batch);
        // A batch closes at its size or its window, whichever comes first:
        // what is waiting fills it at once, the rest arrives at the rate;
        // with no window, a batch is what one round of receives finds.
        let per_batch_rate = rate / conc.max(1.0);
        let at_once = waiting / conc.max(1.0);
        let fill_ms = match window {
            0 => 0.0,
            w => (f64::from(w) * 1000.0)
                .min((full - at_once).max(0.0) / per_batch_rate.max(1e-9) * 1000.0),
        };
        let mut size = full
            .min(at_once + per_batch_rate * fill_ms / 1000.0)
            .max(1.0);
        let cycle_of = |size: f64| match processor {
            true => self.processor_cycle(c, size, waiting),
            false => self.notifier_cycle(c, size, waiting),
        };
        let mut cycle = cycle_of(size);
        // The window closes a batch whose receives are slower than it (a
        // shallow queue's): it holds what they gathered by then.
        let window_ms = f64::from(window) * 1000.0;
        if window > 0 && cycle.gather_ms > window_ms {
            size = (size * window_ms / cycle.gather_ms).max(1.0);
            cycle = cycle_of(size);
            cycle.gather_ms = cycle.gather_ms.min(window_ms);
        }
        let turn_ms = self.turn_ms(&cycle, fill_ms);
        let mut capacity = conc * size / turn_ms * 1000.0;
        if processor {
            // The batches queue for the hot row one at a time.
            capacity = capacity.min(size / self.lock_hold_ms(c, size) * 1000.0);
        }
        let served = waiting.min(capacity * STEP);
        let batches = served / size;
        let backlog_ms = (waiting - served).max(0.0) / capacity.max(1e-9) * 1000.0;
        let gathering = cycle.gather_ms.max(fill_ms);
        let wait_ms = backlog_ms + gathering + cycle.handler_ms + cycle.delete_ms;
        (served, batches, wait_ms)
    }
}
