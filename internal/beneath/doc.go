// Package beneath opens files below a directory berthd trusts, by a path
// below it that someone else can change: a pod with a writable hostPath on
// /var/log can plant symlinks in its log directory, a CRI client names the
// files of a checkpoint.
//
// Contract: the file opened or directory made is below dir, and no
// component of rel is a symlink, "..", or absolute; otherwise the call fails
// and nothing outside dir is touched. dir itself is resolved as given (it
// is kubelet's or the operator's). On Linux this is openat2 with
// RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS; where openat2 is missing (Linux
// before 5.6, other systems) it is an os.Root on dir, which follows
// symlinks only while they stay below dir.
package beneath
