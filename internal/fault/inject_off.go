//go:build !faultinject

package fault

// Enabled tells whether this build honours Env.
const Enabled = false

// Point does nothing outside faultinject builds.
func Point(string) {}
