//! A sale as a shop sees it, described as data: how many requests over how
//! long, the shape of their arrival, the burst at the opening, what the
//! customers read while they buy, and how often a client tries again.
//! The shipped profiles are `profiles/*.json`; a team writes its own file
//! in the same format (the book's Load testing chapter, "Profiles").

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shipped profiles, by name.
const SHIPPED: [(&str, &str); 2] = [
    (
        "flash-sale",
        include_str!("../../../profiles/flash-sale.json"),
    ),
    ("even", include_str!("../../../profiles/even.json")),
];

/// A load's profile: when its requests are due and what else its
/// customers do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Requests in the sale (orders, resubmissions and invalid ones); `sim
    /// run --requests` overrides it.
    pub requests: usize,
    /// Seconds the sale lasts; `--duration` overrides it.
    pub duration_secs: f64,
    /// The share of the requests (after the burst's) in each equal slice of
    /// the duration: `[1, 8, 1]` sends 80 % in the middle third.
    pub shape: Vec<f64>,
    /// The sale's opening: this share of the requests in its first seconds,
    /// on top of the shape.
    #[serde(default)]
    pub burst: Option<Burst>,
    /// What the customers read while they buy.
    #[serde(default)]
    pub reads: Reads,
    /// How often a client tries an order again after a 429, a 5xx, a
    /// timeout or a refused connection (0: never, as a browser's POST).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// What `--profile` was given (a shipped name or a path), to pass on.
    #[serde(skip)]
    pub source: String,
}

