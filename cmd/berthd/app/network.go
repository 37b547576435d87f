package app

import (
	"fmt"

	"github.com/containernetworking/cni/libcni"

	"github.com/berth-cri/berth/config"
)

// confDirReadiness reports NetworkReady from the CNI conf dir: a loadable
// network configuration must be there.
type confDirReadiness struct{ dir string }

func newNetworkReadiness(c config.CNI) *confDirReadiness { return &confDirReadiness{dir: c.ConfDir} }

func (r *confDirReadiness) Ready() error {
	files, err := libcni.ConfFiles(r.dir, []string{".conflist", ".conf", ".json"})
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no network config found in %s", r.dir)
	}
	if _, err := libcni.ConfListFromFile(files[0]); err != nil {
		if _, err2 := libcni.ConfFromFile(files[0]); err2 != nil {
			return fmt.Errorf("network config %s does not load: %v", files[0], err)
		}
	}
	return nil
}
