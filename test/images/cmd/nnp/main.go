// Command nnp is Berth's stand-in for the e2e "nonewprivs" test image's
// program. The image installs it set-user-ID root; it prints the effective
// UID it runs with, which tells whether the runtime honoured
// no_new_privs: with it set, the kernel ignores the set-user-ID bit and
// the UID stays the caller's.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("Effective uid: %d\n", os.Geteuid())
}
