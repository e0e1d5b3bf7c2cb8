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

/// Columns a part of a split product gets at least; below that the rows
/// are split instead. A multiple of the crate's 16-lane vectors.
const SPLIT_COLUMNS_MIN: usize = 64;

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
///
/// With [`Threads::Auto`] a big product is cut into one block of `dst`'s
/// columns per rayon worker (of its rows when the columns are too few),
/// each block a single-threaded product. The crate's own threading packs
/// and splits inside one product; on the weight-gradient shapes of
/// training (`[256, 4032]ᵀ·[4032, 1024]`, K the long side) it reached
/// 282–322 GFLOP/s on two cores where column blocks reached 338–387
/// (`cargo run --release -p lofi-model --example step_phases -- split`).
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
    let dst = Dst(dst.as_mut_ptr());
    // SAFETY: `dst` holds the m·n elements of the whole product, each
    // initialised (it is a slice), and is uniquely borrowed for the call.
    unsafe { blocks(dst, a, b, threads, |_, _| {}, accumulate) };
}

/// How [`product`] fills its new matrix before adding the product.
#[derive(Clone, Copy)]
pub(crate) enum Start<'a> {
    /// `a · b` alone.
    Zero,
    /// `a · b` plus this row `[b.cols]` on every row (a bias).
    Row(&'a [f32]),
}

/// A new row-major `[a.rows, b.cols]` matrix `start + a · b`.
///
/// Each thread of a split product writes its block's starting values just
/// before its product: the matrix is filled once, in parallel, where a
/// zeroed `Vec` then a bias pass cost two serial passes over it on the
/// calling thread while the other core waited (`memset` alone was a sixth
/// of that thread's `perf` samples in an LSTM step: 3.2 of its 18.8 %).
pub(crate) fn product(a: Mat<'_>, b: Mat<'_>, start: Start<'_>, threads: Threads) -> Vec<f32> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner sizes differ: [{m}, {k}] · [{}, {n}]", b.rows);
    assert!(
        a.in_bounds() && b.in_bounds(),
        "a matrix view reaches past its data"
    );
    let row = match start {
        Start::Zero => None,
        Start::Row(r) => {
            assert_eq!(r.len(), n, "the starting row does not match [{n}]");
            Some(r)
        }
    };
    if k == 0 || m == 0 || n == 0 {
        return match row {
            Some(r) => r.repeat(m),
            None => vec![0.0; m * n],
        };
    }
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    let dst = Dst(out.as_mut_ptr());
    let fill = move |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
        // The whole `Dst` (a closure would capture only its raw field).
        let dst = dst;
        for i in rows {
            // SAFETY: row i's columns `cols` lie inside the m·n elements
            // `out` has room for; the blocks are disjoint, so this thread
            // alone writes them; writing (not reading) uninitialised memory
            // through a raw pointer is allowed.
            unsafe {
                let at = dst.0.add(i * n + cols.start);
                match row {
                    Some(r) => std::ptr::copy_nonoverlapping(r[cols.clone()].as_ptr(), at, cols.len()),
                    None => std::ptr::write_bytes(at, 0, cols.len()),
                }
            }
        }
    };
    // SAFETY: `out` has capacity for m·n elements at row stride n; `fill`
    // initialises every element of each block before its product reads
    // them, and the blocks cover the matrix.
    unsafe { blocks(dst, a, b, threads, fill, true) };
    // SAFETY: every one of the m·n elements was written above.
    unsafe { out.set_len(m * n) };
    out
}

