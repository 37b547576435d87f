package main

import (
	"fmt"
	"os"

	"github.com/berth-cri/berth/cmd/berthd/app"
)

func main() {
	if err := app.NewCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "berthd:", err)
		os.Exit(1)
	}
}
