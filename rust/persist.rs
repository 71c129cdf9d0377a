// SPDX-License-Identifier: GPL-2.0

//! Persistence across a new lower layer (Documentation/filesystems/union.rst, "A new
//! lower layer").
//!
//! The upper root records which lower layer the upper layer was made against
//! (`trusted.union.lower`): the lower filesystem's UUID and the lower directory's inode
//! number where the filesystem has a UUID (ext4, erofs, xfs, btrfs, tmpfs), else a
//! fingerprint of the image (squashfs: its size and inode count, the root's inode number
//! and mtime).  A mount over another lower layer fails (`ESTALE`) unless `-o remerge`
//! asks for a re-merge, which brings the upper layer back to a state where the new lower
//! layer's entries show:
//!
//! - opaque flags that came from directory copy-up (the upper root's, and those of
//!   directories carrying the directory fallthru marker, which every copied-up directory
//!   has) are dropped, with the fallthrus in those directories: the next readdir copies
//!   the directory up again against the new lower one.  Opaque flags of directories
//!   users made over a removed name (`rmdir` + `mkdir`) stay, as do whiteouts.
//! - a metadata-only copy gets the new lower file of its name as its data (its origin
//!   and size follow it); one whose lower file is gone, or no longer a regular file, is
//!   removed (its data went with the old image), so the name shows what lower has now.
//! - origins of full copies are dropped: they name inodes of the old image.
//!
//! An upper layer of a version that did not record its lower layer is taken as made
//! against the lower layer it is mounted with (and recorded then), unless `remerge`.

use crate::{
    format::{
        self,
        UpperKind, //
    },
    superblock::Layer,
    vfs::{
        self,
        upper,
        CredGuard,
        Dentry, //
    },
    xattr,
};
use kernel::{
    cred::Credential,
    prelude::*,
    str::CString,
    sync::aref::ARef, //
};

/// The identity of the lower layer `lower` (see the module documentation).
pub(crate) fn identity(lower: &Layer, cred: &Credential) -> Result<CString> {
    let root = lower.root();
    let sb = root.sb();
    let fstype = sb.type_name().to_str().unwrap_or("?");
    let mut st = vfs::Kstat::default();
    vfs::getattr_real(lower.mnt(), root, &mut st, vfs::STATX_BASIC, 0)?;
    let id = match sb.uuid() {
        Some(uuid) => format::LowerId::Uuid {
            fstype,
            uuid,
            root: st.ino,
        },
        None => {
            let (blocks, files, bsize) = vfs::statfs_counts(lower.mnt())?;
            format::LowerId::Image {
                fstype,
                blocks,
                files,
                bsize,
                root: st.ino,
                mtime_sec: st.mtime.tv_sec,
                mtime_nsec: st.mtime.tv_nsec,
                top: top_level_digest(lower, cred)?,
            }
        }
    };
    vfs::cstring_fmt(fmt!("{id}"))
}

/// A digest (`format::top_digest_add`) of the lower root's entries: name, inode number
/// and mtime of each, so that two images of one size and inode count still differ once
/// anything below the root changed (a package install changes `/usr`, `/etc` or `/var`).
fn top_level_digest(lower: &Layer, cred: &Credential) -> Result<u64> {
    let mut entries = vfs::dir_entries(lower.mnt(), lower.root(), cred)?;
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut h = format::TOP_DIGEST_INIT;
    for (name, _) in entries.iter() {
        let child = vfs::lookup_real(lower.mnt(), lower.root(), name)?;
        let mut st = vfs::Kstat::default();
        if child.inode().is_some() {
            vfs::getattr_real(lower.mnt(), &child, &mut st, vfs::STATX_BASIC, 0)?;
        }
        h = format::top_digest_add(h, name, st.ino, st.mtime.tv_sec, st.mtime.tv_nsec);
    }
    Ok(h)
}

/// What a mount finds recorded on the upper root.
pub(crate) enum Recorded {
    /// The lower layer is the one the upper layer was made against.
    Same,
    /// Nothing recorded (a new upper layer, or one of an earlier version).
    None,
    /// Another lower layer (its recorded identity).
    Other(KVec<u8>),
}

/// Compares the lower identity `id` with the one recorded on the upper root.
pub(crate) fn recorded(upper: &Layer, cred: &Credential, id: &CString) -> Result<Recorded> {
    let _creds = CredGuard::new(cred);
    let mut buf = [0u8; 256];
    match vfs::getxattr_real(upper.mnt(), upper.root(), format::LOWER_ID, &mut buf) {
        Ok(n) if &buf[..n] == id.to_bytes() => Ok(Recorded::Same),
        Ok(n) => {
            let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
            v.extend_from_slice(&buf[..n], GFP_KERNEL)?;
            Ok(Recorded::Other(v))
        }
        Err(e) if e == ERANGE => {
            let mut v = KVec::new();
            v.extend_from_slice(b"(unreadable)", GFP_KERNEL)?;
            Ok(Recorded::Other(v))
        }
        Err(e) if e == ENODATA || e == EOPNOTSUPP => Ok(Recorded::None),
        Err(e) => Err(e),
    }
}

/// Records `id` as the lower layer of the upper layer.
pub(crate) fn record(upper: &Layer, cred: &Credential, id: &CString) -> Result {
    let _creds = CredGuard::new(cred);
    upper::setxattr(
        upper.mnt(),
        upper.root(),
        format::LOWER_ID,
        id.to_bytes(),
        0,
    )
}

/// What a re-merge changed.
#[derive(Default)]
pub(crate) struct Remerged {
    /// Directories whose opaque flag from directory copy-up was dropped.
    pub(crate) dirs: usize,
    /// Metadata-only copies given the new lower file's data.
    pub(crate) metacopies: usize,
    /// Metadata-only copies removed (no lower file any more).
    pub(crate) removed: usize,
}

/// Reads a one-byte `y` flag of an upper object.
fn flag(upper: &Layer, d: &Dentry, name: &CStr) -> Result<bool> {
    xattr::flag_on(upper.mnt(), d, name)
}

/// Removes an xattr that may be absent.
fn drop_xattr(upper: &Layer, d: &Dentry, name: &CStr) -> Result {
    match upper::removexattr(upper.mnt(), d, name) {
        Err(e) if e == ENODATA => Ok(()),
        r => r,
    }
}

/// The lower object `name` in the lower directory `lodir`, if there is one (markers of a
/// flattened union count as none).
fn lower_child(lower: &Layer, lodir: Option<&Dentry>, name: &[u8]) -> Result<Option<ARef<Dentry>>> {
    let Some(lodir) = lodir else {
        return Ok(None);
    };
    let l = vfs::lookup_real(lower.mnt(), lodir, name)?;
    Ok((l.inode().is_some() && !format::is_lower_marker(&l)).then_some(l))
}

/// Gives the metadata-only copy `child` the data of the new lower file `lo`: its size;
/// setuid/setgid only where `lo` has them too, and `lo`'s file capabilities (the new data
/// under the old file's privileges would be a setuid or capable program the new image
/// does not ship); the times it had (the size change would set them to now).
fn repoint(upper: &Layer, lower: &Layer, child: &Dentry, lo: &Dentry) -> Result {
    const PRIV: u32 = 0o6000;
    let mnt = upper.mnt();
    let mut st = vfs::Kstat::default();
    vfs::getattr_real(mnt, child, &mut st, vfs::STATX_BASIC, 0)?;
    let lmode = lo.inode().ok_or(EIO)?.mode();
    upper::set_size(mnt, child, 0)?;
    upper::set_size(mnt, child, upper::size_of(lo))?;
    let mode = u32::from(st.mode) & 0o7777;
    let attr = upper::SetAttr {
        mode: Some((mode & !PRIV) | (mode & lmode & PRIV)),
        atime: Some((st.atime.tv_sec, st.atime.tv_nsec as i64)),
        mtime: Some((st.mtime.tv_sec, st.mtime.tv_nsec as i64)),
        ..Default::default()
    };
    upper::setattr(mnt, child, &attr)?;
    let mut cap = [0u8; 64];
    match vfs::getxattr_real(lower.mnt(), lo, xattr::CAPABILITY, &mut cap) {
        Ok(n) => upper::setxattr(mnt, child, xattr::CAPABILITY, &cap[..n], 0),
        Err(e) if e == ENODATA || e == EOPNOTSUPP => {
            match drop_xattr(upper, child, xattr::CAPABILITY) {
                Err(e) if e == EOPNOTSUPP => Ok(()),
                r => r,
            }
        }
        Err(e) => Err(e),
    }
}

