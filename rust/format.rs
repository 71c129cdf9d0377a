// SPDX-License-Identifier: GPL-2.0

//! The on-disk format of the upper layer (Documentation/filesystems/union.rst, "On-disk
//! format"): which names, device numbers and extended attributes mean what, and how
//! their values are encoded.  Every other module reads and writes the format through the
//! items here.
//!
//! The format is a contract: an upper layer written by one version of the module is read
//! the same way by later ones, so nothing here may change a byte of what is on disks
//! already; a new record gets a new name.  Everything is representable on unmodified
//! tmpfs and ext4 and can be made by hand (`mknod`, `setfattr`), which the tests do, and
//! `selftests/tools/union-fsck.c` checks an upper layer against the same rules.
//!
//! # Markers
//!
//! Directory entries that are not objects are character devices with major number 0
//! ([`is_marker_dev`], [`classify`]); only their file type and device number mean
//! anything (not their permission bits, link count, inode number or times: fallthrus
//! may be hard links of one shared marker, and the union never changes a marker in
//! place, it replaces the name):
//!
//! - *whiteout*: 0/0 ([`WHITEOUT_DEV`]), as overlayfs and `renameat2(RENAME_WHITEOUT)`
//!   make them.  It hides the lower entry of the same name and is never visible itself.
//! - *fallthru*: 0/`d_type` ([`fallthru_dev`]), the `d_type` of the lower entry it stands
//!   for (`DT_FIFO` 1, `DT_CHR` 2, `DT_DIR` 4, `DT_BLK` 6, `DT_REG` 8, `DT_LNK` 10,
//!   `DT_SOCK` 12).  The lower entry of the same name shows through, even in an opaque
//!   directory, and readdir reports the minor number as its `d_type`; a fallthru whose
//!   lower entry is gone makes the name not exist.  Every minor number 1..=15
//!   ([`MAX_FALLTHRU_TYPE`]) reads as a fallthru of that type.
//! - 0/16 and above are neither (nor a real device: character major 0 is reserved): such
//!   an upper entry is an object like any other.
//!
//! Every marker on the *lower* layer (a flattened union as the lower layer) counts as
//! absent ([`is_lower_marker`]): its whiteouts hide the name, its fallthrus stand for a
//! layer the union does not have.  No user can make a marker through the union
//! (`mknod` of 0/0..0/15 fails with `EPERM`, `RENAME_WHITEOUT` is refused).
//!
//! The markers are made by `vfs::upper`: a hard link of the shared whiteout
//! ([`SHARED_WHITEOUT_NAME`], made by `UnionFs::shared_whiteout`; `UnionFs::create_whiteout`
//! falls back to `NewObject::Whiteout`, a `vfs_mknod` of `S_IFCHR`, device 0, where the
//! link fails, e.g. `EMLINK`) and `RENAME_WHITEOUT` (the kernel's `WHITEOUT_DEV`, 0/0) for
//! whiteouts; `create_chrdevs` for the fallthrus of a directory copy-up
//! (`copy_up::copy_up_dir_entries`), each a character device of mode 0 and device
//! [`fallthru_dev`] or a hard link of the shared marker of its type.  The shared markers
//! ([`shared_marker_name`]) are made with [`fallthru_dev`] by `UnionFs::shared_marker`.
//!
//! # Private xattrs
//!
//! All of them are in the `trusted.union.` namespace ([`PRIVATE_PREFIX`]), which users of
//! the union can neither see (`listxattr` omits them, `getxattr` fails with `ENODATA`)
//! nor set (`EPERM`), and which a copy-up never copies from a lower object:
//!
//! | xattr                      | on                                  | value                     |
//! |----------------------------|-------------------------------------|---------------------------|
//! | [`OPAQUE`]                 | directory                           | [`FLAG_SET`] (`y`)        |
//! | [`FALLTHRU`]               | directory                           | [`FLAG_SET`] (`y`)        |
//! | [`IMPURE`]                 | directory                           | [`FLAG_SET`] (`y`)        |
//! | [`METACOPY`]               | regular file (with an origin)       | [`FLAG_SET`] (`y`)        |
//! | [`ORIGIN`]                 | non-directory                       | [`encode_origin`]         |
//! | [`LOWER_LINKS`]            | indexed copy (regular file)         | [`encode_lower_links`]    |
//! | [`PROTATTR`]               | regular file or directory           | [`encode_protattr`]       |
//! | [`LOWER_ID`]               | upper root                          | [`LowerId`]               |
//!
//! A flag that is absent, or has any value but `y`, is unset ([`decode_flag`]).
//!
//! # Reserved names
//!
//! The work directory [`WORK_DIR_NAME`] in the upper root (mode 0700; the name is
//! reserved at the union root: never visible, nothing can be made or renamed there)
//! holds the shared fallthru markers ([`shared_marker_name`]) and the shared whiteout
//! ([`SHARED_WHITEOUT_NAME`]), the hard-link index
//! [`INDEX_DIR_NAME`] (mode 0700), whose entries are named by [`index_name`], and
//! objects being built, which are renamed into place (under temporary names `#<hex>`,
//! the module's own choice and no part of the format).  Anything else in it is a
//! leftover of an interrupted operation.  Everything in it but the index is removed at
//! a read-write mount, however deep (removing a shared marker leaves the fallthrus and
//! whiteouts linked to it).

