//! Asking the CPU for memory before it is read.
//!
//! A refresh of thousands of endpoints reads a few scattered cache lines of each
//! (its statistics, its window's newest and oldest entries, its tally, its row
//! before), every one of them cold, and waits for them one endpoint at a time.
//! Asked for a few endpoints ahead, they arrive while the endpoints before are
//! worked on.

/// Bytes in a cache line (on every CPU probetop runs on, or a multiple of it).
const LINE: usize = 64;

/// Asks for the cache line holding the start of `value`. Only a hint: it reads
/// nothing, can fault on nothing, and does nothing on other architectures.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    line(std::ptr::from_ref(value).cast());
}

/// Asks for every cache line of `value` (its own bytes, not what it points to).
#[inline(always)]
pub fn prefetch_all<T: ?Sized>(value: &T) {
    let start = std::ptr::from_ref(value).cast::<u8>();
    for offset in (0..std::mem::size_of_val(value)).step_by(LINE) {
        line(start.wrapping_add(offset));
    }
}

/// Asks for every cache line of the value `arc` points to, and for its reference
/// counts just before it (which a clone or a uniqueness check reads).
#[inline(always)]
pub fn prefetch_arc<T>(arc: &std::sync::Arc<T>) {
    prefetch_arc_counts(arc);
    prefetch_all(&**arc);
}

/// Asks for the cache line of `arc`'s reference counts. This assumes std's
/// layout of an `Arc`'s allocation (two `usize` counts, then the value, for
/// values aligned to at most a `usize`); were it otherwise, the hint would ask
/// for a neighbouring line, which costs a little and breaks nothing.
#[inline(always)]
pub fn prefetch_arc_counts<T>(arc: &std::sync::Arc<T>) {
    let value = std::sync::Arc::as_ptr(arc).cast::<u8>();
    line(value.wrapping_sub(2 * std::mem::size_of::<usize>()));
}

/// Asks for the cache line holding `at`.
#[inline(always)]
fn line(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints: it reads nothing and cannot fault, whatever
    // the address; SSE, which it needs, is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
