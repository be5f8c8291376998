//! Sprite images as patterns, sampled the way MapLibre's pattern shaders sample its image
//! atlas: bilinear filtering of premultiplied texels, the image repeating (the atlas pads each
//! image with its own opposite edges), anchored to the world's pixel origin at the style zoom.

use crate::sprite::ImageRef;

/// Samples one sprite image.
pub struct Sampler<'a> {
    image: ImageRef<'a>,
    /// The image's size in CSS px.
    display: (f64, f64),
}

impl<'a> Sampler<'a> {
    pub fn new(image: ImageRef<'a>) -> Sampler<'a> {
        let r = f64::from(image.image.pixel_ratio);
        Sampler {
            image,
            display: (
                f64::from(image.image.width) / r,
                f64::from(image.image.height) / r,
            ),
        }
    }

    /// The premultiplied texel at image coordinates, wrapping around the image.
    #[inline]
    fn texel(&self, x: i64, y: i64) -> [f32; 4] {
        let img = self.image.image;
        let (w, h) = (i64::from(img.width), i64::from(img.height));
        let t = self.image.sheet.texel(
            img.x + x.rem_euclid(w) as u32,
            img.y + y.rem_euclid(h) as u32,
        );
        [
            f32::from(t[0]) / 255.0,
            f32::from(t[1]) / 255.0,
            f32::from(t[2]) / 255.0,
            f32::from(t[3]) / 255.0,
        ]
    }

    /// Bilinear sample at image texel coordinates (texel centres at k + 0.5).
    fn bilinear(&self, tx: f64, ty: f64) -> [f32; 4] {
        let (x, y) = (tx - 0.5, ty - 0.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
        let (xi, yi) = (x0 as i64, y0 as i64);
        let a = self.texel(xi, yi);
        let b = self.texel(xi + 1, yi);
        let c = self.texel(xi, yi + 1);
        let d = self.texel(xi + 1, yi + 1);
        let mut out = [0.0; 4];
        for k in 0..4 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    }

    /// The pattern's colour at world CSS pixel `(x, y)` (fill and background patterns).
    pub fn at_world(&self, x: f64, y: f64) -> [f32; 4] {
        let img = self.image.image;
        let fx = (x / self.display.0).rem_euclid(1.0);
        let fy = (y / self.display.1).rem_euclid(1.0);
        self.bilinear(fx * f64::from(img.width), fy * f64::from(img.height))
    }

    /// The pattern's colour along a line (`line-pattern`): `linesofar` tile units along it,
    /// `normal_y` across it (−1…1 over the extruded band); the image is scaled to the line's
    /// `width` (CSS px).
    pub fn along_line(&self, linesofar: f32, normal_y: f32, width: f32) -> [f32; 4] {
        let img = self.image.image;
        if width <= 0.0 {
            return [0.0; 4];
        }
        let aspect = self.display.1 / f64::from(width);
        let x = (f64::from(linesofar) / (self.display.0 * 16.0) * aspect).rem_euclid(1.0);
        let y = 0.5 * f64::from(normal_y) + 0.5;
        // The texture range includes one padding texel on each side (MapLibre's quirk).
        let tx = -1.0 + x * (f64::from(img.width) + 2.0);
        let ty = -1.0 + y * (f64::from(img.height) + 2.0);
        self.bilinear(tx, ty)
    }
}
