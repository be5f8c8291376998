//! Collision detection: greedy placement in a global order, as MapLibre's `Placement` does
//! with its `GridIndex`, but in integer fixed point so the result of every test is the same
//! on every target and does not depend on float rounding near box edges.

/// Fixed-point units per CSS px.
pub const FIXED: f64 = 64.0;

/// An axis-aligned box in fixed point (1/64 CSS px), tile-local, edges inclusive as in
/// MapLibre's grid (touching boxes collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FBox {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

/// CSS px → fixed point, saturating (floor for low edges, ceil for high ones, so a box never
/// shrinks).
fn lo(v: f64) -> i32 {
    (v * FIXED).floor().clamp(-1e9, 1e9) as i32
}
fn hi(v: f64) -> i32 {
    (v * FIXED).ceil().clamp(-1e9, 1e9) as i32
}

impl FBox {
    /// A box from CSS px edges.
    pub fn from_px(x0: f64, y0: f64, x1: f64, y1: f64) -> FBox {
        FBox {
            x0: lo(x0.min(x1)),
            y0: lo(y0.min(y1)),
            x1: hi(x0.max(x1)),
            y1: hi(y0.max(y1)),
        }
    }

    pub fn overlaps(&self, o: &FBox) -> bool {
        self.x0 <= o.x1 && o.x0 <= self.x1 && self.y0 <= o.y1 && o.y0 <= self.y1
    }
}

/// Cell edge of the grid in fixed point (64 CSS px).
const CELL: i32 = 64 * 64;

/// The placed boxes, bucketed by grid cell. Cells are found by integer division, so the index
/// is exact; only which boxes get compared depends on it, never the answer.
#[derive(Debug, Default)]
pub struct CollisionIndex {
    boxes: Vec<FBox>,
    cells: std::collections::BTreeMap<(i32, i32), Vec<u32>>,
}

fn cells(b: &FBox) -> impl Iterator<Item = (i32, i32)> {
    let (cx0, cy0) = (b.x0.div_euclid(CELL), b.y0.div_euclid(CELL));
    let (cx1, cy1) = (b.x1.div_euclid(CELL), b.y1.div_euclid(CELL));
    // Labels are at most a few tiles long; cap the walk for absurd boxes.
    let cx1 = cx1.min(cx0 + 64);
    let cy1 = cy1.min(cy0 + 64);
    (cy0..=cy1).flat_map(move |y| (cx0..=cx1).map(move |x| (x, y)))
}

impl CollisionIndex {
    /// Whether any of `boxes` meets a placed box.
    pub fn collides(&self, boxes: &[FBox]) -> bool {
        boxes.iter().any(|b| {
            cells(b).any(|c| {
                self.cells
                    .get(&c)
                    .is_some_and(|ids| ids.iter().any(|&i| self.boxes[i as usize].overlaps(b)))
            })
        })
    }

    pub fn insert(&mut self, boxes: &[FBox]) {
        for b in boxes {
            let id = self.boxes.len() as u32;
            self.boxes.push(*b);
            for c in cells(b) {
                self.cells.entry(c).or_default().push(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_boxes_collide_and_apart_boxes_do_not() {
        let mut idx = CollisionIndex::default();
        idx.insert(&[FBox::from_px(0.0, 0.0, 10.0, 10.0)]);
        assert!(idx.collides(&[FBox::from_px(10.0, 0.0, 20.0, 10.0)]));
        assert!(!idx.collides(&[FBox::from_px(10.1, 0.0, 20.0, 10.0)]));
        // Across cells, and far away.
        idx.insert(&[FBox::from_px(60.0, 60.0, 200.0, 70.0)]);
        assert!(idx.collides(&[FBox::from_px(150.0, 65.0, 151.0, 66.0)]));
        assert!(!idx.collides(&[FBox::from_px(-500.0, -500.0, -400.0, -490.0)]));
    }
}
