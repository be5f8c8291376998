//! Static map images (`GET /static/{lon},{lat},{zoom}/{w}x{h}[@2x].png` and
//! `GET /static/{w},{s},{e},{n}/{w}x{h}[@2x].png`), stitched from the service's own tiles.
//!
//! Every tile comes through [`Service::tile`] like a `/png` request (cache, single flight,
//! admission, the same bytes), so a static image shows exactly what the tiles show, and labels
//! across tile seams are whatever the tiles draw. Tiles are drawn at the integer zoom at or
//! above the view's zoom and scaled down by `2^(zoom − z)` with a box filter (area average of
//! premultiplied colour); when that factor is 1 and the view's corner falls on a pixel, the
//! pixels are copied unchanged, so a tile-aligned view equals its stitched tiles exactly.
//!
//! Coordinate spaces: longitude/latitude in degrees (WGS 84); "world" positions are Web
//! Mercator normalized to 0..1 (x east, y south); image sizes are CSS pixels, times the
//! scale (1, or 2 for `@2x`) for device pixels.

use std::sync::Arc;

use rasterzen_render::encode::{Encoding, Rgba};

use crate::service::{Kind, Service, TileError, TileRequest, TileResponse};

/// The largest image edge, in device pixels (CSS pixels × scale), as tileserver-gl's default.
pub const MAX_EDGE: u32 = 2048;

/// The most tiles one image may stitch (a 2048-px view at a fractional zoom needs 3 × 3 to
/// 5 × 5 tiles of 512 px; more means a view far below the source's minzoom).
pub const MAX_TILES: usize = 100;

/// Web Mercator's latitude limit, in degrees.
const MAX_LAT: f64 = 85.051_128_779_806_6;

/// Why a static image cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    /// 400: the path does not name a view or a size we draw.
    #[error("{0}")]
    BadRequest(String),
    /// A tile failed (its status is the answer's).
    #[error("{0}")]
    Tile(#[from] TileError),
    /// 500: decoding a tile or encoding the image failed.
    #[error("static image: {0}")]
    Image(String),
}

impl StaticError {
    pub fn status(&self) -> u16 {
        match self {
            StaticError::BadRequest(_) => 400,
            StaticError::Tile(e) => e.status(),
            StaticError::Image(_) => 500,
        }
    }
}

fn bad(why: impl Into<String>) -> StaticError {
    StaticError::BadRequest(why.into())
}

/// What the path asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// Centre (degrees) and zoom (fractional allowed).
    Center { lon: f64, lat: f64, zoom: f64 },
    /// West, south, east, north in degrees: the image shows this box, fitted and centred.
    Bbox([f64; 4]),
}

/// The image size and format the path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// CSS pixels.
    pub width: u32,
    pub height: u32,
    /// 1, or 2 for `@2x`.
    pub scale: u32,
    pub encoding: Encoding,
}

/// Parses the view segment: `lon,lat,zoom` or `w,s,e,n`.
pub fn parse_view(s: &str) -> Result<View, StaticError> {
    let nums: Vec<f64> = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("{p:?} is not a number")))
        })
        .collect::<Result<_, _>>()?;
    let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
    match *nums.as_slice() {
        [lon, lat, zoom] => {
            if !lon_ok(lon) || !(-MAX_LAT..=MAX_LAT).contains(&lat) {
                return Err(bad(format!(
                    "centre {lon},{lat} is outside longitude -180..180 or latitude -{MAX_LAT:.4}..{MAX_LAT:.4}"
                )));
            }
            if !(0.0..=30.0).contains(&zoom) {
                return Err(bad(format!("zoom {zoom} is not between 0 and 30")));
            }
            Ok(View::Center { lon, lat, zoom })
        }
        [w, s, e, n] => {
            if !lon_ok(w)
                || !lon_ok(e)
                || !(-90.0..=90.0).contains(&s)
                || !(-90.0..=90.0).contains(&n)
            {
                return Err(bad(format!(
                    "box {w},{s},{e},{n} is outside longitude -180..180, latitude -90..90"
                )));
            }
            if w >= e || s >= n {
                return Err(bad(format!(
                    "box {w},{s},{e},{n} is empty: west must be less than east and south less than north"
                )));
            }
            Ok(View::Bbox([w, s.max(-MAX_LAT), e, n.min(MAX_LAT)]))
        }
        _ => Err(bad(format!(
            "view {:?} is neither lon,lat,zoom nor west,south,east,north",
            crate::logging::printable(s, 80)
        ))),
    }
}

