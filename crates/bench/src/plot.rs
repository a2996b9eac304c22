//! A small SVG line-chart renderer for the report's charts: throughput and
//! p99 latency against concurrency for Custos, the peer and the floor.
//!
//! Hand-written SVG keeps the bench free of plotting crates (and CI builds
//! fast), and a reviewer can diff two runs' charts as text. The output is
//! deterministic: the same chart gives byte-identical SVG, every coordinate
//! rounded to a tenth of a pixel. Each series has a colour from the
//! Okabe-Ito palette (safe for colour-blind readers), a marker shape and a
//! dash pattern of its own, so that it survives a greyscale printout too.
//!
//! A point that cannot be drawn (not finite, or not positive on a
//! logarithmic axis) is left out; a series with none left is listed in the
//! legend as having no data, and a chart with none at all says so instead
//! of drawing axes with invented ranges.

use std::fmt::Write as _;

/// The canvas, in pixels: fixed, so that charts of two runs line up.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
/// Room above the plot area for the title.
const MARGIN_TOP: f64 = 52.0;
/// Room left of the plot area for the y tick labels and the y axis label.
const MARGIN_LEFT: f64 = 76.0;
/// Room below the plot area for the x tick labels and the x axis label.
const MARGIN_BOTTOM: f64 = 60.0;
/// Room right of the legend.
const MARGIN_RIGHT: f64 = 16.0;
/// Between the plot area and the legend, which sits right of it so that it
/// never covers a point.
const LEGEND_GAP: f64 = 18.0;
/// Legend names wrap at this many characters, on at most
/// `LEGEND_MAX_LINES` lines, so that a long name cannot squeeze the plot.
const LEGEND_WRAP_CHARS: usize = 24;
const LEGEND_MAX_LINES: usize = 3;
/// An estimate of the width of one character of the 12 px legend font:
/// SVG cannot measure text, and a generous estimate only widens the box.
const LEGEND_CHAR_PX: f64 = 6.5;
/// The legend's line sample, from its left padding to the text.
const LEGEND_SAMPLE_PX: f64 = 30.0;
const LEGEND_PAD: f64 = 10.0;
const LEGEND_LINE_PX: f64 = 15.0;
const LEGEND_ENTRY_GAP: f64 = 7.0;
/// The title's font size, the least it shrinks to for a long title, and
/// an estimate of one bold character's width in ems.
const TITLE_PX: f64 = 17.0;
const MIN_TITLE_PX: f64 = 11.0;
const TITLE_CHAR_EM: f64 = 0.62;
/// About how many intervals a linear axis is divided into.
const TARGET_TICKS: f64 = 5.0;
/// A logarithmic y axis with more 1-2-5 ticks than this shows decades only.
const MAX_LOG_TICKS: usize = 9;
/// Tick labels on the x axis closer than this (in pixels) to the previous
/// label are left out, so that labels never overlap.
const MIN_X_LABEL_GAP: f64 = 30.0;

/// The Okabe-Ito palette, in the order series take it: yellow is last
/// because it is faint on white.
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];
/// Dash patterns in series order; the first series is solid.
const DASHES: [&str; 6] = ["", "7 4", "2 3", "9 3 2 3", "4 2", "1 3"];
/// How many marker shapes `marker` draws.
const MARKERS: usize = 6;

const TEXT_COLOUR: &str = "#222222";
const MUTED_COLOUR: &str = "#666666";
const AXIS_COLOUR: &str = "#444444";
const GRID_COLOUR: &str = "#e4e4e4";

/// One line of a chart: a name for the legend and its points, drawn in
/// the order of x.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) series: Vec<Series>,
    /// A base-2 logarithmic x axis, ticked at the data's own x values:
    /// concurrency 1, 8, 32, 64 reads best so.
    pub(crate) log_x: bool,
    /// A base-10 logarithmic y axis with 1-2-5 ticks; otherwise linear from 0.
    pub(crate) log_y: bool,
}

