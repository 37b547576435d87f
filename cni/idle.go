package cni

import (
	"encoding/json"

	"github.com/containernetworking/cni/libcni"
)

// idleWithout names the plugin types that do nothing for a sandbox without
// one capability arg. portmap's ADD, given no portMappings, passes the
// previous result through and its DEL returns at once; but both first
// probe the iptables backend (two iptables runs), so on this chain
// (bridge, host-local, portmap) the plugin costs about 12 ms of each pod's
// setup and teardown, for most pods, which map no host port, for nothing.
var idleWithout = map[string]string{
	"portmap": "portMappings",
}

// withoutIdlePlugins returns the chain that ADD, and later DEL and CHECK,
// run for one sandbox: list without the plugins that would do nothing
// for it. The attachment record holds this chain, so DEL runs exactly the
// plugins ADD ran. A plugin first in the chain is always kept: there it
// is misconfigured, and its own error says so.
func withoutIdlePlugins(list *libcni.NetworkConfigList, caps map[string]any) (*libcni.NetworkConfigList, error) {
	kept := make([]*libcni.PluginConfig, 0, len(list.Plugins))
	for i, p := range list.Plugins {
		if i > 0 && idle(p, caps) {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == len(list.Plugins) {
		return list, nil
	}
	trimmed := *list
	trimmed.Plugins = kept
	return inline(&trimmed)
}

func idle(p *libcni.PluginConfig, caps map[string]any) bool {
	capability, ok := idleWithout[p.Network.Type]
	if !ok {
		return false
	}
	if p.Network.Capabilities[capability] && caps[capability] != nil {
		return false
	}
	// A runtimeConfig written into the file reaches the plugin as well.
	var conf struct {
		RuntimeConfig json.RawMessage `json:"runtimeConfig"`
	}
	if err := json.Unmarshal(p.Bytes, &conf); err != nil || conf.RuntimeConfig != nil {
		return false
	}
	return true
}
