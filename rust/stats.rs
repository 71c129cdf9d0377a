// SPDX-License-Identifier: GPL-2.0

//! Counters of what the module did and holds, over all its mounts, shown in
//! `/proc/fs/union/stats` (one `name value` line each; union.rst, "Statistics"): for
//! benchmarks and for users who want to know what a workload cost the upper layer.

use crate::vfs::proc::{
    ProcFile,
    ProcShow, //
};
use kernel::{
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// One counter.
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    /// Objects copied up (a name that got its upper object: files, directories, links...).
    CopyUps,
    /// Data copies of regular files (a metadata-only copy-up copies none).
    DataCopies,
    /// Bytes of file data copied up.
    DataBytes,
    /// Directory copy-ups of readdir (fallthrus written, directory marked opaque).
    DirCopyUps,
    /// Fallthrus written by those.
    Fallthrus,
    /// Translated readdir listings held in directory inodes now.
    Listings,
    /// Bytes those listings hold now.
    ListingBytes,
}

const NAMES: [&str; 7] = [
    "copy_ups",
    "data_copies",
    "data_bytes",
    "dir_copy_ups",
    "fallthrus",
    "listings",
    "listing_bytes",
];

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Atomic<i64> = Atomic::new(0);
static COUNTERS: [Atomic<i64>; NAMES.len()] = [ZERO; NAMES.len()];

/// Adds `n` (may be negative) to `s`.
pub(crate) fn add(s: Stat, n: i64) {
    COUNTERS[s as usize].add(n, Relaxed);
}

/// Converts a size to a counter delta (sizes of memory and files fit in an `i64`).
pub(crate) fn bytes(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The contents of `/proc/fs/union/stats`.
pub(crate) struct Stats;

impl ProcShow for Stats {
    fn show(m: &SeqFile) {
        for (name, c) in NAMES.iter().zip(COUNTERS.iter()) {
            seq_print!(m, "{} {}\n", name, c.load(Relaxed));
        }
    }
}

/// Makes `/proc/fs/union/stats` (removed when the returned file drops).
pub(crate) fn register() -> Result<ProcFile<Stats>> {
    ProcFile::new(c"fs/union", c"stats")
}
