//! A minimal, synchronous PMTiles v3 reader for tests: lists every tile of an archive.
//! (The service has its own source; this one lets tests enumerate an archive without it.)

use std::io::Read as _;

pub struct Entry {
    pub z: u8,
    pub x: u32,
    pub y: u32,
    pub data: Vec<u8>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Tile id → (z, x, y) along the Hilbert curve, as the PMTiles spec defines it.
pub fn zxy(id: u64) -> (u8, u32, u32) {
    let mut acc = 0u64;
    for z in 0..32u8 {
        let count = 1u64 << (2 * z);
        if id < acc + count {
            let n = 1u64 << z;
            let (mut x, mut y, mut t, mut s) = (0u64, 0u64, id - acc, 1u64);
            while s < n {
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
            return (z, x as u32, y as u32);
        }
        acc += count;
    }
    panic!("tile id {id} out of range")
}

/// Every tile in the archive (run-length entries expanded), with its stored bytes.
pub fn read_all(archive: &[u8]) -> Vec<Entry> {
    assert_eq!(&archive[..7], b"PMTiles", "not a PMTiles archive");
    assert_eq!(archive[7], 3, "not PMTiles v3");
    let gz = archive[97] == 2;
    let (root_off, root_len) = (u64_at(archive, 8) as usize, u64_at(archive, 16) as usize);
    let leaf_off = u64_at(archive, 40) as usize;
    let data_off = u64_at(archive, 56) as usize;
    let mut out = Vec::new();
    let mut stack = vec![(root_off, root_len)];
    while let Some((off, len)) = stack.pop() {
        let raw = &archive[off..off + len];
        let dir = if gz { gunzip(raw) } else { raw.to_vec() };
        let mut pos = 0;
        let n = varint(&dir, &mut pos) as usize;
        let mut ids = Vec::with_capacity(n);
        let mut last = 0u64;
        for _ in 0..n {
            last += varint(&dir, &mut pos);
            ids.push(last);
        }
        let runs: Vec<u64> = (0..n).map(|_| varint(&dir, &mut pos)).collect();
        let lens: Vec<u64> = (0..n).map(|_| varint(&dir, &mut pos)).collect();
        let mut offsets: Vec<u64> = Vec::with_capacity(n);
        for i in 0..n {
            let v = varint(&dir, &mut pos);
            offsets.push(if v == 0 && i > 0 {
                offsets[i - 1] + lens[i - 1]
            } else {
                v - 1
            });
        }
        for i in 0..n {
            if runs[i] == 0 {
                stack.push((leaf_off + offsets[i] as usize, lens[i] as usize));
                continue;
            }
            let start = data_off + offsets[i] as usize;
            let data = archive[start..start + lens[i] as usize].to_vec();
            for r in 0..runs[i] {
                let (z, x, y) = zxy(ids[i] + r);
                out.push(Entry {
                    z,
                    x,
                    y,
                    data: data.clone(),
                });
            }
        }
    }
    out.sort_by_key(|e| (e.z, e.x, e.y));
    out
}
