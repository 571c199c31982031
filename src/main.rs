//! The `probetop` binary: everything lives in the library.

/// jemalloc rather than the system allocator: at thousands of probes a second, every
/// probe allocates (a task, hyper's buffers, header maps), and glibc's aligned
/// allocations for tokio's tasks (`_int_memalign`) were the top user-space entry of
/// the engine's profile. oha, the figure the engine is compared with, does the same.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    probetop::app::main()
}
