// SPDX-License-Identifier: GPL-2.0

//! Regular files: opening a union file opens the real file (upper if it exists, else
//! lower) as a backing file, and all I/O goes straight to it (see `vfs::ops`).

use crate::vfs::{
    self,
    Inode, //
};
use kernel::{
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// The real file behind an open union file (`private_data`).
pub(crate) struct RealFile {
    file: ARef<File>,
}

impl RealFile {
    /// The real file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

/// `open` of a union regular file.
pub(crate) fn open(inode: &Inode, user_file: &File) -> Result<KBox<RealFile>> {
    let fs = inode.sb().union_fs();
    let (real, which) = inode.union_info().real();
    let file = vfs::open_backing(
        user_file,
        user_file.flags(),
        fs.layer(which).mnt(),
        real,
        fs.creator_cred(),
    )?;
    Ok(KBox::new(RealFile { file }, GFP_KERNEL)?)
}
