//! Per-render memo of a style layer's per-feature results (filter, sort key, paint), shared
//! by the features of a tile layer that agree on what those results read.
//!
//! A style layer's expressions read a few properties (`kind`, `class`, `admin_level`…),
//! and most features of a tile layer repeat a few combinations of their values, even where
//! names make every feature's whole tag list unique. Evaluating the expressions feature by
//! feature was a tenth of a dense tile's render. A feature's tags index its layer's key and
//! value tables, so equal value indices for the keys read mean equal values: the results
//! are those the expressions would give, bit for bit.

use rustc_hash::FxHashMap;

use super::StyleLayer;
use crate::mvt::{Feature, GeomType, Layer};

/// At most this many keys read (and present in the tile layer) for a layer to be memoized.
const MAX_KEYS: usize = 8;

/// Lookups after which a memo that rarely hits stops looking.
const TRIAL: u32 = 64;

/// For each key read: 0 when the feature lacks it, else 1 + the index of its value.
type Key = (GeomType, [u32; MAX_KEYS]);

/// One style layer's results over one tile layer (see the module docs). `T` is what one
/// feature's evaluation gives.
pub struct TagMemo<T> {
    /// Indices into the tile layer's `keys` of the properties read; `None`: no memo.
    keys: Option<Vec<u32>>,
    lookups: u32,
    misses: u32,
    map: FxHashMap<Key, T>,
}

impl<T: Clone> TagMemo<T> {
    /// A memo for `style_layer`'s results over the features of `tile_layer`.
    pub fn new(style_layer: &StyleLayer, tile_layer: &Layer) -> Self {
        TagMemo::with_keys(style_layer.feature_keys(), tile_layer)
    }

    /// A memo for the filter alone ([`StyleLayer::matches`]).
    pub fn for_filter(style_layer: &StyleLayer, tile_layer: &Layer) -> Self {
        TagMemo::with_keys(style_layer.filter_keys(), tile_layer)
    }

    fn with_keys(names: Option<&[Box<str>]>, tile_layer: &Layer) -> Self {
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
            (keys.len() <= MAX_KEYS).then_some(keys)
        });
        TagMemo {
            keys,
            lookups: 0,
            misses: 0,
            map: FxHashMap::default(),
        }
    }

    /// `eval()` for this feature, or the result of an earlier feature of the same geometry
    /// type with the same values for the keys read.
    pub fn get(&mut self, feature: &Feature, eval: impl FnOnce() -> T) -> T {
        let Some(keys) = &self.keys else {
            return eval();
        };
        let mut values = [0u32; MAX_KEYS];
        for (slot, &k) in values.iter_mut().zip(keys) {
            if let Some(&(_, v)) = feature.tags.iter().find(|t| t.0 == k) {
                *slot = v + 1;
            }
        }
        let key = (feature.geom_type, values);
        self.lookups += 1;
        if let Some(v) = self.map.get(&key) {
            return v.clone();
        }
        self.misses += 1;
        let v = eval();
        // Fewer than one lookup in four hit: stop memoizing this layer.
        if self.lookups >= TRIAL && self.misses * 4 > self.lookups * 3 {
            self.keys = None;
            self.map = FxHashMap::default();
            return v;
        }
        self.map.insert(key, v.clone());
        v
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
                    let mut paints = TagMemo::new(sl, layer);
                    let mut filters = TagMemo::for_filter(sl, layer);
                    let mut selection = TagMemo::new(sl, layer);
                    let mut evaluated = 0;
                    for feature in &layer.features {
                        let f = FeatureRef::new(layer, feature);
                        let own = sl.matches(&f, zoom);
                        assert_eq!(filters.get(feature, || sl.matches(&f, zoom)), own);
                        let key = selection.get(feature, || {
                            sl.matches(&f, zoom).then(|| sl.sort_key(&f, zoom))
                        });
                        assert_eq!(key, own.then(|| sl.sort_key(&f, zoom)));
                        let paint = paints.get(feature, || {
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
