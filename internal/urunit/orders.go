package urunit

// OrdersParam on the kernel command line tells urunit to wait for its
// Orders on the agent channel instead of reading ConfigPath and the
// network parameters: the guest is booted once as a VM template, saved
// while it waits, and every container restored from it gets its own
// Orders (internal/agent's orders handshake).
const OrdersParam = "urunit.orders"

// MaxSeed bounds Orders.Seed.
const MaxSeed = 512

// Orders are what differs between containers started from one template:
// the application and everything a clone must not share with its
// siblings.
type Orders struct {
	Config Config `json:"config"`
	// Net holds the network parameters as the host would put them on the
	// kernel command line (ip=, urunit.mtu=, urunit.ip6=, urunit.dns6=),
	// "" for none; MAC is the address the guest NIC must take (a clone's
	// NIC comes back with the template's).
	Net string `json:"net,omitempty"`
	MAC string `json:"mac,omitempty"`
	// TimeNs is the host's wall clock (Unix nanoseconds) when it sent the
	// orders: a clone's clock resumes at the template's.
	TimeNs int64 `json:"timeNs"`
	// Seed is fresh host randomness that urunit credits to the guest's
	// random pool and reseeds it with: clones share the template's pool.
	Seed []byte `json:"seed"`
}
