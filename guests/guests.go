// Package guests holds the guest programs glassbox is tested with (each in
// its own directory, built from source by internal/guestbuild) and embeds
// the default demo ROM that `glassbox` runs with no arguments.
package guests

import _ "embed"

// DemoROM is guests/demo/demo.rom, built from guests/demo/demo.S by
// guests/demo/build.sh (a test rebuilds it and checks the bytes match).
//
//go:embed demo/demo.rom
var DemoROM []byte