/// The chart as a standalone SVG document.
pub(crate) fn svg(chart: &Chart) -> String {
    let drawn: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| drawable(&s.points, chart.log_x, chart.log_y))
        .collect();
    let legend = Legend::of(chart);
    let plot = Area {
        left: MARGIN_LEFT,
        top: MARGIN_TOP,
        right: WIDTH - MARGIN_RIGHT - legend.room(),
        bottom: HEIGHT - MARGIN_BOTTOM,
    };

    let mut out = String::with_capacity(8 * 1024);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"Helvetica, Arial, 'DejaVu Sans', sans-serif\">",
        w = num(WIDTH),
        h = num(HEIGHT)
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&chart.title));
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(WIDTH),
        num(HEIGHT)
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"30\" font-size=\"{}\" font-weight=\"bold\" fill=\"{TEXT_COLOUR}\">{}</text>",
        num(plot.left),
        num(title_size(&chart.title)),
        escape(&chart.title)
    );

    let xs: Vec<f64> = drawn.iter().flatten().map(|p| p.0).collect();
    let ys: Vec<f64> = drawn.iter().flatten().map(|p| p.1).collect();
    if xs.is_empty() {
        frame(&mut out, &plot);
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"14\" fill=\"{MUTED_COLOUR}\" text-anchor=\"middle\">no data</text>",
            num(f64::midpoint(plot.left, plot.right)),
            num(f64::midpoint(plot.top, plot.bottom))
        );
    } else {
        let x_axis = if chart.log_x {
            Axis::log_at(&xs)
        } else {
            Axis::linear(&xs, false)
        };
        let y_axis = if chart.log_y {
            Axis::log_125(&ys)
        } else {
            Axis::linear(&ys, true)
        };
        grid_and_ticks(&mut out, &plot, &x_axis, &y_axis);
        frame(&mut out, &plot);
        for (i, (series, points)) in chart.series.iter().zip(&drawn).enumerate() {
            draw_series(&mut out, &plot, &x_axis, &y_axis, i, series, points);
        }
    }
    axis_labels(&mut out, chart, &plot);
    legend.draw(&mut out, chart, &drawn, plot.right + LEGEND_GAP, plot.top);
    out.push_str("</svg>\n");
    out
}

/// The title's font size: `TITLE_PX`, smaller for a title that would not
/// fit across the canvas at that size (down to `MIN_TITLE_PX`).
fn title_size(title: &str) -> f64 {
    let room = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let width_at_one_px = title.chars().count() as f64 * TITLE_CHAR_EM;
    (room / width_at_one_px.max(1.0)).clamp(MIN_TITLE_PX, TITLE_PX)
}

/// The points of a series that can be drawn, in the order of x.
fn drawable(points: &[(f64, f64)], log_x: bool, log_y: bool) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(x, y)| {
            x.is_finite() && y.is_finite() && (!log_x || x > 0.0) && (!log_y || y > 0.0)
        })
        .collect();
    kept.sort_by(|a, b| a.0.total_cmp(&b.0));
    kept
}

