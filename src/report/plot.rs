//! Charts written as PNG and SVG (plotters), shared by `sweep`, `demo` and the HTML report.
//!
//! A [`Chart`] is data only (title, axis labels, series); [`Chart::save`] renders it twice —
//! `stem.png` (bitmap, text drawn with the DejaVu Sans font compiled into the binary, so no
//! system font or fontconfig is needed) and `stem.svg` — each written atomically. Rendering is
//! deterministic: same chart → same bytes.
//!
//! Known gaps: one y axis per chart; no error bars (draw them as extra series).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::files::atomic::write_atomic;

/// DejaVu Sans (assets/fonts, Bitstream Vera license).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Chart size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (800, 520);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// Markers only (scatter).
    Points,
    /// A polyline through the points in the given order.
    Line,
    /// A polyline with a marker at every point.
    LinePoints,
    /// A dashed polyline (bounds, references).
    Dashed,
    /// Hollow circles, larger than [`SeriesStyle::Points`], so a series drawn on top of
    /// another with (nearly) the same values stays visible.
    Rings,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// Markers, line or both.
    pub style: SeriesStyle,
}

impl Series {
    /// A series named `name`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        Self { name: name.into(), points, style }
    }
}

/// A 2-D chart: data and labels only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Caption above the plot.
    pub title: String,
    /// x-axis description.
    pub x_label: String,
    /// y-axis description.
    pub y_label: String,
    /// Series in legend order (colors follow the order).
    pub series: Vec<Series>,
    /// Logarithmic y axis (non-positive y values are skipped).
    pub log_y: bool,
    /// Fixed x range (default: the data's, padded 5 %).
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range (default: the data's, padded 5 %; on a log axis widened to whole
    /// decades so that at least two ticks are labelled).
    pub y_range: Option<(f64, f64)>,
    /// The x values are whole numbers (e.g. graph sizes): the range is padded by ½ and only
    /// integer ticks are labelled.
    pub x_integer: bool,
}

/// Qualitative colors (Tableau 10), in series order.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::internal("drawing a chart", e.to_string())
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse (tested); a failure would only leave PNG text blank.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

impl Chart {
    /// The points that can be drawn (finite; y > 0 on a log axis).
    fn drawable(&self, s: &Series) -> Vec<(f64, f64)> {
        s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0)).collect()
    }

    /// An x tick label: plotters' own for real x, the whole number (or nothing) for integer x.
    fn x_tick(&self, v: f64) -> String {
        if !self.x_integer {
            // Tick positions carry float noise (0.7500000000000001): four decimals, trimmed.
            let text = format!("{v:.4}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            return if text == "-0" { "0".into() } else { text.into() };
        }
        if (v - v.round()).abs() < 1e-9 {
            format!("{}", v.round())
        } else {
            String::new()
        }
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let all: Vec<(f64, f64)> = self.series.iter().flat_map(|s| self.drawable(s)).collect();
        let span = |v: Vec<f64>, log: bool| -> (f64, f64) {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            if !lo.is_finite() {
                return if log { (0.1, 1.0) } else { (0.0, 1.0) };
            }
            if log {
                let (l, h) = (lo.log10(), hi.log10());
                let pad = ((h - l) * 0.05).max(0.05);
                return (10f64.powf((l - pad).floor()), 10f64.powf((h + pad).ceil()));
            }
            let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.05 };
            (lo - pad, hi + pad)
        };
        let x = self.x_range.unwrap_or_else(|| {
            let xs: Vec<f64> = all.iter().map(|p| p.0).collect();
            match (self.x_integer, xs.iter().copied().reduce(f64::min), xs.iter().copied().reduce(f64::max)) {
                (true, Some(lo), Some(hi)) => (lo - 0.5, hi + 0.5),
                _ => span(xs, false),
            }
        });
        let y = self.y_range.unwrap_or_else(|| span(all.iter().map(|p| p.1).collect(), self.log_y));
        (x, y)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(chart_error)?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, (FAMILY, 20)).margin(12).x_label_area_size(44).y_label_area_size(70);
        if self.log_y {
            let mut chart = builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(chart_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|v| self.x_tick(*v))
                .y_label_formatter(&|v| log_tick(*v))
                .label_style((FAMILY, 13))
                .bold_line_style(BLACK.mix(0.12))
                .light_line_style(BLACK.mix(0.04))
                .draw()
                .map_err(chart_error)?;
            self.draw_series(&mut chart)?;
            legend(&mut chart, self.series.len())
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(chart_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|v| self.x_tick(*v))
                .label_style((FAMILY, 13))
                .bold_line_style(BLACK.mix(0.12))
                .light_line_style(BLACK.mix(0.04))
                .draw()
                .map_err(chart_error)?;
            self.draw_series(&mut chart)?;
            legend(&mut chart, self.series.len())
        }
    }

    fn draw_series<'a, DB, X, Y>(&self, chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        for (k, s) in self.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let pts = self.drawable(s);
            let style = ShapeStyle::from(&color).stroke_width(2);
            let anno = match s.style {
                SeriesStyle::Points => chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.mix(0.7).filled())))
                    .map_err(chart_error)?,
                SeriesStyle::Line | SeriesStyle::LinePoints => {
                    if s.style == SeriesStyle::LinePoints {
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(chart_error)?;
                    }
                    chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(chart_error)?
                }
                SeriesStyle::Dashed => {
                    chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style)).map_err(chart_error)?
                }
                SeriesStyle::Rings => chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 6, ShapeStyle::from(&color).stroke_width(2))))
                    .map_err(chart_error)?,
            };
            anno.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], ShapeStyle::from(&color).stroke_width(2))
            });
        }
        Ok(())
    }

    /// The chart as an SVG document.
    ///
    /// # Errors
    /// [`Error::Numerical`] when plotters fails to draw.
    pub fn render_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(chart_error)?;
        }
        Ok(svg)
    }

    /// The chart as PNG bytes.
    ///
    /// # Errors
    /// [`Error::Numerical`] when plotters fails to draw or the PNG cannot be encoded.
    pub fn render_png(&self) -> Result<Vec<u8>> {
        register_font();
        let (w, h) = SIZE;
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(chart_error)?;
        }
        let image =
            image::RgbImage::from_raw(w, h, rgb).ok_or_else(|| chart_error("bitmap buffer has the wrong size"))?;
        let mut png = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageOutputFormat::Png).map_err(chart_error)?;
        Ok(png)
    }

    /// Write `stem.png` and `stem.svg` (each atomically) and return their paths.
    ///
    /// # Errors
    /// Drawing failures; [`Error::Write`] naming the file that could not be written.
    pub fn save(&self, stem: impl AsRef<Path>) -> Result<[PathBuf; 2]> {
        let stem = stem.as_ref();
        let with_ext = |ext: &str| {
            let mut name = stem.file_name().map(|s| s.to_os_string()).unwrap_or_default();
            name.push(format!(".{ext}"));
            stem.with_file_name(name)
        };
        let (png, svg) = (with_ext("png"), with_ext("svg"));
        write_atomic(&png, &self.render_png()?)?;
        write_atomic(&svg, self.render_svg()?.as_bytes())?;
        Ok([png, svg])
    }
}

