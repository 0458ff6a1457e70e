//! Process memory figures for the timing lines and benchmarks: peak resident set size (VmHWM
//! from `/proc/self/status`, Linux) and human-readable byte counts.
//!
//! Known gap: on systems without `/proc` the peak is unknown (`None`), never guessed.

/// Peak resident set size of this process in bytes (VmHWM), when the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
pub fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `1.23 GB`, `512.0 MB`, `12.0 kB` (decimal units).
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} kB", b / 1e3)
    }
}

/// Reset this process's peak resident set size to its current size (Linux: `5` written to
/// `/proc/self/clear_refs`), so that [`peak_rss_bytes`] afterwards is the peak of what follows
/// (a stage of a longer run). False where the system does not support it; the peak then stays
/// the process's.
pub fn reset_peak_rss() -> bool {
    release_free_memory();
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// Hand the allocator's free pages back to the system (glibc `malloc_trim`), so that the resident
/// size — and a peak measured after [`reset_peak_rss`] — reflects what the process still holds
/// rather than what an earlier stage freed. A no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's `malloc_trim` takes a byte count, touches only the allocator's own free
        // lists (under its locks) and is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Let glibc's allocator keep freed memory for reuse instead of handing it back to the system at
/// once: blocks up to 32 MiB come from the heap (not a fresh `mmap` each), the heap's free top is
/// returned only past 2 GiB, and every thread allocates from one arena, so that a buffer one
/// thread frees is reused whichever thread allocates next (with an arena per thread the freed
/// memory of the others stayed resident: SmolLM2 at N = 256 peaked at 8.41 GB instead of 7.80).
/// The eNTK's forward + backward allocates and frees per-layer buffers of a few MiB per block;
/// under the defaults each was mapped afresh, faulted in page by page and unmapped (MiniLM,
/// N = 32: 390,000 page faults). [`release_free_memory`] still trims explicitly. Call it at the
/// start of `main`, before any thread exists. A no-op off glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: `mallopt` only sets the allocator's parameters (under its lock); values in range
        // (the mmap threshold's maximum is 32 MiB on 64-bit glibc) are accepted, others ignored.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
            mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// Parse a byte count: a number with an optional binary suffix `K`, `M`, `G` (KiB, MiB, GiB;
/// also `KiB`, `MB`, … — all binary).
///
/// # Errors
/// A message naming the text when it is not such a count.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}` is not a size like 512M or 3G")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size like 512M or 3G"))?;
    let bytes = value * scale;
    if !bytes.is_finite() || bytes > usize::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_sizes() {
        assert_eq!(vm_hwm("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t1 kB\n"), Some(2 << 20));
        assert_eq!(vm_hwm("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
            // After a reset the peak is what the process holds now, not its earlier high.
            let big = vec![1u8; 64 << 20];
            std::hint::black_box(&big);
            drop(big);
            if reset_peak_rss() {
                let after = peak_rss_bytes().unwrap();
                let status = std::fs::read_to_string("/proc/self/status").unwrap();
                let rss = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
                let rss: u64 = rss.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024;
                assert!(after <= rss + (8 << 20), "peak {after} after a reset, rss {rss}");
            }
        }
        assert_eq!(parse_bytes("3G"), Ok(3 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert!(parse_bytes("3X").is_err() && parse_bytes("G").is_err() && parse_bytes("").is_err());
        assert_eq!(format_bytes(1_234_000_000), "1.23 GB");
        assert_eq!(format_bytes(512_000_000), "512.0 MB");
    }
}