/// The plot area, in canvas pixels (y grows downwards).
#[derive(Debug, Clone, Copy)]
struct Area {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

/// One axis: its range, whether it is logarithmic, and its ticks.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl Axis {
    /// A linear axis over `values` (at least one, all finite) with 1-2-5
    /// steps, from 0 when `from_zero` (and the values are not negative), so
    /// that bar-like quantities such as throughput are not exaggerated.
    fn linear(values: &[f64], from_zero: bool) -> Self {
        let (mut lo, mut hi) = min_max(values);
        if from_zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            // One value: a range around it (or 0 to 1 for zero).
            let pad = if hi == 0.0 { 1.0 } else { hi.abs() / 2.0 };
            if !from_zero || lo < 0.0 {
                lo -= pad;
            }
            hi += pad;
        }
        let step = nice_step((hi - lo) / TARGET_TICKS);
        let first = (lo / step).floor();
        let last = (hi / step).ceil();
        let ticks = (0..=((last - first).round() as i64))
            .map(|i| (first + i as f64) * step)
            .collect();
        Self {
            lo: first * step,
            hi: last * step,
            log: false,
            ticks,
        }
    }

    /// A logarithmic axis ticked at the distinct `values` themselves (all
    /// positive): concurrency levels are few and chosen, so they are the
    /// ticks. A little room on each side keeps markers off the frame.
    fn log_at(values: &[f64]) -> Self {
        let mut ticks = values.to_vec();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        let (lo, hi) = min_max(&ticks);
        let pad = if hi > lo { (hi / lo).powf(0.04) } else { 2.0 };
        Self {
            lo: lo / pad,
            hi: hi * pad,
            log: true,
            ticks,
        }
    }

    /// A logarithmic axis over `values` (all positive) from the 1-2-5 value
    /// at or below the least to the one at or above the greatest, ticked at
    /// each 1-2-5 value, or at each power of ten when that would be too many.
    fn log_125(values: &[f64]) -> Self {
        let (lo, hi) = min_max(values);
        let mut first = step_125_floor(lo);
        let mut last = step_125_ceil(hi);
        if first == last {
            first -= 1;
            last += 1;
        }
        let mut ticks: Vec<f64> = (first..=last).map(value_125).collect();
        if ticks.len() > MAX_LOG_TICKS {
            // Whole decades: widen the range to powers of ten.
            first = first.div_euclid(3) * 3;
            last = (last + 2).div_euclid(3) * 3;
            ticks = (first..=last).step_by(3).map(value_125).collect();
        }
        Self {
            lo: value_125(first),
            hi: value_125(last),
            log: true,
            ticks,
        }
    }

    /// Where `v` falls on the axis, from 0 (lo) to 1 (hi).
    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

impl Area {
    fn x(&self, axis: &Axis, v: f64) -> f64 {
        self.left + axis.fraction(v) * (self.right - self.left)
    }

    fn y(&self, axis: &Axis, v: f64) -> f64 {
        self.bottom - axis.fraction(v) * (self.bottom - self.top)
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let mantissa = raw / power;
    let nice = if mantissa <= 1.0 {
        1.0
    } else if mantissa <= 2.0 {
        2.0
    } else if mantissa <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// The 1-2-5 sequence indexed by integers: index `3k` is `10^k`, `3k + 1`
/// is `2·10^k` and `3k + 2` is `5·10^k`.
fn value_125(index: i32) -> f64 {
    let mantissa = [1.0, 2.0, 5.0][index.rem_euclid(3) as usize];
    mantissa * 10f64.powi(index.div_euclid(3))
}

/// The index of the greatest 1-2-5 value at or below `v` (positive).
fn step_125_floor(v: f64) -> i32 {
    // A relative tolerance, so that 0.2 computed as 0.19999999 is still 0.2.
    let v = v * (1.0 + 1e-9);
    let decade = v.log10().floor() as i32;
    let mantissa = v / 10f64.powi(decade);
    let within = if mantissa >= 5.0 {
        2
    } else if mantissa >= 2.0 {
        1
    } else {
        0
    };
    decade * 3 + within
}

/// The index of the least 1-2-5 value at or above `v` (positive).
fn step_125_ceil(v: f64) -> i32 {
    let floor = step_125_floor(v);
    if value_125(floor) * (1.0 + 1e-9) >= v {
        floor
    } else {
        floor + 1
    }
}

/// Horizontal grid lines and y ticks, vertical grid lines and x ticks.
fn grid_and_ticks(out: &mut String, plot: &Area, x_axis: &Axis, y_axis: &Axis) {
    let _ = writeln!(
        out,
        "<g stroke=\"{GRID_COLOUR}\" stroke-width=\"1\" shape-rendering=\"crispEdges\">"
    );
    for &t in &y_axis.ticks {
        let y = plot.y(y_axis, t);
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            num(plot.left),
            num(plot.right),
            y = num(y)
        );
    }
    for &t in &x_axis.ticks {
        let x = plot.x(x_axis, t);
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>",
            num(plot.top),
            num(plot.bottom),
            x = num(x)
        );
    }
    out.push_str("</g>\n");