/// Runs `dst (+)= a · b` as one single-threaded block, or one block per
/// rayon worker when `threads` allows and the product is big enough:
/// blocks of `dst`'s columns (multiples of 16), of its rows when each part
/// would get under [`SPLIT_COLUMNS_MIN`] columns. `fill(rows, cols)` runs
/// on each block's thread just before its product.
///
/// # Safety
/// `dst` points to a row-major `[a.rows, b.cols]` matrix (row stride
/// `b.cols`) that no one else reads or writes during the call, whose
/// elements are initialised or are initialised by `fill` for their block;
/// `a` and `b` are in bounds, `a.cols == b.rows > 0`, `a.rows, b.cols > 0`.
unsafe fn blocks(
    dst: Dst,
    a: Mat<'_>,
    b: Mat<'_>,
    threads: Threads,
    fill: impl Fn(std::ops::Range<usize>, std::ops::Range<usize>) + Sync,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let parts = if threads == Threads::Auto && m * n * k >= PARALLEL_MIN {
        rayon::current_num_threads()
    } else {
        1
    };
    if parts <= 1 {
        fill(0..m, 0..n);
        // SAFETY: the caller's promise, for the whole matrix.
        unsafe { block(dst, n, 0..m, 0..n, a, b, accumulate) };
        return;
    }
    let by_columns = n / parts >= SPLIT_COLUMNS_MIN;
    let cuts = |len: usize, align: usize| -> Vec<std::ops::Range<usize>> {
        let units = len.div_ceil(align);
        (0..parts)
            .map(|i| (i * units / parts * align).min(len)..((i + 1) * units / parts * align).min(len))
            .filter(|r| !r.is_empty())
            .collect()
    };
    let ranges = if by_columns { cuts(n, 16) } else { cuts(m, 1) };
    let fill = &fill;
    rayon::scope(|s| {
        for range in ranges {
            let (rows, cols) = if by_columns { (0..m, range) } else { (range, 0..n) };
            s.spawn(move |_| {
                fill(rows.clone(), cols.clone());
                // SAFETY: the blocks are disjoint ranges of `dst`'s columns
                // (or rows), each inside its m·n elements, so no two threads
                // write one element; the caller's promise covers the rest.
                unsafe { block(dst, n, rows, cols, a, b, accumulate) }
            });
        }
    });
}

/// `dst`'s pointer, sendable to the threads that write its disjoint blocks.
#[derive(Clone, Copy)]
struct Dst(*mut f32);

// SAFETY: only ever used to write disjoint blocks of one uniquely borrowed
// slice, inside `gemm`'s scope (see there).
unsafe impl Send for Dst {}
// SAFETY: as for `Send`: the scope shares the pointer, never what it points at.
unsafe impl Sync for Dst {}

/// One block `dst[rows, cols] (+)= a[rows, :] · b[:, cols]`, one thread.
///
/// # Safety
/// `dst` points to a row-major matrix with row stride `n` that holds
/// `rows × cols` and that no one else reads or writes during the call;
/// `a` and `b` are in bounds, `a.rows ≥ rows.end`, `b.cols ≥ cols.end`,
/// `a.cols == b.rows > 0`.
unsafe fn block(
    dst: Dst,
    n: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
) {
    // SAFETY: by the caller's promise every offset below addresses an
    // element of `dst`, `a` or `b` (rows.start < a.rows, cols.start < b.cols
    // for non-empty blocks), and `dst` aliases neither input.
    unsafe {
        gemm::gemm(
            rows.len(),
            cols.len(),
            a.cols,
            dst.0.add(rows.start * n + cols.start),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr().add(rows.start * a.row_stride),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr().add(cols.start * b.col_stride),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
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
            // split by columns (each part ≥ 64 of them), and by rows
            (64, 300, 520),
            (1000, 100, 60),
            (37, 1100, 403),
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
    fn new_products_start_from_zero_or_a_row() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 0, 5),
            (64, 33, 17),
            (64, 300, 520),
            (1000, 100, 60),
            (37, 1100, 403),
        ] {
            let (a, b, r) = (values(m * k, 5), values(k * n, 6), values(n, 7));
            let (am, bm) = (Mat::rows(&a, m, k), Mat::rows(&b, k, n));
            let want = naive(am, bm);
            for threads in [Threads::One, Threads::Auto] {
                let zero = product(am, bm, Start::Zero, threads);
                let biased = product(am, bm, Start::Row(&r), threads);
                assert_eq!((zero.len(), biased.len()), (m * n, m * n));
                for (i, w) in want.iter().enumerate() {
                    let bias = r[i % n];
                    assert!(
                        (zero[i] - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "[{m},{k},{n}] {} vs {w}",
                        zero[i]
                    );
                    assert!(
                        (biased[i] - w - bias).abs() < 1e-4 * (1.0 + w.abs()),
                        "[{m},{k},{n}] {} vs {w} + {bias}",
                        biased[i]
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
