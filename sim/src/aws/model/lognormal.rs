//! The log-normal arithmetic the model's latencies follow: each is given by
//! its median and 99th percentile, and both the running shape's draws
//! ([`super::Model::draw`]) and `sim plan`'s screen (a mean, the slowest of
//! k parallel calls) derive the rest from those two numbers. Pure functions
//! of numbers, apart from the file they describe.

use rand::Rng;

/// The value at `z` standard deviations of the log-normal distribution
/// whose median is `p50` and 99th percentile `p99`.
pub fn lognormal(p50: f64, p99: f64, z: f64) -> f64 {
    p50 * (lognormal_sigma(p50, p99) * z).exp()
}

/// The mean of that distribution (above its median).
pub fn lognormal_mean(p50: f64, p99: f64) -> f64 {
    let sigma = lognormal_sigma(p50, p99);
    p50 * (sigma * sigma / 2.0).exp()
}

/// The expected slowest of `k` calls drawn from that distribution, as the
/// sim waits for `k` parallel calls (the mean for one): the quantile at
/// Blom's plotting position (k - 0.375) / (k + 0.25).
pub fn lognormal_max_mean(p50: f64, p99: f64, k: u32) -> f64 {
    if k <= 1 {
        return lognormal_mean(p50, p99);
    }
    let k = f64::from(k);
    lognormal(p50, p99, normal_quantile((k - 0.375) / (k + 0.25)))
}

/// The standard normal quantile of `p` in (0, 1) (Acklam's rational
/// approximation, relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn lognormal_sigma(p50: f64, p99: f64) -> f64 {
    const Z99: f64 = 2.326_347_874;
    ((p99.max(p50) / p50.max(1e-9)).ln() / Z99).max(0.0)
}

/// A standard normal draw (Box-Muller).
pub(super) fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
