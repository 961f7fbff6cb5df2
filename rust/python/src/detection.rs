//! Bindings for COCO / LVIS detection evaluation (`longtail.metrics.detection`): per-image
//! matching of boxes or run-length masks, RLE encoding/decoding, and accumulation.

use longtail_core::detection::accumulate::{self, State};
use longtail_core::detection::boxes::BoxFormat;
use longtail_core::detection::evaluate::{self, Evaluated, Federated, Images, Masks, Params};
use longtail_core::detection::rle;
use longtail_core::Error;
use numpy::{
    PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::run::{self, slice1, slice2};

/// Boxes in the caller's float width.
#[derive(FromPyObject)]
enum Boxes<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// Run lengths and their offsets, as numpy arrays.
type Runs<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);
/// Precision and recall, flat.
type PrecRec<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);
/// `(neg_offsets, neg_ids, nel_offsets, nel_ids)` as given by Python.
type FedArrays<'py> = (
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
);
/// The same, offsets converted.
type FedSlices<'a> = (Vec<usize>, &'a [i64], Vec<usize>, &'a [i64]);

type EvalOut<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u8>>,
);

fn offsets(a: &PyReadonlyArray1<'_, i64>, name: &str) -> PyResult<Vec<usize>> {
    slice1(a, name)?
        .iter()
        .map(|&o| usize::try_from(o).map_err(|_| run::to_py(Error::value(name, "negative offset"))))
        .collect()
}

fn out(py: Python<'_>, e: Evaluated) -> EvalOut<'_> {
    (
        PyArray1::from_vec(py, e.scores),
        PyArray1::from_vec(py, e.labels),
        PyArray1::from_vec(py, e.levels),
        PyArray1::from_vec(py, e.codes),
        PyArray1::from_vec(py, e.gt_flags),
    )
}

/// Per-image arrays shared by the box and mask entry points (a dict with these keys).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ImageArgs<'py> {
    det_offsets: PyReadonlyArray1<'py, i64>,
    det_scores: PyReadonlyArray1<'py, f64>,
    det_labels: PyReadonlyArray1<'py, i64>,
    gt_offsets: PyReadonlyArray1<'py, i64>,
    gt_labels: PyReadonlyArray1<'py, i64>,
    gt_crowd: PyReadonlyArray1<'py, u8>,
    gt_area: PyReadonlyArray1<'py, f64>,
    /// `(neg_offsets, neg_ids, nel_offsets, nel_ids)` for federated (LVIS) evaluation.
    federated: Option<FedArrays<'py>>,
}

/// Owned offsets plus borrowed slices; `images()` builds the kernel's view.
struct Prepared<'a> {
    det_offsets: Vec<usize>,
    gt_offsets: Vec<usize>,
    det_scores: &'a [f64],
    det_labels: &'a [i64],
    gt_labels: &'a [i64],
    gt_crowd: &'a [u8],
    gt_area: &'a [f64],
    fed: Option<FedSlices<'a>>,
}

impl<'a> Prepared<'a> {
    fn new(a: &'a ImageArgs<'_>) -> PyResult<Self> {
        let fed = match &a.federated {
            Some((no, ni, eo, ei)) => Some((
                offsets(no, "neg_category_ids")?,
                slice1(ni, "neg_category_ids")?,
                offsets(eo, "not_exhaustive_category_ids")?,
                slice1(ei, "not_exhaustive_category_ids")?,
            )),
            None => None,
        };
        Ok(Prepared {
            det_offsets: offsets(&a.det_offsets, "preds")?,
            gt_offsets: offsets(&a.gt_offsets, "target")?,
            det_scores: slice1(&a.det_scores, "scores")?,
            det_labels: slice1(&a.det_labels, "labels")?,
            gt_labels: slice1(&a.gt_labels, "labels")?,
            gt_crowd: slice1(&a.gt_crowd, "iscrowd")?,
            gt_area: slice1(&a.gt_area, "area")?,
            fed,
        })
    }

    fn images(&self) -> Images<'_> {
        Images {
            det_offsets: &self.det_offsets,
            det_scores: self.det_scores,
            det_labels: self.det_labels,
            gt_offsets: &self.gt_offsets,
            gt_labels: self.gt_labels,
            gt_crowd: self.gt_crowd,
            gt_area: self.gt_area,
            federated: self.fed.as_ref().map(|(no, ni, eo, ei)| Federated {
                neg_offsets: no,
                neg_ids: ni,
                nel_offsets: eo,
                nel_ids: ei,
            }),
        }
    }
}

/// Match box detections to ground truths image by image (see `evaluate_boxes`).
#[pyfunction]
#[pyo3(signature = (images, det_boxes, gt_boxes, box_format, iou_thrs, max_dets))]
fn detection_evaluate_boxes<'py>(
    py: Python<'py>,
    images: ImageArgs<'py>,
    det_boxes: Boxes<'py>,
    gt_boxes: Boxes<'py>,
    box_format: &str,
    iou_thrs: Vec<f64>,
    max_dets: Vec<usize>,
) -> PyResult<EvalOut<'py>> {
    let fmt = BoxFormat::parse(box_format).map_err(run::to_py)?;
    let prep = Prepared::new(&images)?;
    let p = Params {
        iou_thrs: &iou_thrs,
        max_dets: &max_dets,
    };
    let e = match (&det_boxes, &gt_boxes) {
        (Boxes::F32(d), Boxes::F32(g)) => {
            let (d, g) = (slice2(d, "boxes")?, slice2(g, "boxes")?);
            run::detached(py, || {
                evaluate::evaluate_boxes(&prep.images(), d, g, fmt, &p)
            })?
        }
        (Boxes::F64(d), Boxes::F64(g)) => {
            let (d, g) = (slice2(d, "boxes")?, slice2(g, "boxes")?);
            run::detached(py, || {
                evaluate::evaluate_boxes(&prep.images(), d, g, fmt, &p)
            })?
        }
        _ => {
            return Err(run::to_py(Error::type_(
                "boxes",
                "preds and target boxes must have the same float dtype",
            )))
        }
    };
    Ok(out(py, e))
}

