// Package idindex is the in-memory index behind Berth's sandbox and
// container stores: objects by ID, also found by a unique ID prefix, as
// crictl lets users type a short ID. It holds no lifecycle logic.
package idindex
