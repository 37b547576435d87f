//go:build !linux

package stats

import "errors"

func namespaceIfaces(string) ([]ifaceStats, error) {
	return nil, errors.New("network namespaces need Linux")
}
