//! Background threads yield to the window: model and training work runs at a lower scheduling
//! priority than the UI thread, so a busy CPU never stretches a frame.
//!
//! On a 2-core machine the CPU backend's worker pool, the training thread and the UI thread
//! compete for the same cores; with equal priority the window's frames wait behind tensor work.
//! The studio builds the compute pool (rayon's global pool, used by Burn's CPU backend) with
//! background-priority threads and lowers the priority of its own worker threads.

/// Nice value of background threads (0 = normal, 19 = lowest).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICE`]; threads it spawns
/// afterwards inherit it (Linux keeps the nice value per thread). Best effort: returns whether
/// it took effect (always `false` off Linux).
pub fn lower_priority() -> bool {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE).is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// The calling thread's nice value (Linux; `None` elsewhere or on error).
pub fn current_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Builds rayon's global pool (the CPU backend's worker threads) with background priority.
/// Call before any model work; returns `false` if the pool already existed (it is then left
/// as it is).
pub fn background_compute_pool() -> bool {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("pdpaint-compute-{i}"))
        .start_handler(|_| {
            lower_priority();
        })
        .build_global()
        .is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_lowered_thread_and_its_children_run_at_background_priority() {
        // In a fresh thread, so the test runner's threads keep their priority.
        let (own, child) = std::thread::spawn(|| {
            let ok = lower_priority();
            let child = std::thread::spawn(current_nice).join().ok().flatten();
            (ok.then(current_nice).flatten(), child)
        })
        .join()
        .unwrap();
        if cfg!(target_os = "linux") {
            let base = current_nice().unwrap();
            // Raising the nice value is always allowed; it cannot go below the parent's.
            let want = BACKGROUND_NICE.max(base);
            assert_eq!(own, Some(want));
            assert_eq!(child, Some(want), "children inherit the nice value");
        }
    }
}
