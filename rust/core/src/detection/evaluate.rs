//! Per-image evaluation (pycocotools' `evaluateImg`, lvis-api's `evaluate_img`): IoU of
//! every detection with every ground truth of its class, then the greedy matching per IoU
//! threshold and area range. What comes out is all that accumulation needs, so it is the
//! whole streaming state: per kept detection its score, class, max-detection level and a
//! 2-bit outcome (false positive / true positive / ignored) per (area range, threshold);
//! per ground truth the area ranges in which it counts.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::detection::{boxes, rle, AREAS, AREA_RANGES};
use crate::error::{Error, Result};

/// Outcome codes, 2 bits per (area range, IoU threshold).
pub const FP: u8 = 0;
pub const TP: u8 = 1;
pub const IGNORED: u8 = 2;

/// Bytes of outcome codes per (detection, area range) for `t` thresholds.
pub fn code_width(t: usize) -> usize {
    t.div_ceil(4)
}

/// Outcome of detection row `row` at area range `a`, threshold `t`.
#[inline]
pub fn code(codes: &[u8], width: usize, row: usize, a: usize, t: usize) -> u8 {
    (codes[(row * AREAS + a) * width + t / 4] >> (2 * (t % 4))) & 3
}

/// LVIS federated annotations: per image the classes verified absent
/// (`neg_category_ids`) and the classes not exhaustively annotated.
pub struct Federated<'a> {
    pub neg_offsets: &'a [usize],
    pub neg_ids: &'a [i64],
    pub nel_offsets: &'a [usize],
    pub nel_ids: &'a [i64],
}

/// Detections and ground truths of all images, concatenated; image `i` owns rows
/// `offsets[i]..offsets[i + 1]`.
pub struct Images<'a> {
    pub det_offsets: &'a [usize],
    pub det_scores: &'a [f64],
    pub det_labels: &'a [i64],
    pub gt_offsets: &'a [usize],
    pub gt_labels: &'a [i64],
    pub gt_crowd: &'a [u8],
    /// Ground-truth areas as given; entries <= 0 are computed from the box or mask.
    pub gt_area: &'a [f64],
    pub federated: Option<Federated<'a>>,
}

/// Evaluation settings.
pub struct Params<'a> {
    pub iou_thrs: &'a [f64],
    /// Sorted max-detection limits (COCO: per image and class; federated: one limit per
    /// image over all classes).
    pub max_dets: &'a [usize],
}

/// Per-image evaluation results, concatenated in image order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Evaluated {
    pub scores: Vec<f64>,
    pub labels: Vec<i64>,
    /// Index of the smallest max-detection limit that keeps the detection.
    pub levels: Vec<u8>,
    /// `rows x AREAS x code_width(T)` outcome bytes.
    pub codes: Vec<u8>,
    /// Per ground truth (input order): bit `a` set when it counts in area range `a`.
    pub gt_flags: Vec<u8>,
}

/// IoU between detection and ground-truth rows.
trait Geometry: Sync {
    fn iou(&self, d: usize, g: usize, crowd: bool) -> f64;
}

struct BoxGeometry<'a> {
    det: &'a [f64],
    gt: &'a [f64],
}

#[inline]
fn box4(v: &[f64], i: usize) -> &[f64; 4] {
    v[4 * i..4 * i + 4].try_into().expect("4 coordinates")
}

impl Geometry for BoxGeometry<'_> {
    #[inline]
    fn iou(&self, d: usize, g: usize, crowd: bool) -> f64 {
        boxes::iou(box4(self.det, d), box4(self.gt, g), crowd)
    }
}

/// Run-length masks: `cnts[off[i]..off[i + 1]]` is mask `i`.
pub struct Masks<'a> {
    pub cnts: &'a [u32],
    pub offsets: &'a [usize],
}

struct MaskGeometry<'a> {
    det: &'a Masks<'a>,
    gt: &'a Masks<'a>,
    det_bb: Vec<[f64; 4]>,
    gt_bb: Vec<[f64; 4]>,
}

impl Geometry for MaskGeometry<'_> {
    #[inline]
    fn iou(&self, d: usize, g: usize, crowd: bool) -> f64 {
        let dc = &self.det.cnts[self.det.offsets[d]..self.det.offsets[d + 1]];
        let gc = &self.gt.cnts[self.gt.offsets[g]..self.gt.offsets[g + 1]];
        rle::iou(dc, gc, &self.det_bb[d], &self.gt_bb[g], crowd)
    }
}

fn check_offsets(off: &[usize], rows: usize, images: usize, arg: &str) -> Result<()> {
    if off.len() != images + 1 || off.first() != Some(&0) || off.last() != Some(&rows) {
        return Err(Error::value(arg, "offsets do not cover the rows"));
    }
    if off.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::value(arg, "offsets must be non-decreasing"));
    }
    Ok(())
}