use crate::vfs::{
    self,
    Dentry,
    Inode, //
};
use core::ffi::CStr;
use kernel::fmt;

/// Prefix of the union's private xattrs (`trusted.union.`).  Every name below is in it.
pub(crate) const PRIVATE_PREFIX: &[u8] = b"trusted.union.";

/// Whether the xattr name `name` is in the private namespace ([`PRIVATE_PREFIX`]).
pub(crate) fn is_private_xattr(name: &[u8]) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// Opaque directory ([`FLAG_SET`]): the entries of the lower directory of the same name
/// are hidden, except those named by a fallthru in it.
pub(crate) const OPAQUE: &CStr = c"trusted.union.opaque";

/// Directory fallthru ([`FLAG_SET`]): an upper directory that merges with the lower
/// directory of the same name even inside an opaque parent.  Every directory made by
/// copy-up carries it (it tells a directory copied up from lower, whose opaque flag came
/// from directory copy-up, from one users made over a removed name); without it, an
/// upper directory in an opaque parent is not merged.
pub(crate) const FALLTHRU: &CStr = c"trusted.union.fallthru";

/// Origin of a copied-up non-directory ([`encode_origin`]): the lower inode number, so
/// that the object keeps its inode number across remounts.  Not set on a copy of a lower
/// symlink or special file with several hard links (an object of its own).  The parent
/// directory of an entry with an origin is marked [`IMPURE`].
pub(crate) const ORIGIN: &CStr = c"trusted.union.origin";

/// "Holds entries with an origin" ([`FLAG_SET`]), on an upper directory where a copy-up,
/// rename, link or exchange put such an entry: readdir only reads origins there.
pub(crate) const IMPURE: &CStr = c"trusted.union.impure";

/// On an indexed copy (the upper file of a lower regular file with several hard links,
/// linked in the hard-link index, see [`index_name`]): how many names of the lower file
/// still show it from lower, i.e. have no upper entry of their own yet
/// ([`encode_lower_links`]).  The union reports `st_nlink` = upper links - 1 (the index
/// entry) + this number.  It is lowered only after a name got its link, so a crash
/// leaves it too high, never too low.
pub(crate) const LOWER_LINKS: &CStr = c"trusted.union.lowerlinks";

/// Metadata-only copy of a regular file ([`FLAG_SET`]; the file also has an
/// [`ORIGIN`]): the upper file has the lower file's size (as a hole), owner, mode, times
/// and xattrs but no data, which is read from the lower regular file of the same name
/// (which must still be the origin) until the first open for write or truncate; the
/// marker is removed once the data is on upper.  Such a file has one name only.
pub(crate) const METACOPY: &CStr = c"trusted.union.metacopy";

