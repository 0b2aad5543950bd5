//! A small inline-SVG chart kit: line charts with bands and fills, stacked bars,
//! horizontal bars and interval (forest) plots. Every label is escaped; non-finite
//! values are skipped; every chart costs time linear in its points.

use std::fmt::Write as _;

use crate::escape;

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// Colours chosen to stay distinguishable for common colour-vision deficiencies.
pub(crate) const BLUE: &str = "#2f6db5";
pub(crate) const ORANGE: &str = "#e08a1e";
pub(crate) const RED: &str = "#c0392b";
pub(crate) const GREEN: &str = "#2e8b57";
pub(crate) const PURPLE: &str = "#7b4fa0";
pub(crate) const GREY: &str = "#7f8c8d";
pub(crate) const TEAL: &str = "#16a0a0";

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) dashed: bool,
    /// Fill the area between the line and the x axis.
    pub(crate) fill: bool,
}

impl Series {
    pub(crate) fn new(
        name: impl Into<String>,
        color: &'static str,
        points: Vec<(f64, f64)>,
    ) -> Self {
        Self {
            name: name.into(),
            color,
            points,
            dashed: false,
            fill: false,
        }
    }
}

/// A shaded area between two curves sharing x values.
#[derive(Debug, Clone)]
pub(crate) struct Band {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    pub(crate) opacity: f64,
    /// `(x, low, high)`.
    pub(crate) points: Vec<(f64, f64, f64)>,
}

/// A line chart with optional bands, log x axis and custom x ticks.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineChart {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) series: Vec<Series>,
    pub(crate) bands: Vec<Band>,
    pub(crate) x_log: bool,
    pub(crate) x_ticks: Option<Vec<(f64, String)>>,
    /// Vertical marker lines `(x, label)`.
    pub(crate) markers: Vec<(f64, String)>,
}

#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn linear(lo: f64, hi: f64) -> Self {
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
        Self { lo, hi, log: false }
    }

    fn log(lo: f64, hi: f64) -> Self {
        let lo = 10f64.powf(lo.max(1e-9).log10().floor());
        let mut hi = 10f64.powf(hi.max(1e-9).log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
        Self { lo, hi, log: true }
    }

    /// Maps `v` onto the pixel range `a..b`.
    fn map(&self, v: f64, a: f64, b: f64) -> f64 {
        let t = if self.log {
            (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        a + t.clamp(-0.05, 1.05) * (b - a)
    }

    fn ticks(&self, n: usize) -> Vec<f64> {
        if self.log {
            let mut out = Vec::new();
            let mut v = self.lo;
            let decades = (self.hi / self.lo).log10().round() as i32;
            while v <= self.hi * 1.0001 {
                out.push(v);
                if decades <= 2 {
                    for m in [2.0, 5.0] {
                        if v * m < self.hi {
                            out.push(v * m);
                        }
                    }
                }
                v *= 10.0;
            }
            out
        } else {
            nice_ticks(self.lo, self.hi, n)
        }
    }
}

/// Round tick values (1, 2, 5 × 10^k) covering `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}

/// A nice upper bound for an axis starting at 0.
fn nice_max(max: f64) -> f64 {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * mag)
}

/// Short tick label: `1.5k`, `250`, `0.25`.
pub(crate) fn short(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.1}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn open(out: &mut String, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<figure class="chart"><svg viewBox="0 0 {W} {height}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="{LEFT}" y="16" class="ct">{t}</text>"#,
        t = escape::html(title)
    );
}

/// Horizontal grid lines with their labels at five ticks of `ya`, across the plot area
/// `(x0, x1, y0, y1)`.
fn y_grid(out: &mut String, ya: &Axis, (x0, x1, y0, y1): (f64, f64, f64, f64)) {
    for t in ya.ticks(5) {
        let y = ya.map(t, y0, y1);
        let _ = write!(
            out,
            r#"<line x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tk" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y + 4.0,
            escape::html(&short(t))
        );
    }
}

fn close(out: &mut String) {
    out.push_str("</svg></figure>");
}

