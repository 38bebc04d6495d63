//! Mixing diagnostics over several chains: effective sample size and split R̂.

use crate::error::{Error, Result};

/// Autocovariances γ_0 … γ_{n−1} of a series (divisor n).
fn autocovariance(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let c: Vec<f64> = x.iter().map(|v| v - mean).collect();
    (0..n)
        .map(|lag| {
            c[..n - lag]
                .iter()
                .zip(&c[lag..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n as f64
        })
        .collect()
}

/// The effective sample size of several chains of one scalar (Stan's estimator, Vehtari et al.
/// 2021 without rank normalisation): ρ_t = 1 − (W − mean_c γ_{c,t})/V̂ with V̂ the pooled
/// variance estimate, summed over Geyer's initial monotone positive sequence of pair sums;
/// ESS = C·N / (−1 + 2 Σ_{pairs} (ρ_{2k} + ρ_{2k+1})).
pub fn effective_sample_size(chains: &[Vec<f64>]) -> Result<f64> {
    let (c, n) = check_chains(chains, 4)?;
    let acov: Vec<Vec<f64>> = chains.iter().map(|x| autocovariance(x)).collect();
    let means: Vec<f64> = chains
        .iter()
        .map(|x| x.iter().sum::<f64>() / n as f64)
        .collect();
    let nf = n as f64;
    let w = acov.iter().map(|a| a[0] * nf / (nf - 1.0)).sum::<f64>() / c as f64;
    let grand = means.iter().sum::<f64>() / c as f64;
    let b_over_n = if c > 1 {
        means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (c - 1) as f64
    } else {
        0.0
    };
    let var_plus = (nf - 1.0) / nf * w + b_over_n;
    if var_plus <= 0.0 {
        return Err(Error::Numerical {
            routine: "effective_sample_size".into(),
            message: "the chains are constant".into(),
        });
    }
    let rho = |t: usize| 1.0 - (w - acov.iter().map(|a| a[t]).sum::<f64>() / c as f64) / var_plus;
    let mut sum = 0.0;
    let mut prev = f64::INFINITY;
    let mut t = 0;
    while t + 1 < n {
        let pair = rho(t) + rho(t + 1);
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(prev);
        sum += pair;
        prev = pair;
        t += 2;
    }
    let tau = (-1.0 + 2.0 * sum).max(1.0 / (c as f64 * nf).log10().max(1.0));
    Ok(c as f64 * nf / tau)
}

/// Split-R̂ (Gelman et al. 2013): each chain is halved, then R̂ = √(V̂ / W) with W the mean
/// within-half variance and V̂ = (N−1)/N W + B/N. Values near 1 mean the chains mix.
pub fn split_rhat(chains: &[Vec<f64>]) -> Result<f64> {
    let (_, n) = check_chains(chains, 4)?;
    let half = n / 2;
    let halves: Vec<&[f64]> = chains
        .iter()
        .flat_map(|x| [&x[..half], &x[n - half..]])
        .collect();
    let m = halves.len() as f64;
    let nf = half as f64;
    let means: Vec<f64> = halves.iter().map(|h| h.iter().sum::<f64>() / nf).collect();
    let vars: Vec<f64> = halves
        .iter()
        .zip(&means)
        .map(|(h, mu)| h.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (nf - 1.0))
        .collect();
    let grand = means.iter().sum::<f64>() / m;
    let b = nf * means.iter().map(|mu| (mu - grand).powi(2)).sum::<f64>() / (m - 1.0);
    let w = vars.iter().sum::<f64>() / m;
    let v = (nf - 1.0) / nf * w + b / nf;
    if v <= 0.0 {
        return Err(Error::Numerical {
            routine: "split_rhat".into(),
            message: "the chains are constant".into(),
        });
    }
    Ok((v / w).sqrt())
}

fn check_chains(chains: &[Vec<f64>], min_len: usize) -> Result<(usize, usize)> {
    let n = chains.first().map_or(0, Vec::len);
    if chains.is_empty() || n < min_len || chains.iter().any(|c| c.len() != n) {
        return Err(Error::invalid(
            "chains",
            format!("expected chains of equal length ≥ {min_len}"),
        ));
    }
    if let Some(k) = chains.iter().position(|c| c.iter().any(|v| !v.is_finite())) {
        return Err(Error::NonFinite {
            what: "chains".into(),
            location: format!("chain {k}"),
        });
    }
    Ok((chains.len(), n))
}
