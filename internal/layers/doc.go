// Package layers holds no code that berthd runs. Its tests keep the daemon's
// module in the shape docs/architecture.md draws: every package in the
// tree there, each importing only from the layers below its own, and none
// of the modules that only tests need (they live in the test module).
//
// The layers, lowest first, are a table in layers_test.go; a new package
// gets a layer there and a line in the drawing, or the test fails.
package layers