/// Parses the size segment: `{w}x{h}[@2x].{png|webp|jpg}`.
pub fn parse_size(s: &str) -> Result<Size, StaticError> {
    let (stem, ext) = s
        .rsplit_once('.')
        .ok_or_else(|| bad("the size needs an extension: {w}x{h}.png"))?;
    let encoding = Encoding::from_name(ext)
        .filter(|_| ext != "jpeg")
        .ok_or_else(|| bad(format!("{ext:?} is not png, webp or jpg")))?;
    let (dims, scale) = match stem.strip_suffix("@2x") {
        Some(d) => (d, 2),
        None => (stem, 1),
    };
    let (w, h) = dims
        .split_once('x')
        .ok_or_else(|| bad(format!("size {dims:?} is not {{w}}x{{h}}")))?;
    let num = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| *n > 0 && v.len() <= 5 && v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                bad(format!(
                    "size {dims:?}: {v:?} is not a whole number above 0"
                ))
            })
    };
    let (width, height) = (num(w)?, num(h)?);
    if width * scale > MAX_EDGE || height * scale > MAX_EDGE {
        return Err(bad(format!(
            "size {width}x{height}{} is {}x{} device pixels; at most {MAX_EDGE} a side",
            if scale == 2 { "@2x" } else { "" },
            width * scale,
            height * scale
        )));
    }
    Ok(Size {
        width,
        height,
        scale,
        encoding,
    })
}

/// Longitude, latitude (degrees) to normalized Web Mercator (0..1, y south).
fn world(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    (
        (lon + 180.0) / 360.0,
        (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0,
    )
}

/// Where the image looks: its centre in normalized Mercator and its (fractional) zoom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

/// A value within `tolerance` of a whole number is that number: lon/lat round trips of tile
/// edges land a hair off, and a hair must not turn an exact copy into a resampling.
fn snap(v: f64, tolerance: f64) -> f64 {
    let r = v.round();
    if (v - r).abs() < tolerance {
        r
    } else {
        v
    }
}

/// Zooms: log2 of ratios, exact to ~1e-15.
const ZOOM_SNAP: f64 = 1e-9;
/// Pixel positions: up to ~1e10 world pixels at deep zooms, where f64 steps are ~1e-6; a
/// millionth of a pixel is invisible.
const PIXEL_SNAP: f64 = 1e-5;

/// The camera of a view for an image of `size` with tiles of `tile_size` CSS pixels; zooms
/// are clamped to `0..=max_zoom` (for a box: as large as fits both sides, as tileserver-gl
/// does, without its padding: the box is the image's extent along its tighter axis).
pub fn camera(
    view: &View,
    size: Size,
    tile_size: u32,
    max_zoom: u8,
) -> Result<Camera, StaticError> {
    match *view {
        View::Center { lon, lat, zoom } => {
            if zoom > f64::from(max_zoom) {
                return Err(bad(format!(
                    "zoom {zoom} is above the service's limit {max_zoom}"
                )));
            }
            let (x, y) = world(lon, lat);
            Ok(Camera { x, y, zoom })
        }
        View::Bbox([w, s, e, n]) => {
            let (x0, y0) = world(w, n);
            let (x1, y1) = world(e, s);
            let t = f64::from(tile_size);
            let zx = (f64::from(size.width) / ((x1 - x0) * t)).log2();
            let zy = (f64::from(size.height) / ((y1 - y0) * t)).log2();
            let zoom = snap(zx.min(zy), ZOOM_SNAP).clamp(0.0, f64::from(max_zoom));
            Ok(Camera {
                x: (x0 + x1) / 2.0,
                y: (y0 + y1) / 2.0,
                zoom,
            })
        }
    }
}

/// The drawing plan: which zoom's tiles, how they scale onto the image, which tiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The tiles' zoom.
    pub z: u8,
    /// Tile edge in device pixels.
    pub tile_px: u32,
    /// Image pixels per tile pixel (≤ 1: tiles are never enlarged beyond the overzoom limit).
    pub k: f64,
    /// The image's top-left corner in the tiles' device pixels (world pixels at zoom `z`).
    pub left: f64,
    pub top: f64,
    /// Tile columns and rows touched (columns may run past the antimeridian; rows are clamped
    /// to the world).
    pub cols: std::ops::RangeInclusive<i64>,
    pub rows: std::ops::RangeInclusive<i64>,
}

