//! The allocator's policy for training: keep freed memory for the next step.
//!
//! A training step allocates and frees the same window-sized buffers every
//! time (activations, gate traces, logits, gradients: tens of MB). glibc
//! hands blocks above its mmap threshold (dynamic, from 128 KiB) back to the
//! kernel on free and trims the heap top above its trim threshold, so each
//! step faulted its buffers in afresh: 21,600 page faults per LSTM step at
//! the default sizes, a fifth of the step's CPU time spent in the kernel
//! (docs/performance.md). Raising both thresholds makes the freed
//! blocks stay in the heap, reused by the next step.

/// Blocks up to this size come from the heap (glibc's ceiling for the
/// threshold on 64-bit targets).
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Tells the process's allocator to keep freed memory for reuse instead of
/// returning it to the kernel after every step. Process-wide and lasting:
/// the peak memory of a run stays mapped until it ends, which is what a
/// training process wants (and not what a long-running server wants, so
/// only training calls it). Returns whether the allocator took the settings
/// (false where it is not glibc's).
pub fn keep_freed_memory() -> bool {
    imp::keep_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    pub fn keep_freed_memory() -> bool {
        // SAFETY: mallopt only changes glibc's thresholds, under its own
        // arena lock, and is valid at any time (blocks allocated before
        // keep working: the settings only steer later allocations and frees).
        // It returns 1 on success, 0 for an out-of-range value.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, super::MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn keep_freed_memory() -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage writes one `rusage` into the zeroed value we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; RUSAGE_THREAD counts this thread only, so tests
        // running beside this one do not disturb the count.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) }, 0);
        u.ru_minflt
    }

    /// Faults taken by allocating and touching one 16 MiB buffer.
    fn touch_one() -> i64 {
        let before = faults();
        let v = std::hint::black_box(vec![1.0f32; 4 << 20]);
        assert_eq!(v[v.len() - 1], 1.0);
        faults() - before
    }

    /// With the settings, a buffer freed and allocated again is not faulted
    /// in again: the second 16 MiB comes back from the heap (4,096 pages
    /// the first time, next to none after).
    #[test]
    fn freed_buffers_are_reused_without_page_faults() {
        assert!(keep_freed_memory());
        let first = touch_one();
        let again: Vec<i64> = (0..3).map(|_| touch_one()).collect();
        assert!(first >= 1_000, "the first touch faulted only {first} pages");
        for n in again {
            assert!(
                n * 20 < first,
                "reuse faulted {n} pages against {first} the first time"
            );
        }
    }
}
