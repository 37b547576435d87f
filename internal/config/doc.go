// Package config owns berthd's configuration: the TOML schema, its
// defaults, loading a file over those defaults, and validation.
//
// A missing file means the defaults, which work on a fresh node. An
// unknown key is an error, so a misspelt setting is never silently
// ignored. A setting Berth no longer has is accepted, and Removed names it
// for a warning, so an upgraded node's file still loads.
//
// docs/configuration.md is the reference; its doc test fails when that
// page's copy of `berthd config default`, or its table of keys and
// defaults, differs from this package's.
//
// It does not know about flags (cmd/berthd/app applies them over the
// file) and acts on no setting itself.
package config
