//! Boxes: conversion to COCO's `[x, y, w, h]` and pycocotools' `bbIou`.

use crate::error::{Error, Result};

/// Input layout of boxes (torchvision / torchmetrics names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxFormat {
    Xyxy,
    Xywh,
    Cxcywh,
}

impl BoxFormat {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "xyxy" => Ok(BoxFormat::Xyxy),
            "xywh" => Ok(BoxFormat::Xywh),
            "cxcywh" => Ok(BoxFormat::Cxcywh),
            _ => Err(Error::value(
                "box_format",
                format!("expected 'xyxy', 'xywh' or 'cxcywh', got {s:?}"),
            )),
        }
    }

    /// `[x, y, w, h]` of one box; `None` when a coordinate is not finite or the width or
    /// height is negative.
    pub fn to_xywh(self, b: [f64; 4]) -> Option<[f64; 4]> {
        let out = match self {
            BoxFormat::Xyxy => [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            BoxFormat::Xywh => b,
            BoxFormat::Cxcywh => [b[0] - b[2] / 2.0, b[1] - b[3] / 2.0, b[2], b[3]],
        };
        (out.iter().all(|v| v.is_finite()) && out[2] >= 0.0 && out[3] >= 0.0).then_some(out)
    }
}

/// Convert `n` boxes (row-major `n x 4`) to `[x, y, w, h]`; the error names the first bad
/// row of `arg`.
pub fn convert<T: Copy + Into<f64>>(boxes: &[T], fmt: BoxFormat, arg: &str) -> Result<Vec<f64>> {
    if !boxes.len().is_multiple_of(4) {
        return Err(Error::value(arg, "expected an (N, 4) array"));
    }
    let mut out = Vec::with_capacity(boxes.len());
    for (i, b) in boxes.chunks_exact(4).enumerate() {
        let b = [b[0].into(), b[1].into(), b[2].into(), b[3].into()];
        match fmt.to_xywh(b) {
            Some(x) => out.extend_from_slice(&x),
            None => {
                return Err(Error::value(
                    arg,
                    format!("box {i} {b:?} is not finite or has a negative width or height"),
                ))
            }
        }
    }
    Ok(out)
}

/// pycocotools' `bbIou` of one pair of `[x, y, w, h]` boxes: intersection over union, or
/// over the detection's area when the ground truth is a crowd region.
#[inline]
pub fn iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let da = d[2] * d[3];
    let u = if crowd { da } else { da + g[2] * g[3] - i };
    i / u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let f = BoxFormat::parse("xyxy").unwrap();
        assert_eq!(f.to_xywh([1.0, 2.0, 4.0, 6.0]), Some([1.0, 2.0, 3.0, 4.0]));
        let c = BoxFormat::parse("cxcywh").unwrap();
        assert_eq!(c.to_xywh([2.0, 3.0, 2.0, 4.0]), Some([1.0, 1.0, 2.0, 4.0]));
        assert!(f.to_xywh([1.0, 2.0, 0.0, 6.0]).is_none());
        assert!(f.to_xywh([f64::NAN, 2.0, 3.0, 6.0]).is_none());
        assert!(BoxFormat::parse("xy").is_err());
        let e = convert(&[0.0f64, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0, 1.0], f, "boxes").unwrap_err();
        assert!(e.to_string().contains("box 1"));
    }

    #[test]
    fn iou_values() {
        let a = [0.0, 0.0, 2.0, 2.0];
        let b = [1.0, 0.0, 2.0, 2.0];
        assert!((iou(&a, &b, false) - 2.0 / 6.0).abs() < 1e-15);
        assert_eq!(iou(&a, &b, true), 0.5);
        assert_eq!(iou(&a, &[2.0, 0.0, 1.0, 1.0], false), 0.0);
    }
}
