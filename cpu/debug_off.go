//go:build glassbox_nodebugchecks

package cpu

// debugChecks: see debug_on.go. Measurement-only build without the
// between-TB breakpoint check.
const debugChecks = false
