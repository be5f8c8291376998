//! Per-render memo of a style layer's per-feature results (filter, sort key, paint), shared
//! by the features of a tile layer that agree on what those results read.
//!
//! A style layer's expressions read a few properties (`kind`, `class`, `admin_level`…),
//! and most features of a tile layer repeat a few combinations of their values, even where
//! names make every feature's whole tag list unique. Evaluating the expressions feature by
//! feature was a tenth of a dense tile's render. A feature's tags index its layer's key and
//! value tables, so equal value indices for the keys read mean equal values: the results
//! are those the expressions would give, bit for bit.

use std::rc::Rc;

use rustc_hash::FxHashMap;

use super::StyleLayer;
use crate::mvt::Layer;

/// At most this many keys read (and present in the tile layer) for a style layer to be
/// evaluated per group.
const MAX_KEYS: usize = 8;

/// Every feature of one tile layer sorted into groups that agree on the geometry type and
/// on the values of some keys: made once per render and set of keys, however many style
/// layers read them (a 300-layer style reads `kind` of every street a hundred times).
struct Grouping {
    /// Per feature, its group.
    of: Vec<u32>,
    groups: usize,
}

/// The groupings of one tile layer's features made so far in a render, by the keys read
/// (indices into the layer's `keys`, sorted).
#[derive(Default)]
pub struct Groupings {
    groupings: FxHashMap<Vec<u32>, Rc<Grouping>>,
}

impl Groupings {
    pub fn new() -> Groupings {
        Groupings::default()
    }

    /// `keys`: at most [`MAX_KEYS`].
    fn grouping(&mut self, layer: &Layer, keys: Vec<u32>) -> Rc<Grouping> {
        let made = self.groupings.entry(keys).or_insert_with_key(|keys| {
            let mut ids: FxHashMap<[u32; MAX_KEYS + 1], u32> = FxHashMap::default();
            let of = layer
                .features
                .iter()
                .map(|f| {
                    // The geometry type, then per key 0 when the feature lacks it, else 1 +
                    // its value's index.
                    let mut key = [0; MAX_KEYS + 1];
                    key[0] = f.geom_type as u32;
                    for (slot, &k) in key[1..].iter_mut().zip(keys) {
                        *slot = f.tags.iter().find(|t| t.0 == k).map_or(0, |t| t.1 + 1);
                    }
                    let next = ids.len() as u32;
                    *ids.entry(key).or_insert(next)
                })
                .collect();
            Rc::new(Grouping {
                of,
                groups: ids.len(),
            })
        });
        Rc::clone(made)
    }
}

/// One style layer's results over one tile layer (see the module docs), one evaluation per
/// group of features. `T` is what one feature's evaluation gives.
pub struct TagMemo<T> {
    /// `None`: evaluated per feature (the keys are not known, or few features share values).
    grouping: Option<Rc<Grouping>>,
    results: Vec<Option<T>>,
}

impl<T: Clone> TagMemo<T> {
    /// A memo for `style_layer`'s results over the features of `tile_layer`, whose
    /// groupings are `groupings`.
    pub fn new(style_layer: &StyleLayer, tile_layer: &Layer, groupings: &mut Groupings) -> Self {
        TagMemo::with_keys(style_layer.feature_keys(), tile_layer, groupings)
    }

    /// A memo for the filter alone ([`StyleLayer::matches`]).
    pub fn for_filter(
        style_layer: &StyleLayer,
        tile_layer: &Layer,
        groupings: &mut Groupings,
    ) -> Self {
        TagMemo::with_keys(style_layer.filter_keys(), tile_layer, groupings)
    }

