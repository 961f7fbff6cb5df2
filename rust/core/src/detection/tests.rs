use super::accumulate::{accumulate, State};
use super::boxes::BoxFormat;
use super::evaluate::{code, evaluate_boxes, Federated, Images, Params, FP, IGNORED, TP};

fn images<'a>(
    det_off: &'a [usize],
    scores: &'a [f64],
    labels: &'a [i64],
    gt_off: &'a [usize],
    gt_labels: &'a [i64],
    crowd: &'a [u8],
    area: &'a [f64],
) -> Images<'a> {
    Images {
        det_offsets: det_off,
        det_scores: scores,
        det_labels: labels,
        gt_offsets: gt_off,
        gt_labels,
        gt_crowd: crowd,
        gt_area: area,
        federated: None,
    }
}

#[test]
fn one_match_one_false_positive() {
    // Image 0: gt [0,0,10,10]; dets: exact box (0.9), far box (0.8).
    let im = images(&[0, 2], &[0.9, 0.8], &[3, 3], &[0, 1], &[3], &[0], &[0.0]);
    let det = [0.0, 0.0, 10.0, 10.0, 50.0, 50.0, 60.0, 60.0];
    let gt = [0.0, 0.0, 10.0, 10.0];
    let p = Params {
        iou_thrs: &[0.5, 0.75],
        max_dets: &[1, 100],
    };
    let e = evaluate_boxes(&im, &det, &gt, BoxFormat::Xyxy, &p).unwrap();
    assert_eq!(e.levels, vec![0, 1]);
    assert_eq!(e.gt_flags, vec![0b0011]); // all + small (area 100)
    assert_eq!(code(&e.codes, 1, 0, 0, 0), TP);
    assert_eq!(code(&e.codes, 1, 1, 0, 1), FP);
    // medium range: gt ignored (area 100) -> matched det ignored; the far det (area 100)
    // is outside the range and unmatched -> ignored.
    assert_eq!(code(&e.codes, 1, 0, 2, 0), IGNORED);
    assert_eq!(code(&e.codes, 1, 1, 2, 0), IGNORED);
    let s = State {
        scores: &e.scores,
        labels: &e.labels,
        levels: &e.levels,
        codes: &e.codes,
        gt_labels: &[3],
        gt_flags: &e.gt_flags,
    };
    let rec = [0.0, 0.5, 1.0];
    let acc = accumulate(&s, &[3], 2, &rec, 2).unwrap();
    // T x R x K x A x M; all area, m = 1 (100): precision 1 at every recall threshold
    let at = |t: usize, r: usize, a: usize, m: usize| acc.precision[((t * 3 + r) * 4 + a) * 2 + m];
    assert!((at(0, 2, 0, 1) - 1.0).abs() < 1e-12);
    assert_eq!(at(0, 0, 2, 0), -1.0); // no medium gt
    assert_eq!(acc.recall[1], 1.0); // t 0, class 0, area all, m 1
}

#[test]
fn crowd_gt_matches_many() {
    let im = images(&[0, 2], &[0.9, 0.8], &[0, 0], &[0, 1], &[0], &[1], &[0.0]);
    let det = [0.0, 0.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0];
    let gt = [0.0, 0.0, 10.0, 10.0];
    let p = Params {
        iou_thrs: &[0.5],
        max_dets: &[100],
    };
    let e = evaluate_boxes(&im, &det, &gt, BoxFormat::Xyxy, &p).unwrap();
    assert_eq!(e.gt_flags, vec![0]);
    assert_eq!(code(&e.codes, 1, 0, 0, 0), IGNORED);
    assert_eq!(code(&e.codes, 1, 1, 0, 0), IGNORED);
}