/// Plans the image: the zoom at or above the camera's, clamped to the source's zooms.
pub fn plan(
    cam: Camera,
    size: Size,
    tile_size: u32,
    minzoom: u8,
    max_zoom: u8,
) -> Result<Plan, StaticError> {
    let z = (cam.zoom - 1e-9)
        .ceil()
        .clamp(f64::from(minzoom), f64::from(max_zoom)) as u8;
    let k = 2f64.powf(cam.zoom - f64::from(z));
    let k = if (k - 1.0).abs() < 1e-12 { 1.0 } else { k };
    let tile_px = tile_size * size.scale;
    let world_px = f64::from(tile_px) * 2f64.powi(i32::from(z));
    let (w, h) = (
        f64::from(size.width * size.scale),
        f64::from(size.height * size.scale),
    );
    let left = snap(cam.x * world_px - w / 2.0 / k, PIXEL_SNAP);
    let top = snap(cam.y * world_px - h / 2.0 / k, PIXEL_SNAP);
    let right = left + w / k;
    let bottom = top + h / k;
    let t = f64::from(tile_px);
    let n = 1i64 << z;
    let cols = (left / t).floor() as i64..=((right / t).ceil() as i64 - 1);
    let rows = ((top / t).floor() as i64).max(0)..=((bottom / t).ceil() as i64 - 1).min(n - 1);
    let count = (cols.end() - cols.start() + 1).max(0) * (rows.end() - rows.start() + 1).max(0);
    if count as usize > MAX_TILES {
        return Err(bad(format!(
            "the view needs {count} tiles at zoom {z} (at most {MAX_TILES}): a smaller image or a closer view"
        )));
    }
    Ok(Plan {
        z,
        tile_px,
        k,
        left,
        top,
        cols,
        rows,
    })
}

/// The decoded tiles of a plan, by (column, row) within its ranges; `None` is transparent.
struct Mosaic {
    plan: Plan,
    tiles: Vec<Option<Rgba>>,
    ncols: usize,
}

impl Mosaic {
    /// The straight RGBA pixel at tile-space device pixel (`px`, `py`), transparent outside.
    #[inline]
    fn pixel(&self, px: i64, py: i64) -> [u8; 4] {
        let t = i64::from(self.plan.tile_px);
        let (c, r) = (px.div_euclid(t), py.div_euclid(t));
        if !self.plan.cols.contains(&c) || !self.plan.rows.contains(&r) {
            return [0; 4];
        }
        let i = (r - self.plan.rows.start()) as usize * self.ncols
            + (c - self.plan.cols.start()) as usize;
        match &self.tiles[i] {
            Some(img) => {
                let (x, y) = (px.rem_euclid(t) as usize, py.rem_euclid(t) as usize);
                let o = (y * img.width as usize + x) * 4;
                let p = img.pixels();
                [p[o], p[o + 1], p[o + 2], p[o + 3]]
            }
            None => [0; 4],
        }
    }
}