    let _ = writeln!(
        out,
        "<g font-size=\"12\" fill=\"{MUTED_COLOUR}\" text-anchor=\"end\">"
    );
    for &t in &y_axis.ticks {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" dy=\"0.35em\">{}</text>",
            num(plot.left - 9.0),
            num(plot.y(y_axis, t)),
            escape(&compact(t))
        );
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<g font-size=\"12\" fill=\"{MUTED_COLOUR}\" text-anchor=\"middle\">"
    );
    let mut last_label = f64::NEG_INFINITY;
    for &t in &x_axis.ticks {
        let x = plot.x(x_axis, t);
        if x - last_label < MIN_X_LABEL_GAP {
            continue;
        }
        last_label = x;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            num(x),
            num(plot.bottom + 20.0),
            escape(&compact(t))
        );
    }
    out.push_str("</g>\n");

    let _ = writeln!(
        out,
        "<g stroke=\"{AXIS_COLOUR}\" stroke-width=\"1\" shape-rendering=\"crispEdges\">"
    );
    for &t in &y_axis.ticks {
        let y = num(plot.y(y_axis, t));
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            num(plot.left - 5.0),
            num(plot.left)
        );
    }
    for &t in &x_axis.ticks {
        let x = num(plot.x(x_axis, t));
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>",
            num(plot.bottom),
            num(plot.bottom + 5.0)
        );
    }
    out.push_str("</g>\n");
}

/// The left and bottom axis lines.
fn frame(out: &mut String, plot: &Area) {
    let _ = writeln!(
        out,
        "<path d=\"M{} {}V{}H{}\" fill=\"none\" stroke=\"{AXIS_COLOUR}\" stroke-width=\"1.2\" shape-rendering=\"crispEdges\"/>",
        num(plot.left),
        num(plot.top),
        num(plot.bottom),
        num(plot.right)
    );
}

fn axis_labels(out: &mut String, chart: &Chart, plot: &Area) {
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"{TEXT_COLOUR}\" text-anchor=\"middle\">{}</text>",
        num(f64::midpoint(plot.left, plot.right)),
        num(HEIGHT - 16.0),
        escape(&chart.x_label)
    );
    let (x, y) = (20.0, f64::midpoint(plot.top, plot.bottom));
    let _ = writeln!(
        out,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"13\" fill=\"{TEXT_COLOUR}\" text-anchor=\"middle\" transform=\"rotate(-90 {x} {y})\">{}</text>",
        escape(&chart.y_label),
        x = num(x),
        y = num(y)
    );
}

/// The line through a series' points, then a marker on each, each marker
/// with a tooltip naming the series and the point.
fn draw_series(
    out: &mut String,
    plot: &Area,
    x_axis: &Axis,
    y_axis: &Axis,
    index: usize,
    series: &Series,
    points: &[(f64, f64)],
) {
    if points.is_empty() {
        return;
    }
    let colour = COLOURS[index % COLOURS.len()];
    let dash = DASHES[index % DASHES.len()];
    let pixels: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, y)| (plot.x(x_axis, x), plot.y(y_axis, y)))
        .collect();
    if pixels.len() > 1 {
        let path: Vec<String> = pixels
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{}/>",
            path.join(" "),
            dash_attribute(dash)
        );
    }
    for (&(x, y), &(px, py)) in points.iter().zip(&pixels) {
        let tip = format!("{}: {}, {}", series.name, compact(x), compact(y));
        marker(out, index, colour, px, py, Some(&tip));
    }
}

