package unikernel

import (
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// Prefix is the prefix shared by every urunc image annotation.
const Prefix = "com.urunc.unikernel."

// Annotation keys, as set on the image (or in urunc.json) by the tools that
// build urunc images.
const (
	KeyType        = Prefix + "unikernelType"    // required: guest type
	KeyHypervisor  = Prefix + "hypervisor"       // required: VMM name
	KeyBinary      = Prefix + "binary"           // required: kernel path inside the rootfs
	KeyCmdline     = Prefix + "cmdline"          // guest command line from the image
	KeyInitrd      = Prefix + "initrd"           // initrd path inside the rootfs
	KeyBlock       = Prefix + "block"            // block image path inside the rootfs
	KeyBlkMntPoint = Prefix + "blkMntPoint"      // where the guest mounts the block image
	KeyVersion     = Prefix + "unikernelVersion" // guest framework version
	KeyUseDMBlock  = Prefix + "useDMBlock"       // boolean: pass a devmapper rootfs as block
	KeyMountRootfs = Prefix + "mountRootfs"      // boolean: give the container rootfs to the guest
)

// MetadataFile is the fallback metadata file at the root of the container
// rootfs: a flat JSON object mapping the keys above to base64 strings.
const MetadataFile = "urunc.json"

// maxMetadataSize caps how much of MetadataFile is read.
const maxMetadataSize = 1 << 20

// Where a value came from, as named in error messages.
const (
	fromAnnotations = "annotations"
	fromFile        = MetadataFile
)

// SourcesAnnotation, set by whoever copied keys from the image into the
// spec's annotations (internal/imagemeta, in the shim), is a JSON object
// naming where each copied key came from, so that errors name the image's
// manifest or config rather than "annotations".
const SourcesAnnotation = "org.urunc.metadata.sources"

// knownKeys lists every key this package accepts, in documentation order.
var knownKeys = []string{
	KeyType, KeyHypervisor, KeyBinary, KeyCmdline, KeyInitrd, KeyBlock,
	KeyBlkMntPoint, KeyVersion, KeyUseDMBlock, KeyMountRootfs,
}

// KeyRequired, a spec annotation, asks urunc to refuse the container if
// its image carries no metadata ("true"; see internal/lifecycle). It is
// not metadata of the image: Load ignores it.
const KeyRequired = Prefix + "required"

// requiredKeys must all be set once any key is set.
var requiredKeys = []string{KeyType, KeyHypervisor, KeyBinary}

// ValidTypes are the accepted values of KeyType: the registered guests.
var ValidTypes = stringsOf(guest.Supported())

// ValidHypervisors are the accepted values of KeyHypervisor: the
// registered VMMs.
var ValidHypervisors = stringsOf(vmm.Supported())

func stringsOf[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
