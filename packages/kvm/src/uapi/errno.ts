/**
 * errno values carried by KVM errors (Linux include/uapi/asm-generic/errno-base.h, errno.h).
 * @module
 */

/** EPERM */
export const EPERM = 1;
/** ENOENT */
export const ENOENT = 2;
/** EINTR */
export const EINTR = 4;
/** EIO */
export const EIO = 5;
/** EAGAIN */
export const EAGAIN = 11;
/** ENOMEM */
export const ENOMEM = 12;
/** EFAULT */
export const EFAULT = 14;
/** EBUSY */
export const EBUSY = 16;
/** EEXIST */
export const EEXIST = 17;
/** ENODEV */
export const ENODEV = 19;
/** EINVAL */
export const EINVAL = 22;
/** ENOSPC */
export const ENOSPC = 28;
/** ENOTTY */
export const ENOTTY = 25;
/** E2BIG */
export const E2BIG = 7;
/** EOPNOTSUPP */
export const EOPNOTSUPP = 95;
