package network

import "errors"

var (
	// ErrNotSupported is returned on platforms without tap and tc support.
	ErrNotSupported = errors.New("network set-up not supported on this platform")
	// ErrLinkNotFound is returned by Discover for a named link that is missing.
	ErrLinkNotFound = errors.New("link not found")
	// ErrNoAddress is returned by Discover for a named link with neither an
	// IPv4 nor a global IPv6 address.
	ErrNoAddress = errors.New("no IPv4 or global IPv6 address")
	// ErrNotTap is returned by Setup when the tap name is taken by another kind of link.
	ErrNotTap = errors.New("link exists and is not a tap")
	// ErrInvalidArgument is returned for an unusable tap name, interface or owner.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInUse is returned by Setup when the interface already carries the
	// traffic of another running guest (one guest per network namespace).
	ErrInUse = errors.New("interface already serves another guest")
)
