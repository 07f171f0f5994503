//! The report's charts as inline SVG, drawn with plotters' SVG backend:
//! bars by category, curves, and the hour x weekday heatmap. Text is left
//! to the browser's sans-serif font, so no font file is read or embedded.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

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
    /// Counts, shortened from 10,000 (`25k`) and from a million (`2.5M`).
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
            Units::Count if v.abs() >= 1e6 => format!("{:.1}M", v / 1e6),
            Units::Count if v.abs() >= 1e4 => format!("{:.0}k", v / 1e3),
            Units::Count => format!("{v:.0}"),
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
    fn units_read_as_people_expect() {
        assert_eq!(Units::Percent.format(0.256), "26%");
        assert_eq!(Units::Count.format(25_000.0), "25k");
        assert_eq!(Units::Count.format(2_500_000.0), "2.5M");
        assert_eq!(Units::Plain.format(0.4567), "0.457");
    }
}