fn image_of(off: &[usize], row: usize) -> (usize, usize) {
    let i = off.partition_point(|&o| o <= row) - 1;
    (i, row - off[i])
}

fn check_images(im: &Images<'_>, p: &Params<'_>) -> Result<usize> {
    let n = im.det_offsets.len().saturating_sub(1);
    check_offsets(im.det_offsets, im.det_scores.len(), n, "preds")?;
    check_offsets(im.gt_offsets, im.gt_labels.len(), n, "target")?;
    if im.det_labels.len() != im.det_scores.len() {
        return Err(Error::value("preds", "labels and scores differ in length"));
    }
    if im.gt_crowd.len() != im.gt_labels.len() || im.gt_area.len() != im.gt_labels.len() {
        return Err(Error::value(
            "target",
            "iscrowd/area and labels differ in length",
        ));
    }
    if let Some(r) = im.det_scores.iter().position(|s| !s.is_finite()) {
        let (i, k) = image_of(im.det_offsets, r);
        return Err(Error::value(
            format!("preds[{i}]['scores']"),
            format!("score {k} is NaN or infinite"),
        ));
    }
    if let Some(r) = im.gt_area.iter().position(|s| s.is_nan()) {
        let (i, k) = image_of(im.gt_offsets, r);
        return Err(Error::value(
            format!("target[{i}]['area']"),
            format!("area {k} is NaN"),
        ));
    }
    if p.iou_thrs.is_empty() || p.iou_thrs.iter().any(|t| !(0.0..=1.0).contains(t)) {
        return Err(Error::value("iou_thresholds", "must be values in [0, 1]"));
    }
    if p.max_dets.is_empty() || p.max_dets.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::value(
            "max_detection_thresholds",
            "must be sorted, non-empty",
        ));
    }
    if p.max_dets.len() > 255 {
        return Err(Error::value(
            "max_detection_thresholds",
            "at most 255 limits",
        ));
    }
    if let Some(f) = &im.federated {
        check_offsets(f.neg_offsets, f.neg_ids.len(), n, "target")?;
        check_offsets(f.nel_offsets, f.nel_ids.len(), n, "target")?;
    }
    Ok(n)
}

#[inline]
fn outside(area: f64, a: usize) -> bool {
    area < AREA_RANGES[a][0] || area > AREA_RANGES[a][1]
}

