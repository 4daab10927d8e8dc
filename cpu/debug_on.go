//go:build !glassbox_nodebugchecks

package cpu

// debugChecks keeps the between-TB breakpoint check. Building with
// -tags glassbox_nodebugchecks removes it (breakpoints then do not work);
// that build exists only to measure what the check costs when no
// breakpoint is set.
const debugChecks = true
