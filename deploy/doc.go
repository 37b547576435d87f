// Package deploy holds what an operator installs Berth with: the systemd
// units (systemd/), the DaemonSet installer (kubernetes/), the default CNI
// network (cni/) and crictl.yaml. hack/install.sh (make install) puts them
// on a node. The package has no code; its tests check these files the way
// systemd, the API server and berthd will read them.
package deploy
