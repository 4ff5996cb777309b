package vmm

import (
	"errors"
	"fmt"
)

// ErrInvalidSpec is wrapped by every Validate failure; the message names the
// offending Spec field.
var ErrInvalidSpec = errors.New("invalid vmm spec")

// ErrUnknownKernelFormat is returned by InspectKernel for a file that is
// neither a bzImage, a multiboot kernel nor an ELF.
var ErrUnknownKernelFormat = errors.New("unrecognised kernel format")

// ErrKVMUnavailable is returned by ResolveAccel when KVM is requested but
// /dev/kvm cannot be used.
var ErrKVMUnavailable = errors.New("kvm unavailable")

// invalid reports a bad Spec field.
func invalid(field, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, a...))
}

// ErrNoSolo5Manifest is returned by ReadSolo5Manifest for an ELF file
// without a Solo5 MFT1 note: not a Solo5 unikernel.
var ErrNoSolo5Manifest = errors.New("no solo5 manifest")

// unsupported reports a Spec field a VMM cannot honour.
func unsupported(_ Name, field, format string, a ...any) error {
	// The caller names the VMM once, when it wraps the error.
	return fmt.Errorf("%s: %w: %s", field, ErrNotSupported, fmt.Sprintf(format, a...))
}
