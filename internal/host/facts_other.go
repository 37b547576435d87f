//go:build !linux

package host

// Detect finds nothing off Linux: berthd runs only there.
func Detect() Facts { return Facts{} }