fn legend(out: &mut String, items: &[(&str, &'static str)]) {
    let mut x = W - RIGHT;
    for (name, color) in items.iter().rev() {
        let label = escape::html(&escape::truncate(name, 28));
        let w = 14.0 + 6.5 * name.chars().count().min(28) as f64;
        x -= w + 10.0;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="8" width="10" height="10" fill="{color}"/><text x="{:.1}" y="17" class="lg">{label}</text>"#,
            x + 14.0
        );
    }
}

fn path_d(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
    }
    d
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

impl LineChart {
    /// The chart as an SVG `<figure>`.
    pub(crate) fn render(&self) -> String {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| finite(p)).map(|p| p.0))
            .chain(self.bands.iter().flat_map(|b| b.points.iter().map(|p| p.0)))
            .filter(|x| !self.x_log || *x > 0.0);
        let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for x in xs {
            xlo = xlo.min(x);
            xhi = xhi.max(x);
        }
        if !xlo.is_finite() {
            (xlo, xhi) = (0.0, 1.0);
        }
        let ymax = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| finite(p)).map(|p| p.1))
            .chain(self.bands.iter().flat_map(|b| b.points.iter().map(|p| p.2)))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let xa = if self.x_log {
            Axis::log(xlo, xhi)
        } else {
            Axis::linear(xlo, xhi)
        };
        let ya = Axis::linear(0.0, nice_max(ymax));
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let mut out = String::new();
        open(&mut out, &self.title, H);
        // Grid and y ticks.
        y_grid(&mut out, &ya, (x0, x1, y0, y1));
        let xticks: Vec<(f64, String)> = match &self.x_ticks {
            Some(t) => t.clone(),
            None => xa.ticks(8).into_iter().map(|t| (t, short(t))).collect(),
        };
        for (t, label) in xticks {
            if t < xa.lo - 1e-9 || t > xa.hi + 1e-9 {
                continue;
            }
            let x = xa.map(t, x0, x1);
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{y0}" y2="{:.1}" class="axis"/><text x="{x:.1}" y="{:.1}" class="tk" text-anchor="middle">{}</text>"#,
                y0 + 4.0,
                y0 + 16.0,
                escape::html(&label)
            );
        }
        let _ = write!(
            out,
            r#"<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" class="axis"/><line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" class="axis"/><text x="{:.1}" y="{:.1}" class="al" text-anchor="middle">{}</text><text x="14" y="{:.1}" class="al" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 6.0,
            escape::html(&self.x_label),
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape::html(&self.y_label)
        );
        for b in &self.bands {
            let pts: Vec<_> = b
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite() && p.2.is_finite())
                .collect();
            if pts.is_empty() {
                continue;
            }
            let upper = pts
                .iter()
                .map(|p| (xa.map(p.0, x0, x1), ya.map(p.2, y0, y1)));
            let lower = pts
                .iter()
                .rev()
                .map(|p| (xa.map(p.0, x0, x1), ya.map(p.1, y0, y1)));
            let mut d = path_d(upper.chain(lower));
            d.push('Z');
            let _ = write!(
                out,
                r#"<path d="{d}" fill="{}" fill-opacity="{}" stroke="none"/>"#,
                b.color, b.opacity
            );
        }
        for s in &self.series {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| finite(p) && (!self.x_log || p.0 > 0.0))
                .map(|p| (xa.map(p.0, x0, x1), ya.map(p.1, y0, y1)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            if s.fill {
                let mut d = path_d(pts.iter().copied());
                let _ = write!(
                    d,
                    "L{:.1},{y0:.1}L{:.1},{y0:.1}Z",
                    pts[pts.len() - 1].0,
                    pts[0].0
                );
                let _ = write!(
                    out,
                    r#"<path d="{d}" fill="{}" fill-opacity="0.25" stroke="none"/>"#,
                    s.color
                );
            }
            if pts.len() == 1 {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                    pts[0].0, pts[0].1, s.color
                );
            } else {
                let _ = write!(
                    out,
                    r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.8"{}/>"#,
                    path_d(pts.into_iter()),
                    s.color,
                    if s.dashed {
                        r#" stroke-dasharray="5 4""#
                    } else {
                        ""
                    }
                );
            }
        }
        for (x, label) in &self.markers {
            if !x.is_finite() {
                continue;
            }
            let px = xa.map(*x, x0, x1);
            let _ = write!(
                out,
                r#"<line x1="{px:.1}" x2="{px:.1}" y1="{y0}" y2="{y1}" stroke="{RED}" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" class="tk">{}</text>"#,
                px + 4.0,
                y1 + 10.0,
                escape::html(label)
            );
        }
        let mut items: Vec<(&str, &'static str)> = self
            .bands
            .iter()
            .map(|b| (b.name.as_str(), b.color))
            .collect();
        items.extend(self.series.iter().map(|s| (s.name.as_str(), s.color)));
        legend(&mut out, &items);
        close(&mut out);
        out
    }
}

