// SPDX-License-Identifier: GPL-2.0
/*
 * C shim for the union module.  Only static inline helpers, macros and
 * constant tables that Rust cannot reach through bindings live here; the
 * filesystem logic is in Rust.
 */
#include "shim.h"

const struct fs_parameter_spec union_fs_parameters[] = {
	fsparam_string("lower", UNION_OPT_LOWER),
	fsparam_string("upper", UNION_OPT_UPPER),
	{}
};

int union_fs_parse(struct fs_context *fc, struct fs_parameter *param,
		   struct fs_parse_result *result)
{
	return fs_parse(fc, union_fs_parameters, param, result);
}

/*
 * Log an error to the fs_context log (read by util-linux and fsopen users)
 * and to the kernel log.  logfc() itself prints to the kernel log only when
 * there is no fs_context log.
 */
void union_fc_error(struct fs_context *fc, const char *msg)
{
	errorfc(fc, "%s", msg);
	if (fc->log.log)
		pr_err("union: %s\n", msg);
}

void *union_fc_fs_private(struct fs_context *fc)
{
	return fc->fs_private;
}

void union_fc_set_fs_private(struct fs_context *fc, void *p)
{
	fc->fs_private = p;
}

void union_fc_set_ops(struct fs_context *fc, const struct fs_context_operations *ops)
{
	fc->ops = ops;
}

unsigned int union_fc_purpose_is_reconfigure(struct fs_context *fc)
{
	return fc->purpose == FS_CONTEXT_FOR_RECONFIGURE;
}

/* sync_filesystem() of another superblock (the upper layer's) needs its s_umount. */
int union_sync_sb(struct super_block *sb)
{
	int ret;

	down_read(&sb->s_umount);
	ret = sync_filesystem(sb);
	up_read(&sb->s_umount);
	return ret;
}

struct super_block *union_fc_root_sb(struct fs_context *fc)
{
	return fc->root ? fc->root->d_sb : NULL;
}

const char *union_param_string(const struct fs_parameter *param)
{
	return param->type == fs_value_is_string ? param->string : NULL;
}

const char *union_param_key(const struct fs_parameter *param)
{
	return param->key;
}

int union_get_tree_nodev(struct fs_context *fc,
			 int (*fill_super)(struct super_block *, struct fs_context *))
{
	return get_tree_nodev(fc, fill_super);
}

struct dentry *union_dget(struct dentry *dentry)
{
	return dget(dentry);
}

struct mnt_idmap *union_mnt_idmap(const struct vfsmount *mnt)
{
	return mnt_idmap(mnt);
}

const struct cred *union_override_creds(const struct cred *cred)
{
	return override_creds(cred);
}

void union_revert_creds(const struct cred *old)
{
	revert_creds(old);
}

const struct cred *union_current_cred(void)
{
	return current_cred();
}

void union_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void union_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

void union_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void union_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

loff_t union_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

bool union_dir_emit(struct dir_context *ctx, const char *name, int namelen,
		    u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, namelen, ino, type);
}

int union_seq_show_option(struct seq_file *m, const char *name, const char *value)
{
	seq_show_option(m, name, value);
	return 0;
}

struct dentry *union_lookup_one_unlocked(struct mnt_idmap *idmap,
					 const unsigned char *name, unsigned int len,
					 struct dentry *base)
{
	return lookup_one_unlocked(idmap, &QSTR_LEN(name, len), base);
}

void union_inode_set_nlink(struct inode *inode, unsigned int nlink)
{
	set_nlink(inode, nlink);
}

u64 union_inode_ino(const struct inode *inode)
{
	return inode->i_ino;
}

dev_t union_inode_rdev(const struct inode *inode)
{
	return inode->i_rdev;
}

int union_kern_path_dir(const char *name, struct path *path)
{
	return kern_path(name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, path);
}

/* Mirror what users see of the real inode on the union inode (ovl_copyattr). */
void union_copy_attr(struct inode *dst, const struct inode *src)
{
	dst->i_uid = src->i_uid;
	dst->i_gid = src->i_gid;
	dst->i_mode = (dst->i_mode & S_IFMT) | (src->i_mode & ~S_IFMT);
	inode_set_atime_to_ts(dst, inode_get_atime(src));
	inode_set_mtime_to_ts(dst, inode_get_mtime(src));
	inode_set_ctime_to_ts(dst, inode_get_ctime(src));
	i_size_write(dst, i_size_read(src));
	dst->i_blocks = src->i_blocks;
}

void union_inode_init(struct inode *inode, umode_t mode, dev_t rdev, u64 ino,
		      const struct inode_operations *iop,
		      const struct file_operations *fop, void *private)
{
	inode->i_mode = mode;
	inode->i_rdev = rdev;
	inode->i_ino = ino;
	inode->i_op = iop;
	inode->i_fop = fop;
	inode->i_private = private;
	inode->i_flags |= S_NOATIME | S_NOCMTIME;
}

struct file *union_file_private(const struct file *file)
{
	return file->private_data;
}

void union_file_set_private(struct file *file, void *p)
{
	file->private_data = p;
}

struct inode *union_file_inode(const struct file *file)
{
	return file_inode(file);
}

loff_t union_file_pos(const struct file *file)
{
	return file->f_pos;
}

void union_set_pos(struct file *file, loff_t pos)
{
	file->f_pos = pos;
}

/* Superblock flags the Rust bindings cannot name (BIT() macros). */
void union_sb_setup(struct super_block *sb)
{
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_flags |= SB_NOATIME;
}

const unsigned char *union_d_name(const struct dentry *dentry, unsigned int *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

unsigned int union_d_type_of_mode(umode_t mode)
{
	return fs_umode_to_dtype(mode);
}

/*
 * Credentials for creating objects on upper: a copy of the mounter's (so the
 * upper permission checks pass as they do for every union access), with the
 * caller's fsuid and fsgid so new objects belong to the caller.
 */
const struct cred *union_create_creds(const struct cred *mounter)
{
	kuid_t fsuid = current_fsuid();
	kgid_t fsgid = current_fsgid();
	const struct cred *old = override_creds(mounter);
	struct cred *new = prepare_creds();

	revert_creds(old);
	if (!new)
		return NULL;
	new->fsuid = fsuid;
	new->fsgid = fsgid;
	return new;
}

unsigned int union_inode_nlink(const struct inode *inode)
{
	return inode->i_nlink;
}

unsigned int union_inode_gid(const struct inode *inode)
{
	return __kgid_val(inode->i_gid);
}

/* O_DIRECT on the union file is allowed where the real file allows it. */
void union_file_inherit_odirect(struct file *file, const struct file *real)
{
	if (real->f_mode & FMODE_CAN_ODIRECT)
		file->f_mode |= FMODE_CAN_ODIRECT;
}

void union_mutex_init(struct mutex *m, const char *name, struct lock_class_key *key)
{
	__mutex_init(m, name, key);
}

int union_mutex_lock_killable(struct mutex *m)
{
	return mutex_lock_killable(m);
}

void union_mutex_unlock(struct mutex *m)
{
	mutex_unlock(m);
}

bool union_d_unhashed(const struct dentry *dentry)
{
	return d_unhashed(dentry);
}

/*
 * Moves a union inode to the hash chain of @hashval (its key changed: a
 * non-directory copied up is found by its upper inode from now on).
 */
void union_rehash_inode(struct inode *inode, unsigned long hashval)
{
	remove_inode_hash(inode);
	__insert_inode_hash(inode, hashval);
}

void union_unhash_inode(struct inode *inode)
{
	remove_inode_hash(inode);
}
