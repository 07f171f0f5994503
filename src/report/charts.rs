//! The report's charts as inline SVG, drawn with plotters' SVG backend:
//! bars by category, columns (transactions per weekday), curves, and the
//! hour x weekday heatmap. Text is left to the browser's sans-serif font,
//! so no font file is read or embedded.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::text::compact;
use crate::insights::activity::{HourWeekday, WEEKDAYS};

/// A failure of the chart library, as text.
pub type ChartError = String;

/// Colour-blind-safe categorical palette (Okabe and Ito).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

const INK: RGBColor = RGBColor(40, 40, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);
/// plotters' SVG backend writes font sizes at 1/1.24 of the size asked
/// for: 16 comes out near 13 px.
const FONT: &str = "sans-serif";

/// How axis values read.
#[derive(Clone, Copy, Debug)]
pub enum Units {
    /// Fractions, shown as whole percentages: 0.256 reads `26%`.
    Percent,
    /// Counts, in full below 10,000 (`2,500`), shortened from it (`25k`,
    /// `2.5M`, `1.2B`).
    Count,
    /// Any number: at most three decimals, in exponent notation below 0.01
    /// or from 100,000.
    Plain,
}

impl Units {
    /// The axis label of `v`.
    pub fn format(self, v: f64) -> String {
        match self {
            Units::Percent => format!("{:.0}%", 100.0 * v),
            Units::Count => {
                // A tick reads `25k` rather than `25.0k`.
                let text = compact(v);
                match text.strip_suffix(['k', 'M', 'B', 'T']) {
                    Some(number) if number.ends_with(".0") => {
                        format!("{}{}", &number[..number.len() - 2], &text[number.len()..])
                    }
                    _ => text,
                }
            }
            Units::Plain if v != 0.0 && v.abs() < 0.01 => format!("{v:.1e}"),
            Units::Plain if v.abs() >= 1e5 => format!("{v:.2e}"),
            Units::Plain => format!("{}", (v * 1e3).round() / 1e3),
        }
    }
}

/// One series of a bar chart.
pub struct Bars<'a> {
    /// The legend's entry, drawn when the chart has more than one series.
    pub name: &'a str,
    /// One value per label, in the labels' order; a negative one draws no
    /// bar.
    pub values: &'a [f64],
    /// The fill of its bars.
    pub color: RGBColor,
}

fn draw<F>(width: u32, height: u32, paint: F) -> Result<String, ChartError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ChartError>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        paint(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn upper(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if max > 0.0 { max * 1.08 } else { 1.0 }
}

/// Horizontal bars, one band per label (top to bottom), one bar per
/// series in each band.
pub fn horizontal_bars(
    labels: &[String],
    series: &[Bars<'_>],
    units: Units,
    width: u32,
) -> Result<String, ChartError> {
    let n = labels.len().max(1);
    let band = (18 * series.len().max(1) as u32 + 12).max(28);
    let legend = if series.len() > 1 { 30 } else { 0 };
    let height = band * n as u32 + 50 + legend;
    let max = upper(series.iter().flat_map(|s| s.values.iter().copied()));
    let label_width = labels
        .iter()
        .map(|l| l.chars().count() as u32 * 7 + 16)
        .max()
        .unwrap_or(40)
        .clamp(40, width / 3);
    draw(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_top(8 + legend)
            .x_label_area_size(28)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0.0..max, (0..n - 1).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(6)
            .x_label_formatter(&|v| units.format(*v))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                // Band 0 is drawn at the top.
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) if *i < n => {
                    labels.get(n - 1 - i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .label_style((FONT, 16).into_font().color(&INK))
            .draw()
            .map_err(|e| e.to_string())?;
        let plot_height = chart.plotting_area().dim_in_pixel().1;
        let band_px = plot_height / n as u32;
        let bars = series.len().max(1) as u32;
        let bar_px = (band_px.saturating_sub(8)) / bars;
        for (s, bar) in series.iter().enumerate() {
            let rects = bar.values.iter().enumerate().map(|(i, &v)| {
                let slot = n - 1 - i;
                let top = 4 + bar_px * s as u32;
                let bottom = band_px.saturating_sub(top + bar_px);
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(slot)),
                        (v.max(0.0), SegmentValue::Exact(slot + 1)),
                    ],
                    bar.color.filled(),
                );
                r.set_margin(top, bottom, 0, 0);
                r
            });
            chart.draw_series(rects).map_err(|e| e.to_string())?;
        }
        // The legend sits in the top margin, left-aligned with the plot,
        // where it cannot cover a bar.
        if series.len() > 1 {
            let mut x = label_width as i32 + 8;
            for bar in series {
                root.draw(&Rectangle::new([(x, 10), (x + 12, 22)], bar.color.filled()))
                    .map_err(|e| e.to_string())?;
                root.draw(&Text::new(
                    bar.name.to_string(),
                    (x + 18, 9),
                    (FONT, 16).into_font().color(&INK),
                ))
                .map_err(|e| e.to_string())?;
                x += 18 + bar.name.chars().count() as i32 * 7 + 24;
            }
        }
        Ok(())
    })
}

