// Package version holds what this build of Berth is and what it was built
// for. The Makefile sets these with -ldflags -X from hack/versions.env and
// git; the defaults mark an unstamped development build.
package version
