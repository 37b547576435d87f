package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

type netConf struct {
	types.PluginConf
	ControlDir    string         `json:"controlDir"`
	IPs           []string       `json:"ips"`
	RuntimeConfig map[string]any `json:"runtimeConfig,omitempty"`
}

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    func(a *skel.CmdArgs) error { return run("ADD", a) },
		Del:    func(a *skel.CmdArgs) error { return run("DEL", a) },
		Check:  func(a *skel.CmdArgs) error { return run("CHECK", a) },
		GC:     func(a *skel.CmdArgs) error { return run("GC", a) },
		Status: func(a *skel.CmdArgs) error { return run("STATUS", a) },
	}, version.All, "berth-fault")
}

func run(verb string, args *skel.CmdArgs) error {
	var conf netConf
	if err := json.Unmarshal(args.StdinData, &conf); err != nil {
		return fmt.Errorf("parse config: %w", err)
	}
	if conf.ControlDir == "" {
		return errors.New("controlDir is not set")
	}
	logCall(conf.ControlDir, "start", verb, args.ContainerID)
	defer logCall(conf.ControlDir, "end", verb, args.ContainerID)

	seen, _ := json.Marshal(map[string]any{
		"args":   args.Args,
		"netns":  args.Netns,
		"ifName": args.IfName,
		"config": json.RawMessage(args.StdinData),
	})
	_ = os.WriteFile(filepath.Join(conf.ControlDir, verb+"-"+args.ContainerID+".json"), seen, 0o644) //nolint:gosec // G306: a test plugin's record, read by the test

	if b, err := os.ReadFile(filepath.Join(conf.ControlDir, "sleep-"+verb)); err == nil {
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("sleep-%s: %w", verb, err)
		}
		time.Sleep(d)
	}
	if b, err := os.ReadFile(filepath.Join(conf.ControlDir, "fail-"+verb)); err == nil {
		return fmt.Errorf("injected %s failure: %s", verb, strings.TrimSpace(string(b)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	if verb != "ADD" {
		return nil
	}
	if conf.RawPrevResult != nil {
		if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
			return err
		}
		return types.PrintResult(conf.PrevResult, conf.CNIVersion)
	}
	res := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{{Name: args.IfName, Sandbox: args.Netns}},
	}
	for _, s := range conf.IPs {
		ip, ipnet, err := net.ParseCIDR(s)
		if err != nil {
			return err
		}
		ipnet.IP = ip
		res.IPs = append(res.IPs, &types100.IPConfig{Interface: types100.Int(0), Address: *ipnet})
	}
	return types.PrintResult(res, conf.CNIVersion)
}

func logCall(dir, what, verb, id string) {
	f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644) //nolint:gosec // G302: a test plugin's record, read by the test
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s %s\n", what, verb, id)
}