#[test]
fn federated_filters_and_caps() {
    // Class 1 has gt; class 2 is verified absent (neg) -> FP; class 3 unknown -> dropped;
    // class 1 is not exhaustive -> its unmatched det is ignored.
    let mut im = images(
        &[0, 4],
        &[0.9, 0.8, 0.7, 0.6],
        &[1, 2, 3, 1],
        &[0, 1],
        &[1],
        &[0],
        &[0.0],
    );
    im.federated = Some(Federated {
        neg_offsets: &[0, 1],
        neg_ids: &[2],
        nel_offsets: &[0, 1],
        nel_ids: &[1],
    });
    let det = [
        0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0, 10.0, 40.0, 40.0, 50.0, 50.0,
    ];
    let gt = [0.0, 0.0, 10.0, 10.0];
    let p = Params {
        iou_thrs: &[0.5],
        max_dets: &[300],
    };
    let e = evaluate_boxes(&im, &det, &gt, BoxFormat::Xyxy, &p).unwrap();
    assert_eq!(e.labels, vec![1, 1, 2]);
    assert_eq!(code(&e.codes, 1, 0, 0, 0), TP);
    assert_eq!(code(&e.codes, 1, 1, 0, 0), IGNORED);
    assert_eq!(code(&e.codes, 1, 2, 0, 0), FP);
    // cap at 2 detections per image: the 0.7 and 0.6 ones go first
    let p2 = Params {
        iou_thrs: &[0.5],
        max_dets: &[2],
    };
    let e2 = evaluate_boxes(&im, &det, &gt, BoxFormat::Xyxy, &p2).unwrap();
    assert_eq!(e2.labels, vec![1, 2]);
}

#[test]
fn bad_input_names_image() {
    let im = images(&[0, 0, 1], &[0.5], &[0], &[0, 0, 0], &[], &[], &[]);
    let det = [0.0, 0.0, -1.0, 1.0];
    let p = Params {
        iou_thrs: &[0.5],
        max_dets: &[100],
    };
    let e = evaluate_boxes(&im, &det, &[], BoxFormat::Xyxy, &p).unwrap_err();
    assert!(e.to_string().starts_with("preds[1]['boxes']"), "{e}");
    let im = images(&[0, 0, 1], &[f64::NAN], &[0], &[0, 0, 0], &[], &[], &[]);
    let e = evaluate_boxes(&im, &[0.0, 0.0, 1.0, 1.0], &[], BoxFormat::Xyxy, &p).unwrap_err();
    assert!(e.to_string().starts_with("preds[1]['scores']"), "{e}");
    let im = images(&[0, 2], &[0.5], &[0], &[0, 0], &[], &[], &[]);
    assert!(evaluate_boxes(&im, &[0.0; 4], &[], BoxFormat::Xyxy, &p).is_err());
}

#[test]
fn masks_match_and_size_mismatch_is_an_error() {
    use super::evaluate::{evaluate_masks, Masks};
    use super::rle::encode;
    // one 2x2 gt (left column) and one det (whole image): IoU 0.5
    let (g, goff) = encode(&[1, 0, 1, 0], 1, 2, 2).unwrap();
    let (d, doff) = encode(&[1, 1, 1, 1], 1, 2, 2).unwrap();
    let im = images(&[0, 1], &[0.9], &[0], &[0, 1], &[0], &[0], &[0.0]);
    let p = Params {
        iou_thrs: &[0.5, 0.55],
        max_dets: &[100],
    };
    let dm = Masks {
        cnts: &d,
        offsets: &doff,
    };
    let gm = Masks {
        cnts: &g,
        offsets: &goff,
    };
    let e = evaluate_masks(&im, &dm, &gm, &[2, 2], &[2, 2], &p).unwrap();
    assert_eq!(code(&e.codes, 1, 0, 0, 0), TP);
    assert_eq!(code(&e.codes, 1, 0, 0, 1), FP);
    let err = evaluate_masks(&im, &dm, &gm, &[2, 2], &[4, 1], &p).unwrap_err();
    assert!(err.to_string().starts_with("target[0]['masks']"), "{err}");
}
