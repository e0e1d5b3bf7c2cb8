//! A checked, safe face for the `gemm` crate (the GEMM burn's flex backend
//! itself calls): row-major matrices, views of their transposes, and
//! `dst = A·B` or `dst += A·B`.

/// A read-only matrix view over a slice, by strides (in elements).
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `data` as a row-major `[rows, cols]` matrix.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not match [{rows}, {cols}]"
        );
        Mat {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view (no copy).
    pub(crate) fn t(self) -> Mat<'a> {
        Mat {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element the strides address lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// Products below this many multiply-adds run on one thread: splitting
/// them costs more than it saves (measured on the LSTM step, see
/// docs/performance.md).
const PARALLEL_MIN: usize = 1 << 22;

/// Which threads a product may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// This one only (the caller already runs one product per core).
    One,
    /// rayon's workers, when the product is big enough to pay for them.
    Auto,
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`), `dst` row-major
/// `[a.rows, b.cols]`.
pub(crate) fn gemm(dst: &mut [f32], a: Mat<'_>, b: Mat<'_>, accumulate: bool, threads: Threads) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner sizes differ: [{m}, {k}] · [{}, {n}]", b.rows);
    assert_eq!(dst.len(), m * n, "destination does not match [{m}, {n}]");
    assert!(
        a.in_bounds() && b.in_bounds(),
        "a matrix view reaches past its data"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let parallelism = if threads == Threads::Auto && m * n * k >= PARALLEL_MIN {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the three views were checked above: `dst` holds exactly m·n
    // elements at row stride n, column stride 1; every element `a` and `b`
    // address lies inside their slices (`in_bounds`), and the sizes agree.
    // `dst` is a unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat<'_>, b: Mat<'_>) -> Vec<f32> {
        let mut out = vec![0.0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    s += a.data[i * a.row_stride + p * a.col_stride] as f64
                        * b.data[p * b.row_stride + j * b.col_stride] as f64;
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    fn values(n: usize, salt: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(salt) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn products_and_transposed_views_match_a_naive_product() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 5, 7),
            (64, 33, 17),
            (1, 256, 1024),
            (300, 200, 100),
        ] {
            let a = values(m * k, 1);
            let at = values(k * m, 2);
            let b = values(k * n, 3);
            let bt = values(n * k, 4);
            for (am, bm) in [
                (Mat::rows(&a, m, k), Mat::rows(&b, k, n)),
                (Mat::rows(&at, k, m).t(), Mat::rows(&bt, n, k).t()),
            ] {
                let want = naive(am, bm);
                let mut got = vec![0.5f32; m * n];
                gemm(&mut got, am, bm, false, Threads::Auto);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "[{m},{k},{n}] {g} vs {w}");
                }
                gemm(&mut got, am, bm, true, Threads::One);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - 2.0 * w).abs() < 2e-4 * (1.0 + w.abs()),
                        "accumulate {g} vs 2·{w}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "inner sizes differ")]
    fn mismatched_sizes_are_refused() {
        let (a, b) = (vec![0.0; 6], vec![0.0; 6]);
        let mut d = vec![0.0; 4];
        gemm(
            &mut d,
            Mat::rows(&a, 2, 3),
            Mat::rows(&b, 2, 3),
            false,
            Threads::One,
        );
    }
}