    fn with_keys(
        names: Option<&[Box<str>]>,
        tile_layer: &Layer,
        groupings: &mut Groupings,
    ) -> Self {
        let keys = names.and_then(|names| {
            let mut keys = Vec::with_capacity(names.len());
            for name in names {
                let mut at = tile_layer
                    .keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k == **name);
                // Keys the tile layer lacks are absent from every feature. A key written
                // twice in the layer's table (invalid, but decodable) could be tagged by
                // either index: no memo then.
                match (at.next(), at.next()) {
                    (None, _) => {}
                    (Some((i, _)), None) => keys.push(i as u32),
                    (Some(_), Some(_)) => return None,
                }
            }
            keys.sort_unstable();
            (keys.len() <= MAX_KEYS).then_some(keys)
        });
        // Fewer than one feature in four sharing its group with an earlier one: per feature.
        let grouping = keys
            .map(|k| groupings.grouping(tile_layer, k))
            .filter(|g| g.groups * 4 <= tile_layer.features.len() * 3);
        TagMemo {
            results: vec![None; grouping.as_ref().map_or(0, |g| g.groups)],
            grouping,
        }
    }

    /// `eval()` for `feature`, the `index`th of the tile layer, or the result of an earlier
    /// feature of its group.
    #[inline]
    pub fn get(&mut self, index: usize, eval: impl FnOnce() -> T) -> T {
        let Some(grouping) = &self.grouping else {
            return eval();
        };
        let slot = &mut self.results[grouping.of[index] as usize];
        match slot {
            Some(v) => v.clone(),
            None => slot.insert(eval()).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvt::{self, FeatureRef};
    use crate::style::Style;

    fn layer(paint: &str, filter: &str) -> Style {
        Style::from_json(&format!(
            r#"{{"version":8,"sources":{{"s":{{"type":"vector"}}}},"layers":[{{"id":"l","type":"line","source":"s","source-layer":"roads","filter":{filter},"paint":{{"line-color":{paint}}}}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn the_keys_read_are_known_unless_an_id_or_a_computed_name_is_read() {
        let s = layer(
            r##"["match",["get","kind_detail"],"path","#f00","#0f0"]"##,
            r#"["all",["==","kind","path"],["has","bridge"]]"#,
        );
        let keys =
            |k: Option<&[Box<str>]>| k.map(|k| k.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let l = &s.layers()[0];
        assert_eq!(
            keys(l.feature_keys()),
            Some(vec!["bridge".into(), "kind".into(), "kind_detail".into()])
        );
        assert_eq!(
            keys(l.filter_keys()),
            Some(vec!["bridge".into(), "kind".into()])
        );
        let by_id = layer(
            r##"["case",["==",["id"],1],"#f00","#0f0"]"##,
            r#"["==","kind","path"]"#,
        );
        assert_eq!(by_id.layers()[0].feature_keys(), None);
        assert!(by_id.layers()[0].filter_keys().is_some());
        let legacy_id = layer(r##""#f00""##, r#"["==","$id",7]"#);
        assert_eq!(legacy_id.layers()[0].filter_keys(), None);
        let computed = layer(
            r#"["to-color",["get",["concat","col","our"]]]"#,
            r#"["has","kind"]"#,
        );
        assert_eq!(computed.layers()[0].feature_keys(), None);
    }

    /// Over a real dense tile and the built-in styles: every feature's memoized filter, sort
    /// key and paint equal its own evaluation, and the memo does share results.
    #[test]
    fn memoized_results_are_each_features_own() {
        let florence: &[u8] =
            include_bytes!("../../../tests/reference/florence-z14-centre-default/tile.mvt");
        let monaco: &[u8] = include_bytes!("../../../tests/reference/monaco-z14-omt/tile.mvt");
        let mut shared = 0;
        for (data, name) in [(florence, "default"), (florence, "light"), (monaco, "omt")] {
            let tile = mvt::decode_bytes(data, &mvt::DecodeLimits::default()).unwrap();
            let style = Style::builtin(name).unwrap();
            for sl in style.layers() {
                let Some(layer) = tile
                    .layers
                    .iter()
                    .find(|l| Some(l.name.as_str()) == sl.source_layer())
                else {
                    continue;
                };
                for zoom in [12.0, 14.0, 16.5] {
                    let mut groupings = Groupings::new();
                    let mut paints = TagMemo::new(sl, layer, &mut groupings);
                    let mut filters = TagMemo::for_filter(sl, layer, &mut groupings);
                    let mut selection = TagMemo::new(sl, layer, &mut groupings);
                    let mut evaluated = 0;
                    for (i, feature) in layer.features.iter().enumerate() {
                        let f = FeatureRef::new(layer, feature);
                        let own = sl.matches(&f, zoom);
                        assert_eq!(filters.get(i, || sl.matches(&f, zoom)), own);
                        let key = selection
                            .get(i, || sl.matches(&f, zoom).then(|| sl.sort_key(&f, zoom)));
                        assert_eq!(key, own.then(|| sl.sort_key(&f, zoom)));
                        let paint = paints.get(i, || {
                            evaluated += 1;
                            sl.paint(Some(&f), zoom)
                        });
                        assert_eq!(
                            paint,
                            sl.paint(Some(&f), zoom),
                            "layer {} at z{zoom}",
                            sl.id()
                        );
                    }
                    shared += layer.features.len() - evaluated;
                }
            }
        }
        assert!(shared > 10_000, "only {shared} evaluations were shared");
    }
}