/// Composes the image from the decoded tiles (straight RGBA).
fn compose(m: &Mosaic, size: Size) -> Result<Rgba, StaticError> {
    let (w, h) = (size.width * size.scale, size.height * size.scale);
    let mut out = Rgba::transparent(w, h).map_err(|e| StaticError::Image(e.to_string()))?;
    let p = &m.plan;
    let buf = out.pixels_mut();
    if p.k == 1.0 && p.left.fract() == 0.0 && p.top.fract() == 0.0 {
        // Aligned: a copy, pixel for pixel.
        let (l, t) = (p.left as i64, p.top as i64);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let o = (y as usize * w as usize + x as usize) * 4;
                buf[o..o + 4].copy_from_slice(&m.pixel(l + x, t + y));
            }
        }
        return Ok(out);
    }
    // Box filter: each image pixel is the area average of the tile pixels its footprint
    // (1/k tile pixels a side) covers, in premultiplied colour so edges do not darken.
    let span = 1.0 / p.k;
    let weights = |start: f64| -> Vec<(i64, f64)> {
        let end = start + span;
        let mut v = Vec::new();
        let mut i = start.floor() as i64;
        while (i as f64) < end {
            let wgt = (end.min(i as f64 + 1.0) - start.max(i as f64)).max(0.0);
            if wgt > 0.0 {
                v.push((i, wgt));
            }
            i += 1;
        }
        v
    };
    let xs: Vec<Vec<(i64, f64)>> = (0..w)
        .map(|x| weights(p.left + f64::from(x) * span))
        .collect();
    let area = span * span;
    for y in 0..h {
        let wy = weights(p.top + f64::from(y) * span);
        for (x, wx) in xs.iter().enumerate() {
            let mut acc = [0f64; 4];
            for &(py, fy) in &wy {
                for &(px, fx) in wx {
                    let c = m.pixel(px, py);
                    let a = f64::from(c[3]) * fx * fy;
                    acc[0] += f64::from(c[0]) * a;
                    acc[1] += f64::from(c[1]) * a;
                    acc[2] += f64::from(c[2]) * a;
                    acc[3] += a;
                }
            }
            let o = (y as usize * w as usize + x) * 4;
            if acc[3] > 0.0 {
                for ch in 0..3 {
                    buf[o + ch] = (acc[ch] / acc[3]).round().clamp(0.0, 255.0) as u8;
                }
                buf[o + 3] = (acc[3] / area).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(out)
}

/// A finished image and what its response says.
pub struct StaticImage {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// The renderer that drew the tiles.
    pub renderer: String,
}

/// Makes the image: fetches the tiles (a few at a time, through the service), stitches,
/// scales and encodes it. `template` carries the style, renderer pin and API key.
pub async fn render(
    service: &Arc<Service>,
    view: &View,
    size: Size,
    template: &TileRequest,
) -> Result<StaticImage, StaticError> {
    let info = service.source.info();
    let tile_size = service.config.tile_size;
    let cam = camera(view, size, tile_size, service.max_zoom())?;
    let plan = plan(cam, size, tile_size, info.minzoom, service.max_zoom())?;
    let n = 1i64 << plan.z;
    let ncols = (plan.cols.end() - plan.cols.start() + 1).max(0) as usize;
    let nrows = (plan.rows.end() - plan.rows.start() + 1).max(0) as usize;
    let mut slots: Vec<(usize, u32, u32)> = Vec::with_capacity(ncols * nrows);
    for (ri, r) in plan.rows.clone().enumerate() {
        for (ci, c) in plan.cols.clone().enumerate() {
            slots.push((ri * ncols + ci, c.rem_euclid(n) as u32, r as u32));
        }
    }
    // A few at a time: all at once would fill the render queue and be refused with 503.
    let window = service.config.render_workers.max(1) * 2;
    let mut tiles: Vec<Option<Rgba>> = vec![None; slots.len()];
    let mut renderer = service.renderer().version().to_string();
    let mut set = tokio::task::JoinSet::new();
    let mut pending = slots.into_iter();
    loop {
        while set.len() < window {
            let Some((i, x, y)) = pending.next() else {
                break;
            };
            let svc = Arc::clone(service);
            let req = TileRequest {
                kind: Kind::Png,
                z: plan.z,
                x,
                y,
                scale: size.scale,
                ..template.clone()
            };
            set.spawn(async move { (i, fetch_tile(&svc, &req).await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (i, result) = done.map_err(|e| StaticError::Image(format!("tile task failed: {e}")))?;
        if let Some((img, r)) = result? {
            tiles[i] = Some(img);
            renderer = r;
        }
    }
    let mosaic = Mosaic { plan, tiles, ncols };
    let png_profile = service.config.png;
    tokio::task::spawn_blocking(move || -> Result<StaticImage, StaticError> {
        let img = compose(&mosaic, size)?;
        let body = match size.encoding {
            Encoding::Png => rasterzen_render::encode::encode_png(&img, png_profile),
            e => rasterzen_render::encode::encode(&img, e),
        }
        .map_err(|e| StaticError::Image(e.to_string()))?;
        Ok(StaticImage {
            body,
            content_type: size.encoding.content_type(),
            renderer,
        })
    })
    .await
    .map_err(|e| StaticError::Image(format!("image task failed: {e}")))?
}

/// One tile, decoded; `None` where there is no tile (outside the source's bounds or zooms).
async fn fetch_tile(
    service: &Service,
    req: &TileRequest,
) -> Result<Option<(Rgba, String)>, StaticError> {
    let t: TileResponse = match service.tile(req).await {
        Ok(t) => t,
        Err(TileError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if t.body.is_empty() {
        // `--outside 204`.
        return Ok(None);
    }
    let renderer = t.renderer.unwrap_or_default();
    let body = t.body;
    let img = tokio::task::spawn_blocking(move || rasterzen_render::encode::decode_png(&body))
        .await
        .map_err(|e| StaticError::Image(format!("decode task failed: {e}")))?
        .map_err(|e| StaticError::Image(format!("tile {}/{}/{}: {e}", req.z, req.x, req.y)))?;
    let want = service.config.tile_size * req.scale;
    if img.width != want || img.height != want {
        return Err(StaticError::Image(format!(
            "tile {}/{}/{} is {}x{} pixels, not {want}",
            req.z, req.x, req.y, img.width, img.height
        )));
    }
    Ok(Some((img, renderer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(w: u32, h: u32, scale: u32) -> Size {
        Size {
            width: w,
            height: h,
            scale,
            encoding: Encoding::Png,
        }
    }

    #[test]
    fn paths_parse_or_say_why_not() {
        assert_eq!(
            parse_view("11.25,43.77,14").unwrap(),
            View::Center {
                lon: 11.25,
                lat: 43.77,
                zoom: 14.0
            }
        );
        assert!(matches!(
            parse_view("11.2,43.7,11.3,43.8").unwrap(),
            View::Bbox(_)
        ));
        for bad in [
            "",
            "1,2",
            "a,b,c",
            "1,2,3,4,5",
            "200,0,3",
            "0,89,3",
            "0,0,31",
            "0,0,NaN",
            "11.3,43.7,11.2,43.8",
            "11.2,43.8,11.3,43.7",
            "11,43,11,44",
        ] {
            assert!(
                matches!(parse_view(bad), Err(StaticError::BadRequest(_))),
                "{bad}"
            );
        }
        assert_eq!(parse_size("512x256.png").unwrap(), size(512, 256, 1));
        assert_eq!(parse_size("300x200@2x.png").unwrap(), size(300, 200, 2));
        assert_eq!(parse_size("3x2.webp").unwrap().encoding, Encoding::Webp);
        for bad in [
            "512x256",
            "512.png",
            "0x10.png",
            "10x0.png",
            "2049x10.png",
            "1025x10@2x.png",
            "-1x5.png",
            "5x5.gif",
            "5x5@3x.png",
            "1e3x5.png",
            "99999999999x1.png",
        ] {
            assert!(
                matches!(parse_size(bad), Err(StaticError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_tile_aligned_box_plans_an_exact_copy() {
        // Tiles 14/8704..8705/5971..5972 at 512 px: their edges as degrees.
        let n = 2f64.powi(14);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        let view = View::Bbox([lon(8704.0), lat(5973.0), lon(8706.0), lat(5971.0)]);
        let s = size(1024, 1024, 1);
        let cam = camera(&view, s, 512, 20).unwrap();
        assert_eq!(cam.zoom, 14.0);
        let p = plan(cam, s, 512, 0, 20).unwrap();
        assert_eq!(
            (p.z, p.k, p.left, p.top),
            (14, 1.0, 8704.0 * 512.0, 5971.0 * 512.0)
        );
        assert_eq!((p.cols, p.rows), (8704..=8705, 5971..=5972));
        // The same box at @2x: the same tiles, twice the pixels.
        let s2 = size(1024, 1024, 2);
        let p2 = plan(camera(&view, s2, 512, 20).unwrap(), s2, 512, 0, 20).unwrap();
        assert_eq!((p2.tile_px, p2.k, p2.left), (1024, 1.0, 8704.0 * 1024.0));
    }

    #[test]
    fn fractional_zooms_use_the_next_zoom_down_scaled() {
        let s = size(600, 400, 1);
        let cam = camera(
            &View::Center {
                lon: 11.25,
                lat: 43.77,
                zoom: 13.5,
            },
            s,
            512,
            20,
        )
        .unwrap();
        let p = plan(cam, s, 512, 0, 20).unwrap();
        assert_eq!(p.z, 14);
        assert!((p.k - 2f64.powf(-0.5)).abs() < 1e-12);
        assert!(camera(
            &View::Center {
                lon: 0.0,
                lat: 0.0,
                zoom: 21.0
            },
            s,
            512,
            20
        )
        .is_err());
        // Far below the source's minzoom the view needs too many tiles.
        let far = camera(
            &View::Center {
                lon: 0.0,
                lat: 0.0,
                zoom: 0.0,
            },
            size(2048, 2048, 1),
            512,
            20,
        )
        .unwrap();
        assert!(matches!(
            plan(far, size(2048, 2048, 1), 512, 6, 20),
            Err(StaticError::BadRequest(_))
        ));
    }

    #[test]
    fn the_box_filter_averages_and_copies() {
        // One 4×4 "tile": a 2×2 downscale averages each 2×2 block.
        let mut px = Vec::new();
        for y in 0..4u8 {
            for x in 0..4u8 {
                px.extend_from_slice(&[x * 40, y * 40, 0, 255]);
            }
        }
        let tile = Rgba::new(4, 4, px).unwrap();
        let plan = Plan {
            z: 0,
            tile_px: 4,
            k: 0.5,
            left: 0.0,
            top: 0.0,
            cols: 0..=0,
            rows: 0..=0,
        };
        let m = Mosaic {
            plan: plan.clone(),
            tiles: vec![Some(tile.clone())],
            ncols: 1,
        };
        let out = compose(&m, size(2, 2, 1)).unwrap();
        assert_eq!(&out.pixels()[..4], &[20, 20, 0, 255]);
        assert_eq!(&out.pixels()[12..16], &[100, 100, 0, 255]);
        let copy = Mosaic {
            plan: Plan { k: 1.0, ..plan },
            tiles: vec![Some(tile.clone())],
            ncols: 1,
        };
        assert_eq!(compose(&copy, size(4, 4, 1)).unwrap(), tile);
    }
}
