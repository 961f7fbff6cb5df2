//! COCO and LVIS detection / instance-segmentation evaluation, equal to pycocotools'
//! `COCOeval` and lvis-api's `LVISEval`.
//!
//! - [`boxes`]: box formats and pycocotools' `bbIou` (crowd regions: intersection over
//!   the detection's area);
//! - [`rle`]: COCO run-length masks (encode, compressed strings, area, box, IoU) as
//!   pycocotools' `maskApi.c`;
//! - [`evaluate`]: per-image greedy matching per IoU threshold and area range, in
//!   parallel over images; its output is the compact streaming state;
//! - [`accumulate`]: per-class precision/recall at the recall thresholds, in parallel
//!   over classes.

pub mod accumulate;
pub mod boxes;
pub mod evaluate;
pub mod rle;

/// COCO's area ranges `all`, `small`, `medium`, `large` (closed intervals, pixels).
pub const AREA_RANGES: [[f64; 2]; 4] =
    [[0.0, 1e10], [0.0, 1024.0], [1024.0, 9216.0], [9216.0, 1e10]];

/// Number of area ranges.
pub const AREAS: usize = 4;

#[cfg(test)]
mod tests;