/// Match run-length mask detections to ground truths image by image.
#[pyfunction]
#[pyo3(signature = (images, det_cnts, det_cnt_offsets, det_hw, gt_cnts, gt_cnt_offsets, gt_hw, iou_thrs, max_dets))]
#[allow(clippy::too_many_arguments)]
fn detection_evaluate_masks<'py>(
    py: Python<'py>,
    images: ImageArgs<'py>,
    det_cnts: PyReadonlyArray1<'py, u32>,
    det_cnt_offsets: PyReadonlyArray1<'py, i64>,
    det_hw: PyReadonlyArray1<'py, u32>,
    gt_cnts: PyReadonlyArray1<'py, u32>,
    gt_cnt_offsets: PyReadonlyArray1<'py, i64>,
    gt_hw: PyReadonlyArray1<'py, u32>,
    iou_thrs: Vec<f64>,
    max_dets: Vec<usize>,
) -> PyResult<EvalOut<'py>> {
    let prep = Prepared::new(&images)?;
    let p = Params {
        iou_thrs: &iou_thrs,
        max_dets: &max_dets,
    };
    let (doff, goff) = (
        offsets(&det_cnt_offsets, "masks")?,
        offsets(&gt_cnt_offsets, "masks")?,
    );
    let det = Masks {
        cnts: slice1(&det_cnts, "masks")?,
        offsets: &doff,
    };
    let gt = Masks {
        cnts: slice1(&gt_cnts, "masks")?,
        offsets: &goff,
    };
    let (dhw, ghw) = (slice1(&det_hw, "masks")?, slice1(&gt_hw, "masks")?);
    let e = run::detached(py, || {
        evaluate::evaluate_masks(&prep.images(), &det, &gt, dhw, ghw, &p)
    })?;
    Ok(out(py, e))
}

/// pycocotools' RLE of `n` C-order masks (`n x h x w`, uint8): run lengths and offsets.
#[pyfunction]
fn rle_encode<'py>(py: Python<'py>, masks: PyReadonlyArray3<'py, u8>) -> PyResult<Runs<'py>> {
    let s = masks.shape();
    let (n, h, w) = (s[0], s[1], s[2]);
    let m = masks
        .as_slice()
        .map_err(|_| run::to_py(Error::value("masks", "must be C-contiguous")))?;
    let (c, o) = run::detached(py, || rle::encode(m, n, h, w))?;
    let o: Vec<i64> = o.into_iter().map(|x| x as i64).collect();
    Ok((PyArray1::from_vec(py, c), PyArray1::from_vec(py, o)))
}

/// Run lengths of pycocotools' compressed RLE strings: concatenated runs and offsets.
#[pyfunction]
fn rle_from_strings<'py>(
    py: Python<'py>,
    strings: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Runs<'py>> {
    let mut cnts = Vec::new();
    let mut off = vec![0i64];
    for s in &strings {
        cnts.extend(rle::from_string(s.as_bytes()).map_err(run::to_py)?);
        off.push(cnts.len() as i64);
    }
    Ok((PyArray1::from_vec(py, cnts), PyArray1::from_vec(py, off)))
}

/// pycocotools' compressed string of one mask's run lengths.
#[pyfunction]
fn rle_to_string<'py>(
    py: Python<'py>,
    cnts: PyReadonlyArray1<'py, u32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = slice1(&cnts, "counts")?;
    Ok(PyBytes::new(py, &rle::to_string(c)))
}

/// Precision `(T, R, K, A, M)` and recall `(T, K, A, M)` (flat) of an evaluated state.
#[pyfunction]
#[pyo3(signature = (scores, labels, levels, codes, gt_labels, gt_flags, classes, n_thrs, rec_thrs, n_max))]
#[allow(clippy::too_many_arguments)]
fn detection_accumulate<'py>(
    py: Python<'py>,
    scores: PyReadonlyArray1<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
    levels: PyReadonlyArray1<'py, u8>,
    codes: PyReadonlyArray1<'py, u8>,
    gt_labels: PyReadonlyArray1<'py, i64>,
    gt_flags: PyReadonlyArray1<'py, u8>,
    classes: PyReadonlyArray1<'py, i64>,
    n_thrs: usize,
    rec_thrs: Vec<f64>,
    n_max: usize,
) -> PyResult<PrecRec<'py>> {
    let s = State {
        scores: slice1(&scores, "state")?,
        labels: slice1(&labels, "state")?,
        levels: slice1(&levels, "state")?,
        codes: slice1(&codes, "state")?,
        gt_labels: slice1(&gt_labels, "state")?,
        gt_flags: slice1(&gt_flags, "state")?,
    };
    let k = slice1(&classes, "classes")?;
    let a = run::detached(py, || {
        accumulate::accumulate(&s, k, n_thrs, &rec_thrs, n_max)
    })?;
    Ok((
        PyArray1::from_vec(py, a.precision),
        PyArray1::from_vec(py, a.recall),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(detection_evaluate_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(detection_evaluate_masks, m)?)?;
    m.add_function(wrap_pyfunction!(detection_accumulate, m)?)?;
    m.add_function(wrap_pyfunction!(rle_encode, m)?)?;
    m.add_function(wrap_pyfunction!(rle_from_strings, m)?)?;
    m.add_function(wrap_pyfunction!(rle_to_string, m)?)?;
    Ok(())
}
