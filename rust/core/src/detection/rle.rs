//! COCO run-length encoded masks, bit for bit as pycocotools' `maskApi.c`.
//!
//! A mask of `h x w` pixels is read in column-major (Fortran) order and stored as
//! alternating run lengths starting with a run of zeros (which may be empty). The
//! compressed string form is pycocotools' `rleToString` / `rleFrString` (LEB128-like,
//! 5 bits per character, runs after the second delta-coded against the run two back).

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Run lengths of one `h x w` mask (`cnts[0]` zeros, `cnts[1]` ones, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rle {
    pub h: u32,
    pub w: u32,
    pub cnts: Vec<u32>,
}

/// Encode `n` C-order `h x w` masks (`masks.len() == n * h * w`, nonzero = inside) as
/// pycocotools' `rleEncode` does on the Fortran-order copy. Returns the concatenated
/// run lengths and `n + 1` offsets into them.
pub fn encode(masks: &[u8], n: usize, h: usize, w: usize) -> Result<(Vec<u32>, Vec<usize>)> {
    let a = h
        .checked_mul(w)
        .ok_or_else(|| Error::value("masks", "mask size overflows"))?;
    if masks.len() != n.saturating_mul(a) {
        return Err(Error::value(
            "masks",
            format!("expected {n} x {h} x {w} values, got {}", masks.len()),
        ));
    }
    if a > u32::MAX as usize {
        return Err(Error::value("masks", "masks of more than 2^32 pixels"));
    }
    let per: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let m = &masks[i * a..(i + 1) * a];
            let mut cnts = Vec::new();
            let (mut p, mut c) = (false, 0u32);
            for x in 0..w {
                for y in 0..h {
                    let v = m[y * w + x] != 0;
                    if v != p {
                        cnts.push(c);
                        c = 0;
                        p = v;
                    }
                    c += 1;
                }
            }
            cnts.push(c);
            cnts
        })
        .collect();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut out = Vec::with_capacity(per.iter().map(Vec::len).sum());
    for c in per {
        out.extend_from_slice(&c);
        offsets.push(out.len());
    }
    Ok((out, offsets))
}

/// Decode pycocotools' compressed RLE string (`rleFrString`).
pub fn from_string(s: &[u8]) -> Result<Vec<u32>> {
    let mut cnts: Vec<u32> = Vec::with_capacity(s.len());
    let mut p = 0;
    while p < s.len() {
        let (mut x, mut k, mut more) = (0i64, 0u32, true);
        while more {
            let Some(&byte) = s.get(p) else {
                return Err(Error::value("counts", "truncated RLE string"));
            };
            if !(48..48 + 64).contains(&byte) || k > 12 {
                return Err(Error::value("counts", "not a COCO RLE string"));
            }
            let c = (byte - 48) as i64;
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && (c & 0x10) != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        let m = cnts.len();
        if m > 2 {
            x += cnts[m - 2] as i64;
        }
        if !(0..=u32::MAX as i64).contains(&x) {
            return Err(Error::value("counts", "RLE run length out of range"));
        }
        cnts.push(x as u32);
    }
    Ok(cnts)
}

/// pycocotools' compressed string of run lengths `cnts` (`rleToString`).
pub fn to_string(cnts: &[u32]) -> Vec<u8> {
    let mut s = Vec::with_capacity(cnts.len() * 2);
    for i in 0..cnts.len() {
        let mut x = cnts[i] as i64;
        if i > 2 {
            x -= cnts[i - 2] as i64;
        }
        let mut more = true;
        while more {
            let mut c = (x & 0x1f) as u8;
            x >>= 5;
            more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                c |= 0x20;
            }
            s.push(c + 48);
        }
    }
    s
}

/// Number of pixels inside (`rleArea`).
pub fn area(cnts: &[u32]) -> u64 {
    cnts.iter().skip(1).step_by(2).map(|&c| c as u64).sum()
}

/// Bounding box `[x, y, w, h]` of the pixels inside (`rleToBbox`).
pub fn bbox(cnts: &[u32], h: u32) -> [f64; 4] {
    let m = (cnts.len() / 2) * 2;
    if m == 0 || h == 0 {
        return [0.0; 4];
    }
    let h = h as u64;
    let (mut xs, mut ys, mut xe, mut ye) = (u64::MAX, h, 0u64, 0u64);
    let (mut cc, mut xp) = (0u64, 0u64);
    for (j, &c) in cnts[..m].iter().enumerate() {
        cc += c as u64;
        let t = cc - (j % 2) as u64;
        let y = t % h;
        let x = (t - y) / h;
        if j.is_multiple_of(2) {
            xp = x;
        } else if xp < x {
            ys = 0;
            ye = h - 1;
        }
        xs = xs.min(x);
        xe = xe.max(x);
        ys = ys.min(y);
        ye = ye.max(y);
    }
    [
        xs as f64,
        ys as f64,
        (xe - xs + 1) as f64,
        (ye - ys + 1) as f64,
    ]
}