/// A log-axis tick as `1e-5`, `3e2` (one significant digit, which is what log ticks carry).
fn log_tick(v: f64) -> String {
    format!("{v:.0e}")
}

fn legend<'a, DB, X, Y>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>, series: usize) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if series == 0 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(chart_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(log_y: bool) -> Chart {
        Chart {
            title: "gap vs overlap".into(),
            x_label: "shared-token fraction".into(),
            y_label: "|gap|".into(),
            series: vec![
                Series::new("pairs", vec![(0.9, 0.5), (0.95, 0.2), (0.99, f64::NAN)], SeriesStyle::Points),
                Series::new("bound", vec![(0.9, 1.0), (0.99, 0.3)], SeriesStyle::Dashed),
                Series::new("rings", vec![(0.9, 0.6)], SeriesStyle::Rings),
            ],
            log_y,
            ..Default::default()
        }
    }

    #[test]
    fn renders_png_and_svg_deterministically() {
        for log_y in [false, true] {
            let c = sample(log_y);
            let png = c.render_png().unwrap();
            assert_eq!(&png[1..4], b"PNG");
            assert_eq!(png, c.render_png().unwrap());
            let svg = c.render_svg().unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("gap vs overlap") && svg.contains("bound"),
                "{}",
                &svg[..200.min(svg.len())]
            );
        }
        assert!(plotters::style::register_font("test-font", FontStyle::Normal, FONT).is_ok());
    }

    #[test]
    fn log_ticks_are_short_and_ranges_whole_decades() {
        assert_eq!(log_tick(9.999999999e-6), "1e-5");
        assert_eq!(log_tick(300.0), "3e2");
        let c = Chart {
            series: vec![Series::new("s", vec![(3.0, 2e-6), (5.0, 6e-6)], SeriesStyle::Line)],
            log_y: true,
            x_integer: true,
            ..Default::default()
        };
        let ((x0, x1), (y0, y1)) = c.ranges();
        assert_eq!((x0, x1), (2.5, 5.5));
        assert!((y0 - 1e-6).abs() < 1e-18 && (y1 - 1e-5).abs() < 1e-17, "{y0} {y1}");
        assert_eq!((c.x_tick(4.0), c.x_tick(4.5)), ("4".to_string(), String::new()));
        let real = Chart::default();
        assert_eq!(
            (real.x_tick(0.7500000000000001), real.x_tick(1.0), real.x_tick(0.05)),
            ("0.75".into(), "1".into(), "0.05".into())
        );
    }

    #[test]
    fn empty_chart_still_renders() {
        let c = Chart { title: "empty".into(), ..Default::default() };
        assert!(!c.render_png().unwrap().is_empty());
    }

    #[test]
    fn save_writes_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let [png, svg] = sample(false).save(dir.path().join("fig")).unwrap();
        assert!(png.ends_with("fig.png") && svg.ends_with("fig.svg"));
        assert!(png.exists() && svg.exists());
    }
}