fn desc(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// Evaluate image `i`: append its kept detections to `out` and its ground-truth flags.
#[allow(clippy::too_many_arguments)]
fn eval_image<G: Geometry>(
    i: usize,
    im: &Images<'_>,
    geo: &G,
    det_area: &[f64],
    gt_area: &[f64],
    p: &Params<'_>,
    out: &mut Evaluated,
) {
    let t_n = p.iou_thrs.len();
    let width = code_width(t_n);
    let (d0, d1) = (im.det_offsets[i], im.det_offsets[i + 1]);
    let (g0, g1) = (im.gt_offsets[i], im.gt_offsets[i + 1]);
    let fed = im.federated.as_ref();
    let coco = fed.is_none();

    // Ground truths: which count in which area range (crowd regions never count in COCO).
    let gt_ignored = |g: usize, a: usize| (coco && im.gt_crowd[g] != 0) || outside(gt_area[g], a);
    for g in g0..g1 {
        let mut f = 0u8;
        for a in 0..AREAS {
            if !gt_ignored(g, a) {
                f |= 1 << a;
            }
        }
        out.gt_flags.push(f);
    }

    let mut dets: Vec<usize> = (d0..d1).collect();
    let (neg, nel): (&[i64], &[i64]) = match fed {
        Some(f) => (
            &f.neg_ids[f.neg_offsets[i]..f.neg_offsets[i + 1]],
            &f.nel_ids[f.nel_offsets[i]..f.nel_offsets[i + 1]],
        ),
        None => (&[], &[]),
    };
    if let Some(_f) = fed {
        // LVISResults: the top max_dets per image over all classes (a stable sort), then
        // only classes known present or verified absent in the image are evaluated.
        dets.sort_by(|&a, &b| desc(im.det_scores[a], im.det_scores[b]));
        dets.truncate(p.max_dets[p.max_dets.len() - 1]);
        let gl = &im.gt_labels[g0..g1];
        dets.retain(|&d| {
            let l = im.det_labels[d];
            neg.contains(&l) || gl.contains(&l)
        });
    }
    // By class, then score (descending); stable, so equal scores keep input order.
    dets.sort_by(|&a, &b| {
        im.det_labels[a]
            .cmp(&im.det_labels[b])
            .then_with(|| desc(im.det_scores[a], im.det_scores[b]))
    });
    let mut gts: Vec<usize> = (g0..g1).collect();
    gts.sort_by_key(|&g| im.gt_labels[g]);

    let last = p.max_dets[p.max_dets.len() - 1];
    let (mut di, mut gi) = (0, 0);
    let mut ious: Vec<f64> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    let mut matched: Vec<bool> = Vec::new();
    let mut codes: Vec<u8> = Vec::new();
    while di < dets.len() {
        let label = im.det_labels[dets[di]];
        let mut dj = di;
        while dj < dets.len() && im.det_labels[dets[dj]] == label {
            dj += 1;
        }
        while gi < gts.len() && im.gt_labels[gts[gi]] < label {
            gi += 1;
        }
        let mut gj = gi;
        while gj < gts.len() && im.gt_labels[gts[gj]] == label {
            gj += 1;
        }
        let cd: &[usize] = if coco {
            &dets[di..dj.min(di + last)]
        } else {
            &dets[di..dj]
        };
        let cg = &gts[gi..gj];
        let (nd, ng) = (cd.len(), cg.len());
        let crowd = |g: usize| coco && im.gt_crowd[g] != 0;
        ious.clear();
        for &d in cd {
            for &g in cg {
                ious.push(geo.iou(d, g, crowd(g)));
            }
        }
        let not_exhaustive = nel.contains(&label);
        codes.clear();
        codes.resize(nd * AREAS * width, 0);
        for a in 0..AREAS {
            // pycocotools sorts ground truths ignored-last (stable).
            order.clear();
            order.extend((0..ng).filter(|&j| !gt_ignored(cg[j], a)));
            order.extend((0..ng).filter(|&j| gt_ignored(cg[j], a)));
            for (t, &thr) in p.iou_thrs.iter().enumerate() {
                matched.clear();
                matched.resize(ng, false);
                for (k, &d) in cd.iter().enumerate() {
                    let mut best = thr.min(1.0 - 1e-10);
                    let mut m: Option<usize> = None;
                    for &j in &order {
                        let g = cg[j];
                        if matched[j] && !crowd(g) {
                            continue;
                        }
                        if let Some(mj) = m {
                            if !gt_ignored(cg[mj], a) && gt_ignored(g, a) {
                                break;
                            }
                        }
                        let v = ious[k * ng + j];
                        if v < best {
                            continue;
                        }
                        best = v;
                        m = Some(j);
                    }
                    let c = match m {
                        Some(j) => {
                            matched[j] = true;
                            if gt_ignored(cg[j], a) {
                                IGNORED
                            } else {
                                TP
                            }
                        }
                        None if outside(det_area[d], a) || not_exhaustive => IGNORED,
                        None => FP,
                    };
                    codes[(k * AREAS + a) * width + t / 4] |= c << (2 * (t % 4));
                }
            }
        }
        for (k, &d) in cd.iter().enumerate() {
            out.scores.push(im.det_scores[d]);
            out.labels.push(label);
            let level = if coco {
                p.max_dets.partition_point(|&m| m <= k)
            } else {
                0
            };
            out.levels.push(level as u8);
        }
        out.codes.extend_from_slice(&codes);
        di = dj;
    }
}

fn run<G: Geometry>(
    im: &Images<'_>,
    geo: &G,
    det_area: &[f64],
    gt_area: &[f64],
    p: &Params<'_>,
    n: usize,
) -> Evaluated {
    let parts: Vec<Evaluated> = (0..n)
        .into_par_iter()
        .with_min_len(16)
        .fold(Evaluated::default, |mut acc, i| {
            eval_image(i, im, geo, det_area, gt_area, p, &mut acc);
            acc
        })
        .collect();
    let mut out = Evaluated::default();
    for part in parts {
        out.scores.extend_from_slice(&part.scores);
        out.labels.extend_from_slice(&part.labels);
        out.levels.extend_from_slice(&part.levels);
        out.codes.extend_from_slice(&part.codes);
        out.gt_flags.extend_from_slice(&part.gt_flags);
    }
    out
}

/// Evaluate box detections. `det_boxes`, `gt_boxes`: row-major `n x 4` in `fmt`.
pub fn evaluate_boxes<T: Copy + Into<f64> + Sync>(
    im: &Images<'_>,
    det_boxes: &[T],
    gt_boxes: &[T],
    fmt: boxes::BoxFormat,
    p: &Params<'_>,
) -> Result<Evaluated> {
    let n = check_images(im, p)?;
    if det_boxes.len() != 4 * im.det_scores.len() {
        return Err(Error::value("preds", "boxes and scores differ in length"));
    }
    if gt_boxes.len() != 4 * im.gt_labels.len() {
        return Err(Error::value("target", "boxes and labels differ in length"));
    }
    let conv = |v: &[T], off: &[usize], side: &str| -> Result<Vec<f64>> {
        boxes::convert(v, fmt, side).map_err(|_| {
            // Find the first bad row to name its image.
            let r = v
                .chunks_exact(4)
                .position(|b| {
                    fmt.to_xywh([b[0].into(), b[1].into(), b[2].into(), b[3].into()])
                        .is_none()
                })
                .unwrap_or(0);
            let (i, k) = image_of(off, r);
            let b = &v[4 * r..4 * r + 4];
            Error::value(
                format!("{side}[{i}]['boxes']"),
                format!(
                    "box {k} [{}, {}, {}, {}] is not finite or has a negative width or height",
                    b[0].into(),
                    b[1].into(),
                    b[2].into(),
                    b[3].into()
                ),
            )
        })
    };
    let det = conv(det_boxes, im.det_offsets, "preds")?;
    let gt = conv(gt_boxes, im.gt_offsets, "target")?;
    let det_area: Vec<f64> = det.chunks_exact(4).map(|b| b[2] * b[3]).collect();
    let gt_area: Vec<f64> = gt
        .chunks_exact(4)
        .zip(im.gt_area)
        .map(|(b, &a)| if a > 0.0 { a } else { b[2] * b[3] })
        .collect();
    let geo = BoxGeometry { det: &det, gt: &gt };
    Ok(run(im, &geo, &det_area, &gt_area, p, n))
}

/// Evaluate mask detections given as run lengths (see [`rle`]); `det_hw`, `gt_hw`: the
/// `(h, w)` of every mask, which must agree within an image.
pub fn evaluate_masks(
    im: &Images<'_>,
    det: &Masks<'_>,
    gt: &Masks<'_>,
    det_hw: &[u32],
    gt_hw: &[u32],
    p: &Params<'_>,
) -> Result<Evaluated> {
    let n = check_images(im, p)?;
    let nd = im.det_scores.len();
    let ng = im.gt_labels.len();
    check_offsets(det.offsets, det.cnts.len(), nd, "preds")?;
    check_offsets(gt.offsets, gt.cnts.len(), ng, "target")?;
    if det_hw.len() != 2 * nd || gt_hw.len() != 2 * ng {
        return Err(Error::value(
            "masks",
            "one (height, width) per mask expected",
        ));
    }
    for i in 0..n {
        let rows = (im.det_offsets[i]..im.det_offsets[i + 1])
            .map(|r| (&det_hw[2 * r..2 * r + 2], "preds", r - im.det_offsets[i]))
            .chain(
                (im.gt_offsets[i]..im.gt_offsets[i + 1])
                    .map(|r| (&gt_hw[2 * r..2 * r + 2], "target", r - im.gt_offsets[i])),
            );
        let mut first: Option<(&[u32], &str, usize)> = None;
        for (hw, side, k) in rows {
            match first {
                None => first = Some((hw, side, k)),
                Some((f, fs, fk)) if f != hw => {
                    return Err(Error::value(
                        format!("{side}[{i}]['masks']"),
                        format!(
                            "mask {k} is {}x{} but {fs}[{i}] mask {fk} is {}x{} (every mask \
                             of an image must have the image's size)",
                            hw[0], hw[1], f[0], f[1]
                        ),
                    ))
                }
                _ => {}
            }
        }
    }
    let sums = |m: &Masks<'_>, hw: &[u32], side: &str, off: &[usize]| -> Result<()> {
        for r in 0..m.offsets.len() - 1 {
            let c = &m.cnts[m.offsets[r]..m.offsets[r + 1]];
            let total: u64 = c.iter().map(|&x| x as u64).sum();
            if total != hw[2 * r] as u64 * hw[2 * r + 1] as u64 {
                let (i, k) = image_of(off, r);
                return Err(Error::value(
                    format!("{side}[{i}]['masks']"),
                    format!("RLE {k}: run lengths sum to {total}, not height x width"),
                ));
            }
        }
        Ok(())
    };
    sums(det, det_hw, "preds", im.det_offsets)?;
    sums(gt, gt_hw, "target", im.gt_offsets)?;
    let props = |m: &Masks<'_>, hw: &[u32]| -> (Vec<[f64; 4]>, Vec<f64>) {
        (0..m.offsets.len() - 1)
            .into_par_iter()
            .map(|r| {
                let c = &m.cnts[m.offsets[r]..m.offsets[r + 1]];
                (rle::bbox(c, hw[2 * r]), rle::area(c) as f64)
            })
            .unzip()
    };
    let (det_bb, det_area) = props(det, det_hw);
    let (gt_bb, gt_pix) = props(gt, gt_hw);
    let gt_area: Vec<f64> = gt_pix
        .iter()
        .zip(im.gt_area)
        .map(|(&m, &a)| if a > 0.0 { a } else { m })
        .collect();
    let geo = MaskGeometry {
        det,
        gt,
        det_bb,
        gt_bb,
    };
    Ok(run(im, &geo, &det_area, &gt_area, p, n))
}