fn dash_attribute(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

/// Marker `index` (modulo the shapes) centred on `(x, y)`: filled in the
/// series' colour with a white edge, so that overlapping markers stay apart.
fn marker(out: &mut String, index: usize, colour: &str, x: f64, y: f64, tip: Option<&str>) {
    let (element, geometry) = match index % MARKERS {
        0 => (
            "circle",
            format!("cx=\"{}\" cy=\"{}\" r=\"4.6\"", num(x), num(y)),
        ),
        1 => (
            "rect",
            format!(
                "x=\"{}\" y=\"{}\" width=\"8.4\" height=\"8.4\"",
                num(x - 4.2),
                num(y - 4.2)
            ),
        ),
        2 => ("polygon", corners(&TRIANGLE_UP, x, y)),
        3 => ("polygon", corners(&DIAMOND, x, y)),
        4 => ("polygon", corners(&TRIANGLE_DOWN, x, y)),
        _ => ("polygon", corners(&PLUS, x, y)),
    };
    let _ = write!(
        out,
        "<{element} {geometry} fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"1.2\""
    );
    match tip {
        Some(tip) => {
            let _ = writeln!(out, "><title>{}</title></{element}>", escape(tip));
        }
        None => out.push_str("/>\n"),
    }
}

/// Marker outlines, as offsets from the centre.
const TRIANGLE_UP: [(f64, f64); 3] = [(0.0, -5.6), (5.0, 3.6), (-5.0, 3.6)];
const TRIANGLE_DOWN: [(f64, f64); 3] = [(0.0, 5.6), (5.0, -3.6), (-5.0, -3.6)];
const DIAMOND: [(f64, f64); 4] = [(0.0, -5.8), (5.8, 0.0), (0.0, 5.8), (-5.8, 0.0)];
const PLUS: [(f64, f64); 12] = [
    (-1.8, -5.0),
    (1.8, -5.0),
    (1.8, -1.8),
    (5.0, -1.8),
    (5.0, 1.8),
    (1.8, 1.8),
    (1.8, 5.0),
    (-1.8, 5.0),
    (-1.8, 1.8),
    (-5.0, 1.8),
    (-5.0, -1.8),
    (-1.8, -1.8),
];

/// The `points` attribute of a polygon with `offsets` around `(x, y)`.
fn corners(offsets: &[(f64, f64)], x: f64, y: f64) -> String {
    let points: Vec<String> = offsets
        .iter()
        .map(|&(dx, dy)| format!("{},{}", num(x + dx), num(y + dy)))
        .collect();
    format!("points=\"{}\"", points.join(" "))
}

/// The legend, right of the plot area: one entry per series with its line
/// sample, marker and name (wrapped), in series order.
#[derive(Debug)]
struct Legend {
    /// Each series' name, wrapped into lines.
    entries: Vec<Vec<String>>,
    width: f64,
}

impl Legend {
    fn of(chart: &Chart) -> Self {
        let entries: Vec<Vec<String>> = chart.series.iter().map(|s| wrap(&s.name)).collect();
        let widest = entries
            .iter()
            .flatten()
            .map(|line| line.chars().count())
            .max()
            .unwrap_or(0)
            // " (no data)" fits on a line of its own, at least.
            .max(9);
        let width = LEGEND_PAD * 2.0 + LEGEND_SAMPLE_PX + 8.0 + widest as f64 * LEGEND_CHAR_PX;
        Self { entries, width }
    }

    /// The width the legend takes right of the plot area: none without series.
    fn room(&self) -> f64 {
        if self.entries.is_empty() {
            0.0
        } else {
            self.width + LEGEND_GAP
        }
    }

    fn draw(
        &self,
        out: &mut String,
        chart: &Chart,
        drawn: &[Vec<(f64, f64)>],
        left: f64,
        top: f64,
    ) {
        if self.entries.is_empty() {
            return;
        }
        let lines: usize = self
            .entries
            .iter()
            .zip(drawn)
            .map(|(e, d)| e.len() + usize::from(d.is_empty()))
            .sum();
        let height = LEGEND_PAD * 2.0
            + lines as f64 * LEGEND_LINE_PX
            + (self.entries.len() - 1) as f64 * LEGEND_ENTRY_GAP;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#ffffff\" stroke=\"#cccccc\"/>",
            num(left),
            num(top),
            num(self.width),
            num(height)
        );
        let mut y = top + LEGEND_PAD + LEGEND_LINE_PX / 2.0;
        for (i, ((entry, series), points)) in self
            .entries
            .iter()
            .zip(&chart.series)
            .zip(drawn)
            .enumerate()
        {
            let colour = COLOURS[i % COLOURS.len()];
            let sample_left = left + LEGEND_PAD;
            let sample_right = sample_left + LEGEND_SAMPLE_PX;
            let _ = writeln!(out, "<g><title>{}</title>", escape(&series.name));
            let _ = writeln!(
                out,
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"2.2\" stroke-linecap=\"round\"{}/>",
                num(sample_left),
                num(sample_right),
                dash_attribute(DASHES[i % DASHES.len()]),
                y = num(y)
            );
            marker(
                out,
                i,
                colour,
                f64::midpoint(sample_left, sample_right),
                y,
                None,
            );
            let text_x = num(sample_right + 8.0);
            let mut text_lines: Vec<(String, &str)> = entry
                .iter()
                .map(|line| (escape(line), TEXT_COLOUR))
                .collect();
            if points.is_empty() {
                text_lines.push(("(no data)".to_owned(), MUTED_COLOUR));
            }
            for (line, fill) in text_lines {
                let _ = writeln!(
                    out,
                    "<text x=\"{text_x}\" y=\"{}\" dy=\"0.35em\" font-size=\"12\" fill=\"{fill}\">{line}</text>",
                    num(y)
                );
                y += LEGEND_LINE_PX;
            }
            out.push_str("</g>\n");
            y += LEGEND_ENTRY_GAP;
        }
    }
}