/// A curve over points `(x, y)`, with markers; `highlight` rings the
/// point at that x.
pub struct Curve<'a> {
    /// The caption under the x axis.
    pub x_label: &'a str,
    /// The caption beside the y axis.
    pub y_label: &'a str,
    /// The points, joined by a line in this order.
    pub points: &'a [(f64, f64)],
    /// The x of the point to ring (compared exactly); `None` rings none.
    pub highlight: Option<f64>,
    /// The colour of the line and its markers.
    pub color: RGBColor,
    /// How x axis values read.
    pub x_units: Units,
    /// How y axis values read.
    pub y_units: Units,
    /// Draw the diagonal y = x (for cumulative shares), with y from 0 to 1.
    pub diagonal: bool,
    /// Draw a dot on every point.
    pub markers: bool,
}

/// The curve `c` as an SVG of `width` x `height` pixels; the axes span
/// its points, with a margin.
pub fn curve(c: &Curve<'_>, width: u32, height: u32) -> Result<String, ChartError> {
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in c.points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0.is_finite() && x1.is_finite()) {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    if c.diagonal {
        (y0, y1) = (0.0, 1.0);
    } else {
        let pad = ((y1 - y0) * 0.1).max(y1.abs() * 0.01).max(1e-9);
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    let x_pad = if c.diagonal { 0.0 } else { (x1 - x0) * 0.04 };
    draw(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((x0 - x_pad)..(x1 + x_pad), y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_desc(c.x_label)
            .y_desc(c.y_label)
            .x_labels(if c.diagonal {
                6
            } else {
                c.points.len().clamp(2, 12)
            })
            .y_labels(6)
            .x_label_formatter(&|v| c.x_units.format(*v))
            .y_label_formatter(&|v| c.y_units.format(*v))
            .label_style((FONT, 16).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .draw()
            .map_err(|e| e.to_string())?;
        if c.diagonal {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    ShapeStyle::from(&RGBColor(150, 150, 150)).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(
                c.points.iter().copied(),
                ShapeStyle::from(&c.color).stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        if c.markers {
            chart
                .draw_series(
                    c.points
                        .iter()
                        .map(|&p| Circle::new(p, 4, c.color.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        if let Some(x) = c.highlight {
            chart
                .draw_series(
                    c.points
                        .iter()
                        .filter(|p| p.0 == x)
                        .map(|&p| Circle::new(p, 9, ShapeStyle::from(&INK).stroke_width(2))),
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One dot per point `(x, y, colour index)`, coloured from [`PALETTE`]
/// (a legend names each colour index present by `names`), with labelled
/// axes spanning the points.
pub fn scatter(
    points: &[(f64, f64, usize)],
    names: &[String],
    labels: (&str, &str),
    width: u32,
    height: u32,
) -> Result<String, ChartError> {
    let span = |values: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !(lo.is_finite() && hi > lo) {
            let mid = if lo.is_finite() { lo } else { 0.0 };
            return (mid - 1.0, mid + 1.0);
        }
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    };
    let (x0, x1) = span(&mut points.iter().map(|p| p.0));
    let (y0, y1) = span(&mut points.iter().map(|p| p.1));
    draw(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_desc(labels.0)
            .y_desc(labels.1)
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|v| Units::Plain.format(*v))
            .y_label_formatter(&|v| Units::Plain.format(*v))
            .label_style((FONT, 16).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .draw()
            .map_err(|e| e.to_string())?;
        for (c, name) in names.iter().enumerate() {
            let color = PALETTE[c % PALETTE.len()];
            let mut drawn = points.iter().filter(|p| p.2 == c).peekable();
            if drawn.peek().is_none() {
                continue;
            }
            chart
                .draw_series(
                    drawn.map(|&(x, y, _)| Circle::new((x, y), 2, color.mix(0.6).filled())),
                )
                .map_err(|e| e.to_string())?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font((FONT, 16).into_font().color(&INK))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Vertical columns, one per label (left to right), each with its value
/// written above it: transactions per weekday, where the log has no
/// time of day for an hour axis.
pub fn columns(
    labels: &[&str],
    values: &[f64],
    color: RGBColor,
    units: Units,
    width: u32,
    height: u32,
) -> Result<String, ChartError> {
    let n = labels.len().max(1);
    // Room above the highest column for its value.
    let max = upper(values.iter().copied()) * 1.08;
    draw(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_top(12)
            .x_label_area_size(26)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .x_labels(n)
            .y_labels(5)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) if *i < n => {
                    labels.get(*i).map_or(String::new(), |l| l.to_string())
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| units.format(*v))
            .label_style((FONT, 16).into_font().color(&INK))
            .draw()
            .map_err(|e| e.to_string())?;
        let plot_width = chart.plotting_area().dim_in_pixel().0;
        let gap = (plot_width / n as u32 / 6).max(2);
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v.max(0.0)),
                    ],
                    color.filled(),
                );
                r.set_margin(0, 0, gap, gap);
                r
            }))
            .map_err(|e| e.to_string())?;
        let style = (FONT, 15)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                Text::new(
                    units.format(v),
                    (SegmentValue::CenterOf(i), v.max(0.0) + max * 0.01),
                    style.clone(),
                )
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// One metric of a [`periods`] chart: a row of columns, one per period.
pub struct Panel<'a> {
    /// The metric's name, written above its panel.
    pub name: &'a str,
    /// One value per period, oldest first.
    pub values: &'a [f64],
    /// The fill of its columns.
    pub color: RGBColor,
    /// A value in full, as its tooltip writes it (`393,155.27`).
    pub full: fn(f64) -> String,
}

/// One period on the time axis of a [`periods`] chart.
pub struct PeriodTick {
    /// Its label under the axis: `Mar`, `31 Mar`.
    pub label: String,
    /// Its year, written under the label where the labels' year begins
    /// or changes.
    pub year: String,
    /// The period in words, for the tooltips: `Mar 1997`, `week of 31 Mar
    /// 2025`.
    pub name: String,
    /// How much of it the window covers, when not all of it (`6 of 7
    /// days`): its columns are drawn lighter, with a dashed outline.
    pub partial: Option<String>,
}

/// A step of 1, 2, 2.5 or 5 times a power of ten that cuts `span` into
/// about `parts` parts.
fn nice_step(span: f64, parts: f64) -> f64 {
    let raw = (span / parts).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|&n| fraction <= n)
        .unwrap_or(10.0);
    nice * power
}

/// A tick of an axis whose largest tick is `top` (in magnitude): every
/// tick in the unit of the largest (`5k` beside `15k`, never `5,000`
/// beside `15k`), from 10,000 up; as [`Units::Count`] has it below.
fn axis_label(v: f64, top: f64) -> String {
    let (unit, suffix) = match top.abs() {
        t if t >= 1e12 => (1e12, "T"),
        t if t >= 1e9 => (1e9, "B"),
        t if t >= 1e6 => (1e6, "M"),
        t if t >= 1e4 => (1e3, "k"),
        _ => return Units::Count.format(v),
    };
    if v == 0.0 {
        return "0".into();
    }
    let text = format!("{:.2}", v / unit);
    format!(
        "{}{suffix}",
        text.trim_end_matches('0').trim_end_matches('.')
    )
}

/// Metrics per period (revenue, transactions, active users per week or
/// month) as small multiples sharing one time axis: a panel of columns
/// per metric, each on its own scale from zero, partial periods lighter
/// with a dashed outline, and every column's value and period in its
/// tooltip (`<title>`). Hand-written SVG `width` pixels wide.
pub fn periods(panels: &[Panel<'_>], ticks: &[PeriodTick], width: u32) -> String {
    use std::fmt::Write as _;

    use super::html::escape;

    const LEFT: f64 = 62.0;
    const RIGHT: f64 = 12.0;
    const TITLE: f64 = 24.0;
    const PLOT: f64 = 112.0;
    const GAP: f64 = 16.0;
    const AXIS: f64 = 38.0;
    let rgb = |c: RGBColor| format!("rgb({},{},{})", c.0, c.1, c.2);
    let ink = rgb(INK);
    let grid = rgb(GRID);
    let width = f64::from(width);
    let n = ticks.len().max(1);
    let plot_width = width - LEFT - RIGHT;
    let band = plot_width / n as f64;
    let pad = (band * 0.14).min(12.0);
    let height = 4.0 + panels.len() as f64 * (TITLE + PLOT + GAP) + AXIS - GAP;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" font-family=\"{FONT}\" \
         font-size=\"12\" fill=\"{ink}\">\n",
        escape(&panels.iter().map(|p| p.name).collect::<Vec<_>>().join(", "))
    );
    let mut top = 4.0;
    for panel in panels {
        let finite = || panel.values.iter().copied().filter(|v| v.is_finite());
        let high = finite().fold(0.0f64, f64::max);
        let low = finite().fold(0.0f64, f64::min);
        let step = nice_step(if high > low { high - low } else { 1.0 }, 4.0);
        let (low, high) = (
            (low / step).floor() * step,
            ((high / step).ceil() * step).max(low + step),
        );
        let plot_top = top + TITLE;
        let y = |v: f64| plot_top + PLOT * (high - v) / (high - low);
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"600\">{}</text>",
            top + 13.0,
            escape(panel.name)
        );
        let largest = high.abs().max(low.abs());
        let steps = ((high - low) / step).round() as usize;
        for i in 0..=steps {
            // From a multiple of the step: 0 exactly where the scale has it.
            let tick = ((low / step).round() + i as f64) * step;
            let at = y(tick);
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\">{}</text>",
                width - RIGHT,
                if tick == 0.0 { &ink } else { &grid },
                LEFT - 6.0,
                at + 4.0,
                escape(&axis_label(tick, largest))
            );
        }
        for (i, (&v, t)) in panel.values.iter().zip(ticks).enumerate() {
            if !v.is_finite() {
                continue;
            }
            let x = LEFT + i as f64 * band + pad;
            let (y0, y1) = (y(v.max(0.0)), y(v.min(0.0)));
            let color = rgb(panel.color);
            let style = match &t.partial {
                Some(_) => format!(
                    "fill=\"{color}\" fill-opacity=\"0.32\" stroke=\"{color}\" \
                     stroke-dasharray=\"3 2\" class=\"partial\""
                ),
                None => format!("fill=\"{color}\""),
            };
            let partial = t
                .partial
                .as_ref()
                .map_or_else(String::new, |p| format!(" (partial: {p})"));
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" {style}>\
                 <title>{}: {} {}{}</title></rect>",
                (band - 2.0 * pad).max(1.0),
                (y1 - y0).max(0.5),
                escape(&t.name),
                escape(&panel.name.to_lowercase()),
                escape(&(panel.full)(v)),
                escape(&partial)
            );
        }
        top += TITLE + PLOT + GAP;
    }
    // The time axis, under the last panel: as many labels as fit.
    let axis = top - GAP;
    let every = ((n as f64 * 58.0) / plot_width).ceil().max(1.0) as usize;
    let mut year = "";
    for (i, t) in ticks.iter().enumerate().step_by(every) {
        let x = LEFT + (i as f64 + 0.5) * band;
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis + 15.0,
            escape(&t.label)
        );
        if t.year != year {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{}</text>",
                axis + 30.0,
                escape(&t.year)
            );
            year = &t.year;
        }
        svg.push('\n');
    }
    svg.push_str("</svg>");
    svg
}

/// Colour of a heatmap cell: white to deep blue as `t` goes 0 to 1.
fn shade(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0).sqrt();
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// Transactions by weekday (rows, Monday on top) and hour (columns).
pub fn heatmap(map: &HourWeekday, width: u32, height: u32) -> Result<String, ChartError> {
    let max = map.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    draw(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(40)
            .build_cartesian_2d((0..23usize).into_segmented(), (0..6usize).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .axis_style(INK)
            .x_labels(24)
            .y_labels(7)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(h) | SegmentValue::Exact(h) if *h < 24 && h % 3 == 0 => {
                    format!("{h}h")
                }
                _ => String::new(),
            })
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(d) | SegmentValue::Exact(d) if *d < 7 => {
                    WEEKDAYS[6 - d].to_string()
                }
                _ => String::new(),
            })
            .label_style((FONT, 15).into_font().color(&INK))
            .draw()
            .map_err(|e| e.to_string())?;
        let cells = (0..7usize).flat_map(|d| {
            (0..24usize).map(move |h| {
                let row = 6 - d;
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(h), SegmentValue::Exact(row)),
                        (SegmentValue::Exact(h + 1), SegmentValue::Exact(row + 1)),
                    ],
                    shade(map[d][h] as f64 / max).filled(),
                );
                r.set_margin(1, 1, 1, 1);
                r
            })
        });
        chart.draw_series(cells).map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_escape_labels_and_draw_every_bar() {
        let labels = vec!["<SMS & co>".to_string(), "Email".to_string()];
        let svg = horizontal_bars(
            &labels,
            &[
                Bars {
                    name: "transactions",
                    values: &[0.6, 0.4],
                    color: PALETTE[0],
                },
                Bars {
                    name: "revenue",
                    values: &[0.2, 0.8],
                    color: PALETTE[1],
                },
            ],
            Units::Percent,
            600,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("&lt;SMS &amp; co&gt;"), "{svg}");
        assert!(!svg.contains("<SMS"));
        // Four bars and a legend swatch per series.
        assert_eq!(svg.matches("fill=\"#0072B2\"").count(), 3, "{svg}");
    }

    #[test]
    fn heatmap_draws_168_cells() {
        let mut map = [[0u64; 24]; 7];
        map[4][18] = 10;
        let svg = heatmap(&map, 800, 260).unwrap();
        assert_eq!(
            svg.matches("<rect").count(),
            168 + 1,
            "cells and the background"
        );
        assert!(svg.contains("\nFri\n"));
        assert!(svg.contains("\n18h\n"));
    }

    #[test]
    fn columns_draw_one_bar_per_weekday_with_its_value() {
        let values = [3.0, 0.0, 12_000.0, 5.0, 7.0, 1.0, 2.0];
        let svg = columns(&WEEKDAYS, &values, PALETTE[0], Units::Count, 700, 260).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(
            svg.matches("fill=\"#0072B2\"").count(),
            7,
            "one column per weekday: {svg}"
        );
        for day in WEEKDAYS {
            assert!(svg.contains(&format!("\n{day}\n")), "{day}: {svg}");
        }
        assert!(svg.contains("\n12k\n"), "{svg}");
        assert!(!svg.contains("0h"), "no hour axis");
    }

    #[test]
    fn periods_draw_a_panel_per_metric_and_mark_partial_periods() {
        let ticks: Vec<PeriodTick> = (0..4)
            .map(|i| PeriodTick {
                label: format!("M{i}"),
                year: if i < 2 { "1997" } else { "1998" }.to_string(),
                name: format!("month {i}"),
                partial: (i == 3).then(|| "9 of 30 days".to_string()),
            })
            .collect();
        let revenue = [1_000.0, 250_000.0, -20.0, 7.5];
        let users = [3.0, 4.0, 0.0, 1.0];
        let full: fn(f64) -> String = |v| format!("{v:.2}");
        let svg = periods(
            &[
                Panel {
                    name: "Revenue",
                    values: &revenue,
                    color: PALETTE[0],
                    full,
                },
                Panel {
                    name: "Active users",
                    values: &users,
                    color: PALETTE[2],
                    full,
                },
            ],
            &ticks,
            800,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 8, "{svg}");
        assert_eq!(svg.matches("class=\"partial\"").count(), 2, "{svg}");
        assert!(svg.contains("<title>month 1: revenue 250000.00</title>"));
        assert!(svg.contains("<title>month 3: active users 1.00 (partial: 9 of 30 days)</title>"));
        // Each year written once, under its first label.
        assert_eq!(svg.matches(">1997<").count(), 1);
        assert_eq!(svg.matches(">1998<").count(), 1);
        // A scale below zero for the refunds' month, and the top tick
        // abbreviated.
        assert!(svg.contains(">-100k<") || svg.contains(">-50k<"), "{svg}");
        assert!(svg.contains(">250k<") || svg.contains(">300k<"), "{svg}");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn axis_ticks_share_the_unit_of_the_largest() {
        assert_eq!(axis_label(5_000.0, 15_000.0), "5k");
        assert_eq!(axis_label(2_500.0, 10_000.0), "2.5k");
        assert_eq!(axis_label(0.0, 15_000.0), "0");
        assert_eq!(axis_label(250_000.0, 1_000_000.0), "0.25M");
        assert_eq!(axis_label(7_500.0, 7_500.0), "7,500");
        assert_eq!(axis_label(-100_000.0, 300_000.0), "-100k");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 4.0), 25.0);
        assert_eq!(nice_step(94.1, 4.0), 25.0);
        assert_eq!(nice_step(393_155.0, 4.0), 100_000.0);
        assert_eq!(nice_step(1.0, 4.0), 0.25);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
    }

    #[test]
    fn units_read_as_people_expect() {
        assert_eq!(Units::Percent.format(0.256), "26%");
        assert_eq!(Units::Count.format(25_000.0), "25k");
        assert_eq!(Units::Count.format(2_500_000.0), "2.5M");
        // Never "1000k".
        assert_eq!(Units::Count.format(999_999.0), "1M");
        assert_eq!(Units::Count.format(2_500.0), "2,500");
        assert_eq!(Units::Count.format(23_570.0), "23.6k");
        assert_eq!(Units::Count.format(0.0), "0");
        assert_eq!(Units::Plain.format(0.4567), "0.457");
    }
}