/// Protection flags of an upper regular file or directory ([`encode_protattr`]; the
/// format of overlayfs' `overlay.protattr`): the union object is append-only and/or
/// immutable.  Kept here and on the union inode, never on the upper inode itself.
pub(crate) const PROTATTR: &CStr = c"trusted.union.protattr";

/// On the upper root: the identity of the lower layer the upper layer was made against
/// ([`LowerId`]).  An upper root without it was made by an earlier version.
pub(crate) const LOWER_ID: &CStr = c"trusted.union.lower";

/// The value of a set flag xattr ([`OPAQUE`], [`FALLTHRU`], [`IMPURE`], [`METACOPY`]).
pub(crate) const FLAG_SET: &[u8] = b"y";

/// Whether the value `value` of a flag xattr sets the flag: exactly [`FLAG_SET`].
pub(crate) fn decode_flag(value: &[u8]) -> bool {
    value == FLAG_SET
}

/// Size of an [`ORIGIN`] value.
pub(crate) const ORIGIN_LEN: usize = 8;

/// The [`ORIGIN`] value for the lower inode number `ino`: 8 bytes, little endian.
pub(crate) fn encode_origin(ino: u64) -> [u8; ORIGIN_LEN] {
    ino.to_le_bytes()
}

/// The lower inode number an [`ORIGIN`] value records; `None` unless it is 8 bytes.
pub(crate) fn decode_origin(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.try_into().ok()?))
}

/// Size of a [`LOWER_LINKS`] value.
pub(crate) const LOWER_LINKS_LEN: usize = 4;

/// The [`LOWER_LINKS`] value for the count `n`: 4 bytes, little endian.
pub(crate) fn encode_lower_links(n: u32) -> [u8; LOWER_LINKS_LEN] {
    n.to_le_bytes()
}

/// The count a [`LOWER_LINKS`] value records; `None` unless it is 4 bytes.
pub(crate) fn decode_lower_links(value: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(value.try_into().ok()?))
}

/// A short encoded value or name: at most `N` bytes.
pub(crate) struct ShortBytes<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> ShortBytes<N> {
    /// An empty value.
    fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Appends `b`; the encoders below never exceed `N` bytes.
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The protection flags a [`PROTATTR`] record holds.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Protattr {
    /// Append-only (`a`, `chattr +a`).
    pub(crate) append: bool,
    /// Immutable (`i`, `chattr +i`).
    pub(crate) immutable: bool,
}

/// Letter of the append-only flag in a [`PROTATTR`] value.
const PROT_APPEND: u8 = b'a';
/// Letter of the immutable flag in a [`PROTATTR`] value.
const PROT_IMMUTABLE: u8 = b'i';

/// The [`PROTATTR`] value for `prot`: the letters of its flags, `a` before `i` (`a`, `i`
/// or `ai`).  Empty if it has none: then there is no record (the xattr is removed).
pub(crate) fn encode_protattr(prot: Protattr) -> ShortBytes<2> {
    let mut v = ShortBytes::new();
    if prot.append {
        v.push(PROT_APPEND);
    }
    if prot.immutable {
        v.push(PROT_IMMUTABLE);
    }
    v
}

/// The flags a [`PROTATTR`] value records: a set of the letters `a` and `i`, in any
/// order (empty: none).  `None` if it holds any other byte (a malformed record, which
/// reads as no flags).
pub(crate) fn decode_protattr(value: &[u8]) -> Option<Protattr> {
    let mut prot = Protattr::default();
    for &c in value {
        match c {
            PROT_APPEND => prot.append = true,
            PROT_IMMUTABLE => prot.immutable = true,
            _ => return None,
        }
    }
    Some(prot)
}

/// The identity of a lower layer, as [`LOWER_ID`] records it: one line of text (no
/// newline, no NUL) starting with the version `v1` and the lower filesystem's type name,
/// written by its [`fmt::Display`].  The union only compares it byte for byte with the
/// identity of the lower layer it is mounted with, so every field and its formatting is
/// part of the format: a change would make every existing upper layer fail to mount
/// (`ESTALE`).
pub(crate) enum LowerId<'a> {
    /// A lower filesystem with a UUID (ext4, xfs, btrfs, erofs; tmpfs makes a new one at
    /// each mount): `v1 <type> uuid=<32 lowercase hex digits> root=<ino>`, the UUID's
    /// bytes in order.
    Uuid {
        /// Filesystem type name (`ext4`).
        fstype: &'a str,
        /// The filesystem's UUID.
        uuid: [u8; 16],
        /// Inode number of the lower directory, in decimal.
        root: u64,
    },
    /// A lower filesystem without a UUID (squashfs): a fingerprint of the image,
    /// `v1 <type> blocks=<n> files=<n> bsize=<n> root=<ino> mtime=<s>.<9 digits ns>
    /// top=<16 lowercase hex digits>`, decimal numbers but `top`.
    Image {
        /// Filesystem type name (`squashfs`).
        fstype: &'a str,
        /// `statfs` `f_blocks`.
        blocks: u64,
        /// `statfs` `f_files`.
        files: u64,
        /// `statfs` `f_bsize`.
        bsize: isize,
        /// Inode number of the lower directory.
        root: u64,
        /// Seconds of the lower directory's mtime.
        mtime_sec: i64,
        /// Nanoseconds of the lower directory's mtime (printed as 9 digits).
        mtime_nsec: isize,
        /// Digest of the lower directory's entries ([`top_digest_add`]).
        top: u64,
    },
}

impl fmt::Display for LowerId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uuid { fstype, uuid, root } => {
                write!(f, "v1 {fstype} uuid=")?;
                for b in uuid {
                    write!(f, "{b:02x}")?;
                }
                write!(f, " root={root}")
            }
            Self::Image {
                fstype,
                blocks,
                files,
                bsize,
                root,
                mtime_sec,
                mtime_nsec,
                top,
            } => write!(
                f,
                "v1 {fstype} blocks={blocks} files={files} bsize={bsize} root={root} mtime={mtime_sec}.{mtime_nsec:09} top={top:016x}"
            ),
        }
    }
}

/// The digest ([`LowerId::Image`]'s `top`) of a lower directory without entries: the
/// FNV-1a (64 bits) offset basis.
pub(crate) const TOP_DIGEST_INIT: u64 = 0xcbf29ce484222325;

/// Adds one entry of the lower directory to the digest `h` (FNV-1a, 64 bits): its name,
/// a 0 byte, its inode number (8 bytes, little endian), the seconds (8 bytes) and
/// nanoseconds (the kernel's `long`: 8 bytes on 64-bit) of its mtime, little endian; an
/// entry that cannot be looked up counts with inode number and mtime 0.  The entries are
/// added in byte order of their names.
pub(crate) fn top_digest_add(
    h: u64,
    name: &[u8],
    ino: u64,
    mtime_sec: i64,
    mtime_nsec: isize,
) -> u64 {
    fn mix(h: u64, bytes: &[u8]) -> u64 {
        bytes
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
    }
    let h = mix(h, name);
    let h = mix(h, &[0]);
    let h = mix(h, &ino.to_le_bytes());
    let h = mix(h, &mtime_sec.to_le_bytes());
    mix(h, &mtime_nsec.to_le_bytes())
}

/// Name of the private work directory in the upper root.  The name is reserved at the
/// union root: it is never visible through the union and nothing can be made there.
pub(crate) const WORK_DIR_NAME: &[u8] = b".union-work";

/// Name of the hard-link index in the work directory (`.union-work/index`).
pub(crate) const INDEX_DIR_NAME: &[u8] = b"index";

/// The name in the hard-link index of the copy of the lower file with inode number
/// `ino`: the number in 16 lowercase hex digits (`000000000000002a`).  The entry is a
/// hard link of the indexed copy, whose [`ORIGIN`] is that same number.
pub(crate) fn index_name(ino: u64) -> [u8; 16] {
    let mut name = [0u8; 16];
    for (i, c) in name.iter_mut().enumerate() {
        let nibble = (ino >> (60 - 4 * i)) & 0xf;
        *c = b"0123456789abcdef"[nibble as usize];
    }
    name
}