/// Re-merges the upper layer with the lower layer (see the module documentation).
pub(crate) fn remerge(upper: &Layer, lower: &Layer, cred: &Credential) -> Result<Remerged> {
    let _creds = CredGuard::new(cred);
    let mut done = Remerged::default();
    // Directories to visit: the upper directory, the lower directory it merges with.
    let mut stack: KVVec<(ARef<Dentry>, Option<ARef<Dentry>>, bool)> = KVVec::new();
    stack.push(
        (upper.root().into(), Some(lower.root().into()), true),
        GFP_KERNEL,
    )?;
    while let Some((udir, lodir, is_root)) = stack.pop() {
        let from_copy_up = is_root || flag(upper, &udir, format::FALLTHRU)?;
        let mut opaque = flag(upper, &udir, format::OPAQUE)?;
        let unopaqued = opaque && from_copy_up;
        if unopaqued {
            drop_xattr(upper, &udir, format::OPAQUE)?;
            opaque = false;
            done.dirs += 1;
        }
        for (name, _) in vfs::dir_entries(upper.mnt(), &udir, cred)? {
            if is_root && name == format::WORK_DIR_NAME {
                continue;
            }
            let child = vfs::lookup_real(upper.mnt(), &udir, &name)?;
            let Some(ci) = child.inode() else {
                continue;
            };
            let mode = ci.mode() & vfs::S_IFMT;
            match format::classify_upper(&child) {
                UpperKind::Whiteout => continue,
                UpperKind::Fallthru(_) => {
                    if from_copy_up {
                        // Redundant in a merged directory; the next readdir writes the
                        // fallthrus of the new lower directory.  Also where the opaque
                        // flag is already gone: a re-merge interrupted after dropping
                        // it, run again (a fallthru would keep an entry's old type).
                        upper::remove(upper.mnt(), &udir, &child, false)?;
                    }
                    continue;
                }
                UpperKind::Object => {}
            }
            if mode == vfs::S_IFDIR {
                // namei's rule: merged if the parent is merged and not opaque, or if the
                // directory carries the directory fallthru marker.
                let merges = lodir.is_some() && (!opaque || flag(upper, &child, format::FALLTHRU)?);
                let clo = if merges {
                    lower_child(lower, lodir.as_deref(), &name)?
                        .filter(|l| l.inode().is_some_and(|i| i.is_dir()))
                } else {
                    None
                };
                stack.push((child, clo, false), GFP_KERNEL)?;
                continue;
            }
            if mode == vfs::S_IFREG && flag(upper, &child, format::METACOPY)? {
                let lo = if opaque {
                    None
                } else {
                    lower_child(lower, lodir.as_deref(), &name)?
                };
                match lo.as_ref().and_then(|l| l.inode()) {
                    // (Not a name still linked with a metadata-only indexed copy's
                    // index entry -- an unlink interrupted between the copy and its
                    // whiteout: its data was the old layer's file of several links.)
                    Some(li)
                        if li.mode() & vfs::S_IFMT == vfs::S_IFREG
                            && vfs::nlink_of(li) == 1
                            && vfs::nlink_of(ci) == 1 =>
                    {
                        let ino = li.ino();
                        xattr::set_origin(upper.mnt(), &child, ino)?;
                        repoint(upper, lower, &child, lo.as_deref().ok_or(EIO)?)?;
                        // A name that lost its index entry (see the guard): a
                        // metadata-only copy of its own now, of the new lower file.
                        drop_xattr(upper, &child, format::LOWER_LINKS)?;
                        done.metacopies += 1;
                    }
                    _ => {
                        upper::remove(upper.mnt(), &udir, &child, false)?;
                        done.removed += 1;
                    }
                }
                continue;
            }
            drop_xattr(upper, &child, format::ORIGIN)?;
            // An indexed copy of a file of the old lower layer: now a file of upper's own
            // (its names on upper stay hard links of each other).
            drop_xattr(upper, &child, format::LOWER_LINKS)?;
        }
    }
    // The hard-link index is keyed by inode numbers of the old lower layer.
    if let Some(index) = crate::superblock::find_index_dir(upper, cred)? {
        crate::copy_up::remove_tree_with(upper.mnt(), &index, cred, 1)?;
    }
    Ok(done)
}
