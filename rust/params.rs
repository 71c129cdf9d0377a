// SPDX-License-Identifier: GPL-2.0

//! Mount options: `lower=DIR` and `upper=DIR`.
//!
//! Paths are resolved when the option is given (relative to the caller's working
//! directory and root, following symlinks), so errors point at the option that caused
//! them.  Each error is reported with an errno and a one-line message in the fs_context
//! log and the kernel log.

use crate::{
    superblock::UnionContext as FsContext,
    vfs::{
        self,
        FsParam,
        Path, //
    },
};
use core::ffi::CStr;
use kernel::{
    prelude::*,
    str::{
        BStr,
        CString, //
    },
};

/// One layer given as a mount option.
pub(crate) struct LayerSpec {
    /// The resolved directory (a reference to the user's mount and dentry).
    pub(crate) path: Path,
    /// The absolute path as shown in /proc/mounts.
    pub(crate) name: CString,
}

/// Options collected by `fsconfig`/`mount` before the superblock is made.
#[derive(Default)]
pub(crate) struct MountConfig {
    /// `lower=`.
    pub(crate) lower: Option<LayerSpec>,
    /// `upper=`.
    pub(crate) upper: Option<LayerSpec>,
    /// `remerge`: merge an upper layer made against another lower layer with this one.
    pub(crate) remerge: bool,
}

/// Reports `err` with a formatted message in the fs_context log and kernel log.
pub(crate) fn report(fc: &FsContext, err: Error, args: core::fmt::Arguments<'_>) -> Error {
    match vfs::cstring_fmt(args) {
        Ok(msg) => fc.error(&msg),
        Err(_) => fc.error(c"out of memory formatting an error message"),
    }
    err
}

/// Which layer an option names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Lower,
    Upper,
}

impl Which {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Which::Lower => "lower",
            Which::Upper => "upper",
        }
    }
}

/// `fs_parse` result for `lower=`.
const OPT_LOWER: u8 = 0;
/// `fs_parse` result for `upper=`.
const OPT_UPPER: u8 = 1;
/// `fs_parse` result for `remerge`.
const OPT_REMERGE: u8 = 2;

/// The mount parameters.
pub(crate) const PARAMS: &[FsParam] = &[
    FsParam::string(c"lower", OPT_LOWER),
    FsParam::string(c"upper", OPT_UPPER),
    FsParam::flag(c"remerge", OPT_REMERGE),
    FsParam::END,
];

/// Handles one parameter already matched by `fs_parse`.
pub(crate) fn parse_param(
    fc: &FsContext,
    config: &mut MountConfig,
    opt: u8,
    _key: &CStr,
    value: Option<&CStr>,
) -> Result {
    if opt == OPT_REMERGE {
        if fc.is_reconfigure() {
            return Err(report(
                fc,
                EINVAL,
                fmt!("remerge applies when mounting, not to a remount"),
            ));
        }
        config.remerge = true;
        return Ok(());
    }
    let which = match opt {
        OPT_LOWER => Which::Lower,
        OPT_UPPER => Which::Upper,
        _ => return Err(EINVAL),
    };
    let k = which.key();
    let value = value.ok_or_else(|| report(fc, EINVAL, fmt!("{k}= needs a path")))?;
    if fc.is_reconfigure() {
        return check_unchanged(fc, which, value);
    }
    let slot = match which {
        Which::Lower => &mut config.lower,
        Which::Upper => &mut config.upper,
    };
    if slot.is_some() {
        return Err(report(fc, EINVAL, fmt!("{k}= given more than once")));
    }
    let shown = BStr::from_bytes(value.to_bytes());
    let path = Path::lookup_dir(value).map_err(|e| {
        if e == ENOTDIR {
            report(fc, e, fmt!("{k}={shown} is not a directory"))
        } else {
            report(
                fc,
                e,
                fmt!("failed to resolve {k}={shown} (error {})", e.to_errno()),
            )
        }
    })?;
    let name = path.to_cstring().map_err(|e| {
        report(
            fc,
            e,
            fmt!("{k}={shown}: cannot name the path (error {})", e.to_errno()),
        )
    })?;
    *slot = Some(LayerSpec { path, name });
    Ok(())
}

/// A layer option given again on remount.  mount(8) passes back what /proc/mounts shows;
/// that, or another name of the same directory, is accepted (the paths need not resolve
/// any more: after pivot_root they usually do not); anything else is refused.
fn check_unchanged(fc: &FsContext, which: Which, value: &CStr) -> Result {
    let fs = fc.reconfigured().ok_or(EINVAL)?;
    let layer = fs.layer(which);
    if value.to_bytes() == layer.name().to_bytes() {
        return Ok(());
    }
    match Path::lookup_dir(value) {
        Ok(p) if layer.is_same_dir(p.dentry()) => Ok(()),
        _ => {
            let k = which.key();
            Err(report(
                fc,
                EINVAL,
                fmt!("cannot change {k}= of a mounted union"),
            ))
        }
    }
}
