package config

import "errors"

// Errors returned by this package, checked with errors.Is.
var (
	// ErrUnknownKey: the file sets a key this version does not know.
	ErrUnknownKey = errors.New("unknown key")
	// ErrInvalidValue: a key has a value outside its allowed range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrConflict: the file sets a key under both its deprecated and its
	// current name.
	ErrConflict = errors.New("conflicting keys")
	// ErrMemoryTooSmall: the container's memory limit cannot hold the VMM
	// and the smallest guest.
	ErrMemoryTooSmall = errors.New("memory limit too small")
)