/// Vertical stacked bars over a numeric x axis (time slices).
#[derive(Debug, Clone, Default)]
pub(crate) struct StackedBars {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    /// Left edge of each bar.
    pub(crate) x: Vec<f64>,
    /// Width of every bar, in x units.
    pub(crate) width: f64,
    /// `(name, colour, values)`, one value per bar, stacked bottom up.
    pub(crate) layers: Vec<(String, &'static str, Vec<f64>)>,
}

impl StackedBars {
    pub(crate) fn render(&self) -> String {
        let n = self.x.len();
        let totals: Vec<f64> = (0..n)
            .map(|i| {
                self.layers
                    .iter()
                    .map(|l| l.2.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0))
                    .sum()
            })
            .collect();
        let ymax = totals.iter().copied().fold(0.0_f64, f64::max);
        let xlo = self.x.iter().copied().fold(f64::INFINITY, f64::min);
        let xhi = self.x.iter().copied().fold(f64::NEG_INFINITY, f64::max) + self.width;
        let xa = Axis::linear(
            if xlo.is_finite() { xlo } else { 0.0 },
            if xhi.is_finite() { xhi } else { 1.0 },
        );
        let ya = Axis::linear(0.0, nice_max(ymax));
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let mut out = String::new();
        open(&mut out, &self.title, H);
        y_grid(&mut out, &ya, (x0, x1, y0, y1));
        for t in xa.ticks(8) {
            let x = xa.map(t, x0, x1);
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{:.1}" class="tk" text-anchor="middle">{}</text>"#,
                y0 + 16.0,
                short(t)
            );
        }
        for (i, &bx) in self.x.iter().enumerate() {
            let px0 = xa.map(bx, x0, x1);
            let px1 = xa.map(bx + self.width, x0, x1);
            let w = ((px1 - px0) * 0.9).max(0.5);
            let mut acc = 0.0;
            for (_, color, values) in &self.layers {
                let v = values
                    .get(i)
                    .copied()
                    .filter(|v| v.is_finite())
                    .unwrap_or(0.0);
                if v <= 0.0 {
                    continue;
                }
                let ya0 = ya.map(acc, y0, y1);
                acc += v;
                let ya1 = ya.map(acc, y0, y1);
                let _ = write!(
                    out,
                    r#"<rect x="{px0:.1}" y="{ya1:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/>"#,
                    (ya0 - ya1).max(0.0)
                );
            }
        }
        let _ = write!(
            out,
            r#"<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" class="axis"/><line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" class="axis"/><text x="{:.1}" y="{:.1}" class="al" text-anchor="middle">{}</text><text x="14" y="{:.1}" class="al" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 6.0,
            escape::html(&self.x_label),
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape::html(&self.y_label)
        );
        let items: Vec<(&str, &'static str)> =
            self.layers.iter().map(|l| (l.0.as_str(), l.1)).collect();
        legend(&mut out, &items);
        close(&mut out);
        out
    }
}

