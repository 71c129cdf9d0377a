// SPDX-License-Identifier: GPL-2.0

//! union: a union mount filesystem (writable overlay) for Linux.
//!
//! `mount -t union -o lower=/ro,upper=/rw none /mnt` shows one merged tree: names on the
//! read-write upper layer cover the same names on the read-only lower layer.  The semantics
//! follow the 2010 "writable overlays" (union mounts) design; the on-disk format and the
//! rules are in `Documentation/filesystems/union.rst`.
//!
//! Layout, one file per VFS concern as in overlayfs:
//! - [`vfs`]: the only module with `unsafe` code: wrappers over raw bindings, and the C
//!   vtables built from its traits; it knows kernel objects only, the modules below use it
//!   (each of them is `#[forbid(unsafe_code)]`, so the compiler holds that line).
//! - [`format`]: the on-disk format of the upper layer: markers, private xattrs and their
//!   values, reserved names.
//! - [`params`]: mount options and their validation.
//! - [`persist`]: the lower layer an upper layer was made against, and the re-merge.
//! - [`superblock`]: the per-mount state, statfs, show_options.
//! - [`namei`]: lookup across the layers (whiteouts, opaque dirs, fallthrus).
//! - [`inode`]: union inodes, inode numbers, getattr, symlinks.
//! - [`readdir`]: the merged directory listing.
//! - [`file`]: regular files, passed through to the real file.
//! - [`fileattr`]: file attributes (chattr flags), the protection flags kept in an xattr.
//! - [`xattr`]: extended attributes, hiding the private `trusted.union.*` namespace.
//! - [`dir`], [`copy_up`], [`acl`]: namespace changes, copy-up, POSIX ACLs.
//! - [`stats`]: counters in `/proc/fs/union/stats`.

use kernel::prelude::*;

#[forbid(unsafe_code)]
mod acl;
#[forbid(unsafe_code)]
mod copy_up;
#[forbid(unsafe_code)]
mod dir;
#[forbid(unsafe_code)]
mod file;
#[forbid(unsafe_code)]
mod fileattr;
#[forbid(unsafe_code)]
mod format;
#[forbid(unsafe_code)]
mod inode;
#[forbid(unsafe_code)]
mod namei;
#[forbid(unsafe_code)]
mod params;
#[forbid(unsafe_code)]
mod persist;
#[forbid(unsafe_code)]
mod readdir;
#[forbid(unsafe_code)]
mod stats;
#[forbid(unsafe_code)]
mod superblock;
mod vfs;
#[forbid(unsafe_code)]
mod xattr;

module! {
    type: UnionModule,
    name: "union",
    authors: ["The union developers"],
    description: "Union mount filesystem: a writable layer over a read-only one",
    license: "GPL",
}

struct UnionModule {
    _registration: vfs::Registration<superblock::Union>,
    _stats: Option<vfs::proc::ProcFile<stats::Stats>>,
}

impl Drop for UnionModule {
    fn drop(&mut self) {
        // The module is being removed, so no union is mounted (each holds a module
        // reference) and none can be (the module is going): the registry is empty and
        // only its buffer is left to free.  The filesystem is unregistered after this,
        // when the fields drop.
        superblock::exit_registry();
    }
}

impl kernel::Module for UnionModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        superblock::init_registry();
        // The counters are for benchmarks and curious users: the filesystem works
        // without them.
        let stats = stats::register()
            .inspect_err(|e| pr_warn!("cannot make /proc/fs/union/stats ({:?})\n", e))
            .ok();
        let registration = vfs::Registration::new(module)?;
        Ok(Self {
            _registration: registration,
            _stats: stats,
        })
    }
}
