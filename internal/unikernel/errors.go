package unikernel

import "errors"

// ErrInvalid is the class of every error caused by the image's metadata or
// contents (as opposed to host I/O failures). All the other values below
// match it with errors.Is.
var ErrInvalid = errors.New("invalid unikernel metadata")

var (
	// ErrUnknownKey: a key with Prefix that this package does not know.
	ErrUnknownKey error = &classError{"unknown key", ErrInvalid}
	// ErrMissingKey: some but not all required keys are set.
	ErrMissingKey error = &classError{"missing required key", ErrInvalid}
	// ErrBadValue: a value that does not parse or is not one of the valid ones.
	ErrBadValue error = &classError{"invalid value", ErrInvalid}
	// ErrBadFile: MetadataFile is not a regular file, too large, or not a
	// JSON object.
	ErrBadFile error = &classError{"bad metadata file", ErrInvalid}
	// ErrPathEscape: a path climbs above the root of the container rootfs.
	ErrPathEscape error = &classError{"path leaves the container rootfs", ErrInvalid}
	// ErrNotFound: a path does not exist in the container rootfs.
	ErrNotFound error = &classError{"not found in the container rootfs", ErrInvalid}
	// ErrNotRegular: a path exists but is not a regular file.
	ErrNotRegular error = &classError{"not a regular file", ErrInvalid}
	// ErrSymlinkLoop: more than maxSymlinks symbolic links were followed.
	ErrSymlinkLoop error = &classError{"too many levels of symbolic links", ErrInvalid}
)

// classError is a sentinel with its own message that also matches a broader
// class with errors.Is.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }
