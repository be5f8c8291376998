//! Helpers shared by the integration tests (a folder, so cargo does not build it as a test).

use std::collections::BTreeMap;

/// Every tile of a PMTiles v3 archive (root directory only) as ((z, x, y), gzip bytes).
pub fn archive(rel: &str) -> BTreeMap<(u8, u32, u32), Vec<u8>> {
    let data = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel),
    )
    .unwrap();
    let u = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (root, root_len, leaf_len, tiles) = (u(8), u(16), u(48), u(56));
    assert_eq!(leaf_len, 0, "this reader has no leaf directories");
    let gz = &data[root..root + root_len];
    assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
    assert_eq!(gz[3], 0, "no gzip header flags expected");
    let dir = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).unwrap();
    let mut pos = 0;
    let mut varint = || {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = dir[pos];
            pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    };
    let n = varint() as usize;
    let mut ids = Vec::new();
    let mut last = 0;
    for _ in 0..n {
        last += varint();
        ids.push(last);
    }
    let runs: Vec<u64> = (0..n).map(|_| varint()).collect();
    let lens: Vec<u64> = (0..n).map(|_| varint()).collect();
    let mut offs: Vec<u64> = Vec::new();
    for i in 0..n {
        let v = varint();
        offs.push(if v == 0 && i > 0 {
            offs[i - 1] + lens[i - 1]
        } else {
            v - 1
        });
    }
    let zxy = |id: u64| {
        let (mut acc, mut z) = (0u64, 0u8);
        while id >= acc + (1u64 << (2 * z)) {
            acc += 1u64 << (2 * z);
            z += 1;
        }
        // Hilbert index → x, y.
        let (mut x, mut y, mut t, mut s) = (0u64, 0u64, id - acc, 1u64);
        while s < (1u64 << z) {
            let rx = 1 & (t / 2);
            let ry = 1 & (t ^ rx);
            if ry == 0 {
                if rx == 1 {
                    x = s - 1 - x;
                    y = s - 1 - y;
                }
                std::mem::swap(&mut x, &mut y);
            }
            x += s * rx;
            y += s * ry;
            t /= 4;
            s *= 2;
        }
        (z, x as u32, y as u32)
    };
    let mut out = BTreeMap::new();
    for i in 0..n {
        let start = tiles + offs[i] as usize;
        for r in 0..runs[i] {
            out.insert(
                zxy(ids[i] + r),
                data[start..start + lens[i] as usize].to_vec(),
            );
        }
    }
    out
}
