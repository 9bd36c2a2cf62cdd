//! A bounds-checked, safe wrapper over `matrixmultiply::sgemm`.
#![allow(unsafe_code)]

/// A strided view of a row-major-or-not matrix inside a slice: element
/// `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef { data, rows, cols, row_stride: cols, col_stride: 1 }
    }
    /// The transpose of a row-major `rows × cols` matrix (so `cols × rows`).
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef { data, rows: cols, cols: rows, row_stride: 1, col_stride: cols }
    }
    fn fits(&self) -> bool {
        let strides_fit = isize::try_from(self.row_stride).is_ok() && isize::try_from(self.col_stride).is_ok();
        if !strides_fit {
            return false;
        }
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .zip((self.cols - 1).checked_mul(self.col_stride))
            .and_then(|(r, c)| r.checked_add(c));
        last.is_some_and(|last| last < self.data.len())
    }
}

/// `c = a · b + beta · c`, with `c` row-major `a.rows × b.cols`.
///
/// Panics if the shapes disagree or a view reaches outside its slice: these
/// are programming errors, and the checks are what make the call sound.
pub fn gemm(a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm inner dimensions differ");
    assert!(a.fits() && b.fits(), "gemm operand view outside its slice");
    assert!(c.len() >= m * n, "gemm output too small");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: sgemm reads a[i*rsa + l*csa] for i < m, l < k, b[l*rsb + j*csb]
    // for l < k, j < n, and writes c[i*n + j] for i < m, j < n. `fits` checked
    // the largest read index of a and b against their lengths, and c has at
    // least m*n elements (and m*n ≤ its length ≤ isize::MAX, so n fits an
    // isize). `fits` also checked that every stride fits an isize.
    // `c` is a unique borrow, so it cannot alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_with_transposed_operand_and_accumulates() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2×3
        let w = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]; // 2×3, used as 3×2 via transpose
        let mut c = vec![10.0; 4];
        gemm(MatRef::rows(&a, 2, 3), MatRef::transposed(&w, 2, 3), 1.0, &mut c);
        assert_eq!(c, vec![14.0, 15.0, 20.0, 21.0]);
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn refuses_views_outside_the_slice() {
        let a = [1.0; 5];
        let mut c = [0.0; 4];
        gemm(MatRef::rows(&a, 2, 3), MatRef::rows(&a, 3, 1), 0.0, &mut c);
    }
}
