//! The knee of a capacity curve: where throughput stops following the offered rate.

use perf_core::record::{Knee, ProbeReport};

/// The knee of throughput against offered rate: a continuous two-segment least-squares
/// fit `y = a + b·x + c·max(0, x − k)` over a grid of breaks `k`; reported when the slope
/// after the break is less than half the slope before it.
pub fn knee(probes: &[ProbeReport]) -> Option<Knee> {
    let mut pts: Vec<(f64, f64)> = probes
        .iter()
        .map(|p| (p.rate, p.throughput_per_s))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if pts.len() < 4 {
        return None;
    }
    let (lo, hi) = (pts[0].0, pts[pts.len() - 1].0);
    let mut best: Option<(f64, [f64; 3], f64)> = None;
    for i in 1..100 {
        let k = lo + (hi - lo) * i as f64 / 100.0;
        let below = pts.iter().filter(|p| p.0 <= k).count();
        if below < 2 || pts.len() - below < 1 {
            continue;
        }
        let Some(coef) = least_squares_3(&pts, k) else {
            continue;
        };
        let sse: f64 = pts
            .iter()
            .map(|&(x, y)| (y - coef[0] - coef[1] * x - coef[2] * (x - k).max(0.0)).powi(2))
            .sum();
        if best.as_ref().is_none_or(|b| sse < b.2) {
            best = Some((k, coef, sse));
        }
    }
    let (k, c, _) = best?;
    let slope_below = c[1];
    let slope_above = c[1] + c[2];
    (slope_below > 0.0 && slope_above < 0.5 * slope_below).then(|| Knee {
        offered_per_s: k,
        throughput_per_s: c[0] + c[1] * k,
        slope_below,
        slope_above,
    })
}

fn least_squares_3(pts: &[(f64, f64)], k: f64) -> Option<[f64; 3]> {
    let mut ata = [[0.0; 3]; 3];
    let mut aty = [0.0; 3];
    for &(x, y) in pts {
        let row = [1.0, x, (x - k).max(0.0)];
        for i in 0..3 {
            aty[i] += row[i] * y;
            for j in 0..3 {
                ata[i][j] += row[i] * row[j];
            }
        }
    }
    // Gaussian elimination with partial pivoting.
    let mut m = [[0.0; 4]; 3];
    for i in 0..3 {
        m[i][..3].copy_from_slice(&ata[i]);
        m[i][3] = aty[i];
    }
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                let pivot_row = m[col];
                for (cell, p) in m[r].iter_mut().zip(pivot_row).skip(col) {
                    *cell -= f * p;
                }
            }
        }
    }
    Some([m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]])
}