fn default_retries() -> u32 {
    7
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// The share of all requests sent in the opening, 0 to 1.
    pub share: f64,
    /// Seconds the opening lasts.
    pub secs: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reads {
    /// Each buyer whose order was accepted polls `GET /api/orders/{id}`
    /// until the order is PROCESSED or FAILED.
    #[serde(default)]
    pub status_polls: Option<Polls>,
    /// The share of visitors who read the stock of the product they buy
    /// (`GET /api/inventory/{product_id}`) as they place the order.
    #[serde(default)]
    pub stock_readers: f64,
    /// Visitors on the hot products' page before the sale opens, reading
    /// their stock: the sale's first orders then meet a read function that
    /// is already warm, as a real opening's would.
    #[serde(default)]
    pub browse_before: Option<Browse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Browse {
    /// Seconds before the opening.
    pub secs: f64,
    /// Stock reads a second over those seconds.
    pub per_sec: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Polls {
    /// The first poll, this long after the 202.
    pub first_after_ms: u64,
    /// Then one every so often.
    pub every_ms: u64,
    /// A buyer gives up this long after the 202.
    pub for_secs: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no profile {0:?}: name a shipped one ({names}) or a JSON file", names = shipped_names())]
    Unknown(String),
    #[error("reading the profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the profile {path} is not a profile: {source} (the book's Load testing chapter, \"Profiles\")"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the profile {name}: {why}")]
    Invalid { name: String, why: String },
}

fn shipped_names() -> String {
    SHIPPED.map(|(n, _)| n).join(", ")
}

impl Profile {
    /// A shipped profile by name, or the JSON file at a path.
    pub fn from_arg(arg: &str) -> Result<Profile, ProfileError> {
        let mut profile = match SHIPPED.iter().find(|(name, _)| *name == arg) {
            Some((name, text)) => parse(name, text)?,
            None if Path::new(arg).is_file() => {
                let text = std::fs::read_to_string(arg).map_err(|source| ProfileError::Read {
                    path: arg.to_owned(),
                    source,
                })?;
                parse(arg, &text)?
            }
            None => return Err(ProfileError::Unknown(arg.to_owned())),
        };
        profile.source = arg.to_owned();
        Ok(profile)
    }

    /// The shipped profile `name`.
    #[cfg(test)]
    pub fn shipped(name: &str) -> Profile {
        Profile::from_arg(name).unwrap_or_else(|e| panic!("shipped profile {name}: {e}"))
    }

    fn check(&self) -> Result<(), String> {
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if !(self.duration_secs >= 0.0 && self.duration_secs.is_finite()) {
            return Err("duration_secs must be 0 or more".into());
        }
        if self.shape.is_empty()
            || self.shape.iter().any(|w| !(*w >= 0.0 && w.is_finite()))
            || self.shape.iter().sum::<f64>() <= 0.0
        {
            return Err("shape must be a list of weights, none negative, not all 0".into());
        }
        if let Some(b) = self.burst {
            if !(share(b.share) && b.share < 1.0 && b.secs > 0.0 && b.secs.is_finite()) {
                return Err("burst.share must be 0 to below 1, burst.secs above 0".into());
            }
        }
        if !share(self.reads.stock_readers) {
            return Err("reads.stock_readers must be a share, 0 to 1".into());
        }
        if let Some(b) = self.reads.browse_before {
            let ok = |x: f64| x >= 0.0 && x.is_finite();
            if !(ok(b.secs) && ok(b.per_sec)) || b.secs * b.per_sec > 1e6 {
                return Err("reads.browse_before: secs and per_sec must be 0 or more (a million reads at most)".into());
            }
        }
        if let Some(p) = self.reads.status_polls {
            if p.every_ms == 0 || !(p.for_secs > 0.0 && p.for_secs.is_finite()) {
                return Err("reads.status_polls: every_ms and for_secs must be above 0".into());
            }
        }
        Ok(())
    }

    /// Requests of `n` that arrive in the burst.
    fn burst_requests(&self, n: usize) -> usize {
        self.burst
            .map_or(0, |b| (n as f64 * b.share).round() as usize)
    }

    /// When each of `n` requests is due over `duration`, from the start,
    /// earliest first: the burst's spread evenly over its seconds, the rest
    /// as the shape says.
    pub fn due(&self, n: usize, duration: Duration) -> Vec<Duration> {
        let in_burst = self.burst_requests(n);
        let mut due = shaped(&self.shape, n - in_burst, duration);
        if let Some(b) = self.burst {
            let secs = Duration::from_secs_f64(b.secs.min(duration.as_secs_f64()));
            due.extend((0..in_burst).map(|i| secs.mul_f64(i as f64 / in_burst.max(1) as f64)));
            due.sort_unstable();
        }
        due
    }
}

// The rates `sim plan` plans for (a build without `aws` has no plan).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
impl Profile {
    /// Requests a second due `t` seconds into `n` requests over `duration`
    /// seconds.
    pub fn rate_at(&self, n: usize, duration: f64, t: f64) -> f64 {
        if !(0.0..duration).contains(&t) {
            return 0.0;
        }
        let in_burst = self.burst_requests(n);
        let total: f64 = self.shape.iter().sum();
        let slice = duration / self.shape.len() as f64;
        let i = ((t / slice) as usize).min(self.shape.len() - 1);
        let shaped = (n - in_burst) as f64 * self.shape[i] / total / slice;
        let burst = match self.burst {
            Some(b) if t < b.secs.min(duration) => in_burst as f64 / b.secs.min(duration),
            _ => 0.0,
        };
        shaped + burst
    }

    /// The highest rate of `n` requests over `duration` seconds.
    pub fn peak(&self, n: usize, duration: f64) -> f64 {
        let slice = duration / self.shape.len() as f64;
        let mut points: Vec<f64> = (0..self.shape.len())
            .map(|i| (i as f64 + 0.5) * slice)
            .collect();
        points.push(0.0);
        points
            .into_iter()
            .map(|t| self.rate_at(n, duration, t))
            .fold(0.0, f64::max)
    }

    /// The requests over `duration` seconds whose highest rate is `peak`.
    pub fn requests_for_peak(&self, peak: f64, duration: f64) -> usize {
        let per_request = self.peak(1_000_000, duration) / 1e6;
        (peak / per_request).round() as usize
    }
}

impl Profile {
    /// One line for a report.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("the profile {}", self.name)];
        if let Some(b) = self.burst {
            parts.push(format!(
                "{:.0} % of the requests in its first {} s",
                b.share * 100.0,
                b.secs
            ));
        }
        if let Some(p) = self.reads.status_polls {
            parts.push(format!("buyers poll their order every {} ms", p.every_ms));
        }
        if let Some(b) = self.reads.browse_before {
            parts.push(format!(
                "{} stock reads a second for {} s before it opens",
                b.per_sec, b.secs
            ));
        }
        if self.reads.stock_readers > 0.0 {
            parts.push(format!(
                "{:.0} % read the stock",
                self.reads.stock_readers * 100.0
            ));
        }
        parts.push(match self.retries {
            0 => "no retries".to_owned(),
            n => format!("up to {n} retries"),
        });
        parts.join(", ")
    }
}

fn parse(name: &str, text: &str) -> Result<Profile, ProfileError> {
    let profile: Profile = serde_json::from_str(text).map_err(|source| ProfileError::Parse {
        path: name.to_owned(),
        source,
    })?;
    profile.check().map_err(|why| ProfileError::Invalid {
        name: name.to_owned(),
        why,
    })?;
    Ok(profile)
}

/// When each of `n` requests is due over `duration` shaped by `weights`:
/// request `i` is due when that share of the requests has been sent.
fn shaped(weights: &[f64], n: usize, duration: Duration) -> Vec<Duration> {
    let total: f64 = weights.iter().sum();
    let slice = duration.div_f64(weights.len() as f64);
    (0..n)
        .map(|i| {
            let mut target = i as f64 / n.max(1) as f64 * total;
            let mut due = Duration::ZERO;
            for &weight in weights {
                if target < weight {
                    return due + slice.mul_f64(target / weight);
                }
                target -= weight;
                due += slice;
            }
            due
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profiles_parse_and_a_path_names_a_file() {
        for (name, _) in SHIPPED {
            let p = Profile::from_arg(name).unwrap();
            assert_eq!(p.name, name);
            assert_eq!(p.source, name);
        }
        let file =
            std::env::temp_dir().join(format!("orderflow-profile-{}.json", std::process::id()));
        std::fs::write(&file, SHIPPED[0].1).unwrap();
        let p = Profile::from_arg(file.to_str().unwrap()).unwrap();
        assert_eq!(p.name, "flash-sale");
        std::fs::write(
            &file,
            r#"{"name":"x","requests":1,"duration_secs":1,"shape":[1],"burts":null}"#,
        )
        .unwrap();
        let e = Profile::from_arg(file.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("burts"), "{e}");
        std::fs::write(
            &file,
            r#"{"name":"x","requests":1,"duration_secs":1,"shape":[0]}"#,
        )
        .unwrap();
        let e = Profile::from_arg(file.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("shape"), "{e}");
        let _ = std::fs::remove_file(&file);
        assert!(Profile::from_arg("no-such-sale")
            .unwrap_err()
            .to_string()
            .contains("flash-sale"));
    }

    #[test]
    fn a_flash_sale_opens_with_its_burst_then_sends_most_requests_in_its_middle() {
        let p = Profile::shipped("flash-sale");
        let burst = p.burst.unwrap();
        let n = 2800;
        let due = p.due(n, Duration::from_secs(10));
        assert_eq!(due.len(), n);
        assert_eq!(due[0], Duration::ZERO);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "due times in order");
        assert!(*due.last().unwrap() < Duration::from_secs(10));
        let in_burst = (n as f64 * burst.share).round() as usize;
        let opening = due.iter().filter(|d| d.as_secs_f64() < burst.secs).count();
        // The burst, and the shape's own share of its first slice.
        let shaped_first = (n - in_burst) as f64 * p.shape[0] / p.shape.iter().sum::<f64>();
        assert!(
            opening.abs_diff(in_burst + shaped_first as usize) <= 2,
            "{opening}"
        );
        // The peak is where the rate is highest, burst included.
        let peak = p.peak(n, 10.0);
        assert!(peak >= p.rate_at(n, 10.0, 0.0) && peak >= p.rate_at(n, 10.0, 5.5));
        assert_eq!(p.requests_for_peak(peak, 10.0), n);
    }

    #[test]
    fn an_even_profile_spreads_its_requests_evenly() {
        let p = Profile::shipped("even");
        let due = p.due(100, Duration::from_secs(10));
        assert_eq!(due[50], Duration::from_secs(5));
        assert_eq!(p.peak(100, 10.0), 10.0);
    }
}
