//! PNG line charts (plotters, bitmap backend). Text is drawn with ab_glyph from a TTF file
//! (DejaVu Sans from Debian's fonts-dejavu-core), so neither fontconfig nor system font
//! lookup is needed.

use anyhow::{Context as _, Result, anyhow};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;

const FONT_PATHS: &[&str] =
    &["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One measured point: x, and the median, min and max of y.
#[derive(Debug, Clone, Copy)]
pub struct P {
    pub x: f64,
    pub y: f64,
    pub lo: f64,
    pub hi: f64,
}

impl P {
    pub fn exact(x: f64, y: f64) -> P {
        P { x, y, lo: y, hi: y }
    }
}

pub struct Series {
    pub name: String,
    pub points: Vec<P>,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    /// Horizontal reference lines (a goal, a limit), drawn grey.
    pub lines: Vec<(String, f64)>,
}

/// Registers the font once; fails with a hint when no TTF is found.
pub fn init_font() -> Result<()> {
    let path = FONT_PATHS
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| anyhow!("no DejaVuSans.ttf found (apt-get install fonts-dejavu-core)"))?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| anyhow!("{path} is not a usable font"))?;
    Ok(())
}

pub fn draw(path: &Path, chart: &Chart<'_>) -> Result<()> {
    draw_inner(path, chart).map_err(|e| anyhow!("{e}")).with_context(|| format!("drawing {}", path.display()))
}

fn draw_inner(path: &Path, c: &Chart<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let all = c.series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.x).fold(0.0, f64::max) * 1.05;
    let y_max = all.map(|p| p.hi).chain(c.lines.iter().map(|(_, y)| *y)).fold(0.0, f64::max) * 1.15;
    let (x_max, y_max) = (if x_max > 0.0 { x_max } else { 1.0 }, if y_max > 0.0 { y_max } else { 1.0 });

    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, ("sans-serif", 22))
        .margin(18)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc(c.x_label)
        .y_desc(c.y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for (name, y) in &c.lines {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new([(0.0, *y), (x_max, *y)], grey.stroke_width(1)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    }
    for (i, s) in c.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut pts = s.points.clone();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        chart
            .draw_series(LineSeries::new(pts.iter().map(|p| (p.x, p.y)), color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|p| Circle::new((p.x, p.y), 4, color.filled())))?;
        chart.draw_series(
            pts.iter()
                .filter(|p| p.hi > p.lo)
                .map(|p| ErrorBar::new_vertical(p.x, p.lo, p.y, p.hi, color.stroke_width(1), 10)),
        )?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}