/// Intersection and union pixel counts of two masks of the same size (the run merge of
/// `rleIou`).
pub fn inter_union(a: &[u32], b: &[u32]) -> (u64, u64) {
    if a.is_empty() || b.is_empty() {
        return (0, 0);
    }
    let (mut ca, mut cb) = (a[0] as u64, b[0] as u64);
    let (ka, kb) = (a.len(), b.len());
    let (mut ia, mut ib) = (1usize, 1usize);
    let (mut va, mut vb) = (false, false);
    let (mut i, mut u) = (0u64, 0u64);
    loop {
        let c = ca.min(cb);
        if va || vb {
            u += c;
            if va && vb {
                i += c;
            }
        }
        let mut ct = 0;
        ca -= c;
        if ca == 0 && ia < ka {
            ca = a[ia] as u64;
            ia += 1;
            va = !va;
        }
        ct += ca;
        cb -= c;
        if cb == 0 && ib < kb {
            cb = b[ib] as u64;
            ib += 1;
            vb = !vb;
        }
        ct += cb;
        if ct == 0 {
            break;
        }
    }
    (i, u)
}

/// `rleIou` of one pair: intersection over union, or over the detection's area when the
/// ground truth is a crowd region. `dbb`, `gbb` are the masks' boxes from [`bbox`]; a pair
/// whose boxes do not overlap is 0 without reading the runs, as in pycocotools.
pub fn iou(d: &[u32], g: &[u32], dbb: &[f64; 4], gbb: &[f64; 4], crowd: bool) -> f64 {
    if crate::detection::boxes::iou(dbb, gbb, crowd) <= 0.0 {
        return 0.0;
    }
    let (i, mut u) = inter_union(d, g);
    if i == 0 {
        u = 1;
    } else if crowd {
        u = area(d);
    }
    i as f64 / u as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_is_column_major_and_starts_with_zeros() {
        // 2 x 3 mask, rows [1 0 1], [1 1 0]: column-major 1 1 0 1 1 0
        let m = [1u8, 0, 1, 1, 1, 0];
        let (c, off) = encode(&m, 1, 2, 3).unwrap();
        assert_eq!(c, vec![0, 2, 1, 2, 1]);
        assert_eq!(off, vec![0, 5]);
        assert_eq!(area(&c), 4);
        assert_eq!(bbox(&c, 2), [0.0, 0.0, 3.0, 2.0]);
    }

    #[test]
    fn string_round_trip() {
        let c = vec![5u32, 3, 100, 7, 0, 1, 123456, 2];
        assert_eq!(from_string(&to_string(&c)).unwrap(), c);
        // pycocotools: mask.encode of a 4x4 mask with pixels (1,1),(2,1),(1,2),(2,2) -> b'52203'
        assert_eq!(to_string(&[5, 2, 2, 2, 5]), b"52203".to_vec());
        assert_eq!(from_string(b"52203").unwrap(), vec![5, 2, 2, 2, 5]);
    }

    #[test]
    fn bad_strings_are_errors() {
        assert!(from_string(b"\x01").is_err());
        assert!(from_string(b"o").is_err()); // continuation bit with nothing after
    }

    #[test]
    fn iou_and_crowd() {
        let (a, _) = encode(&[1, 1, 0, 0], 1, 2, 2).unwrap(); // left column
        let (b, _) = encode(&[1, 1, 1, 1], 1, 2, 2).unwrap(); // all
        let (ba, bb) = (bbox(&a, 2), bbox(&b, 2));
        assert_eq!(inter_union(&a, &b), (2, 4));
        assert_eq!(iou(&a, &b, &ba, &bb, false), 0.5);
        assert_eq!(iou(&a, &b, &ba, &bb, true), 1.0);
        let (e, _) = encode(&[0, 0, 0, 0], 1, 2, 2).unwrap();
        assert_eq!(iou(&e, &b, &bbox(&e, 2), &bb, false), 0.0);
        assert!(encode(&[1, 1, 1], 1, 2, 2).is_err());
    }
}