/// Horizontal grouped bars: one row per label, one bar per series.
#[derive(Debug, Clone, Default)]
pub(crate) struct HBars {
    pub(crate) title: String,
    pub(crate) unit: String,
    pub(crate) series: Vec<(String, &'static str)>,
    /// `(label, one value per series)`.
    pub(crate) rows: Vec<(String, Vec<f64>)>,
}

impl HBars {
    pub(crate) fn render(&self) -> String {
        let label_w = 190.0;
        let bar_h = 12.0;
        let group_h = bar_h * self.series.len().max(1) as f64 + 10.0;
        let height = TOP + 8.0 + group_h * self.rows.len() as f64 + 24.0;
        let vmax = self
            .rows
            .iter()
            .flat_map(|r| r.1.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let xa = Axis::linear(0.0, nice_max(vmax));
        let (x0, x1) = (label_w, W - RIGHT - 70.0);
        let mut out = String::new();
        open(&mut out, &self.title, height);
        let bottom = height - 24.0;
        for t in xa.ticks(8) {
            let x = xa.map(t, x0, x1);
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{bottom:.1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tk" text-anchor="middle">{}</text>"#,
                TOP + 4.0,
                bottom + 14.0,
                short(t)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="al">{}</text>"#,
            x1 + 12.0,
            bottom + 14.0,
            escape::html(&self.unit)
        );
        for (ri, (label, values)) in self.rows.iter().enumerate() {
            let gy = TOP + 8.0 + group_h * ri as f64;
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="tk" text-anchor="end">{}</text>"#,
                label_w - 8.0,
                gy + group_h / 2.0,
                escape::html(&escape::truncate(label, 30))
            );
            for (si, (_, color)) in self.series.iter().enumerate() {
                let y = gy + bar_h * si as f64;
                // A missing figure (a group that did not stream has no time to first
                // token) is marked as such, never drawn as a 0 bar.
                let Some(v) = values.get(si).copied().filter(|v| v.is_finite()) else {
                    let _ = write!(
                        out,
                        r#"<text x="{:.1}" y="{:.1}" class="tk">n/a</text>"#,
                        x0 + 4.0,
                        y + bar_h - 3.0
                    );
                    continue;
                };
                let w = (xa.map(v, x0, x1) - x0).max(0.0);
                let _ = write!(
                    out,
                    r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" class="tk">{}</text>"#,
                    bar_h - 2.0,
                    x0 + w + 4.0,
                    y + bar_h - 3.0,
                    short(v)
                );
            }
        }
        let _ = write!(
            out,
            r#"<line x1="{x0}" x2="{x0}" y1="{:.1}" y2="{bottom:.1}" class="axis"/>"#,
            TOP + 4.0
        );
        let items: Vec<(&str, &'static str)> =
            self.series.iter().map(|s| (s.0.as_str(), s.1)).collect();
        if items.len() > 1 {
            legend(&mut out, &items);
        }
        close(&mut out);
        out
    }
}

/// One row of an interval plot.
#[derive(Debug, Clone)]
pub(crate) struct IntervalRow {
    pub(crate) label: String,
    pub(crate) value: f64,
    pub(crate) interval: Option<(f64, f64)>,
    pub(crate) threshold: f64,
    pub(crate) color: &'static str,
}

/// Changes with confidence intervals against ± thresholds (a forest plot), in percent.
pub(crate) fn interval_plot(title: &str, rows: &[IntervalRow]) -> String {
    let label_w = 250.0;
    let row_h = 18.0;
    let height = TOP + 10.0 + row_h * rows.len() as f64 + 28.0;
    let extent = rows
        .iter()
        .flat_map(|r| {
            let (lo, hi) = r.interval.unwrap_or((r.value, r.value));
            [r.value, lo, hi, r.threshold, -r.threshold]
        })
        .filter(|v| v.is_finite())
        .fold(0.01_f64, |m, v| m.max(v.abs()));
    let lim = nice_max(extent * 100.0) / 100.0;
    let xa = Axis::linear(-lim, lim);
    let (x0, x1) = (label_w, W - RIGHT - 10.0);
    let bottom = height - 28.0;
    let mut out = String::new();
    open(&mut out, title, height);
    for t in nice_ticks(-lim * 100.0, lim * 100.0, 6) {
        let x = xa.map(t / 100.0, x0, x1);
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{bottom:.1}" class="{}"/><text x="{x:.1}" y="{:.1}" class="tk" text-anchor="middle">{}%</text>"#,
            TOP + 4.0,
            if t == 0.0 { "axis" } else { "grid" },
            bottom + 14.0,
            short(t)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="al" text-anchor="middle">change vs baseline (points for rates); dashed: ± threshold</text>"#,
        (x0 + x1) / 2.0,
        height - 2.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + 10.0 + row_h * i as f64 + row_h / 2.0;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tk" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 4.0,
            escape::html(&escape::truncate(&r.label, 40))
        );
        if r.threshold.is_finite() {
            for t in [-r.threshold, r.threshold] {
                let x = xa.map(t, x0, x1);
                let _ = write!(
                    out,
                    r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{GREY}" stroke-dasharray="2 2"/>"#,
                    y - row_h / 2.0,
                    y + row_h / 2.0
                );
            }
        }
        if let Some((lo, hi)) = r.interval.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            let _ = write!(
                out,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{}" stroke-width="2"/>"#,
                xa.map(lo, x0, x1),
                xa.map(hi, x0, x1),
                r.color
            );
        }
        if r.value.is_finite() {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="{}"/>"#,
                xa.map(r.value, x0, x1),
                r.color
            );
        }
    }
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bar_value_is_marked_not_drawn_as_zero() {
        let chart = HBars {
            title: "t".into(),
            unit: "ms".into(),
            series: vec![("a".into(), BLUE), ("b".into(), RED)],
            rows: vec![("row".into(), vec![5.0, f64::NAN])],
        }
        .render();
        // Each colour has its legend swatch; only the present value has a bar.
        assert_eq!(
            chart.matches(&format!(r#"fill="{BLUE}""#)).count(),
            2,
            "{chart}"
        );
        assert_eq!(
            chart.matches(&format!(r#"fill="{RED}""#)).count(),
            1,
            "{chart}"
        );
        assert_eq!(chart.matches("n/a").count(), 1, "{chart}");
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_max(7.3), 8.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(short(1500.0), "1500");
        assert_eq!(short(25_000.0), "25k");
        assert_eq!(short(0.25), "0.25");
    }

    #[test]
    fn labels_are_escaped_and_nan_is_skipped() {
        let chart = LineChart {
            title: "<script>x</script>".into(),
            series: vec![Series::new(
                "a\"b",
                BLUE,
                vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)],
            )],
            ..LineChart::default()
        };
        let svg = chart.render();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("NaN"));
        assert!(svg.contains("a&quot;b"));
    }

    #[test]
    fn log_axis_maps_decades_evenly() {
        let a = Axis::log(3.0, 900.0);
        assert_eq!((a.lo, a.hi), (1.0, 1000.0));
        let mid = a.map(10.0, 0.0, 300.0);
        assert!((mid - 100.0).abs() < 1e-9);
    }
}
