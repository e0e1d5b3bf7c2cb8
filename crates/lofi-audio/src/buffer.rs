//! Track-length sample buffers.
//!
//! A 3-minute render holds about 450 MB of fresh buffers (the stems, the
//! mix, the master, the limiter's envelopes). Backed by 4 KiB
//! pages, touching them the first time cost a page fault every 1,024
//! samples — a fifth of a whole render in the kernel. Large buffers are
//! therefore offered to the kernel as transparent huge pages (2 MiB: 512×
//! fewer faults). This changes how the memory is backed, never what it
//! holds; where huge pages are off or unavailable nothing changes.

/// A buffer of `n` zeros.
pub(crate) fn zeroed(n: usize) -> Vec<f32> {
    // calloc: fresh pages, not yet touched, so the advice comes in time.
    let v = vec![0.0f32; n];
    advise_huge(&v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge<T>(v: &[T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < 4 * HUGE {
        return;
    }
    let start = v.as_ptr() as usize;
    let (first, end) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
    if end > first {
        // SAFETY: [first, end) lies inside `v`'s allocation, which this
        // process owns; MADV_HUGEPAGE only changes how those pages are backed
        // (never their contents), and a failure (huge pages off) is harmless,
        // so the result is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge<T>(_: &[T]) {}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_hold_what_they_say() {
        for n in [0usize, 1, 1000, 3_000_000] {
            let z = super::zeroed(n);
            assert_eq!(z.len(), n);
            assert!(z.iter().all(|&v| v == 0.0));
        }
    }
}