/// The name of the shared fallthru marker of type `t` in the work directory:
/// `fallthru.<t>`, `t` in decimal (`fallthru.1` .. `fallthru.15`).  It is a fallthru
/// (0/`t`) that directory copy-up links its fallthrus of that type to, made at the first
/// directory copy-up that needs one; it stays after unmount, like overlayfs' shared
/// whiteout, until the next read-write mount empties the work directory.
pub(crate) fn shared_marker_name(t: u8) -> ShortBytes<12> {
    let mut name = ShortBytes::new();
    for &c in b"fallthru." {
        name.push(c);
    }
    if t >= 100 {
        name.push(b'0' + t / 100);
    }
    if t >= 10 {
        name.push(b'0' + t / 10 % 10);
    }
    name.push(b'0' + t % 10);
    name
}

/// The name of the shared whiteout in the work directory, `whiteout` (as overlayfs names
/// its own): a whiteout (0/0) that the union's whiteouts are hard links of where the
/// upper filesystem can link it; like the shared fallthru markers it stays after unmount
/// until the next read-write mount empties the work directory.
pub(crate) const SHARED_WHITEOUT_NAME: &[u8] = b"whiteout";

/// Device number of a whiteout (a character device 0/0).
pub(crate) const WHITEOUT_DEV: u32 = 0;

/// The largest fallthru type: the minor numbers 1..=15 are fallthrus.
pub(crate) const MAX_FALLTHRU_TYPE: u8 = 15;

/// Device number of a fallthru standing for a lower entry of type `d_type` (a character
/// device 0/`d_type`; the kernel's `dev_t` is `major << 20 | minor`).
pub(crate) fn fallthru_dev(d_type: u8) -> u32 {
    u32::from(d_type)
}

/// Whether an inode of mode `mode` and device number `rdev` is a marker: a character
/// device 0/0..0/15.
pub(crate) fn is_marker_dev(mode: u32, rdev: u32) -> bool {
    mode & vfs::S_IFMT == vfs::S_IFCHR
        && vfs::dev_major(rdev) == 0
        && vfs::dev_minor(rdev) <= u32::from(MAX_FALLTHRU_TYPE)
}

/// What an upper directory entry is, in the union's on-disk format.
pub(crate) enum UpperKind {
    /// Char device 0/0.
    Whiteout,
    /// Char device 0/`d_type`: the lower entry of the same name shows through.
    Fallthru(u8),
    /// Anything else: a real object.
    Object,
}

/// Classifies an inode of mode `mode` and device number `rdev` (see [`UpperKind`]).
pub(crate) fn classify(mode: u32, rdev: u32) -> UpperKind {
    if !is_marker_dev(mode, rdev) {
        UpperKind::Object
    } else if rdev == WHITEOUT_DEV {
        UpperKind::Whiteout
    } else {
        u8::try_from(vfs::dev_minor(rdev)).map_or(UpperKind::Object, UpperKind::Fallthru)
    }
}

/// Classifies a positive upper dentry.
pub(crate) fn classify_upper(d: &Dentry) -> UpperKind {
    if d.is_whiteout() {
        return UpperKind::Whiteout;
    }
    match d.inode() {
        Some(i) => classify_upper_inode(i),
        None => UpperKind::Object,
    }
}

/// Classifies an upper inode (see [`classify_upper`]).
pub(crate) fn classify_upper_inode(i: &Inode) -> UpperKind {
    classify(i.mode(), i.rdev())
}

/// Whether a positive *lower* dentry is one of the format's markers (a character device
/// 0/0..0/15).  A lower layer may be a flattened union: its whiteouts hide the name, and its
/// fallthrus stand for entries of a layer below it that the union does not have, so every
/// marker on lower counts as absent (never as an object that could be copied up and then
/// read back as a marker).
pub(crate) fn is_lower_marker(d: &Dentry) -> bool {
    d.inode().is_some() && !matches!(classify_upper(d), UpperKind::Object)
}