/// `name` in lines of at most `LEGEND_WRAP_CHARS` characters, broken at
/// spaces where possible, at most `LEGEND_MAX_LINES` (the last one ending
/// in an ellipsis if the name is longer).
fn wrap(name: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in name.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let room = if used == 0 {
                LEGEND_WRAP_CHARS
            } else {
                LEGEND_WRAP_CHARS.saturating_sub(used + 1)
            };
            if word.len() <= room {
                if used > 0 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if used == 0 {
                // A word longer than a line: cut it.
                let rest = word.split_off(LEGEND_WRAP_CHARS);
                lines.push(word.iter().collect());
                word = rest;
            } else {
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > LEGEND_MAX_LINES {
        lines.truncate(LEGEND_MAX_LINES);
        if let Some(last) = lines.last_mut() {
            let mut kept: String = last.chars().take(LEGEND_WRAP_CHARS - 1).collect();
            kept.push('…');
            *last = kept;
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// A tick or tooltip value, short: `12k`, `1.5k`, `2.5M`, `250`, `0.05`.
/// At most two decimals above 1 (after the suffix) and three significant
/// digits below it; trailing zeros dropped.
fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    let (scaled, suffix) = if v.abs() >= 999_999.5 {
        (v / 1e6, "M")
    } else if v.abs() >= 999.5 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let decimals = if scaled.abs() >= 1.0 || scaled == 0.0 {
        2
    } else {
        (2 - scaled.abs().log10().floor() as i32).clamp(2, 6) as usize
    };
    let mut text = format!("{scaled:.decimals$}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    text + suffix
}

/// A coordinate with at most one decimal, so that output is stable and small.
fn num(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    let mut text = format!("{rounded:.1}");
    if text.ends_with(".0") {
        text.truncate(text.len() - 2);
    }
    if text == "-0" {
        text = "0".to_owned();
    }
    text
}

/// `text` safe in XML character data and attribute values; control
/// characters, which XML 1.0 forbids, become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn series(name: &str, points: &[(f64, f64)]) -> Series {
        Series {
            name: name.to_owned(),
            points: points.to_vec(),
        }
    }

    fn throughput() -> Chart {
        Chart {
            title: "W2 audited reads over HTTP".to_owned(),
            x_label: "connections".to_owned(),
            y_label: "reads per second".to_owned(),
            series: vec![
                series(
                    "Custos",
                    &[
                        (1.0, 2_100.0),
                        (8.0, 11_800.0),
                        (32.0, 14_200.0),
                        (64.0, 14_900.0),
                    ],
                ),
                series(
                    "PostgreSQL peer",
                    &[
                        (1.0, 900.0),
                        (8.0, 4_792.0),
                        (32.0, 4_649.0),
                        (64.0, 4_500.0),
                    ],
                ),
                series(
                    "floor",
                    &[
                        (1.0, 3_000.0),
                        (8.0, 15_000.0),
                        (32.0, 17_500.0),
                        (64.0, 18_100.0),
                    ],
                ),
            ],
            log_x: true,
            log_y: false,
        }
    }

    /// A light well-formedness check: every tag closes, in order, and no
    /// `&` starts anything but the five predefined entities.
    fn check_balanced(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            check_entities(text);
            let end = rest[start..].find('>').unwrap() + start;
            let tag = &rest[start + 1..end];
            check_entities(tag);
            assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap().to_owned());
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(rest.trim(), "");
    }

    fn check_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare `&` in {text}"
            );
        }
    }

    /// The y pixel of each y tick label, with its text.
    fn y_tick_labels(svg: &str) -> Vec<(f64, String)> {
        svg.lines()
            .filter(|l| {
                l.starts_with("<text x=\"")
                    && l.contains("dy=\"0.35em\">")
                    && !l.contains("font-size")
            })
            .map(|l| {
                let y = l.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
                let text = l.split('>').nth(1).unwrap().split('<').next().unwrap();
                (y.parse().unwrap(), text.to_owned())
            })
            .collect()
    }

    #[test]
    fn a_throughput_chart_is_well_formed_and_names_every_series() {
        let chart = throughput();
        let svg = svg(&chart);
        check_balanced(&svg);
        assert!(
            svg.starts_with(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"440\""
            )
        );
        assert!(svg.contains("fill=\"#ffffff\""), "white background");
        for s in &chart.series {
            assert!(
                svg.contains(&format!(">{}</text>", s.name)),
                "legend lacks {}",
                s.name
            );
        }
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains(">W2 audited reads over HTTP</text>"));
        assert!(svg.contains(">reads per second</text>"));
        // Distinct colours and dashes.
        for c in &COLOURS[..3] {
            assert!(svg.contains(&format!("stroke=\"{c}\"")), "{c}");
        }
        assert!(svg.contains("stroke-dasharray=\"7 4\""));
    }

    #[test]
    fn a_linear_y_axis_starts_at_zero_with_nice_ticks() {
        let svg = svg(&throughput());
        let labels: Vec<String> = y_tick_labels(&svg).into_iter().map(|(_, t)| t).collect();
        assert_eq!(labels, ["0", "5k", "10k", "15k", "20k"]);
    }

    #[test]
    fn a_log2_x_axis_is_ticked_at_the_data() {
        let svg = svg(&throughput());
        let x_labels: Vec<&str> = svg
            .lines()
            .filter(|l| {
                l.starts_with("<text x=\"") && !l.contains("dy=") && !l.contains("font-size")
            })
            .map(|l| l.split('>').nth(1).unwrap().split('<').next().unwrap())
            .collect();
        assert_eq!(x_labels, ["1", "8", "32", "64"]);
    }

    #[test]
    fn a_log_y_axis_uses_1_2_5_ticks() {
        let mut chart = throughput();
        chart.log_y = true;
        chart.series = vec![series("p99", &[(1.0, 0.8), (8.0, 3.1), (64.0, 14.0)])];
        let labels: Vec<String> = y_tick_labels(&svg(&chart))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(labels, ["0.5", "1", "2", "5", "10", "20"]);
        chart.series = vec![series("p99", &[(1.0, 0.05), (8.0, 3.1), (64.0, 140.0)])];
        let labels: Vec<String> = y_tick_labels(&svg(&chart))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(labels, ["0.01", "0.1", "1", "10", "100", "1k"]);
    }

    #[test]
    fn higher_values_are_drawn_higher() {
        let ticks = y_tick_labels(&svg(&throughput()));
        assert!(ticks.windows(2).all(|w| w[0].0 > w[1].0), "{ticks:?}");
    }

    #[test]
    fn text_is_escaped() {
        let mut chart = throughput();
        chart.title = "reads <fast> & \"durable\" 'n' \u{7}".to_owned();
        chart.series[0].name = "Custos <b>&amp;</b>".to_owned();
        let svg = svg(&chart);
        check_balanced(&svg);
        assert!(
            svg.contains("reads &lt;fast&gt; &amp; &quot;durable&quot; &apos;n&apos; \u{FFFD}")
        );
        assert!(svg.contains("Custos &lt;b&gt;&amp;amp;&lt;/b&gt;"));
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn an_empty_chart_says_no_data() {
        for series in [
            vec![],
            vec![series("Custos", &[]), series("peer", &[(f64::NAN, 1.0)])],
        ] {
            let chart = Chart {
                series,
                ..throughput()
            };
            let svg = svg(&chart);
            check_balanced(&svg);
            assert!(svg.contains(">no data</text>"));
            assert!(!svg.contains("<polyline"));
        }
    }

    #[test]
    fn bad_points_and_empty_series_are_left_out() {
        let mut chart = throughput();
        chart.log_y = true;
        chart.series = vec![
            series(
                "a",
                &[
                    (1.0, 1.0),
                    (8.0, f64::NAN),
                    (32.0, f64::INFINITY),
                    (64.0, 0.0),
                    (-1.0, 2.0),
                    (16.0, 4.0),
                ],
            ),
            series("empty", &[]),
            series("one", &[(8.0, 2.0)]),
        ];
        let svg = svg(&chart);
        check_balanced(&svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // Series "a" keeps (1, 1) and (16, 4); "one" is a marker alone.
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<title>a: ").count(), 2);
        assert_eq!(svg.matches("<title>one: 8, 2</title>").count(), 1);
        assert!(svg.contains(">empty</text>"));
        assert!(svg.contains(">(no data)</text>"));
    }

    #[test]
    fn a_long_title_is_set_smaller() {
        assert_eq!(title_size("W2 audited reads"), TITLE_PX);
        let long = "W2 audited reads over HTTP against concurrency, 1,000,000 members";
        let size = title_size(long);
        assert!((MIN_TITLE_PX..TITLE_PX).contains(&size), "{size}");
        assert_eq!(title_size(&"x".repeat(500)), MIN_TITLE_PX);
    }

    #[test]
    fn the_same_chart_gives_the_same_bytes() {
        assert_eq!(svg(&throughput()), svg(&throughput()));
    }

    #[test]
    fn numbers_are_compact() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (250.0, "250"),
            (1_500.0, "1.5k"),
            (12_000.0, "12k"),
            (2_500_000.0, "2.5M"),
            (0.05, "0.05"),
            (0.1 * 3.0, "0.3"),
            (0.0125, "0.0125"),
            (1.25, "1.25"),
            (999.9, "1k"),
        ];
        for (v, text) in cases {
            assert_eq!(compact(v), text, "{v}");
        }
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(40.0), "40");
    }

    #[test]
    fn long_names_wrap() {
        assert_eq!(wrap("Custos"), ["Custos"]);
        assert_eq!(
            wrap("PostgreSQL peer (pgcrypto, RLS, pgaudit)"),
            ["PostgreSQL peer", "(pgcrypto, RLS, pgaudit)"]
        );
        let long = wrap(&"x".repeat(100));
        assert_eq!(long.len(), LEGEND_MAX_LINES);
        assert!(long.iter().all(|l| l.chars().count() <= LEGEND_WRAP_CHARS));
        assert!(long[2].ends_with('…'));
    }

    #[test]
    fn nice_steps_are_1_2_5() {
        assert_eq!(nice_step(0.9), 1.0);
        assert_eq!(nice_step(1.1), 2.0);
        assert_eq!(nice_step(3_000.0), 5_000.0);
        assert_eq!(nice_step(6.0), 10.0);
        assert_eq!(step_125_floor(0.2), step_125_ceil(0.2));
        assert_eq!(value_125(step_125_floor(3.1)), 2.0);
        assert_eq!(value_125(step_125_ceil(3.1)), 5.0);
    }
}
